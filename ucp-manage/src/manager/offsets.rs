//! A stopped connector's cursors ("offsets"): view them per stream, reset them to the start
//! or to a time. As with Kafka Connect's offsets API, the connector must be stopped
//! (paused, disconnected or superseded), so no collection races the change.

use std::time::Duration;

use ucp_core::catalog::FactoryError;
use ucp_core::{Cursor, StreamKey};

use super::Manager;
use crate::auth::Principal;
use crate::catalog::Registered;
use crate::engine::EngineError;
use crate::error::{ManageError, ManageResult};
use crate::model::{InstanceRecord, InstanceState, Role};
use crate::views::{ResetOffsets, ResetPoint, StreamOffset};

/// How long a reset waits for a paused stream's last pages to be delivered.
const DRAIN_WAIT: Duration = Duration::from_secs(5);

impl Manager {
    /// The saved cursor of each stream of a stopped connector.
    pub async fn offsets(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<Vec<StreamOffset>> {
        self.authorize(principal, tenant, Role::Reader, "reading offsets")
            .await?;
        let record = self.load(tenant, name).await?;
        let registered = self.stopped(&record)?;
        self.read_offsets(&record, &registered, &[]).await
    }

    /// The saved cursor of each stream of a connector in any state. While it runs, a saved
    /// cursor lags the one in memory (it moves once every product has accepted a page), so
    /// this is what a restart would resume from, for people to look at; changing cursors
    /// still needs a stopped connector.
    pub async fn saved_offsets(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<Vec<StreamOffset>> {
        self.authorize(principal, tenant, Role::Reader, "reading offsets")
            .await?;
        let record = self.load(tenant, name).await?;
        let registered = self.registered_of(&record)?;
        self.read_offsets(&record, &registered, &[]).await
    }

    /// Reset a stopped connector's cursors to the start or to a time, audited.
    pub async fn reset_offsets(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        body: ResetOffsets,
    ) -> ManageResult<Vec<StreamOffset>> {
        self.authorize(principal, tenant, Role::Owner, "resetting offsets")
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        let registered = self.stopped(&record)?;
        let offered: Vec<&str> = registered
            .definition()
            .streams()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        if let Some(unknown) = body.streams.iter().find(|s| !offered.contains(&s.as_str())) {
            return Err(ManageError::invalid(
                "streams",
                format!("no stream '{unknown}' (it offers: {})", offered.join(", ")),
            ));
        }
        let streams: Vec<String> = if body.streams.is_empty() {
            offered.iter().map(|s| s.to_string()).collect()
        } else {
            body.streams.clone()
        };
        let factory = registered.definition().factory();
        let mut cursors = Vec::new();
        for stream in &streams {
            let cursor = match (body.to, body.time) {
                (ResetPoint::Start, None) => Cursor::start(),
                (ResetPoint::Time, Some(time)) => {
                    match factory.cursor_at(&record.config, stream, time) {
                        // The definition leaves it to its source (`Source::cursor_at`).
                        Err(FactoryError::Unsupported(_)) => self
                            .build_source(&record, &registered)?
                            .cursor_at(stream, time)
                            .map_err(|e| ManageError::Conflict(e.to_string()))?,
                        other => other.map_err(super::lifecycle::factory_error)?,
                    }
                }
                (ResetPoint::Start, Some(_)) => {
                    return Err(ManageError::invalid(
                        "time",
                        "a reset to the start takes no time",
                    ))
                }
                (ResetPoint::Time, None) => {
                    return Err(ManageError::invalid(
                        "time",
                        "a reset to a time needs `time` (RFC 3339)",
                    ))
                }
            };
            cursors.push((stream.clone(), cursor));
        }
        let before = self.read_offsets(&record, &registered, &streams).await?;
        for (stream, cursor) in cursors {
            self.set_cursor(&StreamKey::new(record.engine_name(), &stream), cursor)
                .await?;
        }
        let after = self.read_offsets(&record, &registered, &streams).await?;
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.offsets_reset",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        entry.before = Some(serde_json::to_value(&before).unwrap_or_default());
        entry.after = Some(serde_json::to_value(&after).unwrap_or_default());
        self.inner.store.append_audit(entry).await?;
        self.read_offsets(&record, &registered, &[]).await
    }

    /// Replace a paused stream's cursor once the pages collected before the pause have
    /// saved theirs (they are being delivered; with products that answer, in moments).
    async fn set_cursor(&self, stream: &StreamKey, cursor: Cursor) -> ManageResult<()> {
        let deadline = tokio::time::Instant::now() + DRAIN_WAIT;
        loop {
            match self.inner.engine.set_cursor(stream, cursor.clone()).await {
                Err(EngineError::Busy(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(EngineError::Busy(why)) => {
                    return Err(ManageError::Conflict(format!(
                        "{why}: the connector still delivers what it collected before the pause; retry when its products have taken it"
                    )))
                }
                other => return other.map_err(ManageError::Engine),
            }
        }
    }

    /// The definition of a stopped connector; refuses a running one.
    fn stopped(&self, record: &InstanceRecord) -> ManageResult<std::sync::Arc<Registered>> {
        if record.state == InstanceState::Active {
            return Err(ManageError::Conflict(format!(
                "connector '{}' is running: pause it first, so no collection moves the cursor while you read or change it",
                record.name
            )));
        }
        self.registered_of(record)
    }

    /// The definition version a connector runs (or, if gone, the newest one).
    fn registered_of(&self, record: &InstanceRecord) -> ManageResult<std::sync::Arc<Registered>> {
        self.inner
            .catalog
            .get(&record.definition, &record.version)
            .or_else(|| self.inner.catalog.latest(&record.definition))
            .ok_or_else(|| {
                ManageError::Conflict(format!(
                    "definition '{}' is no longer registered in this server",
                    record.definition
                ))
            })
    }

    async fn read_offsets(
        &self,
        record: &InstanceRecord,
        registered: &Registered,
        only: &[String],
    ) -> ManageResult<Vec<StreamOffset>> {
        let mut out = Vec::new();
        for stream in registered.definition().streams() {
            if !only.is_empty() && !only.contains(&stream.name) {
                continue;
            }
            let cursor = self
                .inner
                .engine
                .saved_cursor(&StreamKey::new(record.engine_name(), &stream.name))
                .await
                .map_err(ManageError::Engine)?;
            out.push(StreamOffset {
                stream: stream.name.clone(),
                cursor: cursor.and_then(|c| c.as_str().map(str::to_string)),
            });
        }
        Ok(out)
    }
}
