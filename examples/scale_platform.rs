//! The scale lab with the platform alone in its process: N tenants, each an Okta org and
//! three Sentinel-shaped products (real `OktaSource` and `SentinelSink`s, gzip bodies), the
//! orgs and products served by the `scale_world` binary in another process, so this
//! process's CPU and resident memory are the platform's own.
//!
//! ```text
//! cargo build --release -p ucp-testkit --bin scale_world
//! ulimit -n 20000
//! cargo run --release --example scale_platform -- --tenants 1000 --seconds 60 --interval-ms 5000
//! ```
//!
//! Options: `--tenants N` (default 100), `--seconds S` of live collection (default 30),
//! `--interval-ms I` per subscription (default 5000), `--eps E` mean live events per second
//! per org (default 1), `--backlog B` events per org at start (default 20), `--rate-limit R`
//! calls per minute per org (default 600, up to +50 % per org), `--drain S` (default 60),
//! `--per-world N` tenants per world process (default 4,000: each org holds two of the
//! world's open files), `--world PATH` (default: `scale_world` beside this example's
//! directory). Prints Markdown
//! tables for BENCHMARKS.md; exits 1 if anything was lost, repeated, misrouted, throttled or
//! refused. `ucp-testkit/tests/scale_world.rs` runs the same lab at test size.

use std::sync::Arc;
use std::time::Duration;

use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp::sources::okta::{OktaConfig, OktaSource};
use ucp::{Sink, Source};
use ucp_testkit::scale::{
    cpu_seconds, cpu_seconds_of, peak_rss_bytes, peak_rss_bytes_of, rss_bytes,
};
use ucp_testkit::scale_world::{
    lab_platform, WorldConfig, Worlds, LAB_STREAM, OKTA_CREDENTIAL, PRODUCTS, PRODUCTS_CREDENTIAL,
};

fn arg(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn num(args: &[String], name: &str, default: f64) -> f64 {
    arg(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mib(bytes: f64) -> String {
    format!("{:.0} MiB", bytes / 1048576.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let tenants = num(&args, "--tenants", 100.0) as usize;
    let seconds = num(&args, "--seconds", 30.0);
    let interval = Duration::from_millis(num(&args, "--interval-ms", 5000.0) as u64);
    let world_path = match arg(&args, "--world") {
        Some(path) => path.into(),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .ok_or("no directory above this example")?
            .join("scale_world"),
    };
    let rss_start = rss_bytes().unwrap_or(0) as f64;

    let config = WorldConfig {
        tenants,
        first_tenant: 0,
        events_per_second: num(&args, "--eps", 1.0),
        backlog: num(&args, "--backlog", 20.0) as usize,
        rate_limit_per_minute: num(&args, "--rate-limit", 600.0) as u32,
        drain: Duration::from_secs_f64(num(&args, "--drain", 60.0)),
        ..WorldConfig::default()
    };
    let per_world = num(&args, "--per-world", 4000.0) as usize;
    let mut worlds = Worlds::start(&world_path, &config, per_world)
        .await
        .map_err(|e| format!("{e} (cargo build --release -p ucp-testkit --bin scale_world)"))?;
    let world_pids = worlds.pids();
    let worlds_cpu = || -> f64 { world_pids.iter().filter_map(|p| cpu_seconds_of(*p)).sum() };
    let worlds_rss = || -> f64 {
        world_pids
            .iter()
            .filter_map(|p| peak_rss_bytes_of(*p))
            .sum::<u64>() as f64
    };
    eprintln!(
        "scale platform: {} world(s) ready with {} orgs",
        world_pids.len(),
        worlds.orgs().count()
    );

    let cpu_before = cpu_seconds().unwrap_or(0.0);
    let tokens = Arc::new(TokenProvider::new(Arc::new(HttpTokenFetcher::new()?)));
    let platform = lab_platform(
        &worlds,
        interval,
        |org| {
            let config =
                OktaConfig::new(&org.url, OKTA_CREDENTIAL).start_ago(Duration::from_secs(3600));
            let source = OktaSource::new(config).map_err(|e| e.to_string())?;
            Ok(Arc::new(source) as Arc<dyn Source>)
        },
        |product| {
            let mut config =
                SentinelConfig::new(&product.url, &product.dcr, LAB_STREAM, PRODUCTS_CREDENTIAL);
            config.gzip = true;
            config.product = product.sink_name.clone();
            Arc::new(SentinelSink::new(config, tokens.clone())) as Arc<dyn Sink>
        },
    )
    .await?;
    let started = std::time::Instant::now();
    let running = platform.start().await?;
    worlds.live()?;
    let cpu_started = cpu_seconds().unwrap_or(0.0);

    // Resident memory every second, after two intervals of warm-up: most tenants are idle
    // between their rounds at any moment, so the median is the idle figure.
    let samples = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let begin = std::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if begin.elapsed() >= interval * 2 {
                    let rss = rss_bytes().unwrap_or(0) as f64;
                    samples.lock().unwrap_or_else(|e| e.into_inner()).push(rss);
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let cpu_live = cpu_seconds().unwrap_or(0.0) - cpu_started;
    let world_cpu_live = worlds_cpu();
    let report = worlds.settle().await?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_total = cpu_seconds().unwrap_or(0.0) - cpu_started;
    let stats = running.stats().await;
    sampler.abort();
    let rss_median = {
        let mut all = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
        all.sort_by(f64::total_cmp);
        all.get(all.len() / 2).copied().unwrap_or(0.0)
    };
    let rss_now = rss_bytes().unwrap_or(0) as f64;
    let rss_peak = peak_rss_bytes().unwrap_or(0) as f64;
    let world_rss = worlds_rss();
    let world_cpu = worlds_cpu();
    running.shutdown().await?;
    drop(worlds);

    let calls: u64 = stats.jobs.iter().map(|j| j.source_calls).sum();
    let saved: u64 = stats.jobs.iter().map(|j| j.calls_saved).sum();
    let collected: u64 = stats.jobs.iter().map(|j| j.records_collected).sum();
    let baseline = calls + saved;
    println!("| tenants | products | interval | elapsed | source calls | separate-connector calls | ratio | 429s |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {tenants} | {} | {:.0} s | {elapsed:.0} s | {calls} | {baseline} | {:.3} | {} |",
        tenants * PRODUCTS.len(),
        interval.as_secs_f64(),
        calls as f64 / baseline.max(1) as f64,
        report.throttled
    );
    println!();
    println!("| events | expected deliveries | missing | duplicates | misrouted | lag p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
        report.events,
        report.expected,
        report.missing,
        report.duplicates,
        report.misrouted,
        report.lag_ms[0] as f64 / 1000.0,
        report.lag_ms[1] as f64 / 1000.0,
        report.lag_ms[2] as f64 / 1000.0,
        report.lag_ms[3] as f64 / 1000.0
    );
    println!();
    println!("| platform process | value |");
    println!("|---|---|");
    println!("| records collected | {collected} |");
    println!("| CPU s, live phase ({seconds:.0} s) / whole run | {cpu_live:.1} / {cpu_total:.1} |");
    println!(
        "| CPU per collected event | {:.0} µs |",
        cpu_total / collected.max(1) as f64 * 1e6
    );
    println!(
        "| CPU to build and start the platform | {:.1} s |",
        cpu_started - cpu_before
    );
    println!(
        "| RSS before the platform (runtime only) | {} |",
        mib(rss_start)
    );
    println!(
        "| RSS, median of the live phase after warm-up | {} |",
        mib(rss_median)
    );
    println!(
        "| RSS at the end (idle tenants, queues empty) | {} |",
        mib(rss_now)
    );
    println!("| peak RSS | {} |", mib(rss_peak));
    println!(
        "| RSS per tenant: (median − before) / tenants; (end − before) / tenants | {:.1} KiB; {:.1} KiB |",
        (rss_median - rss_start) / tenants.max(1) as f64 / 1024.0,
        (rss_now - rss_start) / tenants.max(1) as f64 / 1024.0
    );
    println!(
        "| world processes ({}, orgs + products): CPU s live / total, peak RSS | {world_cpu_live:.1} / {world_cpu:.1}, {} |",
        world_pids.len(),
        mib(world_rss)
    );
    let failed = report.missing != 0
        || report.duplicates != 0
        || report.misrouted != 0
        || report.throttled != 0
        || report.product_refused != 0;
    if failed {
        eprintln!("scale platform: {}", report.line());
        std::process::exit(1);
    }
    Ok(())
}
