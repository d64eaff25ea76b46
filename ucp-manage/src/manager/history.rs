//! A connector's recent past, as its page shows it: its last health messages, its status
//! over a window (one period per change of the rolled-up status) and its volume series per
//! stream and per product, zero-filled.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ucp_core::health::{BinSize, HealthQuery, HealthRow, Status, VolumeQuery, VolumeSeries};

use super::view::message;
use super::Manager;
use crate::auth::Principal;
use crate::error::{ManageError, ManageResult};
use crate::model::{engine_sink_name, InstanceRecord, Role};
use crate::views::HealthMessage;

/// The most health messages one read returns.
pub const MAX_MESSAGES: usize = 100;

/// Health rows read to draw a status timeline: transitions are rare (one per change of a
/// part's status), so this covers weeks of a connector's life; beyond it the timeline starts
/// at the oldest row read.
const TIMELINE_ROWS: usize = 1000;

/// How far back a connector page looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last hour, in minutes.
    #[default]
    Hour,
    /// The last day, in hours.
    Day,
    /// The last week, in hours.
    Week,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 3] = [Window::Hour, Window::Day, Window::Week];

    /// Its length.
    pub fn duration(self) -> chrono::Duration {
        match self {
            Window::Hour => chrono::Duration::hours(1),
            Window::Day => chrono::Duration::days(1),
            Window::Week => chrono::Duration::weeks(1),
        }
    }

    /// The width of one point of its volume series.
    pub fn bin(self) -> BinSize {
        match self {
            Window::Hour => BinSize::Minute,
            Window::Day | Window::Week => BinSize::Hour,
        }
    }

    /// Its name in a URL: `hour`, `day`, `week`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Week => "week",
        }
    }

    /// The window called `name`, if any.
    pub fn parse(name: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == name)
    }
}

/// A span of time in which a connector's rolled-up status (the worst of its parts) did not
/// change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPeriod {
    /// When it began (or the window's start).
    pub from: DateTime<Utc>,
    /// When it ended; `None` while it lasts.
    pub to: Option<DateTime<Utc>>,
    /// The status: `Starting`, `Ok`, `Warning`, `Error` or `Stopped`.
    pub status: String,
}

/// A connector's status over a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusTimeline {
    /// The window's start.
    pub since: DateTime<Utc>,
    /// Its end (now).
    pub until: DateTime<Utc>,
    /// The periods, oldest first; the first starts at `since` at the earliest, the last is
    /// open. Empty when nothing was reported (or the server keeps no health table).
    pub periods: Vec<StatusPeriod>,
}

/// What a connector moved over a window, one zero-filled series per stream (collected) and
/// per product and stream (delivered). Series keys name the connector and products as the
/// tenant knows them, not by their engine names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorVolumes {
    /// The window.
    pub window: Window,
    /// Records collected, per stream.
    pub collected: Vec<VolumeSeries>,
    /// Records each product accepted, per product and stream.
    pub delivered: Vec<VolumeSeries>,
}

impl Manager {
    /// The connector's last `limit` health messages (at most `MAX_MESSAGES`, 100), newest
    /// first; none when the server keeps no health table.
    pub async fn health_messages(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        limit: usize,
    ) -> ManageResult<Vec<HealthMessage>> {
        self.authorize(principal, tenant, Role::Reader, "reading health")
            .await?;
        let record = self.load(tenant, name).await?;
        let rows = self
            .health_rows(&record, limit.clamp(1, MAX_MESSAGES))
            .await?;
        let prefix = engine_sink_name(tenant, "");
        Ok(rows.iter().map(|row| message(row, &prefix)).collect())
    }

    /// The connector's rolled-up status over the last `window`; a timeline whose first
    /// report falls inside the window starts there.
    pub async fn status_timeline(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        window: Window,
    ) -> ManageResult<StatusTimeline> {
        self.authorize(principal, tenant, Role::Reader, "reading health")
            .await?;
        let record = self.load(tenant, name).await?;
        let mut rows = self.health_rows(&record, TIMELINE_ROWS).await?;
        rows.reverse();
        let until = self.now();
        let since = until.checked_sub_signed(window.duration()).unwrap_or(until);
        Ok(StatusTimeline {
            since,
            until,
            periods: timeline(&rows, since),
        })
    }

    /// The connector's volume series over the last `window`; `None` when the server does
    /// not record volumes (no health service).
    pub async fn volume_series(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        window: Window,
    ) -> ManageResult<Option<ConnectorVolumes>> {
        self.authorize(principal, tenant, Role::Reader, "reading volumes")
            .await?;
        let record = self.load(tenant, name).await?;
        let Some(service) = &self.inner.volumes else {
            return Ok(None);
        };
        let streams = self.streams_of(&record);
        let to = self.now();
        let from = to.checked_sub_signed(window.duration()).unwrap_or(to);
        let engine_name = record.engine_name();
        let base = VolumeQuery::collected(tenant, &engine_name, window.bin(), from, to);
        let volumes = service.volumes();
        let refused = |e: ucp_core::health::VolumeError| ManageError::Internal(e.to_string());
        let mut collected = volumes
            .query(&base.clone().expect_streams(streams.iter().cloned()))
            .map_err(refused)?;
        let mut delivered = Vec::new();
        for product in &record.products {
            let wanted = if product.streams.is_empty() {
                streams.clone()
            } else {
                product.streams.clone()
            };
            let query = base
                .clone()
                .delivered_to(engine_sink_name(tenant, &product.product))
                .expect_streams(wanted);
            let mut series = volumes.query(&query).map_err(refused)?;
            for s in &mut series {
                s.key.product = Some(product.product.clone());
            }
            delivered.extend(series);
        }
        for s in collected.iter_mut().chain(delivered.iter_mut()) {
            s.key.connector = record.name.clone();
        }
        Ok(Some(ConnectorVolumes {
            window,
            collected,
            delivered,
        }))
    }

    /// The names of the connector's streams, from the definition version it runs.
    fn streams_of(&self, record: &InstanceRecord) -> Vec<String> {
        self.inner
            .catalog
            .get(&record.definition, &record.version)
            .or_else(|| self.inner.catalog.latest(&record.definition))
            .map(|r| {
                r.definition()
                    .streams()
                    .iter()
                    .map(|s| s.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The connector's newest `limit` health rows, newest first.
    async fn health_rows(
        &self,
        record: &InstanceRecord,
        limit: usize,
    ) -> ManageResult<Vec<HealthRow>> {
        let Some(table) = &self.inner.health else {
            return Ok(Vec::new());
        };
        table
            .query(
                &HealthQuery::new()
                    .tenant(&record.tenant)
                    .connector(record.engine_name())
                    .limit(limit),
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, connector = %record.name, "health rows unavailable");
                ManageError::Internal(
                    "the health table could not be read: the server's log says why; retry later"
                        .into(),
                )
            })
    }
}

/// The rolled-up status after each of `rows` (oldest first), as periods clipped to start at
/// `since`.
fn timeline(rows: &[HealthRow], since: DateTime<Utc>) -> Vec<StatusPeriod> {
    let mut parts: BTreeMap<(Option<&str>, Option<&str>), Status> = BTreeMap::new();
    let mut periods: Vec<StatusPeriod> = Vec::new();
    for row in rows {
        parts.insert((row.product.as_deref(), row.stream.as_deref()), row.status);
        let Some(worst) = parts.values().copied().max_by_key(|s| s.severity()) else {
            continue;
        };
        if periods.last().is_some_and(|p| p.status == worst.as_str()) {
            continue;
        }
        if let Some(open) = periods.last_mut() {
            open.to = Some(row.time);
        }
        periods.push(StatusPeriod {
            from: row.time,
            to: None,
            status: worst.as_str().to_string(),
        });
    }
    periods.retain(|p| p.to.is_none_or(|to| to > since));
    if let Some(first) = periods.first_mut() {
        first.from = first.from.max(since);
    }
    periods
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucp_core::health::HealthKind;

    fn row(minute: i64, product: Option<&str>, status: Status) -> HealthRow {
        HealthRow {
            seq: 0,
            previous: None,
            time: DateTime::from_timestamp(minute * 60, 0).unwrap(),
            tenant: "t".into(),
            connector: "t.c".into(),
            product: product.map(String::from),
            workspace: None,
            stream: Some("events".into()),
            status,
            kind: HealthKind::Collection,
            message: String::new(),
            details: None,
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(minute * 60, 0).unwrap()
    }

    #[test]
    fn the_timeline_follows_the_worst_part_and_starts_at_the_window() {
        let rows = [
            row(0, None, Status::Starting),
            row(1, None, Status::Ok),
            row(2, Some("sentinel"), Status::Ok),
            row(5, Some("sentinel"), Status::Error),
            // Collection is fine meanwhile: the connector is still in error.
            row(6, None, Status::Ok),
            row(9, Some("sentinel"), Status::Ok),
        ];
        let periods = timeline(&rows, at(3));
        type Shape<'a> = (DateTime<Utc>, Option<DateTime<Utc>>, &'a str);
        let shape: Vec<Shape> = periods
            .iter()
            .map(|p| (p.from, p.to, p.status.as_str()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (at(3), Some(at(5)), "Ok"),
                (at(5), Some(at(9)), "Error"),
                (at(9), None, "Ok"),
            ]
        );
        // A window after every change: one period, from the window's start.
        let later = timeline(&rows, at(60));
        assert_eq!(later.len(), 1);
        assert_eq!((later[0].from, later[0].status.as_str()), (at(60), "Ok"));
        assert!(timeline(&[], at(0)).is_empty());
    }

    #[test]
    fn windows_round_trip_their_names() {
        for w in Window::ALL {
            assert_eq!(Window::parse(w.as_str()), Some(w));
        }
        assert_eq!(Window::parse("month"), None);
    }
}
