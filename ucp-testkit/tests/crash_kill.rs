//! Kill -9: a child process runs a platform with durable queues and is SIGKILLed at random
//! moments, then restarted, many times. Every record id must reach every product at least
//! once, duplicates must be ids a consumer can drop, and the saved cursor must never move
//! backwards.
//!
//! Kills: 50 by default (CI); `UCP_KILLS=500 cargo test -p ucp-testkit --test crash_kill` for
//! more. The seed is printed; `UCP_KILL_SEED=<n>` replays a run.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ucp_core::store::{CheckpointStore, DurableStore};
use ucp_core::{Cursor, Filter, StreamKey};
use ucp_testkit::EventLog;

const EVENTS: usize = 3_000;

fn expected() -> HashMap<&'static str, Vec<String>> {
    let log = EventLog::new();
    log.generate(EVENTS, Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let mdi = Filter::starts_with("/eventType", "user.");
    let xspm = Filter::is_in(
        "/eventType",
        [
            "group.user_membership.add",
            "application.user_membership.add",
        ],
    );
    HashMap::from([
        ("sentinel", log.ids_matching(None)),
        ("mdi", log.ids_matching(Some(&mdi))),
        ("xspm", log.ids_matching(Some(&xspm))),
    ])
}

fn child(state: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash_child"));
    command
        .arg(state)
        .arg(out)
        .arg(EVENTS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

async fn saved_position(state: &Path) -> usize {
    let store = DurableStore::open(state).expect("the store opens after any kill");
    let cursor = store
        .load(&StreamKey::new("okta", "events"))
        .await
        .expect("cursor readable");
    cursor
        .and_then(|c: Cursor| c.as_str().and_then(|p| p.parse().ok()))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing() {
    let kills: usize = std::env::var("UCP_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("UCP_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("kill -9 harness: {kills} kills, seed {seed} (UCP_KILL_SEED={seed} to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out"));
    std::fs::create_dir_all(&out).unwrap();

    let mut position = 0;
    let mut finished_early = 0;
    for kill in 0..kills {
        let mut process = child(&state, &out).spawn().expect("start the child");
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..120))).await;
        if process.try_wait().unwrap().is_some() {
            finished_early += 1;
        }
        let _ = process.kill(); // SIGKILL
        let _ = process.wait();
        let now = saved_position(&state).await;
        assert!(
            now >= position,
            "kill {kill} (seed {seed}): the cursor moved back from {position} to {now}"
        );
        position = now;
    }
    // Let it finish.
    let started = Instant::now();
    let status = child(&state, &out)
        .status()
        .expect("run the child to the end");
    assert!(status.success(), "the final run failed (seed {seed})");
    println!(
        "final run took {:?}; {finished_early} runs had finished before their kill",
        started.elapsed()
    );
    assert_eq!(saved_position(&state).await, EVENTS);

    for (product, want) in expected() {
        let text = std::fs::read_to_string(out.join(format!("{product}.ids"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let got: BTreeSet<&str> = lines.iter().copied().collect();
        let want_set: BTreeSet<&str> = want.iter().map(String::as_str).collect();
        let missing: Vec<_> = want_set.difference(&got).take(5).collect();
        assert!(
            missing.is_empty(),
            "{product} lost records (seed {seed}): {missing:?}…"
        );
        let foreign: Vec<_> = got.difference(&want_set).take(5).collect();
        assert!(
            foreign.is_empty(),
            "{product} got records outside its filter or torn ids (seed {seed}): {foreign:?}"
        );
        println!(
            "{product}: {} records, {} lines ({} duplicates a consumer drops by id)",
            want.len(),
            lines.len(),
            lines.len() - want.len()
        );
    }
}
