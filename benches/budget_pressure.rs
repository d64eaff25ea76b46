//! The rate budget under pressure: a 20 calls/minute Okta org with a backlog, shared with
//! another application of the org that spends part of the quota.
//!
//! `cargo bench --bench budget_pressure`
//!
//! Time is compressed ten times (the simulator's `speed`; the source's budget window is
//! set to match with `OktaConfig::rate_limit_window`): the org's rate-limit minute lasts 6 s.
//! ucp may use half the limit (the Okta source's default share): 10 calls per minute. Three
//! products subscribe to the System Log every demo second, so collection is limited by the
//! budget, never by the schedule. The co-tenant spreads its calls over each minute:
//!
//! - phase A: 6 calls a minute, less than the 10 left to it: ucp may use its whole share;
//! - phase B: 14 calls a minute, more than its half: ucp can use only what is left, 6.
//!
//! **Usable budget** of a minute = min(ucp's share, limit − the co-tenant's calls that
//! minute) = min(10, 20 − k). Reported: 429s the org sent (target 0), ucp's calls as a
//! share of the usable budget summed over whole minutes (target ≥ 90%), and freshness: the
//! lag of the newest delivered record behind the org's clock, sampled at every minute
//! boundary once the backlog is drained (demo seconds).
//! Under `cargo test --benches` it runs two short minutes per phase as a smoke test.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use ucp::credentials::CredentialStore;
use ucp::credentials::{Credential, CredentialRef, MemoryCredentials};
use ucp::health::MemoryHealth;
use ucp::sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp::store::MemoryCheckpoints;
use ucp::*;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::RecordingSink;

const TOKEN: &str = "00benchPressureToken";
const LIMIT: u32 = 20;
/// ucp's share of the limit (the Okta source's default quota share, 0.5).
const SHARE: u32 = LIMIT / 2;

fn filter(product: &str) -> Option<Filter> {
    let prefix = |p: &str| Filter::starts_with("/eventType", p);
    match product {
        "sentinel" => None,
        "mdi" => Some(prefix("user.authentication").or(prefix("user.session"))),
        _ => Some(
            prefix("user.account")
                .or(prefix("group."))
                .or(prefix("application.")),
        ),
    }
}

/// The co-tenant: `calls` evenly spread over each minute from `first` on, for `minutes`.
async fn co_tenant(
    sim: Arc<OktaSimulator>,
    first: DateTime<Utc>,
    window: Duration,
    calls: u32,
    minutes: u32,
) {
    for m in 0..minutes {
        for i in 0..calls {
            let at = first
                + chrono::Duration::from_std(
                    window * m + window.mul_f64((i as f64 + 0.5) / calls as f64),
                )
                .unwrap_or_default();
            sleep_until_org(&sim, at).await;
            sim.consume_quota(1);
        }
    }
}

async fn sleep_until_org(sim: &OktaSimulator, at: DateTime<Utc>) {
    if let Ok(wait) = (at - sim.now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// The newest record any product received.
fn newest(sinks: &[RecordingSink]) -> Option<DateTime<Utc>> {
    sinks
        .iter()
        .flat_map(|s| s.batches())
        .flat_map(|(_, b)| b.records.iter().map(|r| r.time).max())
        .max()
}

struct Phase {
    name: &'static str,
    co_tenant: u32,
    ours: u64,
    usable: u64,
    lags: Vec<f64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let full = std::env::args().any(|a| a == "--bench");
    let (speed, minutes_per_phase, backlog) = if full {
        (10.0, 10, 3_000)
    } else {
        (30.0, 2, 300)
    };
    let sim = Arc::new(
        OktaSimulator::start(
            OktaSimConfig::default()
                .token(TOKEN)
                .seed(7)
                .backlog(backlog)
                .backlog_span(Duration::from_secs(1800))
                .live(speed) // one event per demo second
                .rate_limit(LIMIT)
                .speed(speed),
        )
        .await?,
    );
    let window = Duration::from_secs(60).div_f64(speed);
    let started_at = sim.now();
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new("default", "okta"),
            Credential::ApiToken {
                token: SecretString::from(TOKEN),
            },
        )
        .await?;
    let okta = OktaSource::new(
        OktaConfig::new(sim.base_url(), "okta")
            .start_ago(Duration::from_secs(3600))
            .page_limit(200)
            .rate_limit_per_minute(LIMIT)
            .rate_limit_window(window),
    )?;
    let sinks: Vec<RecordingSink> = ["sentinel", "mdi", "xspm"]
        .iter()
        .map(|p| RecordingSink::new(*p))
        .collect();
    let mut builder = Platform::builder()
        .credentials(credentials)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .source("okta", okta);
    for (product, sink) in ["sentinel", "mdi", "xspm"].iter().zip(&sinks) {
        let mut subscription = Subscription::new(*product, "okta", SYSTEM_LOG).every(window / 60);
        if let Some(f) = filter(product) {
            subscription = subscription.filter(f);
        }
        builder = builder.sink(*product, sink.clone()).subscribe(subscription);
    }
    let running = builder.build()?.start().await?;

    // Whole minutes of the org, from the next boundary on.
    let first = sim.rate_window_end();
    sleep_until_org(&sim, first).await;
    let mut phases = vec![
        Phase {
            name: "A",
            co_tenant: 6,
            ours: 0,
            usable: 0,
            lags: Vec::new(),
        },
        Phase {
            name: "B",
            co_tenant: 14,
            ours: 0,
            usable: 0,
            lags: Vec::new(),
        },
    ];
    let mut boundary = first;
    let mut drained = false;
    for phase in &mut phases {
        let tenant = tokio::spawn(co_tenant(
            sim.clone(),
            boundary,
            window,
            phase.co_tenant,
            minutes_per_phase,
        ));
        for _ in 0..minutes_per_phase {
            let before = sim.requests_with(TOKEN);
            boundary += chrono::Duration::from_std(window)?;
            sleep_until_org(&sim, boundary).await;
            phase.ours += sim.requests_with(TOKEN) - before;
            phase.usable += u64::from(SHARE.min(LIMIT - phase.co_tenant));
            if let Some(newest) = newest(&sinks) {
                drained |= newest >= started_at;
                if drained {
                    phase
                        .lags
                        .push((sim.now() - newest).num_milliseconds() as f64 / 1e3 * speed);
                }
            }
        }
        tenant.await?;
    }
    let stats = running.stats().await;
    running.shutdown().await?;

    let job = stats.job("okta", SYSTEM_LOG);
    println!(
        "budget under pressure: org limit {LIMIT}/min, ucp share {SHARE}/min, minute = {:.1} s real (speed {speed}), {minutes_per_phase} minutes per phase, backlog {backlog} events + 1/demo s",
        window.as_secs_f64()
    );
    println!("  429s received: {} (target 0)", sim.throttled());
    let (mut ours, mut usable) = (0, 0);
    for p in &phases {
        ours += p.ours;
        usable += p.usable;
        let mut lags = p.lags.clone();
        lags.sort_by(|a, b| a.total_cmp(b));
        let lag = match lags.as_slice() {
            [] => "backlog not drained yet".to_string(),
            l => format!(
                "median {:.0} demo s (min {:.0}, max {:.0}, {} samples)",
                l[l.len() / 2],
                l[0],
                l[l.len() - 1],
                l.len()
            ),
        };
        println!(
            "  phase {} (co-tenant {}/min, usable {}/min): ucp made {} of {} usable calls = {:.0}%; freshness {lag}",
            p.name,
            p.co_tenant,
            SHARE.min(LIMIT - p.co_tenant),
            p.ours,
            p.usable,
            p.ours as f64 / p.usable as f64 * 100.0
        );
    }
    println!(
        "  overall: {ours} of {usable} usable calls = {:.0}% (target ≥ 90%); job: {} calls, {} records collected, {} throttled",
        ours as f64 / usable as f64 * 100.0,
        job.map_or(0, |j| j.source_calls),
        job.map_or(0, |j| j.records_collected),
        job.map_or(0, |j| j.throttled)
    );
    Ok(())
}
