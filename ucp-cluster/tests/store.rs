//! The cluster store against a real PostgreSQL: migrations, leases and their fencing
//! tokens, fenced cursors, shared budgets, dead letters.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ucp_cluster::{Db, FencedCheckpoints, Holdings, Leases, PgBudget, PgDeadLetters};
use ucp_core::store::{CheckpointError, CheckpointStore, DeadLetter, DeadLetterStore};
use ucp_core::{BudgetKey, Clock, Cursor, Record, SharedBudget, StreamKey};

const TTL: Duration = Duration::from_millis(400);

fn jobs(n: usize) -> Vec<StreamKey> {
    (0..n)
        .map(|i| StreamKey::new(format!("okta-{i:03}"), "system_log"))
        .collect()
}

#[tokio::test]
async fn migrations_apply_once_even_when_nodes_start_together() {
    let Some(config) = support::config("migrations") else {
        return;
    };
    // Three nodes starting together.
    let opens = (0..3).map(|_| Db::open(config.clone()));
    let dbs: Vec<Db> = futures::future::join_all(opens)
        .await
        .into_iter()
        .map(|db| db.expect("every node opens the database"))
        .collect();
    // Opening again applies nothing new.
    let db = Db::open(config).await.expect("opens again");
    let client = db.client().await.expect("a client");
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM ucp_schema_version ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i32> = (1..=ucp_cluster::db::schema_version() as i32).collect();
    assert_eq!(versions, expected);
    assert_eq!(dbs.len(), 3);
}

#[tokio::test]
async fn nodes_claiming_at_once_get_disjoint_jobs_with_the_first_token() {
    let Some(db) = support::db("claims").await else {
        return;
    };
    let a = Leases::new(db.clone(), "a", TTL);
    let b = Leases::new(db.clone(), "b", TTL);
    assert_eq!(a.register(&jobs(10)).await.expect("registered"), 10);
    assert_eq!(b.register(&jobs(10)).await.expect("registered again"), 0);
    let (got_a, got_b) = tokio::join!(a.claim(6), b.claim(6));
    let (got_a, got_b) = (got_a.expect("a claims"), got_b.expect("b claims"));
    assert_eq!(got_a.len() + got_b.len(), 10, "every job claimed once");
    let ids_a: HashSet<_> = got_a.iter().map(|(j, _)| j.clone()).collect();
    assert!(
        got_b.iter().all(|(j, _)| !ids_a.contains(j)),
        "no job claimed twice"
    );
    assert!(got_a.iter().chain(&got_b).all(|(_, t)| *t == 1));
    // Nothing left to claim while the leases run.
    assert!(a.claim(5).await.expect("claims").is_empty());
}

#[tokio::test]
async fn an_expired_lease_goes_to_the_next_claimer_with_a_larger_token() {
    let Some(db) = support::db("expiry").await else {
        return;
    };
    let a = Leases::new(db.clone(), "a", TTL);
    let b = Leases::new(db.clone(), "b", TTL);
    a.register(&jobs(2)).await.expect("registered");
    let claimed = a.claim(2).await.expect("a claims");
    assert_eq!(claimed.len(), 2);
    // a renews one lease in time; the other expires with it (renewal is per node).
    tokio::time::sleep(TTL / 2).await;
    assert_eq!(a.renew().await.expect("renews").len(), 2);
    tokio::time::sleep(TTL + TTL / 2).await;
    let taken = b.claim(5).await.expect("b claims");
    assert_eq!(taken.len(), 2, "both expired leases are claimable");
    assert!(taken.iter().all(|(_, t)| *t == 2), "{taken:?}");
    // a learns at its renewal that it holds nothing any more.
    assert!(a.renew().await.expect("renews").is_empty());
    // Releasing needs the current token.
    let (job, token) = taken[0].clone();
    assert!(!a.release(&job, token).await.expect("a's release runs"));
    assert!(!b.release(&job, token - 1).await.expect("a stale token"));
    assert!(b.release(&job, token).await.expect("b releases"));
    let owners = b.owners().await.expect("owners");
    let released = owners.iter().find(|o| o.job == job).expect("the job");
    assert_eq!(released.owner, None);
    assert_eq!(
        released.token, 2,
        "the token stays; the next claim makes it 3"
    );
    assert_eq!(a.claim(1).await.expect("claims")[0].1, 3);
}

#[tokio::test]
async fn a_cursor_commit_under_a_taken_over_lease_is_refused() {
    let Some(db) = support::db("fencing").await else {
        return;
    };
    let job = StreamKey::new("okta-000", "system_log");
    let (a_holds, b_holds) = (Holdings::new(), Holdings::new());
    let a = Leases::new(db.clone(), "a", TTL);
    let b = Leases::new(db.clone(), "b", TTL);
    let a_cursors = FencedCheckpoints::new(db.clone(), "a", a_holds.clone());
    let b_cursors = FencedCheckpoints::new(db.clone(), "b", b_holds.clone());
    a.register(std::slice::from_ref(&job))
        .await
        .expect("registered");
    assert_eq!(a_cursors.load(&job).await.expect("loads"), None);

    // A node that never claimed the job cannot write its cursor.
    let refused = b_cursors.save(&job, &Cursor::new("b-0")).await;
    assert!(
        matches!(refused, Err(CheckpointError::Fenced { token: 0, .. })),
        "{refused:?}"
    );

    let (claimed, token) = a.claim(1).await.expect("a claims")[0].clone();
    a_holds.hold(claimed, token);
    a_cursors
        .save(&job, &Cursor::new("page-1"))
        .await
        .expect("the owner saves");
    assert_eq!(
        b_cursors.load(&job).await.expect("loads"),
        Some(Cursor::new("page-1"))
    );

    // a is paused past its lease; b takes the job over.
    tokio::time::sleep(TTL + TTL / 2).await;
    let (taken, new_token) = b.claim(1).await.expect("b claims")[0].clone();
    assert_eq!(new_token, token + 1);
    b_holds.hold(taken, new_token);
    b_cursors
        .save(&job, &Cursor::new("page-2"))
        .await
        .expect("the new owner saves");

    // a wakes up and commits late: refused, and the cursor stays the new owner's.
    let late = a_cursors.save(&job, &Cursor::new("page-1b")).await;
    match late {
        Err(CheckpointError::Fenced { token: t, stream }) => {
            assert_eq!(t, token);
            assert_eq!(stream, job.to_string());
        }
        other => panic!("expected a fenced refusal, got {other:?}"),
    }
    assert_eq!(a_cursors.refused(), 1);
    assert_eq!(
        a_cursors.load(&job).await.expect("loads"),
        Some(Cursor::new("page-2"))
    );
    assert_eq!(ucp_cluster::refused_commits(&db).await.expect("counted"), 2);
}

#[tokio::test]
async fn the_start_cursor_reads_back_as_saved_not_as_missing() {
    let Some(db) = support::db("start_cursor").await else {
        return;
    };
    let job = StreamKey::new("okta-000", "system_log");
    let holds = Holdings::new();
    let leases = Leases::new(db.clone(), "a", TTL);
    leases
        .register(std::slice::from_ref(&job))
        .await
        .expect("registered");
    let (job, token) = leases.claim(1).await.expect("claims")[0].clone();
    holds.hold(job.clone(), token);
    let cursors = FencedCheckpoints::new(db, "a", holds);
    cursors.save(&job, &Cursor::start()).await.expect("saves");
    assert_eq!(
        cursors.load(&job).await.expect("loads"),
        Some(Cursor::start())
    );
}

#[tokio::test]
async fn budget_slots_are_spaced_across_nodes_and_pauses_are_shared() {
    let Some(db) = support::db("budget_slots").await else {
        return;
    };
    let key = BudgetKey::new("okta", "org-1.example.com");
    let (one, two) = (PgBudget::new(db.clone()), PgBudget::new(db.clone()));
    let spacing = Duration::from_millis(200);
    // Slots alternate between the nodes and never come closer than the spacing.
    let start = std::time::Instant::now();
    let mut slots = Vec::new();
    for i in 0..6 {
        let budget = if i % 2 == 0 { &one } else { &two };
        let asked = start.elapsed();
        slots.push(asked + budget.reserve(&key, spacing).await.expect("a slot"));
    }
    assert!(slots[0] < Duration::from_millis(100), "{slots:?}");
    for pair in slots.windows(2) {
        // Each slot is known to within its round trip to the database.
        let gap = pair[1].saturating_sub(pair[0]);
        assert!(gap > Duration::from_millis(150), "slots {slots:?}");
    }
    assert_eq!(one.grants(&key).await.expect("grants"), 6);

    // A pause learnt by one node holds the other's next slot.
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    one.pause(&key, until).await.expect("paused");
    let wait = two.reserve(&key, spacing).await.expect("a slot");
    assert!(wait > Duration::from_millis(2500), "{wait:?}");
    // An earlier pause does not shorten it.
    one.pause(&key, chrono::Utc::now()).await.expect("paused");
    let after = two.reserve(&key, spacing).await.expect("a slot");
    assert!(after > wait, "{after:?} after {wait:?}");
}

#[tokio::test]
async fn two_platform_budgets_on_one_shared_budget_keep_the_accounts_rate_together() {
    let Some(db) = support::db("rate_budget").await else {
        return;
    };
    let shared: Arc<dyn SharedBudget> = Arc::new(PgBudget::new(db));
    // 600 a minute with nothing kept for actions below ten: a slot every 100 ms (the
    // reserve is 600/30 = 20, so collection is spaced over 580: 103 ms).
    let spec = ucp_core::BudgetSpec::new(
        BudgetKey::new("okta", "org-2.example.com"),
        600,
        Duration::from_secs(60),
    );
    let nodes: Vec<Arc<ucp_core::RateBudget>> = (0..2)
        .map(|_| {
            Arc::new(ucp_core::RateBudget::with_shared(
                spec.clone(),
                Clock::new(),
                shared.clone(),
            ))
        })
        .collect();
    let start = std::time::Instant::now();
    let tasks: Vec<_> = nodes
        .iter()
        .map(|budget| {
            let budget = budget.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    budget.acquire().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("acquires");
    }
    // Ten permits in all, the first at once: nine spacings of 103 ms whatever the node.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert_eq!(nodes.iter().map(|b| b.status().calls).sum::<u64>(), 10);

    // A 429 seen by one node pauses the other.
    nodes[0].throttled(&ucp_core::RateLimitHint {
        retry_after: Some(Duration::from_secs(2)),
        ..Default::default()
    });
    tokio::time::sleep(Duration::from_millis(300)).await; // the pause is shared in the background
    let before = std::time::Instant::now();
    nodes[1].acquire().await;
    assert!(
        before.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        before.elapsed()
    );
}

#[tokio::test]
async fn a_stale_node_makes_no_call_until_its_leases_are_renewed() {
    let Some(db) = support::db("gate").await else {
        return;
    };
    let holdings = Holdings::new();
    let budget = PgBudget::new(db).gated_by(holdings.clone());
    let key = BudgetKey::new("okta", "org-3.example.com");
    let reserve = {
        let (budget, key) = (budget.clone(), key.clone());
        tokio::spawn(async move { budget.reserve(&key, Duration::from_millis(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reserve.is_finished(), "no slot before the first renewal");
    holdings.renewed(tokio::time::Instant::now(), TTL);
    reserve.await.expect("joins").expect("a slot once fresh");
    assert_eq!(budget.grants(&key).await.expect("grants"), 1);
}

#[tokio::test]
async fn dead_letters_are_kept_with_their_reason() {
    let Some(db) = support::db("dead_letters").await else {
        return;
    };
    let store = PgDeadLetters::new(db);
    let letter = |id: &str| DeadLetter {
        product: "siem-00001".into(),
        stream: StreamKey::new("okta-00001", "system_log"),
        record: Record::new(id, chrono::Utc::now(), b"{\"a\":1}".to_vec()),
        reason: "400: column too long".into(),
        time: chrono::Utc::now(),
    };
    store
        .put(vec![letter("e1"), letter("e2")])
        .await
        .expect("kept");
    store.put(Vec::new()).await.expect("nothing to keep");
    let kept = store.letters(10).await.expect("read");
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].0, "siem-00001");
    assert_eq!(kept[1].1, "e2");
    assert_eq!(kept[0].2, "400: column too long");
}

#[tokio::test]
async fn the_health_table_on_postgres_passes_the_suite() {
    let Some(url) = support::database_url("health_table_suite") else {
        return;
    };
    let made = std::sync::atomic::AtomicUsize::new(0);
    ucp_testkit::conformance::health_table_suite(|retention| {
        // A fresh schema for every table the suite asks for.
        let n = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let schema = support::fresh_schema(&format!("health_{n}"));
        let url = url.clone();
        async move {
            let config = ucp_cluster::DbConfig::new(url)
                .schema(schema)
                .expect("a schema");
            let db = Db::open(config).await.expect("the test database opens");
            ucp_cluster::PgHealthTable::new(db, retention)
        }
    })
    .await;
}

#[tokio::test]
async fn a_node_connects_again_after_the_server_dropped_its_connection() {
    let Some(db) = support::db("reconnect").await else {
        return;
    };
    let leases = Leases::new(db.clone(), "a", TTL);
    leases.heartbeat().await.expect("a heartbeat");
    // The server ends this node's session (a restart, a failover, an administrator).
    let client = db.client().await.expect("a client");
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("its pid")
        .get(0);
    let other = support::db("reconnect_admin")
        .await
        .expect("a second connection");
    other
        .client()
        .await
        .expect("a client")
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminated");
    // The next use may fail once; the one after connects again.
    let mut healed = false;
    for _ in 0..20 {
        if leases.heartbeat().await.is_ok() {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healed, "the node never connected again");
    let new_pid: i32 = db
        .client()
        .await
        .expect("a client")
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("its pid")
        .get(0);
    assert_ne!(new_pid, pid);
}
