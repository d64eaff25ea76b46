//! Memory during a long product outage with durable queues (issue: durable delivery).
//!
//! `cargo bench --bench outage_memory`
//!
//! Three products subscribe with durable queues; one of them hangs for the whole run while
//! 2,000 events of 1 KiB arrive every second. The other two keep up; the hung product's
//! queue grows on disk, within its byte bound, and the process's resident memory must stay
//! flat: it is sampled every second (VmRSS from /proc/self/status). The provider here makes
//! its events up from their position instead of keeping a log, so that what grows in memory
//! could only be the platform's; the dedup window is set to 20,000 ids so that it is full
//! (and flat) after ten seconds.
//! Under `cargo test --benches` it runs for two seconds as a smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use ucp::store::DurableStore;
use ucp::*;
use ucp::{BudgetKey, BudgetSpec};
use ucp_testkit::{RecordingSink, SinkBehaviour};

const PER_SECOND: u64 = 2_000;

/// A provider whose log holds `PER_SECOND` new 1 KiB events every second since `start`, made
/// up from their position when asked for, so it keeps nothing in memory.
struct Generated {
    start: Instant,
}

#[async_trait]
impl Source for Generated {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "generated".into(),
            streams: vec![StreamInfo::new("events", "")],
            capabilities: SourceCapabilities::default(),
            budget: BudgetSpec::new(
                BudgetKey::new("generated", "a"),
                1_000_000,
                Duration::from_secs(60),
            ),
        }
    }
    async fn check(&self, _cx: &SourceContext) -> Result<(), SourceError> {
        Ok(())
    }
    async fn collect(&self, _cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let from: u64 = req
            .cursor
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let available = (self.start.elapsed().as_secs_f64() * PER_SECOND as f64) as u64;
        let to = available.min(from + 1_000);
        let pad = "x".repeat(960);
        let records = (from..to)
            .map(|n| {
                let id = format!("evt-{n:09}");
                let body = format!(
                    "{{\"uuid\":\"{id}\",\"eventType\":\"user.session.start\",\"pad\":\"{pad}\"}}"
                );
                Record::new(id, Utc::now(), body)
            })
            .collect();
        Ok(Page {
            records,
            next: Cursor::new(to.to_string()),
            more: to < available,
            hint: None,
        })
    }
}

/// Resident memory now, in bytes (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let full = std::env::args().any(|a| a == "--bench");
    let seconds = if full { 60 } else { 2 };
    let max_bytes: u64 = 512 << 20;
    let dir = tempfile::tempdir()?;
    let store = DurableStore::open(dir.path())?;
    let down = RecordingSink::new("xspm");
    down.set_behaviour(SinkBehaviour::Hang);
    let mut builder = Platform::builder()
        .durable(store.clone())
        .max_jitter(Duration::ZERO)
        .dedup_window(Duration::from_secs(3600), 20_000)
        .source(
            "okta",
            Generated {
                start: Instant::now(),
            },
        )
        .sink("xspm", down);
    for product in ["sentinel", "mdi"] {
        builder = builder.tenant_sink("default", product, Arc::new(Discard));
    }
    for product in ["sentinel", "mdi", "xspm"] {
        builder = builder.subscribe(
            Subscription::new(product, "okta", "events")
                .every(Duration::from_millis(200))
                .durable(max_bytes),
        );
    }
    let running = builder.build()?.start().await?;

    let started = Instant::now();
    let mut samples = Vec::new();
    for second in 1..=seconds {
        tokio::time::sleep_until((started + Duration::from_secs(second)).into()).await;
        let stats = running.stats().await;
        let queued = stats
            .subscription("xspm", "okta", "events")
            .map_or(0, |s| s.queue_bytes);
        let delivered = stats
            .subscription("sentinel", "okta", "events")
            .map_or(0, |s| s.records_delivered);
        samples.push((second, rss_bytes().unwrap_or(0), queued, delivered));
    }
    running.shutdown().await.ok();
    println!("outage: one product down for {seconds} s, {PER_SECOND} events/s of 1 KiB, durable queues bounded at {} MiB", max_bytes >> 20);
    println!(
        "  second   RSS (MiB)   down product's disk queue (MiB)   delivered to a healthy product"
    );
    for (second, rss, queued, delivered) in samples
        .iter()
        .filter(|s| s.0 == 1 || s.0 % 10 == 0 || s.0 == seconds)
    {
        println!(
            "  {second:>6}   {:>9.1}   {:>31.1}   {delivered:>30}",
            *rss as f64 / 1048576.0,
            *queued as f64 / 1048576.0
        );
    }
    if let (Some(first), Some(last)) = (samples.get(samples.len().min(15) - 1), samples.last()) {
        println!(
            "  RSS from second {} to {}: {:+.1} MiB while the queue grew {:+.1} MiB on disk",
            first.0,
            last.0,
            (last.1 as f64 - first.1 as f64) / 1048576.0,
            (last.2 as f64 - first.2 as f64) / 1048576.0
        );
    }
    Ok(())
}

/// A product that accepts and keeps nothing.
struct Discard;

#[async_trait]
impl Sink for Discard {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("discard")
    }
    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }
    async fn deliver(&self, _cx: &SinkContext, _batch: &Batch) -> Result<Delivery, SinkError> {
        Ok(Delivery::all())
    }
}
