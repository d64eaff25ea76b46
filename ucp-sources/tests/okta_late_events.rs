//! Late-persisted events: polling mode (following `next` links) collects them, a poller of
//! bounded `since`/`until` windows misses them.

mod okta_support;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use okta_support::*;
use ucp_core::Cursor;
use ucp_sources::okta::OktaSource;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

/// A naive client that asks for `[since, until)` windows of `published` time and follows
/// `next` links until the window is exhausted (bounded queries end without one).
struct WindowPoller {
    http: reqwest::Client,
    since: DateTime<Utc>,
    seen: HashSet<String>,
}

impl WindowPoller {
    fn new(since: DateTime<Utc>) -> Self {
        WindowPoller {
            http: reqwest::Client::new(),
            since,
            seen: HashSet::new(),
        }
    }

    async fn poll(&mut self, sim: &OktaSimulator) {
        let until = sim.now();
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/logs", sim.base_url()),
            [
                ("since", fmt(self.since)),
                ("until", fmt(until)),
                ("limit", "1000".into()),
            ],
        )
        .unwrap();
        loop {
            let response = self
                .http
                .get(url.clone())
                .header("Authorization", format!("SSWS {TOKEN}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let next = response
                .headers()
                .get_all("link")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.ends_with("rel=\"next\""))
                .map(|v| v[1..v.find('>').unwrap()].to_string());
            let events: Vec<serde_json::Value> = response.json().await.unwrap();
            for e in events {
                self.seen.insert(e["uuid"].as_str().unwrap().to_string());
            }
            match next {
                Some(next) => url = reqwest::Url::parse(&next).unwrap(),
                None => break,
            }
        }
        self.since = until;
    }
}

#[tokio::test]
async fn a_late_persisted_event_is_collected_by_polling_and_missed_by_windows() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock)).await;
    let source = OktaSource::new(source_config(&sim).start_at(t0())).unwrap();
    let cx = context(&source, clock).await;
    let mut windows = WindowPoller::new(t0());
    let mut polled = HashSet::new();

    sim.advance(Duration::from_secs(60));
    let first = sim.emit(None, 10);
    let (records, cursor, _) = round(&source, &cx, Cursor::start(), None).await;
    polled.extend(records.into_iter().map(|r| r.id.to_string()));
    windows.poll(&sim).await;
    assert_eq!(windows.seen, first.iter().cloned().collect());

    // Three events published 30 s into the first window are only persisted now.
    sim.advance(Duration::from_secs(60));
    let late = sim.persist_late(
        Some("user.account.lock"),
        t0() + chrono::Duration::seconds(30),
        3,
    );
    let fresh = sim.emit(None, 5);
    let (records, _, _) = round(&source, &cx, cursor, None).await;
    let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, [late.clone(), fresh.clone()].concat());
    assert!(records[..3]
        .iter()
        .all(|r| r.time == t0() + chrono::Duration::seconds(30)));
    polled.extend(ids);
    windows.poll(&sim).await;

    for uuid in &late {
        assert!(polled.contains(uuid));
        assert!(
            !windows.seen.contains(uuid),
            "a window poller cannot see {uuid}"
        );
    }
    assert!(fresh.iter().all(|u| windows.seen.contains(u)));
    assert_eq!(polled.len(), 18);
    assert_eq!(windows.seen.len(), 15);
}

#[tokio::test]
async fn with_live_traffic_polling_gets_every_event_and_windows_miss_the_late_ones() {
    let clock = clock();
    // 4 events/s; every 5th is persisted 90 s after it was published.
    let sim = org(OktaSimConfig::default()
        .clock(clock)
        .live(4.0)
        .late(5, Duration::from_secs(90)))
    .await;
    let source = OktaSource::new(source_config(&sim).start_at(t0())).unwrap();
    let cx = context(&source, clock).await;
    let mut windows = WindowPoller::new(t0());
    let mut cursor = Cursor::start();
    let mut polled = Vec::new();
    for _ in 0..6 {
        sim.advance(Duration::from_secs(60));
        let (records, next, _) = round(&source, &cx, cursor, None).await;
        polled.extend(records.into_iter().map(|r| r.id.to_string()));
        cursor = next;
        windows.poll(&sim).await;
    }
    // Catch up with what became visible (the clock keeps running) since the last round.
    let (records, _, _) = round(&source, &cx, cursor, None).await;
    polled.extend(records.into_iter().map(|r| r.id.to_string()));
    let visible: Vec<String> = sim.visible_events().into_iter().map(|e| e.uuid).collect();
    let polled_set: HashSet<&String> = polled.iter().collect();
    assert_eq!(polled_set.len(), polled.len(), "no duplicates");
    // Everything persisted up to the last round's request was polled, in persistence order.
    assert_eq!(polled[..], visible[..polled.len()]);
    assert!(polled.len() > 1000);
    let missed: Vec<&String> = polled
        .iter()
        .filter(|u| !windows.seen.contains(*u))
        .collect();
    assert!(!missed.is_empty(), "late events escape the window poller");
    assert!(windows.seen.iter().all(|u| polled_set.contains(u)));
}
