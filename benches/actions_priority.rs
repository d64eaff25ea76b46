//! Response actions on a saturated budget: an Okta org whose System Log collection uses
//! 100 % of ucp's share, and 20 actions issued at random times.
//!
//! `cargo bench --bench actions_priority`
//!
//! The org allows 120 System Log calls a minute (Okta's Workforce Identity figure for
//! `/api/v1/logs`); ucp's share is half (the Okta source's default): 60 a minute, one permit
//! about every second (the budget spreads a window's calls until its reset plus a one-second
//! margin: 61 s for 60). Three products subscribe every second to a 9,000-event backlog read
//! 10 events a page, so collection always wants more than the budget gives. Over ten Okta
//! minutes, 20 actions (suspend, clear sessions, reset factors, each on its own active user)
//! are issued at seeded random times through `RunningPlatform::act`; every action draws its
//! permit from the same budget as collection, ahead of it.
//!
//! Reported: each action's wait from issue to result (p50, p100) against the permit
//! interval, 429s from the org (every bucket), and per Okta minute the calls of collection and
//! of actions. Everything runs over loopback on tokio's paused clock: the figures are the
//! budget's and the scheduler's, not the machine's. Under `cargo test --benches` it runs two
//! minutes and 5 actions as a smoke test. `ACTIONS_SEED=n` draws other issue times (and
//! another phase of the org's minute); the default seed is 18.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use serde_json::json;
use tokio::time::Instant;
use ucp::credentials::CredentialStore;
use ucp::credentials::{Credential, CredentialRef, MemoryCredentials};
use ucp::health::MemoryHealth;
use ucp::sources::okta::{
    OktaConfig, OktaSource, CLEAR_USER_SESSIONS, RESET_FACTORS, SUSPEND_USER, SYSTEM_LOG,
};
use ucp::store::MemoryCheckpoints;
use ucp::*;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator, UserCall, UserStatus};
use ucp_testkit::RecordingSink;

const TOKEN: &str = "00benchActionsPriorityToken";
/// Okta's `/api/v1/logs` limit per minute (Workforce Identity).
const LIMIT: u32 = 120;
/// ucp's share of it (the Okta source's default quota share, 0.5).
const SHARE: u32 = LIMIT / 2;
const WINDOW: Duration = Duration::from_secs(60);

/// One action's record.
struct Issued {
    at: Duration,
    action: &'static str,
    wait: Duration,
    attempts: u32,
    done: bool,
}

/// What one Okta minute saw.
struct Minute {
    collection: u64,
    actions: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let full = std::env::args().any(|a| a == "--bench");
    let (minutes, count) = if full { (10u32, 20usize) } else { (2, 5) };
    let seed = std::env::var("ACTIONS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18u64);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    runtime.block_on(run(minutes, count, seed))
}

async fn run(minutes: u32, count: usize, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    // A fixed wall time (its milliseconds from the seed): the org's minutes align to it, so a
    // seed's run is reproducible.
    let start = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")?.to_utc()
        + chrono::Duration::milliseconds((seed % 1000) as i64);
    let clock = Clock::at(start);
    let sim = Arc::new(
        OktaSimulator::start(
            OktaSimConfig::default()
                .clock(clock)
                .token(TOKEN)
                .seed(18)
                .backlog(9_000)
                .backlog_span(Duration::from_secs(3600))
                .rate_limit(LIMIT),
        )
        .await?,
    );
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
            .start_ago(Duration::from_secs(2 * 3600))
            .page_limit(10)
            .rate_limit_per_minute(LIMIT),
    )?;
    let mut builder = Platform::builder()
        .clock(clock)
        .credentials(credentials)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .source("okta", okta);
    for product in ["sentinel", "mdi", "xspm"] {
        builder = builder
            .sink(product, RecordingSink::new(product))
            .subscribe(
                Subscription::new(product, "okta", SYSTEM_LOG).every(Duration::from_secs(1)),
            );
    }
    let running = Arc::new(builder.build()?.start().await?);

    // Whole Okta minutes from the next boundary on; the budget has learned the org by then.
    let first = sim.rate_window_end();
    sleep_until_org(&sim, first).await;
    let start = Instant::now();
    let span = WINDOW * minutes;
    let users = sim.users_with_status(UserStatus::Active);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tasks = Vec::new();
    for i in 0..count {
        let at = Duration::from_millis(rng.random_range(0..span.as_millis() as u64));
        let action = [SUSPEND_USER, CLEAR_USER_SESSIONS, RESET_FACTORS][i % 3];
        let user = users[i % users.len()].id.clone();
        let running = running.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + at).await;
            let issued = Instant::now();
            let result = running
                .act(
                    "okta",
                    ActionRequest::new(action, json!({"user_id": user})),
                    ActOptions::default(),
                )
                .await;
            Issued {
                at,
                action,
                wait: Instant::now() - issued,
                attempts: result.as_ref().map_or(0, |r| r.attempts),
                done: matches!(result.map(|r| r.outcome), Ok(ActionOutcome::Done { .. })),
            }
        }));
    }

    let mut per_minute = Vec::new();
    let mut boundary = first;
    for _ in 0..minutes {
        let (logs, acts) = (sim.requests(), sim.user_calls_total());
        boundary += chrono::Duration::from_std(WINDOW)?;
        sleep_until_org(&sim, boundary).await;
        per_minute.push(Minute {
            collection: sim.requests() - logs,
            actions: sim.user_calls_total() - acts,
        });
    }
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await?);
    }
    let stats = running.stats().await;
    let job = stats.job("okta", SYSTEM_LOG);
    report(&sim, &issued, &per_minute, minutes, seed);
    println!(
        "  job: {} calls, {} records collected, {} throttled",
        job.map_or(0, |j| j.source_calls),
        job.map_or(0, |j| j.records_collected),
        job.map_or(0, |j| j.throttled)
    );
    Ok(())
}

fn report(sim: &OktaSimulator, issued: &[Issued], per_minute: &[Minute], minutes: u32, seed: u64) {
    // The budget spreads its 60 calls until the window's reset plus a second.
    let permit = (WINDOW + Duration::from_secs(1)) / SHARE;
    let mut waits: Vec<Duration> = issued.iter().map(|i| i.wait).collect();
    waits.sort();
    let p50 = waits.get(waits.len() / 2).copied().unwrap_or_default();
    let p100 = waits.last().copied().unwrap_or_default();
    let within = waits.iter().filter(|w| **w <= permit).count();
    // An action issued while another was still waiting queues behind it: it can only have
    // the permit after the other's.
    let mut by_time: Vec<&Issued> = issued.iter().collect();
    by_time.sort_by_key(|i| i.at);
    let mut busy_until = Duration::ZERO;
    let (mut alone, mut queued) = (Vec::new(), Vec::new());
    for i in by_time {
        if i.at < busy_until {
            queued.push(i.wait);
        } else {
            alone.push(i.wait);
        }
        busy_until = busy_until.max(i.at + i.wait);
    }
    let worst = |w: &[Duration]| {
        w.iter().max().map_or("-".to_string(), |w| {
            format!("{:.0} ms", w.as_secs_f64() * 1e3)
        })
    };
    let done = issued.iter().filter(|i| i.done).count();
    let retried = issued.iter().filter(|i| i.attempts != 1).count();
    println!(
        "actions on a saturated budget: org limit {LIMIT}/min on /api/v1/logs, ucp share {SHARE}/min (a permit every {:.0} ms), {minutes} Okta minutes, {} actions, seed {seed}",
        permit.as_secs_f64() * 1e3,
        issued.len()
    );
    println!(
        "  action waits: p50 {:.0} ms, p100 {:.0} ms; {within}/{} within one permit interval {} (target all)",
        p50.as_secs_f64() * 1e3,
        p100.as_secs_f64() * 1e3,
        waits.len(),
        if within == waits.len() { "✔" } else { "✘" }
    );
    println!(
        "  issued alone: {} (p100 {}); issued while another waited: {} (p100 {}, target ≤ 2 permits)",
        alone.len(),
        worst(&alone),
        queued.len(),
        worst(&queued)
    );
    println!(
        "  actions done: {done}/{}, retried: {retried}; 429s from the org: {} (target 0); suspends / clears / resets at Okta: {} / {} / {}",
        issued.len(),
        sim.throttled(),
        sim.user_calls(UserCall::Suspend),
        sim.user_calls(UserCall::ClearSessions),
        sim.user_calls(UserCall::ResetFactors),
    );
    for i in issued {
        println!(
            "    {:>6.1} s  {:<20} waited {:>4.0} ms",
            i.at.as_secs_f64(),
            i.action,
            i.wait.as_secs_f64() * 1e3
        );
    }
    println!("  per Okta minute (collection + actions = total, of ucp's {SHARE}):");
    for (n, m) in per_minute.iter().enumerate() {
        println!(
            "    minute {:>2}: {:>3} + {:>2} = {:>3}",
            n + 1,
            m.collection,
            m.actions,
            m.collection + m.actions
        );
    }
    let collection: u64 = per_minute.iter().map(|m| m.collection).sum();
    let actions: u64 = per_minute.iter().map(|m| m.actions).sum();
    let total = collection + actions;
    println!(
        "  all minutes: {collection} collection + {actions} actions = {total} of {} = {:.1} % of the share",
        u64::from(SHARE) * u64::from(minutes),
        total as f64 / f64::from(SHARE * minutes) * 100.0
    );
}

async fn sleep_until_org(sim: &OktaSimulator, at: DateTime<Utc>) {
    if let Ok(wait) = (at - sim.now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}
