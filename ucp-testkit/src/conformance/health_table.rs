//! One suite for every [`HealthTable`]: what the in-memory table does, every other table
//! (SQLite, PostgreSQL) must do too — numbering, incremental reads, retention told to
//! readers, queries, exact round trips, current status. Panics name the failed check.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use ucp_core::health::{HealthKind, HealthQuery, HealthRow, HealthTable, Retention, Status};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn row(
    secs: i64,
    connector: &str,
    product: Option<&str>,
    status: Status,
    kind: HealthKind,
    message: &str,
) -> HealthRow {
    HealthRow {
        seq: 0,
        time: t(secs),
        tenant: "contoso".into(),
        connector: connector.into(),
        product: product.map(Into::into),
        workspace: product.map(|p| format!("ws-{p}")),
        stream: Some("system_log".into()),
        status,
        previous: Some(Status::Starting),
        kind,
        message: message.into(),
        details: None,
    }
}

fn messages(rows: &[HealthRow]) -> Vec<&str> {
    rows.iter().map(|r| r.message.as_str()).collect()
}

const NO_LIMITS: Retention = Retention {
    max_age: None,
    max_rows: None,
};

/// The suite: `make` returns an empty table with the given retention. Panics, naming the
/// check, when the table behaves otherwise than the in-memory one.
pub async fn health_table_suite<T, F, Fut>(make: F)
where
    T: HealthTable,
    F: Fn(Retention) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    queries_are_newest_first_filtered_and_limited(make(NO_LIMITS).await).await;
    rows_round_trip_exactly(make(NO_LIMITS).await).await;
    current_status_is_worst_of_latest_parts(make(NO_LIMITS).await).await;
    retention_by_row_count(
        make(Retention {
            max_age: None,
            max_rows: Some(3),
        })
        .await,
    )
    .await;
    retention_by_age(
        make(Retention {
            max_age: Some(Duration::hours(1)),
            max_rows: None,
        })
        .await,
    )
    .await;
    reads_after_a_sequence_in_order_per_tenant(make(NO_LIMITS).await).await;
    retention_by_count_is_told_to_readers(
        make(Retention {
            max_age: None,
            max_rows: Some(3),
        })
        .await,
    )
    .await;
    retention_by_age_is_told_to_readers(
        make(Retention {
            max_age: Some(Duration::hours(1)),
            max_rows: None,
        })
        .await,
    )
    .await;
}

fn of_tenant(mut row: HealthRow, tenant: &str) -> HealthRow {
    row.tenant = tenant.into();
    row
}

/// Sequences counted from `base` (the one before the table's first row).
fn rel(rows: &[HealthRow], base: u64) -> Vec<u64> {
    rows.iter().map(|r| r.seq - base).collect()
}

/// The sequence just before the table's first row.
async fn base_of(table: &impl HealthTable) -> u64 {
    let first = table.read_after("contoso", 0, 1).await.unwrap();
    first.rows.first().map_or(first.last_seq, |r| r.seq - 1)
}

async fn reads_after_a_sequence_in_order_per_tenant(table: impl HealthTable) {
    use HealthKind::*;
    use Status::*;
    table
        .insert(vec![
            row(10, "okta", None, Warning, Collection, "a1"),
            of_tenant(row(11, "okta", None, Error, Auth, "b1"), "fabrikam"),
            // Older than a1 but stored after it: sequence order is storage order.
            row(5, "okta", None, Ok, Collection, "a2"),
        ])
        .await
        .unwrap();
    table
        .insert(vec![row(20, "graph", None, Ok, Collection, "a3")])
        .await
        .unwrap();
    let base = base_of(&table).await;
    let all = table.read_after("contoso", 0, 100).await.unwrap();
    assert_eq!(messages(&all.rows), ["a1", "a2", "a3"]);
    assert_eq!(rel(&all.rows, base), [1, 3, 4]);
    assert_eq!(all.last_seq, base + 4);
    assert_eq!(all.rows[0].previous, Some(Starting));
    assert_eq!(all.pruned_through, 0);
    let page = table.read_after("contoso", 0, 2).await.unwrap();
    assert_eq!(rel(&page.rows, base), [1, 3], "limited, lowest first");
    let rest = table.read_after("contoso", base + 3, 2).await.unwrap();
    assert_eq!(rel(&rest.rows, base), [4]);
    assert!(table
        .read_after("contoso", base + 4, 10)
        .await
        .unwrap()
        .rows
        .is_empty());
    assert!(table
        .read_after("contoso", u64::MAX, 10)
        .await
        .unwrap()
        .rows
        .is_empty());
    // Tenants are walls: another tenant's reader sees only its own rows.
    let other = table.read_after("fabrikam", 0, 100).await.unwrap();
    assert_eq!(messages(&other.rows), ["b1"]);
    assert_eq!(rel(&other.rows, base), [2]);
    assert!(table
        .read_after("nobody", 0, 100)
        .await
        .unwrap()
        .rows
        .is_empty());
}

async fn retention_by_count_is_told_to_readers(table: impl HealthTable) {
    let at = |secs: i64, tenant: &str, msg: &str| {
        of_tenant(
            row(secs, "okta", None, Status::Ok, HealthKind::Collection, msg),
            tenant,
        )
    };
    table
        .insert(vec![at(0, "contoso", "c1"), at(1, "fabrikam", "f1")])
        .await
        .unwrap();
    table
        .insert(vec![at(2, "contoso", "c2"), at(3, "contoso", "c3")])
        .await
        .unwrap();
    // Only three rows are kept: c1 (seq 1) went.
    let read = table.read_after("contoso", 0, 10).await.unwrap();
    assert_eq!(messages(&read.rows), ["c2", "c3"]);
    let base = read.rows[0].seq - 3;
    assert_eq!(read.pruned_through, base + 1);
    assert_eq!(
        table
            .read_after("fabrikam", 0, 10)
            .await
            .unwrap()
            .pruned_through,
        0,
        "fabrikam lost nothing"
    );
    table
        .insert(vec![at(4, "contoso", "c4"), at(5, "contoso", "c5")])
        .await
        .unwrap();
    // f1 (seq 2) and c2 (seq 3) went.
    let read = table.read_after("contoso", 0, 10).await.unwrap();
    assert_eq!(messages(&read.rows), ["c3", "c4", "c5"]);
    assert_eq!(read.pruned_through, base + 3);
    assert_eq!(
        table
            .read_after("fabrikam", 0, 10)
            .await
            .unwrap()
            .pruned_through,
        base + 2
    );
}

async fn retention_by_age_is_told_to_readers(table: impl HealthTable) {
    let at = |min: i64, msg: &str| {
        row(
            min * 60,
            "okta",
            None,
            Status::Ok,
            HealthKind::Collection,
            msg,
        )
    };
    table
        .insert(vec![at(0, "old"), at(30, "mid")])
        .await
        .unwrap();
    table.insert(vec![at(70, "new")]).await.unwrap();
    let read = table.read_after("contoso", 0, 10).await.unwrap();
    assert_eq!(messages(&read.rows), ["mid", "new"]);
    let base = read.rows[0].seq - 2;
    assert_eq!(read.pruned_through, base + 1);
    assert_eq!(table.prune(t(120 * 60)).await.unwrap(), 1);
    let read = table.read_after("contoso", 0, 10).await.unwrap();
    assert_eq!(messages(&read.rows), ["new"]);
    assert_eq!(read.pruned_through, base + 2);
    // New rows keep counting up: a sequence is never given twice.
    table.insert(vec![at(121, "newer")]).await.unwrap();
    let read = table.read_after("contoso", base + 3, 10).await.unwrap();
    assert_eq!(rel(&read.rows, base), [4]);
}

async fn queries_are_newest_first_filtered_and_limited(table: impl HealthTable) {
    use HealthKind::*;
    use Status::*;
    table
        .insert(vec![
            row(0, "okta", None, Ok, Collection, "a"),
            row(10, "okta", Some("sentinel"), Warning, Delivery, "b"),
            row(20, "graph", None, Error, Auth, "c"),
            // Out of order: older than "c", inserted after.
            row(5, "okta", None, Warning, Budget, "d"),
        ])
        .await
        .unwrap();
    // Same time as "c": the later insert comes first.
    table
        .insert(vec![row(20, "okta", None, Ok, Collection, "e")])
        .await
        .unwrap();
    let all = table.query(&HealthQuery::new()).await.unwrap();
    assert_eq!(messages(&all), ["e", "c", "b", "d", "a"]);

    let q = |q: HealthQuery| {
        let table = &table;
        async move { messages(&table.query(&q).await.unwrap()).join("") }
    };
    assert_eq!(q(HealthQuery::new().limit(2)).await, "ec");
    assert_eq!(q(HealthQuery::new().connector("okta")).await, "ebda");
    assert_eq!(q(HealthQuery::new().product("sentinel")).await, "b");
    assert_eq!(q(HealthQuery::new().status(Warning)).await, "bd");
    assert_eq!(q(HealthQuery::new().kind(Auth)).await, "c");
    assert_eq!(q(HealthQuery::new().tenant("fabrikam")).await, "");
    assert_eq!(
        q(HealthQuery::new().between(t(5), t(20))).await,
        "bd",
        "until is exclusive"
    );
    assert_eq!(
        q(HealthQuery::new().connector("okta").status(Ok).limit(1)).await,
        "e"
    );

    let last = table.last_messages("contoso", "okta", 3).await.unwrap();
    assert_eq!(messages(&last), ["e", "b", "d"]);
    let per = table.last_messages_per_connector(1).await.unwrap();
    let per: Vec<_> = per
        .iter()
        .map(|(c, rows)| (c.connector.as_str(), messages(rows).join("")))
        .collect();
    assert_eq!(per, [("graph", "c".to_owned()), ("okta", "e".to_owned())]);
    // Several connectors at once, in the order asked, each limited; unknown ones empty.
    let names = ["okta", "nothing", "graph"].map(String::from);
    let many = table.last_messages_of("contoso", &names, 2).await.unwrap();
    let many: Vec<String> = many.iter().map(|rows| messages(rows).join("")).collect();
    assert_eq!(many, ["eb", "", "c"]);
    let other = table.last_messages_of("fabrikam", &names, 2).await.unwrap();
    assert!(other.iter().all(Vec::is_empty));
}

async fn rows_round_trip_exactly(table: impl HealthTable) {
    let mut detailed = row(
        0,
        "okta",
        Some("sentinel"),
        Status::Error,
        HealthKind::Delivery,
        "rejected: 413 → split batches",
    );
    detailed.time += Duration::nanoseconds(123_456_789);
    detailed.details = Some(serde_json::json!({"http_status": 413, "records": [1, 2]}));
    let mut bare = row(
        1,
        "okta",
        None,
        Status::Ok,
        HealthKind::Lifecycle,
        "started",
    );
    bare.stream = None;
    bare.workspace = None;
    table
        .insert(vec![detailed.clone(), bare.clone()])
        .await
        .unwrap();
    let rows = table.query(&HealthQuery::new()).await.unwrap();
    // The table numbers rows in the order it stored them, from where it started.
    let first = rows[1].seq;
    assert!(first > 0);
    let (mut detailed, mut bare) = (detailed, bare);
    detailed.seq = first;
    bare.seq = first + 1;
    assert_eq!(rows, vec![bare, detailed]);
}

async fn current_status_is_worst_of_latest_parts(table: impl HealthTable) {
    use HealthKind::*;
    use Status::*;
    table
        .insert(vec![
            row(0, "okta", None, Error, Auth, "token expired"),
            row(10, "okta", None, Ok, Collection, "recovered"),
            row(5, "okta", Some("sentinel"), Warning, Delivery, "retrying"),
            row(6, "okta", Some("mdi"), Ok, Delivery, "ok"),
            row(1, "graph", None, Ok, Collection, "ok"),
        ])
        .await
        .unwrap();
    // An older row arriving late does not replace the newer status of its part.
    table
        .insert(vec![row(2, "okta", None, Error, Auth, "late")])
        .await
        .unwrap();
    let status = table.current_status().await.unwrap();
    let summary: Vec<_> = status
        .iter()
        .map(|c| (c.connector.as_str(), c.status))
        .collect();
    assert_eq!(summary, [("graph", Ok), ("okta", Warning)]);
    let okta = &status[1];
    let parts: Vec<_> = okta
        .parts
        .iter()
        .map(|p| (p.product.as_deref(), p.status, p.message.as_str()))
        .collect();
    assert_eq!(
        parts,
        [
            (None, Ok, "recovered"),
            (Some("mdi"), Ok, "ok"),
            (Some("sentinel"), Warning, "retrying"),
        ]
    );
    assert_eq!(okta.parts[2].workspace.as_deref(), Some("ws-sentinel"));
    assert_eq!(okta.parts[2].since, t(5));

    table
        .insert(vec![row(20, "okta", Some("mdi"), Error, Delivery, "403")])
        .await
        .unwrap();
    let status = table.current_status().await.unwrap();
    assert_eq!(status[1].status, Error, "worst part wins");
}

async fn retention_by_row_count(table: impl HealthTable) {
    for i in 0..5 {
        let status = if i == 0 { Status::Error } else { Status::Ok };
        table
            .insert(vec![row(
                i,
                &format!("c{i}"),
                None,
                status,
                HealthKind::Collection,
                &format!("m{i}"),
            )])
            .await
            .unwrap();
    }
    let rows = table.query(&HealthQuery::new()).await.unwrap();
    assert_eq!(messages(&rows), ["m4", "m3", "m2"]);
    // Current status outlives the rows that set it.
    let status = table.current_status().await.unwrap();
    assert_eq!(status.len(), 5);
    assert_eq!(status[0].connector, "c0");
    assert_eq!(status[0].status, Status::Error);
}

async fn retention_by_age(table: impl HealthTable) {
    let at = |min: i64, msg: &str| {
        row(
            min * 60,
            "okta",
            None,
            Status::Ok,
            HealthKind::Collection,
            msg,
        )
    };
    table
        .insert(vec![at(0, "old"), at(30, "mid")])
        .await
        .unwrap();
    // Inserting at minute 70 drops rows before minute 10.
    table.insert(vec![at(70, "new")]).await.unwrap();
    let rows = table.query(&HealthQuery::new()).await.unwrap();
    assert_eq!(messages(&rows), ["new", "mid"]);
    // An explicit prune at minute 120 drops rows before minute 60.
    assert_eq!(table.prune(t(120 * 60)).await.unwrap(), 1);
    let rows = table.query(&HealthQuery::new()).await.unwrap();
    assert_eq!(messages(&rows), ["new"]);
    assert_eq!(table.prune(t(120 * 60)).await.unwrap(), 0);
}
