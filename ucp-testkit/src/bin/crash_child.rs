//! The process the kill -9 harness (`tests/crash_kill.rs`) starts and kills: a platform with
//! durable queues collecting a known sequence of record ids from the simulated event log and
//! delivering them to three products that append the ids they accept to files.
//!
//! `crash_child <state-dir> <out-dir> <events>` runs until every product has everything
//! (its queue is empty and the cursor is at the end of the log), then exits 0.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use std::io::Write;
use ucp_core::store::{CheckpointStore, DurableStore};
use ucp_core::*;
use ucp_testkit::{EventLog, EventLogSettings, EventLogSource};

/// A product that appends the ids it accepts to a file, one `write` and one fsync a batch,
/// so a kill leaves whole batches or none.
struct IdFile {
    path: PathBuf,
}

#[async_trait]
impl Sink for IdFile {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("id-file")
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }

    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let mut lines = String::new();
        for record in batch.records.iter() {
            lines.push_str(record.id.as_str());
            lines.push('\n');
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            file.write_all(lines.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(|e| SinkError::Retryable {
            message: e.to_string(),
            retry_after: None,
        })?
        .map_err(|e| SinkError::Retryable {
            message: e.to_string(),
            retry_after: None,
        })?;
        // A little latency so kills land in every phase.
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(Delivery::all())
    }
}

/// The products and their filters, shared with the harness.
pub fn products() -> [(&'static str, Option<Filter>); 3] {
    [
        ("sentinel", None),
        ("mdi", Some(Filter::starts_with("/eventType", "user."))),
        (
            "xspm",
            Some(Filter::is_in(
                "/eventType",
                [
                    "group.user_membership.add",
                    "application.user_membership.add",
                ],
            )),
        ),
    ]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, state, out, events] = args.as_slice() else {
        return Err("usage: crash_child <state-dir> <out-dir> <events>".into());
    };
    let events: usize = events.parse()?;
    let log = EventLog::new();
    log.generate(
        events,
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .ok_or("time")?,
    );
    let clock = Clock::new();
    let settings = EventLogSettings {
        page_size: 25,
        provider_limit: 1_000_000,
        ..EventLogSettings::default()
    };
    let store = DurableStore::open(state)?;
    let mut builder = Platform::builder()
        .clock(clock)
        .durable(store.clone())
        .max_jitter(Duration::ZERO)
        .source(
            "okta",
            EventLogSource::with_settings("contoso", log, clock, settings),
        );
    for (product, filter) in products() {
        builder = builder.sink(
            product,
            IdFile {
                path: Path::new(out).join(format!("{product}.ids")),
            },
        );
        let mut subscription = Subscription::new(product, "okta", "events")
            .every(Duration::from_millis(20))
            .durable(64 << 20);
        if let Some(filter) = filter {
            subscription = subscription.filter(filter);
        }
        builder = builder.subscribe(subscription);
    }
    let running = builder.build()?.start().await?;
    let end = Cursor::new(events.to_string());
    let key = StreamKey::new("okta", "events");
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stats = running.stats().await;
        let drained = stats.subscriptions.iter().all(|s| s.queue_depth == 0);
        if drained && store.load(&key).await? == Some(end.clone()) {
            break;
        }
    }
    running.shutdown().await?;
    Ok(())
}
