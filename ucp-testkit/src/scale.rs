//! The scale lab: one platform against many simulated Okta orgs, three products each.
//!
//! Every tenant gets its own [`OktaSimulator`] (its own rate limit and live event rate, both
//! varied per tenant) and three [`RecordingSink`] products with different filters: `siem`
//! takes everything, `identity` the `user.*` events, `posture` the `group.*`,
//! `application.*` and `system.*` ones. All three subscribe to the org's one stream, so the
//! platform collects it once per round where separate connectors would call three times.
//!
//! [`run`] lets the platform work for a while, notes every event the orgs hold at that
//! moment, waits until each product has its share (or a drain deadline passes), and reports
//! ([`ScaleReport`]): source calls against the separate-connector baseline, 429s, records
//! missing or repeated, delivery lag percentiles, records per second, CPU seconds and peak
//! RSS of the process (Linux, from `/proc/self`; the simulators run in the same process, so
//! their CPU is included).
//!
//! The large run is a command:
//! `cargo run --release -p ucp-testkit --example scale_lab -- --tenants 1000 --seconds 60`.
//! It measures the simulators with the platform; to measure the platform alone, the orgs and
//! products run in a process of their own ([`crate::scale_world`], the `scale_world`
//! binary) and the platform in the root package's `scale_platform` example.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{Clock, Filter, Platform, Source, Subscription};

use crate::okta::{OktaSimConfig, OktaSimulator};
use crate::recording_sink::RecordingSink;

/// The stream every tenant's source offers.
const STREAM: &str = "system_log";

/// The name of each tenant's Okta token in the credential store.
pub const CREDENTIAL: &str = "okta-token";

/// The size and pace of a run.
#[derive(Clone, Debug)]
pub struct ScaleConfig {
    /// Simulated orgs, one tenant each.
    pub tenants: usize,
    /// How long the platform collects live events before the drain.
    pub run_for: Duration,
    /// How long to wait, after that, for every noted event to reach every product.
    pub drain: Duration,
    /// Collection interval of every subscription.
    pub interval: Duration,
    /// Mean live events per second per org (tenant `i` gets 0.5x to 1.5x of it).
    pub events_per_second: f64,
    /// Base rate limit per org per minute (tenant `i` gets up to +50%).
    pub rate_limit_per_minute: u32,
    /// Events each org already holds at start (published within the last ten minutes).
    pub backlog: usize,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        ScaleConfig {
            tenants: 10,
            run_for: Duration::from_secs(5),
            drain: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            events_per_second: 5.0,
            rate_limit_per_minute: 600,
            backlog: 20,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleReport {
    /// Orgs (tenants).
    pub tenants: usize,
    /// Products per tenant.
    pub products_per_tenant: usize,
    /// Wall time from start to the end of the drain.
    pub elapsed: Duration,
    /// Calls the platform made to the orgs (`collect`).
    pub source_calls: u64,
    /// Calls three separate per-product connectors would have made for the same rounds.
    pub baseline_calls: u64,
    /// `429` answers the orgs sent.
    pub throttled: u64,
    /// Events the orgs held when the run stopped.
    pub events: u64,
    /// Records the products should have (each event once per product whose filter it passes).
    pub expected_deliveries: u64,
    /// Records the products received (repeats included; events published after the run
    /// stopped count too).
    pub deliveries: u64,
    /// Expected records a product never received.
    pub missing: u64,
    /// Records a product received more than once.
    pub duplicates: u64,
    /// Records a product received although its filter rejects them.
    pub misrouted: u64,
    /// Delivery lag (received by the product minus published at the org) of live events.
    pub lag_p50: Duration,
    /// 95th percentile lag.
    pub lag_p95: Duration,
    /// 99th percentile lag.
    pub lag_p99: Duration,
    /// Largest lag.
    pub lag_max: Duration,
    /// Deliveries per second of elapsed time.
    pub records_per_second: f64,
    /// User plus system CPU seconds of the process during the run (Linux only).
    pub cpu_seconds: Option<f64>,
    /// Peak resident set size of the process in bytes (Linux only).
    pub peak_rss_bytes: Option<u64>,
}

impl fmt::Display for ScaleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let saved = if self.baseline_calls > 0 {
            100.0 * (1.0 - self.source_calls as f64 / self.baseline_calls as f64)
        } else {
            0.0
        };
        writeln!(
            f,
            "| tenants | products | elapsed | source calls | separate-connector calls | saved | 429s |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|")?;
        writeln!(
            f,
            "| {} | {} | {:.1} s | {} | {} | {saved:.0}% | {} |",
            self.tenants,
            self.tenants * self.products_per_tenant,
            self.elapsed.as_secs_f64(),
            self.source_calls,
            self.baseline_calls,
            self.throttled
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| events | deliveries (expected) | missing | duplicates | misrouted | records/s | lag p50 | p95 | p99 | max | CPU s | peak RSS |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|---|---|---|---|")?;
        writeln!(
            f,
            "| {} | {} ({}) | {} | {} | {} | {:.0} | {} ms | {} ms | {} ms | {} ms | {} | {} |",
            self.events,
            self.deliveries,
            self.expected_deliveries,
            self.missing,
            self.duplicates,
            self.misrouted,
            self.records_per_second,
            self.lag_p50.as_millis(),
            self.lag_p95.as_millis(),
            self.lag_p99.as_millis(),
            self.lag_max.as_millis(),
            self.cpu_seconds
                .map_or_else(|| "n/a".to_string(), |s| format!("{s:.1}")),
            self.peak_rss_bytes.map_or_else(
                || "n/a".to_string(),
                |b| format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
            ),
        )
    }
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// A simulated org did not start (out of ports or file descriptors?).
    #[error("simulated org {tenant} did not start: {message}; raise the open-file limit (ulimit -n) for large runs")]
    Simulator {
        /// The tenant.
        tenant: String,
        /// What failed.
        message: String,
    },
    /// The factory could not build a tenant's source.
    #[error("the source of tenant {tenant} could not be built: {message}")]
    Source {
        /// The tenant.
        tenant: String,
        /// What failed.
        message: String,
    },
    /// The platform refused the configuration or did not start.
    #[error("the platform failed: {0}")]
    Platform(String),
}

/// The three products of every tenant and their filters.
fn products() -> [(&'static str, Option<Filter>); 3] {
    [
        ("siem", None),
        ("identity", Some(Filter::starts_with("/eventType", "user."))),
        (
            "posture",
            Some(
                Filter::starts_with("/eventType", "group.")
                    .or(Filter::starts_with("/eventType", "application."))
                    .or(Filter::starts_with("/eventType", "system.")),
            ),
        ),
    ]
}

struct Tenant {
    name: String,
    sim: OktaSimulator,
    sinks: Vec<(RecordingSink, Option<Filter>)>,
}

/// Run the lab. `source` builds tenant `i`'s source against its simulated org; it reads
/// the org's token from credential [`CREDENTIAL`] of its tenant.
pub async fn run<F>(config: &ScaleConfig, source: F) -> Result<ScaleReport, ScaleError>
where
    F: Fn(&OktaSimulator) -> Result<Arc<dyn Source>, String>,
{
    let cpu_before = cpu_seconds();
    let clock = Clock::new();
    let store = Arc::new(MemoryCredentials::new());
    let mut builder = Platform::builder()
        .clock(clock)
        .credentials(store.clone())
        .max_jitter(config.interval);
    let mut tenants = Vec::with_capacity(config.tenants);
    for i in 0..config.tenants {
        let name = format!("tenant-{i:04}");
        let token = format!("scale-token-{i:04}-{:08x}", i.wrapping_mul(2_654_435_761));
        let spread = 0.5 + (i % 11) as f64 / 10.0;
        let sim = OktaSimulator::start(
            OktaSimConfig::default()
                .clock(clock)
                .seed(i as u64)
                .token(token.clone())
                .backlog(config.backlog)
                .backlog_span(Duration::from_secs(600))
                .live(config.events_per_second * spread)
                .rate_limit(
                    config.rate_limit_per_minute
                        + (i % 3) as u32 * config.rate_limit_per_minute / 4,
                ),
        )
        .await
        .map_err(|e| ScaleError::Simulator {
            tenant: name.clone(),
            message: e.to_string(),
        })?;
        store
            .put(
                CredentialRef::new(name.clone(), CREDENTIAL),
                Credential::ApiToken {
                    token: SecretString::from(token),
                },
            )
            .await
            .map_err(|e| ScaleError::Platform(e.to_string()))?;
        let src = source(&sim).map_err(|message| ScaleError::Source {
            tenant: name.clone(),
            message,
        })?;
        let source_name = format!("okta-{i:04}");
        builder = builder.tenant_source(name.clone(), source_name.clone(), src);
        let mut sinks = Vec::new();
        for (product, filter) in products() {
            let sink_name = format!("{product}-{i:04}");
            let sink = RecordingSink::new(sink_name.clone());
            builder = builder.tenant_sink(name.clone(), sink_name.clone(), Arc::new(sink.clone()));
            let mut subscription =
                Subscription::new(sink_name, source_name.clone(), STREAM).every(config.interval);
            if let Some(filter) = &filter {
                subscription = subscription.filter(filter.clone());
            }
            builder = builder.subscribe(subscription);
            sinks.push((sink, filter));
        }
        tenants.push(Tenant { name, sim, sinks });
    }
    let platform = builder
        .build()
        .map_err(|e| ScaleError::Platform(e.to_string()))?;
    let started = Instant::now();
    let live_from = clock.now_utc();
    let running = platform
        .start()
        .await
        .map_err(|e| ScaleError::Platform(e.to_string()))?;
    tokio::time::sleep(config.run_for).await;

    // Note what every product must have, then wait for it.
    let mut expected: Vec<Vec<HashSet<String>>> = Vec::with_capacity(tenants.len());
    let mut events = 0u64;
    for tenant in &tenants {
        let visible = tenant.sim.visible_events();
        events += visible.len() as u64;
        let docs: Vec<(String, serde_json::Value)> = visible
            .iter()
            .map(|e| {
                let doc = serde_json::from_str(&e.json).unwrap_or(serde_json::Value::Null);
                (e.uuid.clone(), doc)
            })
            .collect();
        expected.push(
            tenant
                .sinks
                .iter()
                .map(|(_, filter)| {
                    docs.iter()
                        .filter(|(_, doc)| filter.as_ref().is_none_or(|f| f.matches(doc)))
                        .map(|(id, _)| id.clone())
                        .collect()
                })
                .collect(),
        );
    }
    let deadline = Instant::now() + config.drain;
    loop {
        let complete = tenants.iter().zip(&expected).all(|(tenant, wants)| {
            tenant.sinks.iter().zip(wants).all(|((sink, _), want)| {
                let have: HashSet<String> = sink.ids().into_iter().collect();
                want.is_subset(&have)
            })
        });
        if complete || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stats = running.stats().await;
    let elapsed = started.elapsed();
    running
        .shutdown()
        .await
        .map_err(|e| ScaleError::Platform(e.to_string()))?;

    let source_calls: u64 = stats.jobs.iter().map(|j| j.source_calls).sum();
    let saved: u64 = stats.jobs.iter().map(|j| j.calls_saved).sum();
    let mut report = ScaleReport {
        tenants: tenants.len(),
        products_per_tenant: products().len(),
        elapsed,
        source_calls,
        baseline_calls: source_calls + saved,
        throttled: tenants.iter().map(|t| t.sim.throttled()).sum(),
        events,
        ..ScaleReport::default()
    };
    let mut lags: Vec<Duration> = Vec::new();
    for (tenant, wants) in tenants.iter().zip(&expected) {
        for ((sink, filter), want) in tenant.sinks.iter().zip(wants) {
            report.expected_deliveries += want.len() as u64;
            let mut seen: HashMap<String, u32> = HashMap::new();
            for (at, batch) in sink.batches() {
                let delivered = clock.utc_at(at);
                for record in batch.records.iter() {
                    report.deliveries += 1;
                    *seen.entry(record.id.to_string()).or_default() += 1;
                    if let Some(filter) = filter {
                        let doc = serde_json::from_slice(&record.payload)
                            .unwrap_or(serde_json::Value::Null);
                        if !filter.matches(&doc) {
                            report.misrouted += 1;
                        }
                    }
                    if record.time >= live_from {
                        lags.push((delivered - record.time).to_std().unwrap_or(Duration::ZERO));
                    }
                }
            }
            report.missing += want.iter().filter(|id| !seen.contains_key(*id)).count() as u64;
            report.duplicates += seen.values().map(|n| u64::from(n - 1)).sum::<u64>();
        }
        tracing::trace!(tenant = %tenant.name, "scale lab tenant counted");
    }
    lags.sort_unstable();
    let pick = |q: f64| {
        lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    report.lag_p50 = pick(0.50);
    report.lag_p95 = pick(0.95);
    report.lag_p99 = pick(0.99);
    report.lag_max = lags.last().copied().unwrap_or_default();
    report.records_per_second = report.deliveries as f64 / elapsed.as_secs_f64().max(1e-9);
    report.cpu_seconds = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    report.peak_rss_bytes = peak_rss_bytes();
    Ok(report)
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds of this process so far, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Peak resident set size of this process in bytes, from `VmHWM` in `/proc/self/status`.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("/proc/self/status", "VmHWM:").map(|kib| kib * 1024)
}

/// Resident set size of this process now, in bytes (`VmRSS`).
pub fn rss_bytes() -> Option<u64> {
    status_kib("/proc/self/status", "VmRSS:").map(|kib| kib * 1024)
}

/// User plus system CPU seconds of process `pid` so far (Linux only).
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Peak resident set size of process `pid` in bytes (Linux only).
pub fn peak_rss_bytes_of(pid: u32) -> Option<u64> {
    status_kib(&format!("/proc/{pid}/status"), "VmHWM:").map(|kib| kib * 1024)
}

fn status_kib(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_figures_are_read_on_linux() {
        if cfg!(target_os = "linux") {
            let spin: u64 = (0..2_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
            assert!(spin > 0);
            assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
            assert!(peak_rss_bytes().is_some_and(|b| b > 1024 * 1024));
            assert!(rss_bytes().is_some_and(|b| b > 1024 * 1024 && Some(b) <= peak_rss_bytes()));
            let me = std::process::id();
            assert!(cpu_seconds_of(me).is_some_and(|s| s >= 0.0));
            assert!(peak_rss_bytes_of(me).is_some_and(|b| b > 1024 * 1024));
        }
    }
}
