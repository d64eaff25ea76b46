//! The scale lab with the platform alone in its process: N tenants, each an Okta org and
//! three Sentinel-shaped products (real `OktaSource` and `SentinelSink`s, gzip bodies), the
//! orgs and products served by the `scale_world` binary in another process, so this
//! process's CPU and resident memory are the platform's own.
//!
//! ```text
//! cargo build --release -p ucp-testkit --bin scale_world
//! ulimit -n 65536
//! cargo run --release --example scale_platform -- --tenants 1000 --seconds 60 --interval-ms 5000
//! ```
//!
//! Options: `--tenants N` (default 100), `--seconds S` of live collection (default 30),
//! `--interval-ms I` per subscription (default 5000), `--eps E` mean live events per second
//! per org (default 1), `--backlog B` events per org at start (default 20), `--drain S`
//! (default 60), `--world PATH` (default: `scale_world` beside this example's directory).
//! Prints Markdown tables for BENCHMARKS.md; exits 1 if anything was lost, repeated,
//! misrouted or throttled.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp::sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp::{Filter, Platform, Subscription};
use ucp_testkit::scale::{
    cpu_seconds, cpu_seconds_of, peak_rss_bytes, peak_rss_bytes_of, rss_bytes,
};
use ucp_testkit::scale_world::{dcr_name, LAB_CLIENT, PRODUCTS};

const STREAM: &str = "Custom-OktaSystemLog_CL";

fn arg(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn num(args: &[String], name: &str, default: f64) -> f64 {
    arg(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn filter_of(prefixes: &[&str]) -> Option<Filter> {
    prefixes
        .iter()
        .map(|p| Filter::starts_with("/eventType", *p))
        .reduce(Filter::or)
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

    let mut world = std::process::Command::new(&world_path)
        .args([
            "--tenants".to_string(),
            tenants.to_string(),
            "--eps".into(),
            num(&args, "--eps", 1.0).to_string(),
            "--backlog".into(),
            num(&args, "--backlog", 20.0).to_string(),
            "--drain".into(),
            num(&args, "--drain", 60.0).to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "could not start {}: {e} (cargo build --release -p ucp-testkit --bin scale_world)",
                world_path.display()
            )
        })?;
    let world_pid = world.id();
    let mut to_world = world.stdin.take().ok_or("no stdin")?;
    // The world's lines, read on a thread of their own.
    let (lines, mut from_world) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = world.stdout.take().ok_or("no stdout")?;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut orgs = Vec::new();
    let mut products = None;
    while let Some(line) = from_world.recv().await {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["TENANT", _, url, token] => orgs.push((url.to_string(), token.to_string())),
            ["PRODUCTS", url, token_url] => {
                products = Some((url.to_string(), token_url.to_string()))
            }
            ["READY"] => break,
            _ => {}
        }
    }
    let (products_url, token_url) = products.ok_or("the world named no products endpoint")?;
    eprintln!("scale platform: world ready with {} orgs", orgs.len());

    let cpu_before = cpu_seconds().unwrap_or(0.0);
    let store = Arc::new(MemoryCredentials::new());
    let tokens = Arc::new(TokenProvider::new(Arc::new(HttpTokenFetcher::new()?)));
    let mut builder = Platform::builder()
        .credentials(store.clone())
        .max_jitter(interval);
    for (i, (url, token)) in orgs.iter().enumerate() {
        let tenant = format!("tenant-{i:05}");
        store
            .put(
                CredentialRef::new(tenant.clone(), "okta"),
                Credential::ApiToken {
                    token: SecretString::from(token.clone()),
                },
            )
            .await?;
        store
            .put(
                CredentialRef::new(tenant.clone(), "entra"),
                Credential::ClientSecret {
                    token_url: token_url.clone(),
                    client_id: LAB_CLIENT.0.into(),
                    secret: SecretString::from(LAB_CLIENT.1),
                },
            )
            .await?;
        let source_name = format!("okta-{i:05}");
        let source =
            OktaSource::new(OktaConfig::new(url, "okta").start_ago(Duration::from_secs(3600)))?;
        builder = builder.tenant_source(tenant.clone(), source_name.clone(), Arc::new(source));
        for (product, prefixes) in PRODUCTS {
            let sink_name = format!("{product}-{i:05}");
            let mut config =
                SentinelConfig::new(&products_url, dcr_name(i, product), STREAM, "entra");
            config.gzip = true;
            config.product = sink_name.clone();
            builder = builder.tenant_sink(
                tenant.clone(),
                sink_name.clone(),
                Arc::new(SentinelSink::new(config, tokens.clone())),
            );
            let mut subscription =
                Subscription::new(sink_name, source_name.clone(), SYSTEM_LOG).every(interval);
            if let Some(filter) = filter_of(prefixes) {
                subscription = subscription.filter(filter);
            }
            builder = builder.subscribe(subscription);
        }
    }
    let platform = builder.build()?;
    let started = std::time::Instant::now();
    let running = platform.start().await?;
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
    let world_cpu_live = cpu_seconds_of(world_pid).unwrap_or(0.0);
    to_world.write_all(b"SNAPSHOT\n")?;
    to_world.flush()?;
    let mut report = String::new();
    while let Some(line) = from_world.recv().await {
        if line.starts_with("REPORT ") {
            report = line;
            break;
        }
    }
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
    let world_rss = peak_rss_bytes_of(world_pid).unwrap_or(0) as f64;
    let world_cpu = cpu_seconds_of(world_pid).unwrap_or(0.0);
    running.shutdown().await?;
    drop(to_world);
    let _ = world.kill();
    let _ = world.wait();

    let field = |name: &str| -> f64 {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
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
        field("throttled")
    );
    println!();
    println!("| events | expected deliveries | missing | duplicates | misrouted | lag p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
        field("events"),
        field("expected"),
        field("missing"),
        field("duplicates"),
        field("misrouted"),
        field("lag_p50") / 1000.0,
        field("lag_p95") / 1000.0,
        field("lag_p99") / 1000.0,
        field("lag_max") / 1000.0
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
        "| world process (orgs + products): CPU s live / total, peak RSS | {world_cpu_live:.1} / {world_cpu:.1}, {} |",
        mib(world_rss)
    );
    let failed = field("missing") != 0.0
        || field("duplicates") != 0.0
        || field("misrouted") != 0.0
        || field("throttled") != 0.0;
    if failed {
        eprintln!("scale platform: {report}");
        std::process::exit(1);
    }
    Ok(())
}
