//! The process the health kill -9 harness (`tests/health_crash_kill.rs`) starts and kills:
//! a platform whose health table is a SQLite file and whose health source's `health_events`
//! go, through a durable queue, to a product that appends each record it accepts to a file.
//! A connector fails at every start (a 503), so every run writes transitions.
//!
//! `health_crash_child <state-dir> <out-file> <events>` runs until the product has every
//! health row written so far and the connector's log is collected, then exits 0.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ucp_core::health::{HealthService, HealthTable, Retention, SqliteHealthTable};
use ucp_core::health_source::{HealthSource, HealthSourceSettings, HEALTH_EVENTS};
use ucp_core::store::{CheckpointStore, DurableStore};
use ucp_core::*;
use ucp_testkit::{EventLog, EventLogSettings, EventLogSource, Fault, RecordingSink};

/// The tenant whose health is collected.
const TENANT: &str = "contoso";

/// A product that appends `<id>\t<payload>` per record it accepts, one `write` and one
/// fsync a batch, so a kill leaves whole batches or none.
struct LineFile {
    path: PathBuf,
}

#[async_trait]
impl Sink for LineFile {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("line-file")
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }

    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let mut lines = String::new();
        for record in batch.records.iter() {
            lines.push_str(record.id.as_str());
            lines.push('\t');
            lines.push_str(&String::from_utf8_lossy(&record.payload));
            lines.push('\n');
        }
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            file.write_all(lines.as_bytes())?;
            file.sync_data()
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(retryable(e.to_string())),
            Err(e) => return Err(retryable(e.to_string())),
        }
        // A little latency so kills land in every phase.
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(Delivery::all())
    }
}

fn retryable(message: String) -> SinkError {
    SinkError::Retryable {
        message,
        retry_after: None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, state, out, events] = args.as_slice() else {
        return Err("usage: health_crash_child <state-dir> <out-file> <events>".into());
    };
    let events: usize = events.parse()?;
    let state = PathBuf::from(state);
    let log = EventLog::new();
    log.generate(
        events,
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .ok_or("time")?,
    );
    let clock = Clock::new();
    let okta = EventLogSource::with_settings(
        TENANT,
        log,
        clock,
        EventLogSettings {
            page_size: 10,
            provider_limit: 1_000_000,
            ..EventLogSettings::default()
        },
    );
    okta.inject([Fault::Unavailable]);
    let store = DurableStore::open(state.join("platform"))?;
    let table = Arc::new(SqliteHealthTable::open(
        state.join("health.db"),
        Retention::default(),
    )?);
    let service = Arc::new(HealthService::builder().table(table.clone()).build());
    let health = HealthSource::new(TENANT, service.clone()).with_settings(HealthSourceSettings {
        echo_delay: Duration::from_millis(100),
        ..HealthSourceSettings::default()
    });
    let every = Duration::from_millis(20);
    let running = Platform::builder()
        .clock(clock)
        .health(service.clone())
        .durable(store.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta", Arc::new(okta))
        .tenant_source(TENANT, "ucp-health", Arc::new(health))
        .tenant_sink(TENANT, "sentinel", Arc::new(RecordingSink::new("sentinel")))
        .tenant_sink(
            TENANT,
            "health-file",
            Arc::new(LineFile {
                path: PathBuf::from(out),
            }),
        )
        .subscribe(Subscription::new("sentinel", "okta", "events").every(every))
        .subscribe(
            Subscription::new("health-file", "ucp-health", HEALTH_EVENTS)
                .every(every)
                .durable(64 << 20),
        )
        .build()?
        .start()
        .await?;
    let okta_end = Some(Cursor::new(events.to_string()));
    let health_key = StreamKey::new("ucp-health", HEALTH_EVENTS);
    let okta_key = StreamKey::new("okta", "events");
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let drained = running
            .stats()
            .await
            .subscriptions
            .iter()
            .all(|s| s.queue_depth == 0);
        let read: u64 = store
            .load(&health_key)
            .await?
            .and_then(|c| c.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        let unread = table.read_after(TENANT, read, 1).await?.rows;
        if drained && unread.is_empty() && store.load(&okta_key).await? == okta_end {
            break;
        }
    }
    running.shutdown().await?;
    Ok(())
}
