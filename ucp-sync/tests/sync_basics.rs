//! The incident sync, cycle by cycle, against both simulators over loopback: twins made once
//! (even by a sync that lost its ledger), changes both ways with no echo, one-way fields put
//! back and reported once, conflicts resolved by the side changed last and audited, comments
//! copied once each way within Sentinel's limits, merges closing the twin, and the creation
//! rules turned off (or, with the opt-out, the duplicates they make).

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::checker::check;
use support::*;
use ucp_core::health::{HealthService, Status};
use ucp_sync::{twin_id, Ledger, SyncConfig, PROVIDER_NAME};
use ucp_testkit::graph::{GraphSimConfig, IncidentEdit, TENANT_ID};
use ucp_testkit::sentinel::{IncidentChange, IngestedAlert, Role, SentinelSimConfig};

fn sentinel_writes(lab: &Lab) -> usize {
    lab.sentinel.writes().len()
}

async fn quiet(sync: &ucp_sync::IncidentSync) {
    for _ in 0..2 {
        let cycle = sync.cycle().await.expect("a cycle");
        assert_eq!(cycle.writes, 0, "a quiet cycle writes nothing: {cycle:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_xdr_incident_gets_exactly_one_twin_even_without_the_ledger() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(20).alerts(60),
        SentinelSimConfig::default(),
    )
    .await;
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    let cycle = sync.cycle().await.unwrap();
    assert_eq!(cycle.reconciled, 20);
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    assert_eq!(verdict.compared, 20);
    let first = &lab.graph.incidents()[0];
    let id = first["id"].as_str().unwrap();
    let twin = lab
        .sentinel
        .incident(&twin_id(TENANT_ID, id))
        .expect("the twin's id comes from XDR's");
    assert_eq!(twin["properties"]["providerName"], PROVIDER_NAME);
    assert_eq!(twin["properties"]["providerIncidentId"], id);
    assert_eq!(sync.stats().await.incidents_created, 20);
    quiet(&sync).await;

    // A sync that lost its ledger finds the twins again: no second incident, nothing written.
    let writes = sentinel_writes(&lab);
    let amnesiac = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    amnesiac.cycle().await.unwrap();
    assert_eq!(lab.sentinel.incidents().len(), 20);
    assert_eq!(
        sentinel_writes(&lab),
        writes,
        "every twin already held XDR's values"
    );
    assert_eq!(amnesiac.stats().await.incidents_created, 0);
}

#[tokio::test(start_paused = true)]
async fn changes_flow_both_ways_and_never_come_back() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(5).alerts(10),
        SentinelSimConfig::default(),
    )
    .await;
    let health = Arc::new(HealthService::builder().build());
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await
        .with_health(health.clone());
    let from = lab.clock.now_utc();
    sync.cycle().await.unwrap();
    let ids: Vec<String> = lab
        .graph
        .incident_versions()
        .into_iter()
        .map(|(i, _)| i)
        .collect();

    // XDR: renamed, in progress, a new alert.
    lab.graph.advance(Duration::from_secs(10));
    assert!(lab.graph.edit_incident(
        &ids[0],
        "ann@contoso.com",
        IncidentEdit {
            title: Some("Ransomware on the finance laptops".into()),
            severity: Some("high".into()),
            ..IncidentEdit::default()
        }
    ));
    assert!(lab.graph.advance_status(&ids[1]));
    lab.graph.add_alert(&ids[2]).unwrap();
    // Sentinel: owner, labels, closed as a false positive.
    let twin = |id: &str| twin_id(TENANT_ID, id);
    assert!(lab.sentinel.edit_incident(
        &twin(&ids[3]),
        "bob@contoso.com",
        IncidentChange {
            owner: Some(Some("bob@contoso.com".into())),
            labels: Some(vec!["vip".into(), "finance".into()]),
            ..IncidentChange::default()
        }
    ));
    assert!(lab.sentinel.edit_incident(
        &twin(&ids[4]),
        "bob@contoso.com",
        IncidentChange {
            status: Some("Closed".into()),
            classification: Some(("FalsePositive".into(), Some("InaccurateData".into()))),
            ..IncidentChange::default()
        }
    ));
    let graph_writes = lab.graph.writes().len();
    let cycle = sync.cycle().await.unwrap();
    assert_eq!(cycle.xdr_changed, 3);
    assert_eq!(cycle.sentinel_changed, 2);
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    let x3 = lab.graph.incident(&ids[3]).unwrap();
    assert_eq!(x3["assignedTo"], "bob@contoso.com");
    assert_eq!(x3["customTags"], serde_json::json!(["finance", "vip"]));
    let x4 = lab.graph.incident(&ids[4]).unwrap();
    assert_eq!(
        (
            x4["status"].as_str(),
            x4["classification"].as_str(),
            x4["determination"].as_str()
        ),
        (
            Some("resolved"),
            Some("falsePositive"),
            Some("notEnoughDataToValidate")
        )
    );
    assert_eq!(
        lab.graph.writes().len() - graph_writes,
        2,
        "one PATCH per incident"
    );
    assert!(
        lab.graph.writes().iter().all(|w| !w.changed.is_empty()),
        "no empty write"
    );
    assert!(
        lab.sentinel.writes().iter().all(|w| !w.changed.is_empty()),
        "no empty write"
    );
    let stats = sync.stats().await;
    assert_eq!(
        stats.changes_to_xdr, 4,
        "owner, tags, status, classification"
    );
    // Volumes of synced changes per direction, in the health service.
    let volumes = health
        .volumes()
        .query(
            &ucp_core::health::VolumeQuery::collected(
                TENANT,
                "sync",
                ucp_core::health::BinSize::Hour,
                from - chrono::Duration::hours(1),
                lab.clock.now_utc() + chrono::Duration::hours(1),
            )
            .delivered_to("sentinel"),
        )
        .unwrap();
    let total = |stream: &str| {
        volumes
            .iter()
            .filter(|v| v.key.stream.as_deref() == Some(stream))
            .map(|v| v.total_records())
            .sum::<u64>()
    };
    assert_eq!(total("xdr-to-sentinel"), stats.changes_to_sentinel);
    assert_eq!(total("sentinel-to-xdr"), 4);
    // The sync's own writes come back on both sides' next polls: nothing is echoed.
    quiet(&sync).await;
}

#[tokio::test(start_paused = true)]
async fn a_sentinel_edit_of_a_one_way_field_is_put_back_and_reported_once() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(2).alerts(2),
        SentinelSimConfig::default(),
    )
    .await;
    let health = Arc::new(HealthService::builder().build());
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await
        .with_health(health.clone());
    sync.cycle().await.unwrap();
    let id = lab.graph.incident_versions()[0].0.clone();
    let twin = twin_id(TENANT_ID, &id);
    let title = lab.graph.incident(&id).unwrap()["displayName"].clone();
    for round in 0..2 {
        assert!(lab.sentinel.edit_incident(
            &twin,
            "bob@contoso.com",
            IncidentChange {
                title: Some(format!("my own title {round}")),
                ..IncidentChange::default()
            }
        ));
        sync.cycle().await.unwrap();
        assert_eq!(
            lab.sentinel.incident(&twin).unwrap()["properties"]["title"],
            title
        );
    }
    let warnings: Vec<String> = sync
        .last_messages()
        .await
        .into_iter()
        .filter(|(_, _, m)| m.contains("cannot take from Sentinel"))
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(warnings.len(), 1, "once per incident: {warnings:?}");
    assert!(warnings[0].contains(&id) && warnings[0].contains("title"));
    assert_eq!(sync.status().await, Status::Warning);
    assert_eq!(sync.ledger().audit_trail(Some("one-way")).unwrap().len(), 2);
    assert!(lab.graph.writes().is_empty(), "XDR was not written");
    quiet(&sync).await;
}

#[tokio::test(start_paused = true)]
async fn concurrent_edits_of_one_field_go_to_the_side_changed_last() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(2).alerts(2),
        SentinelSimConfig::default(),
    )
    .await;
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    sync.cycle().await.unwrap();
    let ids: Vec<String> = lab
        .graph
        .incident_versions()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let twin = |id: &str| twin_id(TENANT_ID, id);
    let owner = |who: &str| IncidentChange {
        owner: Some(Some(who.into())),
        ..IncidentChange::default()
    };
    let assign = |who: &str| IncidentEdit {
        assigned_to: Some(Some(who.into())),
        ..IncidentEdit::default()
    };
    // Incident 0: XDR first, Sentinel later → Sentinel wins.
    lab.graph.advance(Duration::from_secs(5));
    lab.sentinel.advance(Duration::from_secs(5));
    lab.graph
        .edit_incident(&ids[0], "ann@contoso.com", assign("ann@contoso.com"));
    lab.graph.advance(Duration::from_secs(5));
    lab.sentinel.advance(Duration::from_secs(5));
    lab.sentinel
        .edit_incident(&twin(&ids[0]), "bob@contoso.com", owner("bob@contoso.com"));
    // Incident 1: Sentinel first, XDR later → XDR wins.
    lab.sentinel
        .edit_incident(&twin(&ids[1]), "bob@contoso.com", owner("bob@contoso.com"));
    lab.graph.advance(Duration::from_secs(5));
    lab.sentinel.advance(Duration::from_secs(5));
    lab.graph
        .edit_incident(&ids[1], "ann@contoso.com", assign("ann@contoso.com"));
    sync.cycle().await.unwrap();
    assert_eq!(
        lab.graph.incident(&ids[0]).unwrap()["assignedTo"],
        "bob@contoso.com"
    );
    assert_eq!(
        lab.sentinel.incident(&twin(&ids[1])).unwrap()["properties"]["owner"]["userPrincipalName"],
        "ann@contoso.com"
    );
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    let conflicts = sync.ledger().audit_trail(Some("conflict")).unwrap();
    assert_eq!(conflicts.len(), 2);
    assert!(conflicts
        .iter()
        .any(|c| c.xdr_id == ids[0] && c.detail.starts_with("Sentinel won")));
    assert!(conflicts
        .iter()
        .any(|c| c.xdr_id == ids[1] && c.detail.starts_with("Defender XDR won")));
    assert_eq!(sync.stats().await.conflicts, 2);
    quiet(&sync).await;
}

#[tokio::test(start_paused = true)]
async fn comments_are_copied_once_each_way_within_sentinels_limits() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(2).alerts(2),
        SentinelSimConfig::default().limits(100_000, 100_000),
    )
    .await;
    let arm = ucp_sync::sentinel::ArmLimits {
        writes_per_hour: 100_000,
        ..ucp_sync::sentinel::ArmLimits::DEFAULT
    };
    let sync = lab
        .sync_with(
            SyncConfig::new("sync"),
            Ledger::in_memory().unwrap(),
            ucp_sources::defender::GraphLimits::SECURITY,
            arm,
        )
        .await;
    let ids: Vec<String> = lab
        .graph
        .incident_versions()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert!(lab
        .graph
        .comment_on_incident(&ids[0], "ann@contoso.com", "Isolated wks-0142."));
    sync.cycle().await.unwrap();
    let twin = twin_id(TENANT_ID, &ids[0]);
    let copies = lab.sentinel.comments(&twin);
    assert_eq!(copies.len(), 1);
    let message = copies[0]["properties"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Isolated wks-0142.\n\n— ann@contoso.com in Microsoft Defender XDR, "),
        "{message}"
    );
    lab.sentinel
        .comment_on_incident(&twin, "bob@contoso.com", "Reset the user's password.")
        .unwrap();
    sync.cycle().await.unwrap();
    let xdr_comments = lab.graph.incident(&ids[0]).unwrap()["comments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(xdr_comments.len(), 2);
    assert!(xdr_comments[1]["comment"]
        .as_str()
        .unwrap()
        .starts_with("Reset the user's password.\n\n— bob@contoso.com in Microsoft Sentinel, "));
    quiet(&sync).await;
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    assert_eq!(
        (verdict.comments_to_sentinel, verdict.comments_to_xdr),
        (1, 1)
    );

    // Past Sentinel's hundred comments: skipped, reported once, never retried.
    for n in 0..105 {
        lab.graph
            .comment_on_incident(&ids[1], "ann@contoso.com", &format!("note {n}"));
    }
    lab.graph
        .comment_on_incident(&ids[0], "ann@contoso.com", &"long ".repeat(7_000));
    sync.cycle().await.unwrap();
    assert_eq!(
        lab.sentinel.comments(&twin_id(TENANT_ID, &ids[1])).len(),
        100
    );
    let long = lab.sentinel.comments(&twin);
    assert!(long[2]["properties"]["message"]
        .as_str()
        .unwrap()
        .contains("more characters in the original"));
    let messages: Vec<String> = sync
        .last_messages()
        .await
        .into_iter()
        .map(|(_, _, m)| m)
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("more comments than the 100")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("was cut")),
        "{messages:?}"
    );
    assert_eq!(sync.stats().await.comments_skipped, 5);
    let writes = sentinel_writes(&lab);
    lab.graph
        .comment_on_incident(&ids[1], "ann@contoso.com", "one more");
    sync.cycle().await.unwrap();
    assert_eq!(
        sentinel_writes(&lab),
        writes,
        "a skipped comment is not tried again"
    );
    assert_eq!(sync.stats().await.comments_skipped, 6);
}

#[tokio::test(start_paused = true)]
async fn a_merged_incident_closes_its_twin_pointing_at_the_survivor() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(3).alerts(6),
        SentinelSimConfig::default(),
    )
    .await;
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    sync.cycle().await.unwrap();
    let ids: Vec<String> = lab
        .graph
        .incident_versions()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert!(lab.graph.merge(&ids[0], &ids[1]));
    sync.cycle().await.unwrap();
    let closed = lab.sentinel.incident(&twin_id(TENANT_ID, &ids[0])).unwrap();
    let p = &closed["properties"];
    assert_eq!(p["status"], "Closed");
    assert!(p["labels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["labelName"] == "redirected"));
    assert!(p["classificationComment"]
        .as_str()
        .unwrap()
        .contains(&format!("/incidents/{}", ids[1])));
    let survivor = lab.sentinel.incident(&twin_id(TENANT_ID, &ids[1])).unwrap();
    assert_eq!(
        survivor["properties"]["additionalData"]["alertsCount"], 4,
        "the alerts moved"
    );
    // Reopening the merged twin in Sentinel cannot reach XDR: it is put back.
    lab.sentinel.edit_incident(
        &twin_id(TENANT_ID, &ids[0]),
        "bob@contoso.com",
        IncidentChange {
            status: Some("Active".into()),
            ..IncidentChange::default()
        },
    );
    sync.cycle().await.unwrap();
    assert_eq!(
        lab.sentinel.incident(&twin_id(TENANT_ID, &ids[0])).unwrap()["properties"]["status"],
        "Closed"
    );
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    quiet(&sync).await;
}

/// Every XDR alert reaches the workspace, as the connector's alert stream makes it.
fn ingest_alerts(lab: &Lab) {
    for incident in lab.graph.incidents() {
        for alert in incident["alerts"].as_array().into_iter().flatten() {
            lab.sentinel.ingest_alert(&IngestedAlert {
                product: ucp_sync::mapping::product_name(alert["serviceSource"].as_str().unwrap()),
                alert_id: alert["id"].as_str().unwrap().into(),
                title: alert["title"].as_str().unwrap().into(),
                severity: "Medium".into(),
            });
        }
    }
}

fn creation_rules(lab: &Lab) {
    for (id, product) in [
        ("mde", "Microsoft Defender Advanced Threat Protection"),
        ("mdi", "Azure Advanced Threat Protection"),
        ("mdo", "Office 365 Advanced Threat Protection"),
        ("mdca", "Microsoft Cloud App Security"),
        ("aadip", "Azure Active Directory Identity Protection"),
        ("asc", "Azure Security Center"),
    ] {
        lab.sentinel.add_creation_rule(id, product, true);
    }
}

#[tokio::test(start_paused = true)]
async fn creation_rules_are_turned_off_by_default_so_no_alert_makes_a_second_incident() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(10).alerts(40),
        SentinelSimConfig::default(),
    )
    .await;
    creation_rules(&lab);
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    let connected = sync.connect().await.unwrap();
    assert_eq!(connected.disabled.len(), 5, "{connected:?}");
    let asc = lab
        .sentinel
        .alert_rules()
        .into_iter()
        .find(|r| r["name"] == "asc")
        .unwrap();
    assert_eq!(
        asc["properties"]["enabled"], true,
        "a product XDR does not cover keeps its rule"
    );
    sync.cycle().await.unwrap();
    ingest_alerts(&lab);
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    assert_eq!(verdict.other_incidents, 0, "no duplicate incident");
    assert_eq!(sync.ledger().disabled_rules().unwrap().len(), 5);
    assert_eq!(sync.status().await, Status::Ok);
}

#[tokio::test(start_paused = true)]
async fn with_the_opt_out_the_rules_stay_on_and_duplicates_appear_as_health_warns() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(10).alerts(40),
        SentinelSimConfig::default(),
    )
    .await;
    creation_rules(&lab);
    let health = Arc::new(HealthService::builder().build());
    let sync = lab
        .sync(
            SyncConfig::new("sync").keep_creation_rules(),
            Ledger::in_memory().unwrap(),
        )
        .await
        .with_health(health.clone());
    let connected = sync.connect().await.unwrap();
    assert_eq!(connected.left_on.len(), 5);
    sync.cycle().await.unwrap();
    ingest_alerts(&lab);
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert_eq!(verdict.compared, 10);
    assert_eq!(
        verdict.other_incidents, 40,
        "every alert made a second incident"
    );
    assert_eq!(sync.status().await, Status::Warning);
    let rows = health
        .table()
        .query(&ucp_core::health::HealthQuery::new().connector("sync"))
        .await
        .unwrap();
    assert!(
        rows[0].message.contains("duplicate incidents are expected"),
        "{}",
        rows[0].message
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_role_is_an_error_naming_it() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(2),
        SentinelSimConfig::default(),
    )
    .await;
    lab.sentinel
        .add_creation_rule("mde", "Microsoft Defender Advanced Threat Protection", true);
    lab.sentinel.grant(CLIENT_ID, Role::Responder);
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    assert!(sync.connect().await.is_err());
    assert_eq!(sync.status().await, Status::Error);
    sync.cycle().await.unwrap();
    assert_eq!(
        sync.status().await,
        Status::Error,
        "until the rules are off"
    );
    let last = sync.last_messages().await.pop().unwrap().2;
    assert!(last.contains("Microsoft Sentinel Contributor"), "{last}");
    assert_eq!(
        lab.sentinel.incidents().len(),
        2,
        "incidents sync meanwhile"
    );
    lab.sentinel.revoke(CLIENT_ID);
    assert!(sync.cycle().await.is_err());
    let last = sync.last_messages().await.pop().unwrap().2;
    assert!(last.contains("Microsoft Sentinel Reader"), "{last}");
}

#[tokio::test(start_paused = true)]
async fn no_secret_reaches_logs_health_metrics_or_the_audit() {
    let capture = ucp_testkit::leak::TraceCapture::new();
    let _guard = capture.set_default();
    let lab = Lab::start(
        GraphSimConfig::default().incidents(5).alerts(10),
        SentinelSimConfig::default(),
    )
    .await;
    lab.sentinel
        .add_creation_rule("mde", "Microsoft Defender Advanced Threat Protection", true);
    let health = Arc::new(HealthService::builder().build());
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await
        .with_health(health.clone());
    sync.connect().await.unwrap();
    let id = lab.graph.incident_versions()[0].0.clone();
    lab.sentinel.edit_incident(
        &twin_id(TENANT_ID, &id),
        "bob@contoso.com",
        IncidentChange {
            title: Some("renamed".into()),
            ..IncidentChange::default()
        },
    );
    sync.cycle().await.unwrap();
    sync.cycle().await.unwrap();
    // And a refused call: the sync's messages quote the provider's refusal.
    lab.sentinel.revoke(CLIENT_ID);
    let _ = sync.cycle().await;

    let mut scanner = ucp_testkit::leak::LeakScanner::new();
    scanner.secret("client secret", SECRET);
    for (n, token) in lab.graph.tokens().issued_tokens().iter().enumerate() {
        scanner.secret(format!("access token {n}"), token);
    }
    scanner.scan("logs", &capture.text());
    for (_, _, message) in sync.last_messages().await {
        scanner.scan("health message", &message);
    }
    let rows = health
        .table()
        .query(&ucp_core::health::HealthQuery::new())
        .await
        .unwrap();
    for row in rows {
        scanner.scan("health row", &row.message);
    }
    scanner.scan("metrics", &sync.metrics().encode());
    for entry in sync.ledger().audit_trail(None).unwrap() {
        scanner.scan("audit", &format!("{entry:?}"));
    }
    scanner.scan_debug("the sync", &sync);
    scanner.scan_debug("stats", &sync.stats().await);
    assert!(scanner.scanned() > 5);
    scanner.assert_clean();
}

#[tokio::test(start_paused = true)]
async fn an_xdr_change_made_while_the_sync_updates_xdr_is_not_lost() {
    let lab = Lab::start(
        GraphSimConfig::default().incidents(2).alerts(2),
        SentinelSimConfig::default(),
    )
    .await;
    let sync = lab
        .sync(SyncConfig::new("sync"), Ledger::in_memory().unwrap())
        .await;
    sync.cycle().await.unwrap();
    let id = lab.graph.incident_versions()[0].0.clone();
    // A Sentinel owner change makes the sync update XDR; a person renames the incident in
    // the Defender portal just before that update lands. The update's answer is a version
    // holding the rename, which the sync never read.
    lab.sentinel.edit_incident(
        &twin_id(TENANT_ID, &id),
        "bob@contoso.com",
        IncidentChange {
            owner: Some(Some("bob@contoso.com".into())),
            ..IncidentChange::default()
        },
    );
    lab.graph.edit_before_next_update(
        &id,
        "ann@contoso.com",
        IncidentEdit {
            title: Some("Renamed while the sync wrote".into()),
            ..IncidentEdit::default()
        },
    );
    sync.cycle().await.unwrap();
    assert_eq!(
        lab.graph.incident(&id).unwrap()["assignedTo"],
        "bob@contoso.com"
    );
    sync.cycle().await.unwrap();
    assert_eq!(
        lab.sentinel.incident(&twin_id(TENANT_ID, &id)).unwrap()["properties"]["title"],
        "Renamed while the sync wrote"
    );
    let verdict = check(&lab.graph, &lab.sentinel, CLIENT_ID);
    assert!(verdict.agree(), "{}", verdict.summary());
    quiet(&sync).await;
}
