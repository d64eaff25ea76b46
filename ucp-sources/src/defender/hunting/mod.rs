//! [`DefenderHuntingSource`]: the advanced hunting tables of a tenant, one stream per table
//! ([`HUNTING_TABLES`]), collected with `POST /security/runHuntingQuery`.
//!
//! Each stream reads its table in consecutive time windows on `Timestamp` (see
//! `window.rs`): `<Table> | where Timestamp >= datetime(from) and Timestamp < datetime(to) |
//! order by Timestamp asc`, with the same interval as the request's `Timespan`. A window ends
//! no later than `lag` before now, as rows reach advanced hunting a little after they
//! happen; queries see only the last 30 days, so a stream never starts further back. An
//! answer of `row_cap` rows (100,000, the documented cap) may be cut: the window is halved
//! and asked again, so a busy hour is read in as many pieces as it takes, completely.
//!
//! Records: id `<Table>:<Timestamp>:<hash of the row>` (stable across re-collections of a
//! window), time = `Timestamp`, payload = the row's JSON as sent. Only the tables some
//! product subscribes to are queried: the platform runs one job per subscribed stream.
//!
//! The budget is its own (`microsoft-graph-hunting`, the tenant): hunting is throttled apart
//! from incidents and alerts (45 calls a minute and 1,500 an hour), so a product asking
//! for many tables never slows the incident stream, and the other way round.

mod results;
mod tables;
mod window;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use ucp_core::{
    CollectRequest, Cursor, Page, Record, Source, SourceCapabilities, SourceContext, SourceError,
    SourceInfo, StreamInfo,
};

use super::config::{limits_problem, GraphLimits, StartAt, GRAPH_URL};
use super::graph::{Call, Graph};
use super::source::{budget, origin_of};

pub use tables::{table, HuntingTable, HUNTING_TABLES};
pub use window::MIN_SPAN;

use window::Window;

/// The budget's provider name of Graph's advanced hunting.
pub const HUNTING_PROVIDER: &str = "microsoft-graph-hunting";

/// The documented cap on the rows of one hunting answer.
pub const ROW_CAP: usize = 100_000;

/// How far back hunting queries see.
const HORIZON: chrono::Duration = chrono::Duration::days(30);

/// A hunting source's configuration. Build it with [`HuntingConfig::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct HuntingConfig {
    /// The Entra directory (tenant) id.
    pub tenant_id: String,
    /// Name of the Entra app's credential (granted `ThreatHunting.Read.All`).
    pub credential: String,
    /// Graph's origin (default `https://graph.microsoft.com`).
    pub graph_url: String,
    /// Where streams without a cursor start (default one hour back; never before the
    /// 30 days hunting keeps).
    pub start: StartAt,
    /// The longest window one query covers (default one hour).
    pub window: Duration,
    /// How long before now a window must end (default 5 minutes): rows reach advanced
    /// hunting after they happen.
    pub lag: Duration,
    /// Rows at which an answer counts as cut (default [`ROW_CAP`]).
    pub row_cap: usize,
    /// Throttling limits of hunting.
    pub limits: GraphLimits,
    /// Timeout of each request (default: the platform client's).
    pub request_timeout: Option<Duration>,
}

impl HuntingConfig {
    /// A configuration for directory `tenant_id` reading credential `credential`.
    pub fn new(tenant_id: impl Into<String>, credential: impl Into<String>) -> Self {
        HuntingConfig {
            tenant_id: tenant_id.into(),
            credential: credential.into(),
            graph_url: GRAPH_URL.into(),
            start: StartAt::Ago(Duration::from_secs(3600)),
            window: Duration::from_secs(3600),
            lag: Duration::from_secs(300),
            row_cap: ROW_CAP,
            limits: GraphLimits::HUNTING,
            request_timeout: None,
        }
    }

    /// Call Graph at `url`.
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.graph_url = url.into();
        self
    }

    /// Start streams without a cursor at `time`.
    pub fn start_at(mut self, time: DateTime<Utc>) -> Self {
        self.start = StartAt::Time(time);
        self
    }

    /// Windows of at most `window`, ending at least `lag` before now.
    pub fn windows(mut self, window: Duration, lag: Duration) -> Self {
        self.window = window;
        self.lag = lag;
        self
    }

    /// Treat answers of `rows` rows as cut.
    pub fn row_cap(mut self, rows: usize) -> Self {
        self.row_cap = rows;
        self
    }

    /// Keep to these limits.
    pub fn limits(mut self, limits: GraphLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Give each request at most `timeout`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }
}

/// The advanced hunting tables of one tenant. See the [module docs](self).
#[derive(Debug)]
pub struct DefenderHuntingSource {
    config: HuntingConfig,
    origin: Url,
    graph: Graph,
}

impl DefenderHuntingSource {
    /// A source for `config`; refuses an unusable configuration, naming what is wrong.
    pub fn new(config: HuntingConfig) -> Result<Self, SourceError> {
        let what = format!(
            "Defender XDR hunting source for tenant {}",
            config.tenant_id
        );
        let origin = origin_of(&config.graph_url, &config.tenant_id)?;
        if config.window < MIN_SPAN || config.row_cap == 0 {
            return Err(SourceError::Config {
                message: format!(
                    "{what}: the window must be at least 1 ms and the row cap at least 1"
                ),
            });
        }
        if let Some(problem) = limits_problem(&what, &config.limits) {
            return Err(SourceError::Config { message: problem });
        }
        let graph = Graph {
            tenant: config.tenant_id.clone(),
            credential: config.credential.clone(),
            timeout: config.request_timeout,
        };
        Ok(DefenderHuntingSource {
            config,
            origin,
            graph,
        })
    }

    fn table(&self, stream: &str) -> Result<&'static HuntingTable, SourceError> {
        table(stream).ok_or_else(|| SourceError::Config {
            message: format!(
                "Defender XDR hunting source for tenant {} has no stream '{stream}': its streams are the advanced hunting tables {}",
                self.config.tenant_id,
                HUNTING_TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// The query and `Timespan` of `table` over `[from, to)`.
    fn query(table: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> (String, String) {
        let (from, to) = (
            from.to_rfc3339_opts(SecondsFormat::Millis, true),
            to.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        (
            format!("{table} | where Timestamp >= datetime({from}) and Timestamp < datetime({to}) | order by Timestamp asc"),
            format!("{from}/{to}"),
        )
    }
}

/// A record id stable across re-collections of a window: the table, the row's time and a
/// hash of its bytes (FNV-1a, 64 bits).
fn row_id(table: &str, timestamp: &str, payload: &[u8]) -> String {
    let hash = payload.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{table}:{timestamp}:{hash:016x}")
}

#[async_trait]
impl Source for DefenderHuntingSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "microsoft-defender-xdr".into(),
            streams: HUNTING_TABLES
                .iter()
                .map(|t| {
                    StreamInfo::new(
                        t.name,
                        format!("{}: {} (advanced hunting)", t.product, t.events),
                    )
                })
                .collect(),
            capabilities: SourceCapabilities::default(),
            budget: budget(
                HUNTING_PROVIDER,
                &self.config.tenant_id,
                &self.config.limits,
            ),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        let now = cx.clock().now_utc();
        let (query, timespan) = Self::query("AlertInfo", now - chrono::Duration::minutes(1), now);
        let query = format!("{query} | take 1");
        let call = Call::Hunting {
            table: "AlertInfo".into(),
            query: query.clone(),
        };
        let body = serde_json::json!({ "Query": query, "Timespan": timespan }).to_string();
        let mut url = self.origin.clone();
        url.set_path("/v1.0/security/runHuntingQuery");
        let answer = self
            .graph
            .send(cx, &call, Method::POST, &url, Some(Bytes::from(body)))
            .await?;
        results::parse(&answer).map_err(|why| SourceError::Malformed {
            message: format!("{}, check query: {why}", self.graph.what()),
        })?;
        Ok(())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let table = self.table(&req.stream)?;
        let what = self.graph.what();
        let now = cx.clock().now_utc();
        let start = self.config.start.at(now).max(now - HORIZON);
        let mut window = Window::decode(&req.cursor, start, self.config.window).map_err(|why| {
            SourceError::Config {
                message: format!(
                    "{what}, table {}: {why}; reset the stream's cursor",
                    table.name
                ),
            }
        })?;
        let horizon = now - HORIZON + chrono::Duration::minutes(1);
        if window.from < horizon {
            tracing::warn!(tenant = %self.config.tenant_id, table = table.name, from = %window.from,
                "hunting keeps 30 days: rows before {horizon} can no longer be read");
            window.from = horizon;
        }
        let until = now
            - chrono::Duration::from_std(self.config.lag).unwrap_or(chrono::Duration::minutes(5));
        let to = window.end(until);
        if to <= window.from {
            // Caught up: nothing to ask until the lag has passed.
            return Ok(Page {
                records: Vec::new(),
                next: window.encode(),
                more: false,
                hint: None,
            });
        }
        let (query, timespan) = Self::query(table.name, window.from, to);
        let call = Call::Hunting {
            table: table.name.into(),
            query: query.clone(),
        };
        let body = serde_json::json!({ "Query": query, "Timespan": timespan }).to_string();
        let mut url = self.origin.clone();
        url.set_path("/v1.0/security/runHuntingQuery");
        let answer = self
            .graph
            .send(cx, &call, Method::POST, &url, Some(Bytes::from(body)))
            .await?;
        let rows = results::parse(&answer).map_err(|why| SourceError::Malformed {
            message: format!(
                "{what}, table {}, window {}/{}: {why}",
                table.name, window.from, to
            ),
        })?;
        if rows.len() >= self.config.row_cap {
            if !window.halve() {
                return Err(SourceError::Permanent {
                    message: format!(
                        "{what}, table {}: more than {} rows within {:?} from {}: the window cannot be split further; lower the load of the table or raise the source's row cap",
                        table.name, self.config.row_cap, MIN_SPAN, window.from
                    ),
                });
            }
            tracing::debug!(
                table = table.name,
                rows = rows.len(),
                span_ms = window.span_ms,
                "hunting answer at the row cap: window halved"
            );
            return Ok(Page {
                records: Vec::new(),
                next: window.encode(),
                more: true,
                hint: None,
            });
        }
        let count = rows.len();
        let records = rows
            .into_iter()
            .map(|row| {
                Record::new(
                    row_id(table.name, &row.timestamp_text, &row.payload),
                    row.timestamp,
                    row.payload,
                )
            })
            .collect();
        window.advance(to, count, self.config.row_cap, self.config.window);
        Ok(Page {
            records,
            more: window.end(until) > window.from,
            next: window.encode(),
            hint: None,
        })
    }

    fn cursor_at(&self, stream: &str, time: DateTime<Utc>) -> Result<Cursor, SourceError> {
        self.table(stream)?;
        Ok(Window::starting(time, self.config.window).encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_are_stable_and_tell_rows_apart() {
        let a = row_id("EmailEvents", "2026-03-02T08:00:00Z", br#"{"a":1}"#);
        assert_eq!(
            a,
            row_id("EmailEvents", "2026-03-02T08:00:00Z", br#"{"a":1}"#)
        );
        assert_ne!(
            a,
            row_id("EmailEvents", "2026-03-02T08:00:00Z", br#"{"a":2}"#)
        );
        assert!(a.starts_with("EmailEvents:2026-03-02T08:00:00Z:"));
    }

    #[test]
    fn the_query_is_a_half_open_window_with_the_same_timespan() {
        let from = DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .unwrap()
            .to_utc();
        let (query, timespan) = DefenderHuntingSource::query(
            "DeviceEvents",
            from,
            from + chrono::Duration::minutes(30),
        );
        assert_eq!(
            query,
            "DeviceEvents | where Timestamp >= datetime(2026-03-02T08:00:00.000Z) and Timestamp < datetime(2026-03-02T08:30:00.000Z) | order by Timestamp asc"
        );
        assert_eq!(
            timespan,
            "2026-03-02T08:00:00.000Z/2026-03-02T08:30:00.000Z"
        );
    }
}
