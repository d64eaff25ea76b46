//! The shipped Okta System Log definition (CCF shape: APIKey SSWS, LinkHeader paging,
//! since/until windows) against the Okta simulator over loopback: the late-arrival lookback
//! collects events persisted late exactly once, plain CCF windows miss them, the polling
//! variant (PersistentLinkHeader) misses nothing, and the budget key is the hand-written
//! source's.

mod rest_support;

use std::collections::HashSet;
use std::time::Duration;

use rest_support::*;
use ucp_core::{BudgetKey, Cursor, Source};
use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_sources::rest::{shipped, RestConfig, RestSource};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

const TOKEN: &str = "00aDeclarativeOktaTestToken";

async fn org(config: OktaSimConfig) -> OktaSimulator {
    OktaSimulator::start(config.clock(ucp_core::Clock::at(t0())).token(TOKEN))
        .await
        .unwrap()
}

fn instance(
    sim: &OktaSimulator,
    definition: std::sync::Arc<ucp_sources::rest::RestDefinition>,
) -> RestSource {
    RestSource::new(
        definition,
        RestConfig::new(CREDENTIAL)
            .parameter("orgUrl", sim.base_url())
            .start_at(t0())
            .request_timeout(Duration::from_secs(10)),
    )
    .unwrap()
}

/// One round of `source` at the simulator's current time.
async fn round_now(
    source: &RestSource,
    sim: &OktaSimulator,
    cursor: Cursor,
) -> (Vec<String>, Cursor) {
    let cx = context_at(source, store(api_token(TOKEN)).await, sim.now());
    let (records, cursor) = round(source, &cx, cursor).await;
    (ids(&records), cursor)
}

#[tokio::test]
async fn the_lookback_collects_late_events_once_and_plain_windows_miss_them() {
    let sim = org(OktaSimConfig::default()).await;
    let lookback = instance(&sim, okta_lookback());
    let plain = instance(&sim, okta_plain());
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut c_with, mut c_without) = (Cursor::start(), Cursor::start());

    sim.advance(Duration::from_secs(60));
    let first = sim.emit(None, 10);
    // A window ends just before "now" (`until` is exclusive): let a moment pass.
    sim.advance(Duration::from_secs(1));
    for (source, seen, cursor) in [
        (&lookback, &mut with, &mut c_with),
        (&plain, &mut without, &mut c_without),
    ] {
        let (ids, next) = round_now(source, &sim, cursor.clone()).await;
        seen.extend(ids);
        *cursor = next;
    }
    assert_eq!(with, first);
    assert_eq!(without, first);

    // Three events published 30 s into the first window are only persisted a minute later.
    sim.advance(Duration::from_secs(60));
    let late = sim.persist_late(
        Some("user.account.lock"),
        t0() + chrono::Duration::seconds(30),
        3,
    );
    let fresh = sim.emit(None, 5);
    sim.advance(Duration::from_secs(1));
    for (source, seen, cursor) in [
        (&lookback, &mut with, &mut c_with),
        (&plain, &mut without, &mut c_without),
    ] {
        let (ids, next) = round_now(source, &sim, cursor.clone()).await;
        seen.extend(ids);
        *cursor = next;
    }
    for uuid in &late {
        assert_eq!(
            with.iter().filter(|id| *id == uuid).count(),
            1,
            "the lookback collects {uuid} once"
        );
        assert!(!without.contains(uuid), "plain windows cannot see {uuid}");
    }
    assert!(fresh
        .iter()
        .all(|u| with.contains(u) && without.contains(u)));
    assert_eq!(
        with.len(),
        18,
        "no duplicate from the overlapping windows: {with:?}"
    );
    assert_eq!(without.len(), 15);

    // A restart (new instance, saved cursor) still drops what the overlap returns again.
    sim.advance(Duration::from_secs(60));
    let later = sim.persist_late(None, t0() + chrono::Duration::seconds(150), 2);
    sim.advance(Duration::from_secs(1));
    let restarted = instance(&sim, okta_lookback());
    let (ids, _) = round_now(&restarted, &sim, c_with.clone()).await;
    assert_eq!(
        ids, later,
        "only the newly persisted events, none of the overlap's"
    );
}

#[tokio::test]
async fn with_live_traffic_the_lookback_gets_every_event_once() {
    // 4 events/s; every 5th is persisted 90 s after it was published (the lookback is 10 min).
    let sim = org(OktaSimConfig::default()
        .live(4.0)
        .late(5, Duration::from_secs(90)))
    .await;
    let lookback = instance(&sim, okta_lookback());
    let plain = instance(&sim, okta_plain());
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut c_with, mut c_without) = (Cursor::start(), Cursor::start());
    let mut last_round = sim.now();
    for _ in 0..6 {
        sim.advance(Duration::from_secs(60));
        last_round = sim.now();
        let (ids, next) = round_now(&lookback, &sim, c_with).await;
        with.extend(ids);
        c_with = next;
        let (ids, next) = round_now(&plain, &sim, c_without).await;
        without.extend(ids);
        c_without = next;
    }
    let unique: HashSet<&String> = with.iter().collect();
    assert_eq!(unique.len(), with.len(), "no duplicates");
    // Every event published at least the lateness before the last round began, and visible
    // (measured from the round, not from now: on a loaded machine real time moves on after it).
    let horizon = last_round - chrono::Duration::seconds(90);
    let expected: HashSet<String> = sim
        .visible_events()
        .into_iter()
        .filter(|e| e.published < horizon)
        .map(|e| e.uuid)
        .collect();
    assert!(expected.len() > 1000);
    assert!(
        expected.iter().all(|u| unique.contains(u)),
        "the lookback missed none"
    );
    let missed = expected.iter().filter(|u| !without.contains(u)).count();
    assert!(
        missed > 50,
        "plain windows miss the late events ({missed} missed)"
    );
}

#[tokio::test]
async fn the_polling_variant_follows_next_links_across_rounds() {
    let sim = org(OktaSimConfig::default()
        .backlog(30)
        .backlog_span(Duration::from_secs(600)))
    .await;
    let polling = edited("okta_polling.json", shipped::OKTA_SYSTEM_LOG, |v| {
        v["properties"]["paging"]["pagingType"] = "PersistentLinkHeader".into();
        v["properties"]["ucp"]
            .as_object_mut()
            .unwrap()
            .remove("lateArrival");
    });
    let source = RestSource::new(
        polling,
        RestConfig::new(CREDENTIAL)
            .parameter("orgUrl", sim.base_url())
            .parameter("pageSize", "7")
            .start_at(t0() - chrono::Duration::hours(1)),
    )
    .unwrap();
    let (first, cursor) = round_now(&source, &sim, Cursor::start()).await;
    assert_eq!(first.len(), 30);
    sim.advance(Duration::from_secs(60));
    let late = sim.persist_late(None, t0() - chrono::Duration::minutes(30), 2);
    let fresh = sim.emit(None, 3);
    sim.advance(Duration::from_secs(1));
    let (second, _) = round_now(&source, &sim, cursor).await;
    assert_eq!(
        second,
        [late, fresh].concat(),
        "persistence order, late ones included"
    );
}

#[tokio::test]
async fn the_declarative_source_reads_what_the_hand_written_one_reads_on_one_budget() {
    let sim = org(OktaSimConfig::default()
        .backlog(45)
        .backlog_span(Duration::from_secs(1800)))
    .await;
    let declarative = RestSource::new(
        okta_plain(),
        RestConfig::new(CREDENTIAL)
            .parameter("orgUrl", sim.base_url())
            .parameter("pageSize", "10")
            .start_at(t0() - chrono::Duration::hours(1)),
    )
    .unwrap();
    let hand = OktaSource::new(
        OktaConfig::new(sim.base_url(), CREDENTIAL)
            .page_limit(10)
            .start_at(t0() - chrono::Duration::hours(1)),
    )
    .unwrap();
    assert_eq!(declarative.describe().budget, hand.describe().budget);
    assert_eq!(
        declarative.describe().budget.key,
        BudgetKey::new("okta", sim.host())
    );

    let (records, _) = round(
        &declarative,
        &context_at(&declarative, store(api_token(TOKEN)).await, sim.now()),
        Cursor::start(),
    )
    .await;
    let hand_cx = context_at(&declarative, store(api_token(TOKEN)).await, sim.now());
    let mut hand_records = Vec::new();
    let mut cursor = Cursor::start();
    loop {
        let page = hand
            .collect(
                &hand_cx,
                ucp_core::CollectRequest {
                    stream: "system_log".into(),
                    cursor: cursor.clone(),
                    filter: None,
                },
            )
            .await
            .unwrap();
        hand_records.extend(page.records);
        cursor = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(records.len(), 45);
    let mut a: Vec<_> = records
        .iter()
        .map(|r| (r.id.to_string(), r.time, r.payload.clone()))
        .collect();
    let mut b: Vec<_> = hand_records
        .iter()
        .map(|r| (r.id.to_string(), r.time, r.payload.clone()))
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "same ids, times and payload bytes");
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_and_a_throttle_carries_the_reset() {
    let sim = org(OktaSimConfig::default().backlog(3)).await;
    let source = instance(&sim, okta_plain());
    let cx = context_at(&source, store(api_token("not-the-token")).await, sim.now());
    let error = collect(&source, &cx, &Cursor::start()).await.unwrap_err();
    assert!(
        matches!(error, ucp_core::SourceError::Auth { .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("not-the-token"));

    sim.set_rate_limit(1);
    let cx = context_at(&source, store(api_token(TOKEN)).await, sim.now());
    collect(&source, &cx, &Cursor::start()).await.unwrap();
    match collect(&source, &cx, &Cursor::start()).await.unwrap_err() {
        ucp_core::SourceError::RateLimited { hint, .. } => {
            // (The reset is read against the answer's Date header, real time here, while
            // the simulated org runs in 2026-03: the conformance suite checks resets.)
            assert_eq!((hint.limit, hint.remaining), (Some(1), Some(0)));
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn the_cursor_remembers_only_the_ids_a_later_query_can_return() {
    // 600 events over two hours: about 50 in the last ten minutes (the lookback).
    let sim = org(OktaSimConfig::default()
        .backlog(600)
        .backlog_span(Duration::from_secs(7200)))
    .await;
    let source = RestSource::new(
        okta_lookback(),
        RestConfig::new(CREDENTIAL)
            .parameter("orgUrl", sim.base_url())
            .parameter("pageSize", "100")
            .start_at(t0() - chrono::Duration::hours(3)),
    )
    .unwrap();
    let (first, cursor) = round_now(&source, &sim, Cursor::start()).await;
    assert_eq!(first.len(), 600);
    let saved: serde_json::Value = serde_json::from_str(cursor.as_str().unwrap()).unwrap();
    let seen = saved["seen"].as_str().unwrap();
    let remembered = seen.len() * 3 / 4 / 16;
    assert!(
        (40..=60).contains(&remembered),
        "{remembered} ids remembered of 600 read"
    );
    sim.advance(Duration::from_secs(30));
    let (again, _) = round_now(&source, &sim, cursor).await;
    assert!(again.is_empty(), "the overlap is deduplicated: {again:?}");
}
