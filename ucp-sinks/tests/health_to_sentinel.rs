//! The platform's health in Sentinel: a health source feeds the Logs Ingestion emulator
//! through the Sentinel sink (DCR stream `Custom-UcpHealth_CL`) while a connector fails and
//! recovers and a product fails once. The emulator's table holds exactly one row per
//! transition, in order, with the documented columns; the volumes stream's minutes add up
//! to what was collected and delivered.
//!
//! Real time (the emulator is HTTP over loopback): the platform clock starts 12 s before a
//! minute ends, so the run's volume counts usually fall in a minute that ends a few seconds
//! in (on a slow machine the test waits for the next minute's end).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::Value;
use ucp_core::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::{HealthService, HealthTable, MemoryHealthTable, Retention, Status};
use ucp_core::health_source::{HealthSource, HealthSourceSettings, HEALTH_EVENTS, VOLUMES};
use ucp_core::*;
use ucp_sinks::sentinel::health::HEALTH_EVENTS_DCR;
use ucp_sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp_testkit::azure::LogsIngestion;
use ucp_testkit::token_endpoint::TokenEndpoint;
use ucp_testkit::{EventLog, EventLogSource, Fault, RecordingSink, SinkBehaviour};

const TENANT: &str = "contoso";
const DCR: &str = "dcr-ucp-health";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls `done` every 100 ms for at most `within`.
async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(ms(100)).await;
    }
    done()
}

fn minute_of(time: DateTime<Utc>) -> i64 {
    time.timestamp().div_euclid(60) * 60
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_holds_one_row_per_transition_in_order_and_volumes_add_up() {
    let tokens = TokenEndpoint::start().await.unwrap();
    tokens.register_secret_client("ucp-app", "app-secret");
    let logs = LogsIngestion::start(tokens.verifier()).await.unwrap();
    logs.add_stream(DCR, HEALTH_EVENTS_DCR.stream);
    logs.grant(DCR, "ucp-app");
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new(TENANT, "entra"),
            Credential::ClientSecret {
                token_url: tokens.entra_token_url("contoso-directory"),
                client_id: "ucp-app".into(),
                secret: SecretString::from("app-secret".to_string()),
            },
        )
        .await
        .unwrap();
    let provider = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().unwrap(),
    )));
    let mut config = SentinelConfig::new(logs.url(), DCR, HEALTH_EVENTS_DCR.stream, "entra");
    config.product = "sentinel-health".into();
    config.mapping = HEALTH_EVENTS_DCR.mapping();
    config.gzip = true;
    let health_sink = SentinelSink::new(config, provider.clone());

    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 48).unwrap());
    let log = EventLog::new();
    log.generate(120, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let okta = EventLogSource::with_settings(
        "contoso",
        log.clone(),
        clock,
        ucp_testkit::EventLogSettings {
            page_size: 30,
            ..Default::default()
        },
    );
    let sentinel = RecordingSink::new("sentinel");
    let volume_sink = RecordingSink::new("volumes");
    let table = Arc::new(MemoryHealthTable::new(Retention::default()));
    let service = Arc::new(HealthService::builder().table(table.clone()).build());
    let health = HealthSource::new(TENANT, service.clone()).with_settings(HealthSourceSettings {
        echo_delay: ms(500),
        volume_grace: ms(1000),
        ..HealthSourceSettings::default()
    });

    // The connector fails (a 503, then a 401 later) and recovers; the product fails once.
    okta.inject([Fault::Unavailable]);
    sentinel.script([SinkBehaviour::Unavailable(Some(ms(200)))]);
    let every = ms(1000);
    let running = Platform::builder()
        .clock(clock)
        .credentials(credentials)
        .tokens(provider)
        .health(service.clone())
        .max_jitter(Duration::ZERO)
        .shutdown_timeout(Duration::from_secs(2))
        .tenant_source(TENANT, "okta", Arc::new(okta.clone()))
        .tenant_source(TENANT, "ucp-health", Arc::new(health))
        .tenant_sink(TENANT, "sentinel", Arc::new(sentinel.clone()))
        .tenant_sink(TENANT, "sentinel-health", Arc::new(health_sink.clone()))
        .tenant_sink(TENANT, "volumes", Arc::new(volume_sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta", "events").every(every))
        .subscribe(Subscription::new("sentinel-health", "ucp-health", HEALTH_EVENTS).every(ms(500)))
        .subscribe(Subscription::new("volumes", "ucp-health", VOLUMES).every(ms(1000)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    let collection = |status: Status| {
        let table = table.clone();
        async move {
            table
                .read_after(TENANT, 0, 10_000)
                .await
                .unwrap()
                .rows
                .iter()
                .filter(|r| r.connector == "okta" && r.product.is_none() && r.status == status)
                .count()
        }
    };
    // The 503: Warning, then Ok after two good pages.
    assert!(
        eventually(Duration::from_secs(15), || sentinel.ids().len()
            == log.len())
        .await
    );
    assert!(collection(Status::Warning).await >= 1);
    // The 401: Error, then Ok.
    okta.inject([Fault::Unauthorized]);
    log.generate(30, clock.now_utc());
    assert!(
        eventually(Duration::from_secs(15), || sentinel.ids().len()
            == log.len())
        .await
    );
    tokio::time::sleep(ms(1500)).await;
    assert!(collection(Status::Error).await >= 1);
    assert!(collection(Status::Ok).await >= 2);
    let last_delivery = clock.now_utc();

    // Every row reaches Sentinel (the echoes' page goes out after 500 ms), and the minute of
    // the last delivery ends and its volumes go out.
    let rows = || {
        let table = table.clone();
        async move { table.read_after(TENANT, 0, 10_000).await.unwrap().rows }
    };
    let wanted_minute = minute_of(last_delivery);
    let mut settled = false;
    for _ in 0..150 {
        let emitted = volume_sink.batches().iter().any(|(_, b)| {
            b.records
                .iter()
                .any(|r| r.id.as_str().ends_with(&format!("/{wanted_minute}")))
        });
        if emitted && logs.rows(DCR, HEALTH_EVENTS_DCR.stream).len() == rows().await.len() {
            settled = true;
            break;
        }
        tokio::time::sleep(ms(500)).await;
    }
    if !settled {
        let minutes: BTreeSet<String> = volume_sink
            .batches()
            .iter()
            .flat_map(|(_, b)| {
                b.records
                    .iter()
                    .map(|r| r.id.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let table_rows = rows().await;
        panic!(
            "rows and volumes did not go out: wanted minute {wanted_minute}, volume ids {minutes:?}; sentinel rows {} of {}: {:#?}; calls {:?}",
            logs.rows(DCR, HEALTH_EVENTS_DCR.stream).len(),
            table_rows.len(),
            table_rows.iter().map(|r| (r.seq, &r.connector, &r.product, &r.stream, r.status, &r.message)).collect::<Vec<_>>(),
            logs.calls().iter().map(|c| c.status).collect::<Vec<_>>(),
        );
    }
    running.shutdown().await.unwrap();

    let table_rows = rows().await;
    let sentinel_rows = logs.rows(DCR, HEALTH_EVENTS_DCR.stream);
    assert_eq!(
        sentinel_rows.len(),
        table_rows.len(),
        "one row per transition"
    );
    let columns: BTreeSet<&str> = HEALTH_EVENTS_DCR.column_names().into_iter().collect();
    for (got, want) in sentinel_rows.iter().zip(&table_rows) {
        let keys: BTreeSet<&str> = got
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, columns, "the documented columns: {got}");
        assert_eq!(got["Sequence"], want.seq, "in order");
        assert_eq!(got["RecordId"], format!("{TENANT}/health/{}", want.seq));
        assert_eq!(got["Tenant"], TENANT);
        assert_eq!(got["Connector"], want.connector);
        assert_eq!(got["Product"], serde_json::json!(want.product));
        assert_eq!(got["Stream"], serde_json::json!(want.stream));
        assert_eq!(got["Kind"], want.kind.as_str());
        assert_eq!(got["Status"], want.status.as_str());
        assert_eq!(
            got["PreviousStatus"],
            serde_json::json!(want.previous.map(|p| p.as_str()))
        );
        assert_eq!(got["Message"], want.message);
        let time = DateTime::parse_from_rfc3339(got["TimeGenerated"].as_str().unwrap()).unwrap();
        // The sink writes TimeGenerated to the millisecond.
        assert_eq!(time.timestamp_millis(), want.time.timestamp_millis());
    }
    let okta_rows: Vec<(&str, &str)> = sentinel_rows
        .iter()
        .filter(|r| r["Connector"] == "okta" && r["Product"].is_null())
        .map(|r| (r["Status"].as_str().unwrap(), r["Kind"].as_str().unwrap()))
        .collect();
    // The connector's failures and recoveries, in order (a slow machine may add a
    // staleness Warning between them: that is a transition too, and in the table).
    let scenario = [
        ("Warning", "Collection"),
        ("Ok", "Collection"),
        ("Error", "Auth"),
        ("Ok", "Collection"),
    ];
    let mut rest = okta_rows.iter();
    for step in scenario {
        assert!(
            rest.any(|row| *row == step),
            "{step:?} missing in order: {okta_rows:?}"
        );
    }
    let auth = sentinel_rows.iter().find(|r| r["Kind"] == "Auth").unwrap();
    assert!(
        auth["WhatToDo"]
            .as_str()
            .is_some_and(|w| w.contains("credential")),
        "{auth}"
    );
    assert!(sentinel_rows
        .iter()
        .any(|r| r["Product"] == "sentinel" && r["Status"] == "Warning"));

    // The volumes: every minute up to the last delivery's, summed per series.
    let mut collected = 0;
    let mut delivered = 0;
    for (_, batch) in volume_sink.batches() {
        for record in batch.records.iter() {
            let doc: Value = serde_json::from_slice(&record.payload).unwrap();
            if doc["connector"] != "okta" {
                continue;
            }
            let records = doc["records"].as_u64().unwrap();
            match doc["product"].as_str() {
                None => collected += records,
                Some("sentinel") => delivered += records,
                Some(other) => panic!("unexpected product {other}"),
            }
        }
    }
    assert_eq!(collected, log.len() as u64);
    assert_eq!(delivered, sentinel.ids().len() as u64);
}
