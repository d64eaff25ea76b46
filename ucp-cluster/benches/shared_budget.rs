//! What cluster mode costs per call and per page, through a real PostgreSQL
//! (`UCP_TEST_DATABASE_URL`; `.ci/postgres.sh` starts one):
//!
//! - `budget_reserve/postgres`: one permit slot of a shared budget (one `INSERT … ON
//!   CONFLICT DO UPDATE … RETURNING`), with the spacing at zero so nothing waits;
//! - `cursor_save/postgres` against `cursor_save/memory`: a fenced cursor commit against
//!   the single-node in-memory store.
//!
//! Run `cargo bench -p ucp-cluster --bench shared_budget`; besides criterion's estimates it
//! prints the p50/p99 of 2,000 budget acquisitions, one after another and from 8 tasks
//! at once, for BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use secrecy::SecretString;
use ucp_cluster::{Db, DbConfig, FencedCheckpoints, Holdings, Leases, PgBudget};
use ucp_core::store::{CheckpointStore, MemoryCheckpoints};
use ucp_core::{BudgetKey, Cursor, SharedBudget, StreamKey};

fn database() -> Option<SecretString> {
    match std::env::var("UCP_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(SecretString::from(url)),
        _ => {
            eprintln!("shared_budget bench: skipped, needs PostgreSQL (UCP_TEST_DATABASE_URL; .ci/postgres.sh starts one)");
            None
        }
    }
}

async fn open(url: SecretString) -> Db {
    let schema = format!("bench_{}", std::process::id());
    Db::open(DbConfig::new(url).schema(schema).expect("a schema"))
        .await
        .expect("the bench database opens")
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let at = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(at).copied().unwrap_or_default()
}

/// p50/p99 of `n` reserves from `tasks` concurrent tasks.
async fn latencies(budget: Arc<PgBudget>, n: usize, tasks: usize) -> (Duration, Duration) {
    let per_task = n / tasks;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let budget = budget.clone();
            tokio::spawn(async move {
                let key = BudgetKey::new("okta", format!("org-{}.example.com", t % 4));
                let mut samples = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let start = Instant::now();
                    let _ = budget.reserve(&key, Duration::ZERO).await;
                    samples.push(start.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for handle in handles {
        all.extend(handle.await.unwrap_or_default());
    }
    all.sort();
    (percentile(&all, 0.50), percentile(&all, 0.99))
}

fn bench(c: &mut Criterion) {
    let Some(url) = database() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(open(url));
    let budget = Arc::new(PgBudget::new(db.clone()));
    let key = BudgetKey::new("okta", "bench.example.com");
    c.bench_function("budget_reserve/postgres", |b| {
        b.to_async(&runtime).iter(|| {
            let (budget, key) = (budget.clone(), key.clone());
            async move { budget.reserve(&key, Duration::ZERO).await }
        })
    });

    let job = StreamKey::new("okta-bench", "system_log");
    let holdings = Holdings::new();
    let cursors = runtime.block_on(async {
        let leases = Leases::new(db.clone(), "bench", Duration::from_secs(3600));
        leases
            .register(std::slice::from_ref(&job))
            .await
            .expect("registered");
        for (job, token) in leases.claim(1).await.expect("claimed") {
            holdings.hold(job, token);
        }
        Arc::new(FencedCheckpoints::new(
            db.clone(),
            "bench",
            holdings.clone(),
        ))
    });
    let memory = Arc::new(MemoryCheckpoints::new());
    let cursor = Cursor::new("https://org.example.com/api/v1/logs?after=1700000000000_1");
    let mut group = c.benchmark_group("cursor_save");
    group.bench_function("postgres", |b| {
        b.to_async(&runtime).iter(|| {
            let (cursors, job, cursor) = (cursors.clone(), job.clone(), cursor.clone());
            async move { cursors.save(&job, &cursor).await }
        })
    });
    group.bench_function("memory", |b| {
        b.to_async(&runtime).iter(|| {
            let (memory, job, cursor) = (memory.clone(), job.clone(), cursor.clone());
            async move { memory.save(&job, &cursor).await }
        })
    });
    group.finish();

    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 80 } else { 2000 };
    for tasks in [1, 8] {
        let (p50, p99) = runtime.block_on(latencies(budget.clone(), n, tasks));
        println!("budget acquire through PostgreSQL, {tasks} task(s), {n} acquisitions: p50 {p50:?}, p99 {p99:?}");
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
