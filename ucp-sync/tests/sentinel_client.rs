//! The Sentinel incidents client against the simulated workspace over loopback: incidents
//! made, read and listed by change; an update over a stale etag merged again (a person's
//! concurrent change kept, never overwritten), and given up after its bound; comments within
//! Sentinel's limits; alert rules turned off with their etag; ARM's 429 with `Retry-After`;
//! a missing Azure role named; the api-version sent.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;
use ucp_core::SourceError;
use ucp_sync::sentinel::{IncidentProperties, Label, Updated, API_VERSION};
use ucp_testkit::graph::GraphSimConfig;
use ucp_testkit::sentinel::{IncidentChange, Role, SentinelSimConfig};

fn props(title: &str) -> IncidentProperties {
    IncidentProperties {
        title: Some(title.into()),
        severity: Some("Medium".into()),
        status: Some("New".into()),
        classification: Some("Undetermined".into()),
        labels: vec![Label::user("phishing")],
        ..IncidentProperties::default()
    }
}

#[tokio::test(start_paused = true)]
async fn incidents_are_made_read_and_listed_by_change() {
    let lab = Lab::start(GraphSimConfig::default(), SentinelSimConfig::default()).await;
    let cx = lab.context().await;
    let client = lab.client();
    let before = lab.clock.now_utc() - chrono::Duration::seconds(1);
    let made = client
        .put(&cx, "inc-a", &props("A"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(made.properties.title.as_deref(), Some("A"));
    assert!(made.etag.is_some());
    assert_eq!(
        made.system_data
            .as_ref()
            .and_then(|s| s.last_modified_by_type.as_deref()),
        Some("Application")
    );
    client
        .put(&cx, "inc-b", &props("B"), None)
        .await
        .unwrap()
        .unwrap();
    assert!(client.get(&cx, "missing").await.unwrap().is_none());
    let page = client.changed_since(&cx, before, None).await.unwrap();
    let names: Vec<_> = page.incidents.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["inc-a", "inc-b"], "oldest change first");
    // A person's change moves the incident to the end.
    lab.sentinel.advance(Duration::from_secs(5));
    assert!(lab.sentinel.edit_incident(
        "inc-a",
        "bob@contoso.com",
        IncidentChange {
            status: Some("Active".into()),
            ..IncidentChange::default()
        }
    ));
    let page = client.changed_since(&cx, before, None).await.unwrap();
    let names: Vec<_> = page.incidents.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["inc-b", "inc-a"]);
    let a = &page.incidents[1];
    assert_eq!(
        a.system_data
            .as_ref()
            .and_then(|s| s.last_modified_by.as_deref()),
        Some("bob@contoso.com")
    );
    // Two writes, a read and two listings, each with ARM's api-version.
    assert_eq!(lab.sentinel.counts().requests, 5);
    assert_eq!(
        lab.sentinel.counts().bad_requests,
        0,
        "api-version {API_VERSION} accepted"
    );
}

#[tokio::test(start_paused = true)]
async fn paging_follows_next_link_without_losing_an_incident() {
    let lab = Lab::start(GraphSimConfig::default(), SentinelSimConfig::default()).await;
    let cx = lab.context().await;
    let client =
        ucp_sync::sentinel::SentinelIncidents::new(lab.sentinel_config().page_size(7), lab.clock)
            .unwrap();
    let before = lab.clock.now_utc() - chrono::Duration::seconds(1);
    for n in 0..30 {
        client
            .put(&cx, &format!("inc-{n:02}"), &props("t"), None)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut next = None;
    loop {
        let page = client
            .changed_since(&cx, before, next.as_deref())
            .await
            .unwrap();
        seen.extend(page.incidents.into_iter().map(|i| i.name));
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30);
}

#[tokio::test(start_paused = true)]
async fn a_stale_etag_is_read_again_and_merged_never_overwritten() {
    let lab = Lab::start(GraphSimConfig::default(), SentinelSimConfig::default()).await;
    let cx = lab.context().await;
    let client = lab.client();
    client.put(&cx, "inc-a", &props("A"), None).await.unwrap();
    // A person changes the owner just before our write lands: our etag is stale.
    lab.sentinel.edit_before_next_write(
        "inc-a",
        "bob@contoso.com",
        IncidentChange {
            owner: Some(Some("bob@contoso.com".into())),
            ..IncidentChange::default()
        },
    );
    let mut merges = 0;
    let updated = client
        .update(&cx, "inc-a", 3, |current| {
            merges += 1;
            let mut props = current.properties.clone();
            props.severity = Some("High".into());
            Some(props)
        })
        .await
        .unwrap();
    let Updated::Written(saved, attempts) = updated else {
        panic!("{updated:?}")
    };
    assert_eq!((attempts, merges), (2, 2));
    assert_eq!(saved.properties.severity.as_deref(), Some("High"));
    assert_eq!(
        saved.properties.owner.as_ref().and_then(|o| o.handle()),
        Some("bob@contoso.com"),
        "the person's change survived"
    );
    assert_eq!(lab.sentinel.counts().conflicts, 1);

    // Newer versions every time: given up after the bound, nothing written.
    lab.sentinel.conflict_next(3);
    let updated = client
        .update(&cx, "inc-a", 3, |current| {
            let mut props = current.properties.clone();
            props.severity = Some("Low".into());
            Some(props)
        })
        .await
        .unwrap();
    assert_eq!(updated, Updated::Contended(3));
    let now = client.get(&cx, "inc-a").await.unwrap().unwrap();
    assert_eq!(now.properties.severity.as_deref(), Some("High"));

    // Nothing to change: nothing written.
    let writes = lab.sentinel.writes().len();
    let updated = client.update(&cx, "inc-a", 3, |_| None).await.unwrap();
    assert!(matches!(updated, Updated::Unchanged(_)));
    assert_eq!(lab.sentinel.writes().len(), writes);
    assert_eq!(
        client.update(&cx, "nope", 3, |_| None).await.unwrap(),
        Updated::Missing
    );
}

#[tokio::test(start_paused = true)]
async fn comments_within_sentinels_limits() {
    let lab = Lab::start(
        GraphSimConfig::default(),
        SentinelSimConfig::default().limits(100_000, 100_000),
    )
    .await;
    let cx = lab.context().await;
    let client = ucp_sync::sentinel::SentinelIncidents::new(
        lab.sentinel_config().limits(ucp_sync::sentinel::ArmLimits {
            writes_per_hour: 100_000,
            ..ucp_sync::sentinel::ArmLimits::DEFAULT
        }),
        lab.clock,
    )
    .unwrap();
    client.put(&cx, "inc-a", &props("A"), None).await.unwrap();
    let saved = client
        .put_comment(&cx, "inc-a", "c-1", "first look")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.properties.message, "first look");
    // The same id again is the same comment.
    client
        .put_comment(&cx, "inc-a", "c-1", "first look")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.comments(&cx, "inc-a").await.unwrap().len(), 1);
    let too_long = client
        .put_comment(&cx, "inc-a", "c-2", &"x".repeat(30_001))
        .await
        .unwrap();
    assert!(too_long.unwrap_err().contains("30000"));
    for n in 2..=100 {
        client
            .put_comment(&cx, "inc-a", &format!("c-{n}"), "more")
            .await
            .unwrap()
            .unwrap();
    }
    let over = client
        .put_comment(&cx, "inc-a", "c-101", "one too many")
        .await
        .unwrap();
    assert!(
        over.unwrap_err().contains("100"),
        "refused as a limit, not an error"
    );
    assert_eq!(client.comments(&cx, "inc-a").await.unwrap().len(), 100);
    let incident = client.get(&cx, "inc-a").await.unwrap().unwrap();
    assert_eq!(
        incident.properties.additional_data.unwrap()["commentsCount"],
        json!(100)
    );
}

#[tokio::test(start_paused = true)]
async fn creation_rules_are_turned_off_with_their_etag() {
    let lab = Lab::start(GraphSimConfig::default(), SentinelSimConfig::default()).await;
    lab.sentinel
        .add_creation_rule("mcas", "Microsoft Cloud App Security", true);
    let cx = lab.context().await;
    let client = lab.client();
    let rules = client.alert_rules(&cx).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].is_incident_creation() && rules[0].enabled());
    let off = client
        .set_rule_enabled(&cx, "mcas", false, 3)
        .await
        .unwrap()
        .unwrap();
    assert!(!off.enabled());
    assert_eq!(
        lab.sentinel.alert_rules()[0]["properties"]["enabled"],
        false
    );
    assert_eq!(
        lab.sentinel.alert_rules()[0]["properties"]["productFilter"],
        "Microsoft Cloud App Security",
        "the rest of the rule is kept"
    );
    assert!(client
        .set_rule_enabled(&cx, "missing", false, 3)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(start_paused = true)]
async fn a_throttled_call_says_when_to_come_back_and_a_missing_role_is_named() {
    let lab = Lab::start(GraphSimConfig::default(), SentinelSimConfig::default()).await;
    let cx = lab.context().await;
    let client = lab.client();
    lab.sentinel.throttle_next(Duration::from_secs(2));
    match client.get(&cx, "inc-a").await {
        Err(SourceError::RateLimited { hint, .. }) => {
            assert_eq!(hint.retry_after, Some(Duration::from_secs(2)))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        client.write_budget().status().paused_until.is_none(),
        "a read throttles the read budget only"
    );

    lab.sentinel.grant(CLIENT_ID, Role::Reader);
    match client.put(&cx, "inc-a", &props("A"), None).await {
        Err(SourceError::Auth { message }) => {
            assert!(
                message.contains("Microsoft Sentinel Responder"),
                "{message}"
            );
            assert!(message.contains("Access control (IAM)"), "{message}");
            assert!(message.contains(CREDENTIAL), "{message}");
        }
        other => panic!("{other:?}"),
    }
    lab.sentinel.revoke(CLIENT_ID);
    assert!(matches!(
        client.get(&cx, "inc-a").await,
        Err(SourceError::Auth { .. })
    ));
    assert_eq!(lab.sentinel.counts().forbidden, 2);
}
