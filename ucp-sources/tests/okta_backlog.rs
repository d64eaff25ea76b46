//! Paging through an Okta backlog in polling mode, against the simulator over loopback.

mod okta_support;

use std::collections::HashSet;

use okta_support::*;
use ucp_core::{Cursor, Filter, Record};
use ucp_sources::okta::OktaSource;
use ucp_testkit::okta::OktaSimConfig;

fn assert_no_duplicates(records: &[Record]) {
    let mut seen = HashSet::new();
    for r in records {
        assert!(seen.insert(r.id.clone()), "duplicate record {}", r.id);
    }
}

#[tokio::test]
async fn a_10000_event_backlog_pages_without_gaps_or_duplicates_across_a_restart() {
    let clock = clock();
    let sim = org(OktaSimConfig::default()
        .clock(clock)
        .backlog(10_000)
        .seed(5))
    .await;
    let expected = sim.visible_events();
    assert_eq!(expected.len(), 10_000);

    // First run: four pages, then the process "crashes"; only the cursor survives.
    let saved = {
        let source = OktaSource::new(source_config(&sim)).unwrap();
        let cx = context(&source, clock).await;
        let mut cursor = Cursor::start();
        let mut first = Vec::new();
        for _ in 0..4 {
            let page = collect(&source, &cx, &cursor, None).await.unwrap();
            assert!(page.more);
            assert_eq!(page.records.len(), 1000);
            first.extend(page.records);
            cursor = page.next;
        }
        (first, cursor)
    };
    let (mut collected, cursor) = saved;
    assert!(cursor.as_str().unwrap().starts_with(sim.base_url()));

    // Restart: a new source instance resumes from the saved cursor.
    let source = OktaSource::new(source_config(&sim)).unwrap();
    let cx = context(&source, clock).await;
    let (rest, end, pages) = round(&source, &cx, cursor, None).await;
    collected.extend(rest);
    // 6 more full pages, then an empty one ends the round.
    assert_eq!(pages, 7);
    assert_eq!(sim.requests_with(TOKEN), 11);
    assert_eq!(sim.requests(), 11);

    assert_no_duplicates(&collected);
    assert_eq!(collected.len(), expected.len());
    for (record, event) in collected.iter().zip(&expected) {
        assert_eq!(record.id.as_str(), event.uuid);
        assert_eq!(record.time, event.published);
        assert_eq!(
            &record.payload[..],
            event.json.as_bytes(),
            "payload bytes untouched"
        );
    }

    // The empty page still gave a next link: new events are picked up from it, and only they.
    let fresh = sim.emit(None, 5);
    let (records, _, _) = round(&source, &cx, end, None).await;
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, fresh.iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_short_page_ends_the_round_and_the_first_request_polls_from_the_start_time() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(250)).await;
    let source = OktaSource::new(source_config(&sim).page_limit(100)).unwrap();
    let cx = context(&source, clock).await;
    let first = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    assert_eq!(first.records.len(), 100);
    assert!(first.more);
    let (rest, _, pages) = round(&source, &cx, first.next, None).await;
    assert_eq!(rest.len(), 150);
    assert_eq!(
        pages, 2,
        "a page of 50 < limit 100 ends the round without an extra call"
    );

    // A start time after the backlog sees none of it.
    let late =
        OktaSource::new(source_config(&sim).start_at(t0() + chrono::Duration::seconds(1))).unwrap();
    let page = collect(&late, &cx, &Cursor::start(), None).await.unwrap();
    assert!(page.records.is_empty());
    assert!(!page.more);
    assert!(
        page.next.as_str().is_some(),
        "polling mode gives a next link even on an empty page"
    );
}

#[tokio::test]
async fn the_server_side_filter_narrows_pages_and_a_changed_filter_keeps_the_position() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(3000).seed(9)).await;
    let events = sim.visible_events();
    let source = OktaSource::new(source_config(&sim).page_limit(200)).unwrap();
    let cx = context(&source, clock).await;
    let auth = Filter::starts_with("/eventType", "user.authentication")
        .or(Filter::equals("/eventType", "user.account.lock"));

    let (records, cursor, _) = round(&source, &cx, Cursor::start(), Some(&auth)).await;
    let expected: Vec<&str> = events
        .iter()
        .filter(|e| {
            e.event_type.starts_with("user.authentication") || e.event_type == "user.account.lock"
        })
        .map(|e| e.uuid.as_str())
        .collect();
    assert!(!expected.is_empty() && expected.len() < events.len());
    assert_eq!(
        records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        expected
    );

    // The job's filter widens (a product wanting everything subscribed): the cursor keeps
    // its position, so only events persisted afterwards arrive, unfiltered.
    let fresh = sim.emit(Some("group.user_membership.add"), 3);
    let (records, _, _) = round(&source, &cx, cursor, None).await;
    assert_eq!(
        records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        fresh
    );
}
