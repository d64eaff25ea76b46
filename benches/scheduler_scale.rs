//! The scheduler at scale: 10,000 provider accounts × 3 products, mostly idle.
//!
//! `cargo bench --bench scheduler_scale`
//!
//! Reports the CPU the idle platform uses (share of one core, from /proc/self/stat), the
//! memory per collection job (peak RSS growth from building and starting the platform, from
//! /proc/self/status), and the time to re-plan after adding 1,000 subscriptions at run time.
//! Under `cargo test --benches` it runs once at a small size as a smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ucp::*;
use ucp_testkit::scale::{cpu_seconds, peak_rss_bytes};
use ucp_testkit::{EventLog, EventLogSource};

/// A product that accepts everything and keeps nothing.
struct Noop;

#[async_trait]
impl Sink for Noop {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("noop")
    }
    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }
    async fn deliver(&self, _cx: &SinkContext, _batch: &Batch) -> Result<Delivery, SinkError> {
        Ok(Delivery::all())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let full = std::env::args().any(|a| a == "--bench");
    let (orgs, settle, idle) = if full { (10_000, 15, 30) } else { (200, 1, 1) };
    let products = ["sentinel", "mdi", "xspm"];

    let rss_before = peak_rss_bytes().unwrap_or(0);
    let clock = Clock::new();
    let mut builder = Platform::builder()
        .clock(clock)
        .max_jitter(Duration::from_secs(10));
    const ADDED: [&str; 5] = ["lake0", "lake1", "lake2", "lake3", "lake4"];
    for product in products.iter().chain(&ADDED) {
        builder = builder.sink(*product, Noop);
    }
    for org in 0..orgs {
        let source = EventLogSource::new(format!("org{org}"), EventLog::new(), clock);
        builder = builder.tenant_source("default", format!("okta-{org}"), Arc::new(source));
        for product in products {
            builder = builder.subscribe(
                Subscription::new(product, format!("okta-{org}"), "events")
                    .every(Duration::from_secs(300)),
            );
        }
    }
    let running = builder.build()?.start().await?;
    // Every job's first round falls within the 10 s jitter window.
    tokio::time::sleep(Duration::from_secs(settle)).await;
    let rss_after = peak_rss_bytes().unwrap_or(0);
    let jobs = running.plan().await.jobs.len();

    let cpu_start = cpu_seconds();
    let wall = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let idle_cpu = match (cpu_start, cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / wall.elapsed().as_secs_f64() * 100.0),
        _ => None,
    };

    // Five times, a product subscribes to 1,000 more streams: one re-plan each.
    let mut replans = Vec::new();
    for product in ADDED {
        let more: Vec<Subscription> = (0..orgs.min(1_000))
            .map(|org| {
                Subscription::new(product, format!("okta-{org}"), "events")
                    .every(Duration::from_secs(600))
            })
            .collect();
        let started = Instant::now();
        running.subscribe_all(more).await?;
        replans.push(started.elapsed().as_secs_f64() * 1e3);
    }
    replans.sort_by(|a, b| a.total_cmp(b));
    let after = running.plan().await.subscriptions();
    running.shutdown().await?;

    println!("scheduler at scale: {orgs} accounts × {} products = {jobs} jobs, {} subscriptions after adding", products.len(), after);
    match idle_cpu {
        Some(cpu) => println!("  idle CPU over {idle} s: {cpu:.2}% of one core (target < 1%)"),
        None => println!("  idle CPU: not measurable here (no /proc)"),
    }
    println!(
        "  memory: {:.1} KiB per job (peak RSS {} MiB → {} MiB)",
        rss_after.saturating_sub(rss_before) as f64 / 1024.0 / jobs.max(1) as f64,
        rss_before >> 20,
        rss_after >> 20
    );
    println!(
        "  re-plan after adding {} subscriptions: median {:.1} ms ({:.1}–{:.1}, {} runs; target < 50 ms)",
        orgs.min(1_000),
        replans[replans.len() / 2],
        replans[0],
        replans[replans.len() - 1],
        replans.len()
    );
    Ok(())
}
