//! Kill -9 and the health stream: a child process whose health rows (a SQLite table) go to a
//! product through the health source and a durable queue is SIGKILLed at random moments and
//! started again, many times. Every transition the table kept must reach the product, and a
//! record delivered twice must be the same record under the same id.
//!
//! Kills: 30 by default; `UCP_KILLS=300 cargo test -p ucp-testkit --test health_crash_kill`
//! for more. The seed is printed; `UCP_KILL_SEED=<n>` replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ucp_core::health::{HealthTable, Retention, SqliteHealthTable};

const EVENTS: usize = 200;

fn child(state: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_health_crash_child"));
    command
        .arg(state)
        .arg(out)
        .arg(EVENTS.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_transition_and_repeats_only_the_same_record() {
    let kills: usize = std::env::var("UCP_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("UCP_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("health kill -9 harness: {kills} kills, seed {seed} (UCP_KILL_SEED={seed} to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("health.lines"));

    for _ in 0..kills {
        let mut process = child(&state, &out).spawn().expect("start the child");
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..400))).await;
        let _ = process.kill(); // SIGKILL
        let _ = process.wait();
    }
    let status = child(&state, &out)
        .status()
        .expect("run the child to the end");
    assert!(status.success(), "the final run failed (seed {seed})");

    let table =
        SqliteHealthTable::open(state.join("health.db"), Retention::default()).expect("opens");
    let rows = table
        .read_after("contoso", 0, 1_000_000)
        .await
        .unwrap()
        .rows;
    assert!(
        rows.len() > kills,
        "every run wrote transitions: {} rows after {kills} kills",
        rows.len()
    );
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let mut delivered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut lines = 0;
    for line in text.lines() {
        let (id, payload) = line
            .split_once('\t')
            .expect("whole lines: <id>\\t<payload>");
        delivered.entry(id).or_default().insert(payload);
        lines += 1;
    }
    let want: BTreeSet<String> = rows
        .iter()
        .map(|r| format!("contoso/health/{}", r.seq))
        .collect();
    let missing: Vec<&String> = want
        .iter()
        .filter(|id| !delivered.contains_key(id.as_str()))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "transitions lost (seed {seed}): {missing:?}"
    );
    let foreign: Vec<&&str> = delivered
        .keys()
        .filter(|id| !want.contains(**id))
        .take(5)
        .collect();
    assert!(
        foreign.is_empty(),
        "ids that are no row (seed {seed}): {foreign:?}"
    );
    let changed: Vec<_> = delivered
        .iter()
        .filter(|(_, payloads)| payloads.len() > 1)
        .take(3)
        .collect();
    assert!(
        changed.is_empty(),
        "one id, different records (seed {seed}): {changed:?}"
    );
    // In order: each row's payload names its own sequence.
    for row in &rows {
        let id = format!("contoso/health/{}", row.seq);
        let payload = delivered[id.as_str()].iter().next().unwrap();
        let doc: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!(doc["sequence"], row.seq);
        assert_eq!(doc["status"], row.status.as_str());
    }
    println!(
        "{} transitions, {lines} lines ({} duplicates a consumer drops by id)",
        rows.len(),
        lines - rows.len()
    );
}
