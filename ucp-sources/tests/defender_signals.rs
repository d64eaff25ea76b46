//! Incidents and alerts against the simulated Graph security API over loopback: a backlog
//! read once across a restart, every later version once and no unchanged item again,
//! merges, the permission errors, throttling and token refresh.

mod defender_support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use defender_support::*;
use serde_json::Value;
use ucp_core::{Cursor, Source, SourceError};
use ucp_sources::defender::{DefenderSource, MdiAlertsSource, ALERTS, INCIDENTS};
use ucp_testkit::graph::{Endpoint, GraphSimConfig, Limits};

fn versions(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeSet<String> {
    pairs
        .into_iter()
        .map(|(id, t)| format!("{id}@{t}"))
        .collect()
}

#[tokio::test]
async fn a_backlog_is_read_once_across_a_restart_then_only_new_versions() {
    let sim = tenant(
        GraphSimConfig::default().incidents(300).alerts(1_500),
        ALL_ROLES,
    )
    .await;
    let config = config(&sim).pages(50, 200);

    // First process: two pages of incidents, then only the cursor survives.
    let (mut read, saved) = {
        let source = DefenderSource::new(config.clone()).unwrap();
        let cx = context(&source, credential(&sim, SECRET), false).await;
        let mut cursor = Cursor::start();
        let mut read = Vec::new();
        for _ in 0..2 {
            let page = collect(&source, &cx, INCIDENTS, &cursor).await.unwrap();
            assert!(page.more);
            assert_eq!(page.records.len(), 50);
            read.extend(page.records);
            cursor = page.next;
        }
        (read, cursor)
    };
    let source = DefenderSource::new(config).unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    let (rest, cursor, pages) = round(&source, &cx, INCIDENTS, saved).await;
    assert_eq!(pages, 4);
    read.extend(rest);
    let got: BTreeSet<String> = ids(&read).into_iter().collect();
    assert_eq!(got.len(), read.len(), "no version twice");
    assert_eq!(got, versions(sim.incident_versions()));

    // Each incident carries its alerts; the record is the item as Graph sent it.
    let alerts_in_incidents: usize = read
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.payload).unwrap();
            v["alerts"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(alerts_in_incidents, 1_500);

    // Nothing changed: the next round delivers nothing.
    let (again, cursor, _) = round(&source, &cx, INCIDENTS, cursor).await;
    assert!(again.is_empty(), "{:?}", ids(&again));

    // Three kinds of change: a status, a new alert, a merge.
    let incidents = sim.incident_versions();
    let (a, b, c, d) = (
        &incidents[10].0,
        &incidents[20].0,
        &incidents[30].0,
        &incidents[40].0,
    );
    assert!(sim.advance_status(a));
    sim.add_alert(b).unwrap();
    assert!(sim.merge(c, d));
    let (changed, cursor, _) = round(&source, &cx, INCIDENTS, cursor).await;
    let now: HashMap<String, String> = sim.incident_versions().into_iter().collect();
    let expected: BTreeSet<String> = [a, b, c, d]
        .iter()
        .map(|id| format!("{id}@{}", now[*id]))
        .collect();
    assert_eq!(ids(&changed).into_iter().collect::<BTreeSet<_>>(), expected);
    let merged: Value = changed
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.payload).unwrap())
        .find(|v| v["id"] == c.as_str())
        .unwrap();
    assert_eq!(merged["status"], "redirected");
    assert_eq!(merged["redirectIncidentId"], d.as_str());

    // Updated twice: two versions, each once.
    assert!(sim.advance_status(a));
    let (second, _, _) = round(&source, &cx, INCIDENTS, cursor).await;
    assert_eq!(
        ids(&second),
        [format!(
            "{a}@{}",
            sim.incident_versions()
                .into_iter()
                .find(|(i, _)| i == a)
                .unwrap()
                .1
        )]
    );
}

#[tokio::test]
async fn alerts_and_the_mdi_component_read_the_same_versions() {
    let sim = tenant(
        GraphSimConfig::default().incidents(100).alerts(900),
        ALL_ROLES,
    )
    .await;
    let source = DefenderSource::new(config(&sim).pages(50, 250)).unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    let (alerts, cursor, pages) = round(&source, &cx, ALERTS, Cursor::start()).await;
    assert_eq!(pages, 4);
    let all: Vec<(String, String, String)> = sim.alert_versions();
    assert_eq!(
        ids(&alerts).into_iter().collect::<BTreeSet<_>>(),
        versions(all.iter().map(|(i, t, _)| (i.clone(), t.clone())))
    );
    assert_eq!(alerts.len(), 900);

    let mdi = MdiAlertsSource::new(config(&sim)).unwrap();
    assert_eq!(
        mdi.describe().budget.key,
        source.describe().budget.key,
        "one quota, one budget"
    );
    let mdi_cx = context(&mdi, credential(&sim, SECRET), false).await;
    let (identity, _, _) = round(&mdi, &mdi_cx, ALERTS, Cursor::start()).await;
    let expected = versions(
        all.iter()
            .filter(|(_, _, source)| source == "microsoftDefenderForIdentity")
            .map(|(i, t, _)| (i.clone(), t.clone())),
    );
    assert!(!expected.is_empty());
    assert_eq!(
        ids(&identity).into_iter().collect::<BTreeSet<_>>(),
        expected
    );

    // A merge moves the merged incident's alerts: each becomes a new version.
    let incidents = sim.incident_versions();
    let moved = all.iter().filter(|(id, _, _)| {
        let v: Value = serde_json::from_slice(
            &alerts
                .iter()
                .find(|r| r.id.as_str().starts_with(id.as_str()))
                .unwrap()
                .payload,
        )
        .unwrap();
        v["incidentId"] == incidents[5].0.as_str()
    });
    let moved: BTreeSet<String> = moved.map(|(id, _, _)| id.clone()).collect();
    assert!(sim.merge(&incidents[5].0, &incidents[6].0));
    let (after, _, _) = round(&source, &cx, ALERTS, cursor).await;
    let after_ids: BTreeSet<String> = after
        .iter()
        .map(|r| r.id.as_str().split('@').next().unwrap().to_string())
        .collect();
    assert_eq!(after_ids, moved);
}

#[tokio::test]
async fn missing_application_roles_are_an_auth_error_naming_what_to_grant() {
    let sim = tenant(
        GraphSimConfig::default().incidents(3).alerts(3),
        &["ThreatHunting.Read.All"],
    )
    .await;
    let source = DefenderSource::new(config(&sim)).unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    match collect(&source, &cx, INCIDENTS, &Cursor::start()).await {
        Err(SourceError::Auth { message }) => {
            assert!(message.contains("SecurityIncident.Read.All"), "{message}");
            assert!(message.contains("Missing application roles"), "{message}");
            assert!(message.contains(CREDENTIAL), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match collect(&source, &cx, ALERTS, &Cursor::start()).await {
        Err(SourceError::Auth { message }) => {
            assert!(message.contains("SecurityAlert.Read.All"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.counts().forbidden, 2);
    // Granting the permission is all it takes.
    sim.grant(CLIENT_ID, &["SecurityIncident.Read.All"]);
    assert_eq!(
        collect(&source, &cx, INCIDENTS, &Cursor::start())
            .await
            .unwrap()
            .records
            .len(),
        3
    );
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_error_and_a_revoked_token_is_replaced_once() {
    let sim = tenant(GraphSimConfig::default().incidents(3).alerts(3), ALL_ROLES).await;
    let source = DefenderSource::new(config(&sim)).unwrap();
    let bad = context(&source, credential(&sim, "not-the-secret"), false).await;
    assert!(matches!(
        collect(&source, &bad, INCIDENTS, &Cursor::start()).await,
        Err(SourceError::Auth { .. })
    ));
    assert_eq!(
        sim.counts().requests.get(&Endpoint::Incidents),
        None,
        "no token, no call to Graph"
    );

    let cx = context(&source, credential(&sim, SECRET), false).await;
    collect(&source, &cx, INCIDENTS, &Cursor::start())
        .await
        .unwrap();
    let tokens = sim.tokens().token_requests();
    sim.tokens().revoke_all();
    let page = collect(&source, &cx, INCIDENTS, &Cursor::start())
        .await
        .unwrap();
    assert_eq!(page.records.len(), 3);
    assert_eq!(sim.tokens().token_requests(), tokens + 1);
    assert_eq!(sim.counts().unauthorized, 1);
}

#[tokio::test]
async fn a_throttled_call_is_rate_limited_with_graphs_retry_after() {
    let limits = Limits {
        per_minute: 2,
        per_hour: 100,
    };
    let sim = tenant(
        GraphSimConfig::default()
            .incidents(3)
            .alerts(3)
            .security_limits(limits),
        ALL_ROLES,
    )
    .await;
    let source = DefenderSource::new(config(&sim)).unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    for _ in 0..2 {
        collect(&source, &cx, INCIDENTS, &Cursor::start())
            .await
            .unwrap();
    }
    match collect(&source, &cx, ALERTS, &Cursor::start()).await {
        Err(SourceError::RateLimited { hint, message }) => {
            let wait = hint.retry_after.expect("Retry-After read");
            assert!(
                wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
                "{wait:?}"
            );
            assert!(message.contains("TooManyRequests"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.counts().throttled, 1);
}

#[tokio::test]
async fn a_stream_can_start_at_a_time() {
    let sim = tenant(
        GraphSimConfig::default().incidents(200).alerts(200),
        ALL_ROLES,
    )
    .await;
    let source = DefenderSource::new(config(&sim).overlap(Duration::ZERO)).unwrap();
    let cx = context(&source, credential(&sim, SECRET), false).await;
    let since = sim.now() - chrono::Duration::days(1);
    let cursor = source.cursor_at(INCIDENTS, since).unwrap();
    let (records, _, _) = round(&source, &cx, INCIDENTS, cursor).await;
    let expected = sim
        .incident_versions()
        .into_iter()
        .filter(|(_, t)| chrono::DateTime::parse_from_rfc3339(t).unwrap() >= since)
        .count();
    assert!(expected > 0 && expected < 200);
    assert_eq!(records.len(), expected);
    assert!(source.cursor_at("DeviceEvents", since).is_err());
}
