//! The cluster lab: three `ucp-node` processes and a world of 300 simulated Okta orgs
//! (three products each, served by this process) on one PostgreSQL.
//!
//! One run, in phases: two nodes share the jobs, a third joins and takes its share; the
//! shared budgets are used at ≥ 80 %; five times a node is killed with SIGKILL at a seeded
//! random moment (each of its jobs must be collected again by the survivors in time) and a
//! new node joins; a node is stopped with SIGSTOP past its lease and continued (its late
//! commits are refused, it rejoins). At the end every product must hold every event the
//! orgs published (by id), no org may ever have answered two collections at once, and no
//! org may have sent a 429.

#[path = "support/lab.rs"]
mod lab;
mod support;

use std::time::Duration;

use chrono::Utc;
use rand::{Rng, SeedableRng};
use ucp_cluster::{Db, DbConfig, Leases};
use ucp_testkit::scale_world::{World, WorldConfig};

use lab::{balanced, grants, owners, refused, NodeProcess, INTERVAL, TICK, TTL};

const TENANTS: usize = 300;
const KILLS: usize = 5;

/// The longest a killed node's job may wait for its next collection: the lease TTL, the
/// survivors' tick, and one collection interval of the job, which is the budget's spacing
/// where that is longer than the subscription's interval (an org allowing 4 calls per 20 s
/// window is collected every 5 s) plus the second a budget waits past a provider's reset
/// when the dead owner used the window up, plus the start's jitter (a quarter interval) and
/// a second for the org's answer and scheduling.
fn takeover_bound() -> Duration {
    let spacing = lab::rate_window() / lab::RATE_LIMIT;
    let reset_margin = Duration::from_secs(1);
    TTL + TICK + INTERVAL.max(spacing) + reset_margin + INTERVAL / 4 + Duration::from_secs(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_300_tenants_survive_kills_and_pauses_and_lose_nothing() {
    let Some((url, schema)) = support::url_and_schema("cluster_lab") else {
        return;
    };
    let seed: u64 = std::env::var("UCP_LAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("cluster lab: seed {seed} (UCP_LAB_SEED to repeat), schema {schema}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("a temporary directory");

    let world = World::start(&WorldConfig {
        tenants: TENANTS,
        first_tenant: 0,
        events_per_second: 0.3,
        backlog: 5,
        rate_limit_per_minute: lab::RATE_LIMIT,
        drain: Duration::from_secs(60),
        log_latency: Duration::from_millis(200),
        speed: lab::SPEED,
    })
    .await
    .expect("the world starts");
    let world_file = lab::write_world_file(&world, dir.path());
    let db = Db::open(
        DbConfig::new(url.clone())
            .schema(schema.clone())
            .expect("a schema"),
    )
    .await
    .expect("the cluster database opens");
    let leases = Leases::new(db.clone(), "observer", TTL);
    let start = |id: &str| NodeProcess::start(id, &url, &schema, &world_file, dir.path());

    // Two nodes share the jobs; a third joins and takes its share from them.
    let mut nodes = vec![start("n1"), start("n2")];
    balanced(&leases, &["n1", "n2"], TENANTS, Duration::from_secs(60)).await;
    world.live();
    nodes.push(start("n3"));
    let counts = balanced(
        &leases,
        &["n1", "n2", "n3"],
        TENANTS,
        Duration::from_secs(30),
    )
    .await;
    println!("joined: jobs per node {counts:?}");

    // The shared budgets at work: calls granted against what the orgs allow, once the jobs
    // that moved to the new node have started.
    tokio::time::sleep(INTERVAL * 3).await;
    let (before, since) = (grants(&db).await, std::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(20)).await;
    let used = (grants(&db).await - before) as f64;
    let allowed: f64 = (0..TENANTS).map(lab::org_rate).sum::<f64>() * since.elapsed().as_secs_f64();
    let use_share = used / allowed;
    println!(
        "budget use: {used} calls of {allowed:.0} allowed = {:.0} %",
        use_share * 100.0
    );
    assert!(
        use_share >= 0.80,
        "the cluster used {:.0} % of the orgs' budgets",
        use_share * 100.0
    );

    // Kill -9 at a seeded random moment, five times; a new node joins after each.
    let mut failovers = Vec::new();
    for round in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..4000))).await;
        let victim = rng.random_range(0..nodes.len());
        let id = nodes[victim].id.clone();
        let (jobs, _) = owners(&leases).await;
        let orphans: Vec<usize> = jobs
            .iter()
            .filter(|o| o.owner.as_deref() == Some(&id))
            .filter_map(|o| o.job.source.strip_prefix("okta-")?.parse().ok())
            .collect();
        let killed_at = Utc::now();
        nodes[victim].kill_9();
        println!("round {round}: killed {id} holding {} jobs", orphans.len());
        let deadline = std::time::Instant::now() + takeover_bound();
        let mut waiting = orphans.clone();
        let mut slowest = Duration::ZERO;
        while !waiting.is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            waiting.retain(|i| {
                match world.orgs[*i].last_log_request().filter(|t| *t > killed_at) {
                    Some(t) => {
                        let took = (t - killed_at).to_std().unwrap_or_default();
                        slowest = slowest.max(took);
                        false
                    }
                    None => true,
                }
            });
        }
        assert!(
            waiting.is_empty(),
            "round {round}: {} of {id}'s jobs not collected within {:?} of the kill: orgs {:?}",
            waiting.len(),
            takeover_bound(),
            &waiting[..waiting.len().min(10)]
        );
        println!("round {round}: every job of {id} collected again within {slowest:?}");
        failovers.push(slowest);
        let fresh = format!("n{}", 4 + round);
        nodes[victim] = start(&fresh);
        let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        balanced(&leases, &ids, TENANTS, Duration::from_secs(30)).await;
    }
    failovers.sort();
    println!("failover (slowest job per kill, sorted): {failovers:?}");

    // SIGSTOP one node past its lease, then SIGCONT: its jobs move, its late commits are
    // refused, and it rejoins.
    let paused = nodes[0].id.clone();
    let refused_before = refused(&db, &paused).await;
    // Stopped while one of its calls is in flight, so it has a page to commit late.
    let (jobs, _) = owners(&leases).await;
    let its_orgs: Vec<usize> = jobs
        .iter()
        .filter(|o| o.owner.as_deref() == Some(&paused))
        .filter_map(|o| o.job.source.strip_prefix("okta-")?.parse().ok())
        .collect();
    let waiting_since = std::time::Instant::now();
    while !its_orgs
        .iter()
        .any(|i| world.orgs[*i].log_requests_in_flight() > 0)
    {
        assert!(
            waiting_since.elapsed() < Duration::from_secs(20),
            "{paused} makes no call"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[0].signal("-STOP");
    tokio::time::sleep(TTL + TICK * 3).await;
    let (jobs, _) = owners(&leases).await;
    assert!(
        jobs.iter()
            .all(|o| o.owner.as_deref() != Some(&paused) || !o.live),
        "a stopped node kept a live lease"
    );
    let others: Vec<&str> = nodes[1..].iter().map(|n| n.id.as_str()).collect();
    balanced(&leases, &others, TENANTS, Duration::from_secs(20)).await;
    nodes[0].signal("-CONT");
    let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    balanced(&leases, &ids, TENANTS, Duration::from_secs(30)).await;
    let late = refused(&db, &paused).await - refused_before;
    println!("{paused} continued: {late} late commits refused by fencing; rejoined");
    assert!(late > 0, "the paused node's late commits were not refused");

    // Nothing lost for any product, no two collections of one org at once, no 429.
    let report = world.settle(Duration::from_secs(60)).await;
    println!("{}", report.line());
    assert_eq!(report.missing, 0, "records lost: {}", report.line());
    assert_eq!(report.misrouted, 0, "{}", report.line());
    assert_eq!(report.throttled, 0, "429s: {}", report.line());
    assert!(
        report.max_concurrent <= 1,
        "an org was collected twice at once: {}",
        report.line()
    );
    println!(
        "duplicates (pages collected again after a kill or a pause, before their commit): {}",
        report.duplicates
    );
    // Every node reported to the one health table in the cluster database.
    let health = lab::health_rows(&db).await;
    println!("health rows in the cluster's table: {health}");
    assert!(health > 0, "no node wrote to the cluster's health table");

    // Graceful shutdown hands everything back.
    for node in &mut nodes {
        assert!(
            node.terminate(Duration::from_secs(20)).await,
            "{} did not stop",
            node.id
        );
    }
    let (jobs, _) = owners(&leases).await;
    assert!(
        jobs.iter().all(|o| o.owner.is_none()),
        "leases left after shutdown"
    );
}
