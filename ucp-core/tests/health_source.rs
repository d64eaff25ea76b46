//! The platform's health as a source: a tenant's health rows, volumes and inventory reach a
//! product through an ordinary subscription, once each, in order, without another tenant's,
//! and a product that fails on the health stream itself cannot make it feed itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::Value;
use ucp_core::health::{
    HealthKind, HealthRow, HealthService, HealthTable, MemoryHealthTable, Retention, Status,
};
use ucp_core::health_source::{
    HealthSource, HealthSourceSettings, HEALTH_EVENTS, INVENTORY, VOLUMES,
};
use ucp_core::*;
use ucp_testkit::{EventLog, EventLogSource, Fault, RecordingSink, SinkBehaviour};

const TENANT: &str = "contoso";
const OTHER: &str = "fabrikam";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn service(table: Arc<MemoryHealthTable>) -> Arc<HealthService> {
    Arc::new(HealthService::builder().table(table).build())
}

/// Every record a sink accepted, parsed, in order.
fn docs(sink: &RecordingSink) -> Vec<(String, Value)> {
    sink.batches()
        .iter()
        .flat_map(|(_, batch)| {
            batch
                .records
                .iter()
                .map(|r| {
                    (
                        r.id.to_string(),
                        serde_json::from_slice(&r.payload).expect("health records are JSON"),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn rows_of(table: &MemoryHealthTable, tenant: &str) -> Vec<HealthRow> {
    table.read_after(tenant, 0, 100_000).await.unwrap().rows
}

/// The health_events records a product got, as (id, sequence, connector, product, status,
/// previous status).
type EventRow = (String, u64, String, Option<String>, String, Option<String>);

fn event_rows(docs: &[(String, Value)]) -> Vec<EventRow> {
    docs.iter()
        .map(|(id, d)| {
            (
                id.clone(),
                d["sequence"].as_u64().unwrap(),
                d["connector"].as_str().unwrap().to_owned(),
                d["product"].as_str().map(str::to_owned),
                d["status"].as_str().unwrap().to_owned(),
                d["previous_status"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn expected_rows(rows: &[HealthRow]) -> Vec<EventRow> {
    rows.iter()
        .map(|r| {
            (
                format!("{TENANT}/health/{}", r.seq),
                r.seq,
                r.connector.clone(),
                r.product.clone(),
                r.status.to_string(),
                r.previous.map(|p| p.to_string()),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_transition_of_the_tenant_reaches_the_product_once_in_order() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let log = EventLog::new();
    log.generate(20, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let okta = EventLogSource::new("contoso", log.clone(), clock);
    let other_okta = EventLogSource::new("fabrikam", log.clone(), clock);
    let sentinel = RecordingSink::new("sentinel");
    let health_sink = RecordingSink::new("sentinel-health");
    // A second product wants only the problems: its filter applies as to any stream.
    let pager = RecordingSink::new("pager");
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let service = service(table.clone());
    let health = HealthSource::new(TENANT, service.clone()).with_settings(HealthSourceSettings {
        echo_delay: secs(120),
        ..HealthSourceSettings::default()
    });

    // The fabrikam connector fails too: its rows must not reach contoso's product.
    okta.inject([Fault::Unavailable, Fault::Unavailable, Fault::Unavailable]);
    other_okta.inject([Fault::Unauthorized]);
    sentinel.script([SinkBehaviour::Unavailable(None)]);
    let running = Platform::builder()
        .clock(clock)
        .health(service.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta", Arc::new(okta.clone()))
        .tenant_source(OTHER, "okta-fabrikam", Arc::new(other_okta.clone()))
        .tenant_source(TENANT, "ucp-health", Arc::new(health))
        .tenant_sink(TENANT, "sentinel", Arc::new(sentinel.clone()))
        .tenant_sink(OTHER, "fabrikam-siem", Arc::new(RecordingSink::new("siem")))
        .tenant_sink(TENANT, "sentinel-health", Arc::new(health_sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(secs(60)))
        .subscribe(Subscription::new("fabrikam-siem", "okta-fabrikam", "events").every(secs(60)))
        .subscribe(
            Subscription::new("sentinel-health", "ucp-health", HEALTH_EVENTS).every(secs(15)),
        )
        .tenant_sink(TENANT, "pager", Arc::new(pager.clone()))
        .subscribe(
            Subscription::new("pager", "ucp-health", HEALTH_EVENTS)
                .every(secs(60))
                .filter(Filter::is_in("/status", ["Warning", "Error"])),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    // Failures and recoveries over a few minutes: 503s, then a 401, then pages again.
    for minute in 0..6 {
        if minute == 3 {
            okta.inject([Fault::Unauthorized]);
        }
        log.generate(3, Utc::now());
        tokio::time::sleep(secs(60)).await;
    }
    // Long enough for the last rows, and the echoes' one page alone.
    tokio::time::sleep(secs(300)).await;
    running.shutdown().await.unwrap();

    let rows = rows_of(&table, TENANT).await;
    let kinds: BTreeSet<(&str, Status)> = rows
        .iter()
        .filter(|r| r.connector == "okta" && r.product.is_none())
        .map(|r| (r.kind.as_str(), r.status))
        .collect();
    assert!(
        kinds.contains(&("Collection", Status::Warning))
            && kinds.contains(&("Auth", Status::Error))
            && kinds.contains(&("Collection", Status::Ok)),
        "the source failed and recovered: {kinds:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.product.as_deref() == Some("sentinel") && r.status == Status::Warning),
        "the product failed once"
    );
    let got = event_rows(&docs(&health_sink));
    // Every row of the tenant, once, in sequence order, with its previous status; the ones
    // the health stream's own delivery caused included (the shutdown's rows come after).
    let want = expected_rows(&rows);
    assert_eq!(
        got,
        want[..got.len()].to_vec(),
        "a prefix of the rows, exactly"
    );
    let missing: Vec<_> = want[got.len()..].iter().collect();
    assert!(
        missing.is_empty(),
        "rows never delivered before shutdown: {missing:#?}"
    );
    assert!(got
        .iter()
        .any(|(_, _, c, p, _, _)| c == "ucp-health" && p.is_some()));
    // The pager got the problems, all of them, and nothing else.
    let problems: Vec<u64> = rows
        .iter()
        .filter(|r| matches!(r.status, Status::Warning | Status::Error))
        .map(|r| r.seq)
        .collect();
    let paged: Vec<u64> = event_rows(&docs(&pager)).into_iter().map(|r| r.1).collect();
    assert!(!problems.is_empty());
    assert_eq!(paged, problems);
    // Tenants are walls.
    assert!(
        !rows_of(&table, OTHER).await.is_empty(),
        "fabrikam had rows of its own"
    );
    for (_, doc) in docs(&health_sink) {
        assert_eq!(doc["tenant"], TENANT, "{doc}");
    }
    // The message says what to do where the engine did.
    let auth = docs(&health_sink)
        .into_iter()
        .find(|(_, d)| d["kind"] == "Auth")
        .map(|(_, d)| d)
        .unwrap();
    assert!(
        auth["what_to_do"]
            .as_str()
            .is_some_and(|w| w.contains("credential")),
        "{auth}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_health_delivery_failing_every_third_call_causes_a_bounded_number_of_rows() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let log = EventLog::new();
    log.generate(5, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let okta = EventLogSource::new("contoso", log.clone(), clock);
    let health_sink = RecordingSink::new("sentinel-health");
    // A product that fails every third call, whatever it is sent: left alone, each failure
    // and recovery is a row, each row a delivery, each delivery a chance to fail again.
    health_sink.script(
        std::iter::repeat_n(
            [
                SinkBehaviour::Accept,
                SinkBehaviour::Accept,
                SinkBehaviour::Unavailable(None),
            ],
            5_000,
        )
        .flatten(),
    );
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let service = service(table.clone());
    let health = HealthSource::new(TENANT, service.clone());
    okta.inject([Fault::Unavailable, Fault::Unavailable, Fault::Unavailable]);
    let running = Platform::builder()
        .clock(clock)
        .health(service.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta", Arc::new(okta.clone()))
        .tenant_source(TENANT, "ucp-health", Arc::new(health))
        .tenant_sink(TENANT, "sentinel-health", Arc::new(health_sink.clone()))
        .tenant_sink(TENANT, "sentinel", Arc::new(RecordingSink::new("sentinel")))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(secs(60)))
        .subscribe(Subscription::new("sentinel-health", "ucp-health", HEALTH_EVENTS).every(secs(5)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let own_rows = || async {
        rows_of(&table, TENANT)
            .await
            .into_iter()
            .filter(|r| r.connector == "ucp-health" && r.product.is_some())
            .count()
    };
    tokio::time::sleep(secs(3600)).await;
    let after_an_hour = own_rows().await;
    let calls_after_an_hour = health_sink.attempts().len();
    tokio::time::sleep(secs(3 * 3600)).await;
    let after_four_hours = own_rows().await;
    running.shutdown().await.unwrap();

    println!(
        "rows about the health delivery: {after_an_hour} after 1 h, {after_four_hours} after 4 h; {calls_after_an_hour} delivery calls in the first hour"
    );
    assert!(
        after_an_hour >= 2,
        "the failing delivery was reported ({after_an_hour} rows)"
    );
    assert!(
        after_four_hours <= 8,
        "bounded: at most a few rows per row about anything else, got {after_four_hours}"
    );
    assert_eq!(
        after_an_hour, after_four_hours,
        "no row about anything else came, so no row about the health delivery either"
    );
    // And the stream still delivered every other row.
    let delivered: BTreeSet<u64> = event_rows(&docs(&health_sink))
        .into_iter()
        .map(|r| r.1)
        .collect();
    for row in rows_of(&table, TENANT).await {
        if row.connector == "okta" {
            assert!(delivered.contains(&row.seq), "row {row:?} not delivered");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_volumes_stream_sums_to_what_was_collected_and_delivered() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let log = EventLog::new();
    log.generate(250, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let settings = ucp_testkit::EventLogSettings {
        page_size: 40,
        ..Default::default()
    };
    let okta = EventLogSource::with_settings("contoso", log.clone(), clock, settings);
    let sentinel = RecordingSink::new("sentinel");
    let mdi = RecordingSink::new("mdi");
    let volume_sink = RecordingSink::new("volume-sink");
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let service = service(table.clone());
    let health = HealthSource::new(TENANT, service.clone());
    let mdi_filter = Filter::starts_with("/eventType", "user.");
    let running = Platform::builder()
        .clock(clock)
        .health(service.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta", Arc::new(okta.clone()))
        .tenant_source(TENANT, "ucp-health", Arc::new(health))
        .tenant_sink(TENANT, "sentinel", Arc::new(sentinel.clone()))
        .tenant_sink(TENANT, "mdi", Arc::new(mdi.clone()))
        .tenant_sink(TENANT, "volume-sink", Arc::new(volume_sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(secs(20)))
        .subscribe(
            Subscription::new("mdi", "okta", "events")
                .every(secs(20))
                .filter(mdi_filter.clone()),
        )
        .subscribe(Subscription::new("volume-sink", "ucp-health", VOLUMES).every(secs(30)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    // Records keep coming for a few minutes, then stop; the minutes end and go out.
    for _ in 0..4 {
        log.generate(30, Utc::now());
        tokio::time::sleep(secs(70)).await;
    }
    tokio::time::sleep(secs(180)).await;
    running.shutdown().await.unwrap();

    let volumes = docs(&volume_sink);
    let ids: BTreeSet<&str> = volumes.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), volumes.len(), "one record per series and minute");
    let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut minutes: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for (id, doc) in &volumes {
        assert_eq!(doc["tenant"], TENANT);
        let series = (
            format!("{}/{}", doc["connector"], doc["stream"]),
            doc["product"].as_str().unwrap_or("(collected)").to_owned(),
        );
        let start = chrono::DateTime::parse_from_rfc3339(doc["time"].as_str().unwrap())
            .unwrap()
            .timestamp();
        assert!(id.ends_with(&format!("/{start}")), "{id}");
        assert_eq!(start % 60, 0, "bins are whole minutes");
        *sums.entry(series.clone()).or_default() += doc["records"].as_u64().unwrap();
        minutes.entry(series).or_default().push(start);
    }
    let okta = |product: &str| sums[&("\"okta\"/\"events\"".to_owned(), product.to_owned())];
    assert_eq!(okta("(collected)"), log.len() as u64);
    assert_eq!(okta("sentinel"), sentinel.ids().len() as u64);
    assert_eq!(okta("mdi"), mdi.ids().len() as u64);
    assert_eq!(sentinel.ids().len(), log.len());
    assert!(mdi.ids().len() < log.len() && !mdi.ids().is_empty());
    // Zero-filled: every series has every minute, quiet ones included.
    let all_minutes: BTreeSet<i64> = minutes.values().flatten().copied().collect();
    for (series, got) in &minutes {
        let got: BTreeSet<i64> = got.iter().copied().collect();
        assert!(
            got.iter().zip(got.iter().skip(1)).all(|(a, b)| b - a == 60),
            "{series:?} has a hole: {got:?}"
        );
        assert_eq!(
            got.last(),
            all_minutes.last(),
            "{series:?} is emitted to the same minute"
        );
    }
    let quiet = volumes
        .iter()
        .filter(|(_, d)| d["connector"] == "okta" && d["records"] == 0)
        .count();
    assert!(quiet > 0, "quiet minutes are zeros, not gaps");
}

#[tokio::test(start_paused = true)]
async fn the_inventory_shows_the_tenants_connectors_and_no_other() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let log = EventLog::new();
    log.generate(5, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let okta = EventLogSource::new("contoso", log.clone(), clock);
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let service = service(table.clone());
    let inventory_sink = RecordingSink::new("inventory-sink");
    let builder = Platform::builder();
    let health =
        HealthSource::new(TENANT, service.clone()).with_inventory(Arc::new(builder.inventory()));
    let running = builder
        .clock(clock)
        .health(service.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta", Arc::new(okta.clone()))
        .tenant_source(TENANT, "okta-idle", Arc::new(okta.clone()))
        .tenant_source(OTHER, "okta-fabrikam", Arc::new(okta.clone()))
        .tenant_source(TENANT, "ucp-health", Arc::new(health))
        .tenant_sink(TENANT, "sentinel", Arc::new(RecordingSink::new("sentinel")))
        .tenant_sink(TENANT, "mdi", Arc::new(RecordingSink::new("mdi")))
        .tenant_sink(OTHER, "siem", Arc::new(RecordingSink::new("siem")))
        .tenant_sink(TENANT, "inventory-sink", Arc::new(inventory_sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(secs(60)))
        .subscribe(Subscription::new("mdi", "okta", "events").every(secs(60)))
        .subscribe(Subscription::new("siem", "okta-fabrikam", "events").every(secs(60)))
        .subscribe(Subscription::new("inventory-sink", "ucp-health", INVENTORY).every(secs(300)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    tokio::time::sleep(secs(90)).await;
    running.pause_source("okta-idle").await.unwrap();
    tokio::time::sleep(secs(300)).await;
    let live = running.inventory();
    running.shutdown().await.unwrap();

    let snapshots = docs(&inventory_sink);
    let times: BTreeSet<String> = snapshots
        .iter()
        .map(|(_, d)| d["time"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        times.len(),
        2,
        "one snapshot per collection (at 0 and 5 min)"
    );
    let last: BTreeMap<String, Value> = snapshots
        .iter()
        .filter(|(_, d)| times.last().is_some_and(|t| d["time"] == **t))
        .map(|(_, d)| (d["connector"].as_str().unwrap().to_owned(), d.clone()))
        .collect();
    assert_eq!(
        last.keys().collect::<Vec<_>>(),
        ["okta", "okta-idle", "ucp-health"],
        "the tenant's connectors only"
    );
    let okta_doc = &last["okta"];
    assert_eq!(okta_doc["status"], "Ok");
    assert_eq!(okta_doc["provider"], "eventlog");
    assert_eq!(okta_doc["products"], serde_json::json!(["mdi", "sentinel"]));
    assert_eq!(okta_doc["paused"], false);
    assert!(okta_doc["last_success"].is_string(), "{okta_doc}");
    assert_eq!(okta_doc["parts"].as_array().unwrap().len(), 3);
    let idle = &last["okta-idle"];
    assert_eq!(idle["paused"], true);
    assert_eq!(idle["status"], "Stopped", "nothing runs: {idle}");
    for (id, doc) in &snapshots {
        assert!(id.starts_with("contoso/inventory/"), "{id}");
        assert_eq!(doc["tenant"], TENANT);
    }
    // After shutdown the handle answers nothing and keeps nothing alive.
    use ucp_core::health_source::Inventory;
    assert!(live.connectors(TENANT).await.unwrap().is_empty());
}

/// Direct calls, as the engine makes them: retention that outruns the reader is reported
/// once, and reading goes on with the oldest row kept.
#[tokio::test(start_paused = true)]
async fn rows_removed_before_they_were_read_are_reported_and_reading_continues() {
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let table = Arc::new(MemoryHealthTable::new(Retention {
        max_age: None,
        max_rows: Some(5),
    }));
    let service = service(table.clone());
    let health = HealthSource::new(TENANT, service.clone());
    let cx = SourceContext::new(
        "ucp-health",
        Arc::new(RateBudget::new(health.describe().budget, clock)),
        Context::standalone(
            TENANT,
            Arc::new(ucp_core::credentials::MemoryCredentials::new()),
            clock,
        )
        .unwrap(),
    );
    let row = |n: u32| HealthRow {
        seq: 0,
        time: clock.now_utc(),
        tenant: TENANT.into(),
        connector: "okta".into(),
        product: None,
        workspace: None,
        stream: Some("events".into()),
        status: if n.is_multiple_of(2) {
            Status::Warning
        } else {
            Status::Ok
        },
        previous: Some(Status::Ok),
        kind: HealthKind::Collection,
        message: format!("row {n}"),
        details: None,
    };
    let collect = |cursor: Cursor| {
        health.collect(
            &cx,
            CollectRequest {
                stream: HEALTH_EVENTS.into(),
                cursor,
                filter: None,
            },
        )
    };
    table.insert((1..=3).map(row).collect()).await.unwrap();
    let first = collect(Cursor::start()).await.unwrap();
    assert_eq!(first.records.len(), 3);
    // Sequences count from where the table started (its creation time).
    let base = table.read_after(TENANT, 0, 1).await.unwrap().rows[0].seq - 1;
    assert_eq!(first.next, Cursor::new((base + 3).to_string()));
    // Eight more rows while the reader is away: only five are kept (7 to 11).
    table.insert((4..=11).map(row).collect()).await.unwrap();
    let second = collect(first.next.clone()).await.unwrap();
    let ids: Vec<&str> = second.records.iter().map(|r| r.id.as_str()).collect();
    let want: Vec<String> = (7..=11)
        .map(|n| format!("contoso/health/{}", base + n))
        .collect();
    assert_eq!(ids, want);
    let reported = rows_of(&table, TENANT).await;
    let gap = reported
        .iter()
        .find(|r| r.connector == "ucp-health")
        .expect("the loss is a health row");
    assert_eq!(gap.status, Status::Warning);
    assert_eq!(gap.stream.as_deref(), Some(HEALTH_EVENTS));
    assert!(
        gap.message
            .contains(&format!("after {} up to {}", base + 3, base + 6))
            && gap.message.contains("Retention"),
        "{}",
        gap.message
    );
    // The report is itself read next, once; then the stream is whole again, and says so.
    let third = collect(second.next.clone()).await.unwrap();
    assert_eq!(third.records.len(), 1);
    let fourth = collect(third.next.clone()).await.unwrap();
    assert_eq!(fourth.records.len(), 1);
    let fifth = collect(fourth.next.clone()).await.unwrap();
    assert!(fifth.records.is_empty());
    assert_eq!(fifth.next, fourth.next, "nothing new: the cursor stays");
    let own: Vec<Status> = rows_of(&table, TENANT)
        .await
        .into_iter()
        .filter(|r| r.connector == "ucp-health")
        .map(|r| r.status)
        .collect();
    assert_eq!(own, [Status::Warning, Status::Ok], "once per transition");

    // Another tenant's context is refused: this source shows contoso's rows only.
    let foreign = SourceContext::new(
        "ucp-health",
        cx.budget().clone(),
        Context::standalone(
            OTHER,
            Arc::new(ucp_core::credentials::MemoryCredentials::new()),
            clock,
        )
        .unwrap(),
    );
    let refused = health
        .collect(
            &foreign,
            CollectRequest {
                stream: HEALTH_EVENTS.into(),
                cursor: Cursor::start(),
                filter: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SourceError::Config { .. })
            && refused.to_string().contains("tenant 'contoso'"),
        "{refused}"
    );
    // A cursor that is not a sequence is a configuration error naming what to do.
    let bad = collect(Cursor::new("not-a-number")).await.unwrap_err();
    assert!(
        bad.to_string().contains("reset the stream's cursor"),
        "{bad}"
    );
}

/// After a restart the volume counts of the minutes before this process counted are gone:
/// they are skipped and said, never sent as zeros.
#[tokio::test(start_paused = true)]
async fn volume_minutes_a_restart_lost_are_skipped_and_reported_not_zeroed() {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let clock = Clock::at(start);
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let service = service(table.clone());
    let health = HealthSource::new(TENANT, service.clone()).with_settings(HealthSourceSettings {
        volume_grace: secs(5),
        ..HealthSourceSettings::default()
    });
    let cx = SourceContext::new(
        "ucp-health",
        Arc::new(RateBudget::new(health.describe().budget, clock)),
        Context::standalone(
            TENANT,
            Arc::new(ucp_core::credentials::MemoryCredentials::new()),
            clock,
        )
        .unwrap(),
    );
    let collect = |cursor: Cursor| {
        health.collect(
            &cx,
            CollectRequest {
                stream: VOLUMES.into(),
                cursor,
                filter: None,
            },
        )
    };
    use ucp_core::health::{Component, HealthReporter, VolumeSample};
    let sample = |at: chrono::DateTime<Utc>, records: u64| VolumeSample {
        time: at,
        component: Component {
            tenant: TENANT.into(),
            connector: "okta".into(),
            product: None,
            stream: Some("events".into()),
        },
        records,
        bytes: records * 10,
    };
    // Nothing counted yet: nothing to say, the cursor stays.
    let previous_run = Cursor::new((start.timestamp() - 60).to_string());
    let page = collect(previous_run.clone()).await.unwrap();
    assert!(page.records.is_empty());
    assert_eq!(page.next, previous_run);

    // This process counts from 00:01:30; the previous one emitted up to 23:59.
    tokio::time::sleep(secs(90)).await;
    service.record_volume(sample(clock.now_utc(), 4));
    tokio::time::sleep(secs(60)).await;
    service.record_volume(sample(clock.now_utc(), 6));
    tokio::time::sleep(secs(60)).await; // 00:03:30
    let page = collect(previous_run).await.unwrap();
    let got: Vec<(i64, u64)> = page
        .records
        .iter()
        .map(|r| {
            let doc: Value = serde_json::from_slice(&r.payload).unwrap();
            (
                r.time.timestamp() - start.timestamp(),
                doc["records"].as_u64().unwrap(),
            )
        })
        .collect();
    // 00:00 and 00:01 are skipped (00:01 was only partly counted here); 00:02 has the 6.
    assert_eq!(got, [(120, 6)]);
    assert_eq!(
        page.next,
        Cursor::new((start.timestamp() + 120).to_string())
    );
    let report = rows_of(&table, TENANT).await;
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].status, Status::Warning);
    assert_eq!(report[0].stream.as_deref(), Some(VOLUMES));
    assert!(
        report[0].message.contains("not sent as zeros")
            && report[0].message.contains("2026-11-01 00:00:00")
            && report[0].message.contains("2026-11-01 00:02:00"),
        "{}",
        report[0].message
    );
    // A fresh stream would have started with the first minute counted, 00:01.
    let fresh = collect(Cursor::start()).await.unwrap();
    assert_eq!(
        fresh
            .records
            .first()
            .map(|r| r.time.timestamp() - start.timestamp()),
        Some(60)
    );
}
