//! kill -9 of the sync process: the soak's day (500 incidents, 200 edits on each side with
//! concurrent pairs, comments, merges, injected 409s and 429s), compressed to seconds, while
//! a child process running `ucp-incident-sync` against the simulators (in this process) is
//! SIGKILLed at 20 seeded random moments and started again: a quarter of the kills while it
//! makes the 500 twins, one when they are all made, the rest during the day. A last run to
//! quiet, then: both sides agree field by field, one twin per incident, every comment once
//! (none lost, none doubled), and no field change lost (every owner and tag edit made on
//! one side only holds its last value on both sides).
//!
//! The seed is printed; `UCP_KILL_SEED=<n>` replays a run, `UCP_SYNC_KILLS=<n>` kills more.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use support::checker::check;
use support::scenario::{apply, Event, Scenario};
use support::*;
use ucp_testkit::faults::{Fault, Faults, Quota, RateLimitDialect};
use ucp_testkit::graph::{GraphSimConfig, TENANT_ID};
use ucp_testkit::sentinel::{SentinelSimConfig, RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE};

const INCIDENTS: usize = 500;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
const EDITS: usize = 200;
/// The day lasts this long here.
const DAY: Duration = Duration::from_secs(12);
/// Providers' windows compressed alike (a minute lasts a second).
const SPEED: f64 = 60.0;

fn child(lab: &Lab, state: &Path, start: &str, idle_exit: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ucp-incident-sync"));
    command
        .env("AZURE_TENANT_ID", TENANT_ID)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_TOKEN_URL", lab.graph.token_url())
        .env("GRAPH_URL", lab.graph.url())
        .env("ARM_URL", lab.sentinel.url())
        .env("SENTINEL_SUBSCRIPTION", SUBSCRIPTION)
        .env("SENTINEL_RESOURCE_GROUP", RESOURCE_GROUP)
        .env("SENTINEL_WORKSPACE", WORKSPACE)
        .env("UCP_SYNC_STATE", state)
        .env("UCP_SYNC_INTERVAL_MS", "100")
        .env("UCP_SYNC_SPEED", SPEED.to_string())
        .env("UCP_SYNC_START", start)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if idle_exit {
        command.env("UCP_SYNC_EXIT_WHEN_IDLE", "5");
        command.env(
            "RUST_LOG",
            "debug,hyper=info,reqwest=info,h2=info,rustls=info",
        );
        command.stderr(std::fs::File::create("/tmp/last-run.log").unwrap());
    }
    command
}

fn kill(mut process: Child) {
    let _ = process.kill(); // SIGKILL
    let _ = process.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_random_moments_ends_in_the_same_agreement() {
    let kills: usize = std::env::var("UCP_SYNC_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(20);
    let kills = if std::env::var("DBG0").is_ok() {
        0
    } else {
        kills
    };
    let seed: u64 = std::env::var("UCP_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("sync kill -9 harness: {kills} kills, seed {seed} (UCP_KILL_SEED={seed} to replay)");
    let faults = Faults::new();
    let lab = Arc::new(
        Lab::start_wrapped(
            GraphSimConfig::default()
                .seed(seed)
                .incidents(INCIDENTS)
                .alerts(INCIDENTS * 3)
                .speed(SPEED),
            SentinelSimConfig::default().speed(SPEED),
            |r| r.layer(faults.layer()),
        )
        .await,
    );
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
    let start = (lab.graph.now() - chrono::Duration::days(30)).to_rfc3339();
    let mut scenario = Scenario::generate(seed, INCIDENTS, EDITS, Duration::from_secs(86_400))
        .compressed(86_400.0 / DAY.as_secs_f64());
    // ARM's Retry-After is whole seconds: a quarter of the soak's injected 429s, a second each,
    // so a short-lived process still gets work done.
    let mut throttles = 0;
    scenario.events.retain_mut(|(_, event)| match event {
        Event::ThrottleSentinel(wait) | Event::ThrottleGraph(wait) => {
            *wait = Duration::from_secs(1);
            throttles += 1;
            throttles % 4 == 0
        }
        _ => true,
    });

    // The backlog: killed while it makes the first twins, then once when they are all made.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sync.sqlite");
    let mut rng = StdRng::seed_from_u64(seed);
    let began = Instant::now();
    let backlog_kills = kills / 4;
    for _ in 0..backlog_kills {
        let process = child(&lab, &state, &start, false)
            .spawn()
            .expect("start the sync process");
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..700))).await;
        kill(process);
    }
    let process = child(&lab, &state, &start, false)
        .spawn()
        .expect("start the sync process");
    while lab.sentinel.incidents().len() < INCIDENTS {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "the backlog never synced (seed {seed})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(process);
    println!(
        "backlog of {INCIDENTS} twins made across {} kills in {:?}",
        backlog_kills + 1,
        began.elapsed()
    );

    // People work on their own clock, whatever the sync process is doing. Kept: each owner
    // and tags edit, `(incident, field) → [(side, value)]`.
    type Edits = HashMap<(usize, &'static str), Vec<(&'static str, Value)>>;
    let edits: Arc<Mutex<Edits>> = Arc::default();
    let applied: Arc<Mutex<HashMap<&'static str, (usize, usize)>>> = Arc::default();
    let people = {
        let applied = applied.clone();
        let lab = lab.clone();
        let ids = ids.clone();
        let faults = faults.clone();
        let edits = edits.clone();
        let events = scenario.events.clone();
        tokio::spawn(async move {
            let began = tokio::time::Instant::now();
            for (at, event) in events {
                tokio::time::sleep_until(began + at).await;
                let touched = match &event {
                    Event::Xdr(n, e) => e
                        .assigned_to
                        .clone()
                        .map(|o| (*n, "owner", "xdr", json!(o.map(|o| o.to_lowercase()))))
                        .or_else(|| {
                            e.custom_tags
                                .clone()
                                .map(|t| (*n, "tags", "xdr", json!(sorted(t))))
                        }),
                    Event::Sentinel(n, c) => c
                        .owner
                        .clone()
                        .map(|o| (*n, "owner", "sentinel", json!(o.map(|o| o.to_lowercase()))))
                        .or_else(|| {
                            c.labels
                                .clone()
                                .map(|t| (*n, "tags", "sentinel", json!(sorted(t))))
                        }),
                    _ => None,
                };
                let throttle = |wait: Duration| {
                    faults.push_next(Fault::Throttled {
                        dialect: RateLimitDialect::RetryAfterSeconds,
                        quota: Quota::per_minute(
                            50,
                            0,
                            wait.div_f64(SPEED).max(Duration::from_millis(50)),
                        ),
                    })
                };
                let kind = match &event {
                    Event::Sentinel(..) | Event::SentinelComment(..) => "Sentinel",
                    Event::Xdr(..)
                    | Event::XdrComment(..)
                    | Event::Alert(..)
                    | Event::Merge(..)
                    | Event::NewIncident(..) => "XDR",
                    _ => "faults",
                };
                let done = apply(&event, &lab.graph, &lab.sentinel, &ids, &throttle);
                let mut counts = applied.lock().unwrap();
                let entry = counts.entry(kind).or_default();
                if done {
                    entry.0 += 1
                } else {
                    entry.1 += 1
                }
                drop(counts);
                if done {
                    if let Some((n, field, side, value)) = touched {
                        edits
                            .lock()
                            .unwrap()
                            .entry((n, field))
                            .or_default()
                            .push((side, value));
                    }
                }
            }
        })
    };

    // The day: the rest of the kills while people work.
    let day_kills = kills - backlog_kills - 1;
    for _ in 0..day_kills {
        let process = child(&lab, &state, &start, false)
            .spawn()
            .expect("start the sync process");
        let most = (DAY.as_millis() as u64 * 2 / day_kills.max(1) as u64).max(60);
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..most))).await;
        kill(process);
    }
    people.await.unwrap();
    println!(
        "{kills} kills in {:?}; the day's events done, (applied, not applicable) by side: {:?}",
        began.elapsed(),
        applied.lock().unwrap()
    );
    let status = tokio::task::spawn_blocking({
        let mut command = child(&lab, &state, &start, true);
        move || command.status()
    })
    .await
    .unwrap()
    .expect("the last run");
    assert!(status.success(), "the last run failed (seed {seed})");
    println!("the last run ended after {:?}", began.elapsed());

    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "seed {seed}: {}", verdict.summary());
    assert!(verdict.compared >= INCIDENTS);
    assert_eq!(verdict.other_incidents, 0);

    // No change lost: a field edited on one side only holds that side's last value, on both
    // sides (the checker showed they agree).
    let mut checked = 0;
    for ((n, field), made) in edits.lock().unwrap().iter() {
        if made.iter().any(|(side, _)| *side != made[0].0) {
            continue; // both sides: the last writer wins, either may stand
        }
        let x = lab.graph.incident(&ids[*n]).unwrap();
        if x["status"] == "redirected" {
            continue; // merged: Defender XDR's alone
        }
        let now = match *field {
            "owner" => json!(x["assignedTo"].as_str().map(str::to_lowercase)),
            _ => json!(sorted(
                x["customTags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect()
            )),
        };
        let last = &made[made.len() - 1];
        assert_eq!(
            now, last.1,
            "seed {seed}: incident {} lost its {field} edit made in {}",
            ids[*n], last.0
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} one-sided edits checked");
    println!(
        "after {kills} kills: {} twins agree field by field, {} comments → Sentinel, {} → XDR once each, {checked} one-sided edits kept",
        verdict.compared, verdict.comments_to_sentinel, verdict.comments_to_xdr
    );
}
