//! One suite for every `HealthTable` (`ucp_testkit::conformance::health_table_suite`): the
//! in-memory table, SQLite in memory and SQLite in a file; plus SQLite surviving a reopen.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use ucp_core::health::{
    HealthKind, HealthQuery, HealthRow, HealthTable, MemoryHealthTable, Retention,
    SqliteHealthTable, Status,
};
use ucp_testkit::conformance::health_table_suite;

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

fn seqs(rows: &[HealthRow]) -> Vec<u64> {
    rows.iter().map(|r| r.seq).collect()
}

const NO_LIMITS: Retention = Retention {
    max_age: None,
    max_rows: None,
};

#[tokio::test]
async fn memory_table_passes_the_suite() {
    health_table_suite(|r| async move { MemoryHealthTable::new(r) }).await;
}

#[tokio::test]
async fn sqlite_in_memory_passes_the_suite() {
    health_table_suite(|r| async move { SqliteHealthTable::open_in_memory(r).unwrap() }).await;
}

#[tokio::test]
async fn sqlite_file_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    health_table_suite(|r| {
        let path = dir
            .path()
            .join(format!("health-{}.db", n.fetch_add(1, Ordering::Relaxed)));
        async move { SqliteHealthTable::open(path, r).unwrap() }
    })
    .await;
}

#[tokio::test]
async fn sqlite_table_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("health.db");
    let written = vec![
        row(
            0,
            "okta",
            None,
            Status::Warning,
            HealthKind::Budget,
            "interval stretched to 10m",
        ),
        row(
            1,
            "okta",
            Some("sentinel"),
            Status::Ok,
            HealthKind::Delivery,
            "delivered",
        ),
    ];
    {
        let table = SqliteHealthTable::open(&path, Retention::default()).unwrap();
        table.insert(written.clone()).await.unwrap();
    }
    let table = SqliteHealthTable::open(&path, Retention::default()).unwrap();
    let rows = table.query(&HealthQuery::new()).await.unwrap();
    let first = rows.last().unwrap().seq;
    let mut stored: Vec<HealthRow> = written
        .into_iter()
        .zip(first..)
        .map(|(row, seq)| HealthRow { seq, ..row })
        .collect();
    stored.reverse();
    assert_eq!(rows, stored);
    let status = table.current_status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].status, Status::Warning);
    assert_eq!(status[0].parts.len(), 2);
}

/// A file written before rows had a sequence reader and a previous status (schema 1) opens:
/// its rows read back with their ids as sequences and no previous status, and new rows
/// continue the sequence.
#[tokio::test]
async fn sqlite_file_of_the_first_schema_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("health.db");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE health_rows (
                id INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL,
                tenant TEXT NOT NULL, connector TEXT NOT NULL, product TEXT, workspace TEXT,
                stream TEXT, status TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
                details TEXT);
             CREATE INDEX health_rows_by_time ON health_rows (time_ns, id);
             CREATE INDEX health_rows_by_connector ON health_rows (tenant, connector, time_ns);
             CREATE TABLE health_current (
                part TEXT PRIMARY KEY, time_ns INTEGER NOT NULL, tenant TEXT NOT NULL,
                connector TEXT NOT NULL, product TEXT, workspace TEXT, stream TEXT,
                status TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);
             INSERT INTO health_rows (time_ns, tenant, connector, status, kind, message)
                VALUES (1700000000000000000, 'contoso', 'okta', 'Warning', 'Collection', 'old one'),
                       (1700000001000000000, 'contoso', 'okta', 'Ok', 'Collection', 'old two');
             DELETE FROM health_rows WHERE id = 2;",
        )
        .unwrap();
    }
    let table = SqliteHealthTable::open(&path, Retention::default()).unwrap();
    table
        .insert(vec![row(
            5,
            "okta",
            None,
            Status::Error,
            HealthKind::Auth,
            "new",
        )])
        .await
        .unwrap();
    let read = table.read_after("contoso", 0, 10).await.unwrap();
    assert_eq!(messages(&read.rows), ["old one", "new"]);
    // AUTOINCREMENT never gives id 2 again, though that row was deleted.
    assert_eq!(seqs(&read.rows), [1, 3]);
    assert_eq!(
        read.rows[0].previous, None,
        "not recorded by the old schema"
    );
    assert_eq!(read.rows[1].previous, Some(Status::Starting));
    drop(table);
    // Opening again is a no-op.
    let table = SqliteHealthTable::open(&path, Retention::default()).unwrap();
    assert_eq!(table.read_after("contoso", 0, 10).await.unwrap(), read);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

/// A table created again — in memory after a restart, or a new file — numbers above every
/// sequence an earlier one gave, so a saved reader position stays valid and ids built from
/// sequences never name two rows.
#[tokio::test]
async fn a_table_created_again_numbers_above_the_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let one = |msg: &str| {
        vec![row(
            0,
            "okta",
            None,
            Status::Ok,
            HealthKind::Collection,
            msg,
        )]
    };
    let first_memory = MemoryHealthTable::new(NO_LIMITS);
    first_memory.insert(one("a")).await.unwrap();
    let first_file = SqliteHealthTable::open(dir.path().join("one.db"), NO_LIMITS).unwrap();
    first_file.insert(one("a")).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let second_memory = MemoryHealthTable::new(NO_LIMITS);
    second_memory.insert(one("b")).await.unwrap();
    let second_file = SqliteHealthTable::open(dir.path().join("two.db"), NO_LIMITS).unwrap();
    second_file.insert(one("b")).await.unwrap();
    let seq = |read: ucp_core::health::RowsAfter| read.rows[0].seq;
    let a = seq(first_memory.read_after("contoso", 0, 1).await.unwrap());
    let b = seq(second_memory.read_after("contoso", 0, 1).await.unwrap());
    assert!(b > a, "memory: {b} after {a}");
    let a = seq(first_file.read_after("contoso", 0, 1).await.unwrap());
    let b = seq(second_file.read_after("contoso", 0, 1).await.unwrap());
    assert!(b > a, "file: {b} after {a}");
    // A reader positioned at the first table's last row reads the second one whole.
    assert_eq!(
        messages(
            &second_memory
                .read_after("contoso", a, 10)
                .await
                .unwrap()
                .rows
        ),
        ["b"]
    );
}

#[tokio::test]
async fn sqlite_file_of_a_newer_schema_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("health.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let err = SqliteHealthTable::open(&path, Retention::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("schema version 99") && text.contains("health.db"),
        "{text}"
    );
}

#[tokio::test]
async fn sqlite_open_failure_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory cannot be opened as a database.
    let err = SqliteHealthTable::open(dir.path(), Retention::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}

#[tokio::test]
async fn sqlite_unreadable_row_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("health.db");
    let table = SqliteHealthTable::open(&path, Retention::default()).unwrap();
    table
        .insert(vec![row(
            0,
            "okta",
            None,
            Status::Ok,
            HealthKind::Collection,
            "ok",
        )])
        .await
        .unwrap();
    // Someone edits the file by hand.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE health_rows SET status = 'Fine'", [])
        .unwrap();
    let err = table.query(&HealthQuery::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unreadable row") && text.contains("\"Fine\""),
        "{text}"
    );
}

/// The engine's tests run on a paused clock: a SQLite call (on the blocking pool) must not
/// let tokio jump time forward while it runs.
#[tokio::test(start_paused = true)]
async fn sqlite_calls_do_not_advance_a_paused_clock() {
    let table = SqliteHealthTable::open_in_memory(Retention::default()).unwrap();
    let before = tokio::time::Instant::now();
    let timer = tokio::spawn(tokio::time::sleep(std::time::Duration::from_secs(3600)));
    for i in 0..20 {
        table
            .insert(vec![row(
                i,
                "okta",
                None,
                Status::Ok,
                HealthKind::Collection,
                "ok",
            )])
            .await
            .unwrap();
    }
    assert_eq!(table.query(&HealthQuery::new()).await.unwrap().len(), 20);
    assert_eq!(tokio::time::Instant::now(), before);
    assert!(!timer.is_finished());
    timer.abort();
}
