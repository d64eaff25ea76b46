//! The done-when soak, under the paused clock: 500 Defender XDR incidents and a simulated
//! day of 200 people's edits on each side (every synchronized field, comments both ways,
//! new alerts, merges, new incidents, pairs of concurrent edits of one field), with 409s and
//! 429s injected on both sides, the sync polling every 60 s (its default 30 s with `UCP_SOAK_INTERVAL_SECS=30`). At the end both sides agree
//! field by field (the test's own checker), no incident has two twins, no comment is
//! missing or doubled, every write changed something, there are no more writes than changes
//! to carry, and a quiet hour after makes no write at all. The p99 latency from a change to
//! its write on the other side is printed (BENCHMARKS.md) and held to the interval + 10 s.
//!
//! `UCP_SOAK_SEED=<n>` replays a day.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::checker::check;
use support::scenario::{apply, Scenario};
use support::*;
use tokio::time::Instant;
use ucp_sync::{Ledger, SyncConfig, SyncStats};
use ucp_testkit::faults::{Fault, Faults, Quota, RateLimitDialect};
use ucp_testkit::graph::GraphSimConfig;
use ucp_testkit::sentinel::SentinelSimConfig;

const INCIDENTS: usize = 500;
const EDITS: usize = 200;
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The polling interval: 60 s here to keep the run short (every poll is two loopback
/// requests); `UCP_SOAK_INTERVAL_SECS=30` runs the day at the sync's default.
fn interval() -> Duration {
    Duration::from_secs(
        std::env::var("UCP_SOAK_INTERVAL_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(60),
    )
}

#[tokio::test(start_paused = true)]
async fn a_day_of_edits_on_both_sides_ends_in_agreement_without_duplicates_or_echoes() {
    let seed: u64 = std::env::var("UCP_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(17);
    let interval = interval();
    println!("soak: seed {seed} (UCP_SOAK_SEED={seed} to replay), polling every {interval:?}");
    let faults = Faults::new();
    let graph_config = GraphSimConfig::default()
        .seed(seed)
        .incidents(INCIDENTS)
        .alerts(INCIDENTS * 3);
    let faults_clock = graph_config.clock;
    let lab = Lab::start_wrapped(graph_config, SentinelSimConfig::default(), |r| {
        r.layer(faults.layer())
    })
    .await;
    let _ = faults_clock;
    let ids: Vec<String> = {
        let mut ids: Vec<String> = lab
            .graph
            .incident_versions()
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        ids.sort();
        ids
    };
    let scenario = Scenario::generate(seed, INCIDENTS, EDITS, DAY);
    let dir = tempfile::tempdir().unwrap();
    let sync = Arc::new(
        lab.sync(
            SyncConfig::new("defender-sentinel-sync").interval(interval),
            Ledger::open(dir.path().join("sync.sqlite")).unwrap(),
        )
        .await,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let sync = sync.clone();
        tokio::spawn(async move {
            sync.run(async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let start = Instant::now();
    // Graph's 429: `Retry-After` in seconds, nothing else.
    let throttle_graph = |wait: Duration| {
        faults.push_next(Fault::Throttled {
            dialect: RateLimitDialect::RetryAfterSeconds,
            quota: Quota::per_minute(50, 0, wait),
        })
    };
    for (at, event) in &scenario.events {
        tokio::time::sleep_until(start + *at).await;
        let _ = apply(event, &lab.graph, &lab.sentinel, &ids, &throttle_graph);
    }
    // Settle, then an hour with no edit: nothing may be written.
    tokio::time::sleep_until(start + DAY + Duration::from_secs(300)).await;
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    let writes = (lab.graph.writes().len(), lab.sentinel.writes().len());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let after_quiet = (lab.graph.writes().len(), lab.sentinel.writes().len());
    let _ = stop.send(());
    runner.await.unwrap();

    let stats: SyncStats = sync.stats().await;
    let latencies = stats.latencies();
    let p50 = SyncStats::quantile(&latencies, 0.50);
    let p99 = SyncStats::quantile(&latencies, 0.99);
    let max = SyncStats::quantile(&latencies, 1.0);
    println!(
        "soak: {} incidents compared, {} twins made; changes {} → Sentinel, {} → XDR; {} conflicts; {} one-way edits put back; comments {} → Sentinel, {} → XDR; writes: {} Sentinel, {} XDR; {} etag retries; 409s {}, 429s {} (Sentinel) {} (Graph); cycles {}",
        verdict.compared,
        stats.incidents_created,
        stats.changes_to_sentinel,
        stats.changes_to_xdr,
        stats.conflicts,
        stats.reverted,
        stats.comments_to_sentinel,
        stats.comments_to_xdr,
        stats.sentinel_writes,
        stats.xdr_writes,
        stats.etag_retries,
        lab.sentinel.counts().conflicts,
        lab.sentinel.counts().throttled,
        faults.injected().len(),
        stats.cycles,
    );
    println!(
        "soak: requests: {} to Graph, {} to Sentinel",
        lab.graph.counts().requests.values().sum::<u64>(),
        lab.sentinel.counts().requests
    );
    println!(
        "soak: latency from a change to its write on the other side over {} changes: p50 {:?}, p99 {:?}, max {:?} (interval {:?})",
        latencies.len(),
        p50,
        p99,
        max,
        interval
    );

    // Both sides agree, one twin each, every comment once.
    assert!(verdict.agree(), "seed {seed}: {}", verdict.summary());
    assert!(
        verdict.compared > INCIDENTS,
        "new incidents came during the day"
    );
    assert_eq!(verdict.other_incidents, 0);
    assert!(verdict.comments_to_sentinel > 0 && verdict.comments_to_xdr > 0);
    assert!(scenario.concurrent >= 20);
    assert!(stats.conflicts > 0, "concurrent edits met");
    assert!(
        lab.sentinel.counts().conflicts > 0,
        "409s were met and merged again"
    );
    assert!(lab.sentinel.counts().throttled > 0 && !faults.injected().is_empty());

    // Writes are the changes: none changed nothing, none more than there was to carry, and
    // the sync counted each one the providers saw.
    let graph_writes = lab.graph.writes();
    let sentinel_writes = lab.sentinel.writes();
    assert!(
        graph_writes.iter().all(|w| !w.changed.is_empty()),
        "an empty write to XDR"
    );
    assert!(
        sentinel_writes.iter().all(|w| !w.changed.is_empty()),
        "an empty write to Sentinel"
    );
    assert_eq!(stats.xdr_writes as usize, graph_writes.len());
    assert_eq!(
        stats.sentinel_writes as usize,
        sentinel_writes
            .iter()
            .filter(|w| w.resource.starts_with("incidents/"))
            .count()
    );
    let twins = verdict.compared;
    let people = scenario.xdr_edits + scenario.sentinel_edits;
    assert!(
        graph_writes.len() + sentinel_writes.len() <= twins + people,
        "{} writes for {twins} twins and {people} edits",
        graph_writes.len() + sentinel_writes.len()
    );
    assert_eq!(
        after_quiet, writes,
        "an hour without edits wrote nothing: no echo, no loop"
    );

    // Latency: a change reaches the other side by the next poll, plus the waits the injected
    // 429s asked for.
    assert!(p99 <= interval + Duration::from_secs(10), "p99 {p99:?}");
}
