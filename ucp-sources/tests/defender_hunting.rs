//! Advanced hunting tables against the simulated Graph security API over loopback: every
//! table read in windows without gap or duplicate across a restart, a window over the
//! 100,000-row cap split and read completely, and the errors of a table the tenant lacks or
//! an app without the permission.

mod defender_support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use defender_support::*;
use serde_json::Value;
use ucp_core::{Cursor, Record, Source, SourceError};
use ucp_sources::defender::{DefenderHuntingSource, HUNTING_TABLES};
use ucp_testkit::graph::{GraphSimConfig, Limits};

/// Hunting limits far from binding: these tests are about windows, not waiting.
const UNLIMITED: Limits = Limits {
    per_minute: 100_000,
    per_hour: 100_000,
};

/// Rows come every `spacing`: their times must follow each other by exactly that.
fn assert_contiguous(
    table: &str,
    records: &[Record],
    first: DateTime<Utc>,
    spacing: chrono::Duration,
) {
    for (n, r) in records.iter().enumerate() {
        let expected = first + spacing * n as i32;
        assert_eq!(r.time, expected, "{table}: row {n}");
    }
}

#[tokio::test]
async fn every_table_is_read_in_windows_without_gap_or_duplicate_across_a_restart() {
    // One row every 30 s in every table, from two hours back.
    let sim = tenant(
        GraphSimConfig::default()
            .hunting(120.0, Duration::from_secs(7200))
            .hunting_limits(UNLIMITED),
        ALL_ROLES,
    )
    .await;
    let origin = sim.hunting_origin();
    let config = hunting_config(&sim).windows(Duration::from_secs(1800), Duration::ZERO);
    let source = DefenderHuntingSource::new(config.clone()).unwrap();
    assert_eq!(source.describe().streams.len(), 21);
    let cx = context(&source, credential(&sim, SECRET), false).await;
    for table in HUNTING_TABLES.iter().map(|t| t.name) {
        // Two windows, then a new process resumes from the cursor.
        let mut cursor = Cursor::start();
        let mut records = Vec::new();
        for _ in 0..2 {
            let page = collect(&source, &cx, table, &cursor).await.unwrap();
            assert!(page.more, "{table}");
            assert_eq!(page.records.len(), 60, "{table}: 30 minutes of rows");
            records.extend(page.records);
            cursor = page.next;
        }
        let resumed = DefenderHuntingSource::new(config.clone()).unwrap();
        let (rest, _, _) = round(&resumed, &cx, table, cursor).await;
        records.extend(rest);
        assert_contiguous(table, &records, origin, chrono::Duration::seconds(30));
        let last = records.last().unwrap().time;
        assert_eq!(
            records.len() as u64,
            sim.hunting_rows(table, origin, last + chrono::Duration::milliseconds(1)),
            "{table}"
        );
        assert!(records.len() >= 240, "{table}: {}", records.len());
        // Rows are the table's, with its documented columns.
        let row: Value = serde_json::from_slice(&records[0].payload).unwrap();
        let columns = row.as_object().unwrap().len();
        assert!(
            row.get("Timestamp").is_some() && columns >= 6,
            "{table}: {row}"
        );
    }
    // One query per window, none twice.
    let queries = sim.hunting_queries();
    assert!(queries.iter().all(|(_, rows)| *rows <= 60));
}

#[tokio::test]
async fn a_window_over_the_row_cap_is_split_and_read_completely() {
    // EmailUrlInfo: 150,000 rows in the last hour (one every 24 ms); the cap is the
    // documented 100,000.
    let sim = tenant(
        GraphSimConfig::default()
            .hunting(0.0, Duration::from_secs(3600))
            .table_rows("EmailUrlInfo", 150_000.0),
        ALL_ROLES,
    )
    .await;
    let origin = sim.hunting_origin();
    let source = DefenderHuntingSource::new(
        hunting_config(&sim).windows(Duration::from_secs(3600), Duration::from_secs(60)),
    )
    .unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;

    let first = collect(&source, &cx, "EmailUrlInfo", &Cursor::start())
        .await
        .unwrap();
    assert!(
        first.records.is_empty() && first.more,
        "a cut answer delivers nothing and asks again"
    );
    let (records, _, _) = round(&source, &cx, "EmailUrlInfo", first.next).await;
    assert_contiguous(
        "EmailUrlInfo",
        &records,
        origin,
        chrono::Duration::milliseconds(24),
    );
    let last = records.last().unwrap().time;
    assert_eq!(
        records.len() as u64,
        sim.hunting_rows(
            "EmailUrlInfo",
            origin,
            last + chrono::Duration::milliseconds(1)
        )
    );
    assert!(records.len() >= 147_000, "{}", records.len());

    let answers: Vec<usize> = sim
        .hunting_queries()
        .into_iter()
        .map(|(_, rows)| rows)
        .collect();
    assert_eq!(answers[0], 100_000, "the first, hour-long answer was cut");
    assert!(
        answers[1..].iter().all(|rows| *rows < 100_000),
        "{answers:?}"
    );
}

#[tokio::test]
async fn windows_halve_as_often_as_it_takes() {
    // A small cap: a 1-hour window of 3,600 rows needs 6 halvings to fit under 100.
    let sim = tenant(
        GraphSimConfig::default()
            .hunting(3_600.0, Duration::from_secs(3600))
            .row_cap(100)
            .hunting_limits(UNLIMITED),
        ALL_ROLES,
    )
    .await;
    let origin = sim.hunting_origin();
    let source = DefenderHuntingSource::new(
        hunting_config(&sim)
            .windows(Duration::from_secs(3600), Duration::from_secs(30))
            .row_cap(100),
    )
    .unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    let (records, _, _) = round(&source, &cx, "AlertInfo", Cursor::start()).await;
    assert_contiguous("AlertInfo", &records, origin, chrono::Duration::seconds(1));
    assert!(records.len() >= 3_500, "{}", records.len());
    let cut = sim
        .hunting_queries()
        .iter()
        .filter(|(_, rows)| *rows == 100)
        .count();
    assert!(cut >= 6, "{cut} cut answers");
}

#[tokio::test]
async fn a_table_the_tenant_lacks_and_a_missing_permission_say_what_to_do() {
    let sim = tenant(
        GraphSimConfig::default().hunting(60.0, Duration::from_secs(3600)),
        ALL_ROLES,
    )
    .await;
    sim.remove_table("IdentityLogonEvents");
    let source = DefenderHuntingSource::new(hunting_config(&sim)).unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    match collect(&source, &cx, "IdentityLogonEvents", &Cursor::start()).await {
        Err(SourceError::Config { message }) => {
            assert!(message.contains("table IdentityLogonEvents"), "{message}");
            assert!(
                message.contains("`IdentityLogonEvents | where Timestamp >="),
                "{message}"
            );
            assert!(message.contains("Failed to resolve table"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        collect(&source, &cx, "NotATable", &Cursor::start()).await,
        Err(SourceError::Config { .. })
    ));

    sim.grant(CLIENT_ID, &["SecurityIncident.Read.All"]);
    match collect(&source, &cx, "DeviceEvents", &Cursor::start()).await {
        Err(SourceError::Auth { message }) => {
            assert!(message.contains("ThreatHunting.Read.All"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
