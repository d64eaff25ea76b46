//! The declarative Okta connector and the hand-written one, given the same org, deliver the
//! same records to three products — through the real platform, against the simulated org
//! over loopback, in real time — and draw on one budget for the org.

mod rest_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rest_support::*;
use tokio::time::Instant;
use ucp_core::health::MemoryHealth;
use ucp_core::store::MemoryCheckpoints;
use ucp_core::{BudgetKey, Filter, Platform, Subscription};
use ucp_sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp_sources::rest::{RestConfig, RestSource};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator, VisibleEvent};
use ucp_testkit::RecordingSink;

const TOKEN: &str = "00aSameOrgForBothConnectors";

/// What `sink` received from `source`: id → payload.
fn received(sink: &RecordingSink, source: &str) -> BTreeMap<String, Bytes> {
    sink.batches()
        .into_iter()
        .filter(|(_, batch)| &*batch.stream.source == source)
        .flat_map(|(_, batch)| {
            batch
                .records
                .iter()
                .map(|r| (r.id.to_string(), r.payload.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn expected(events: &[VisibleEvent], keep: impl Fn(&str) -> bool) -> BTreeMap<String, Bytes> {
    events
        .iter()
        .filter(|e| keep(&e.event_type))
        .map(|e| (e.uuid.clone(), Bytes::from(e.json.clone())))
        .collect()
}

/// Which event types a product wants.
type EventTypes = Box<dyn Fn(&str) -> bool>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declarative_and_hand_written_okta_deliver_the_same_records_to_three_products() {
    let sim = OktaSimulator::start(OktaSimConfig::default().seed(21).token(TOKEN).backlog(240))
        .await
        .unwrap();
    let hand = OktaSource::new(
        OktaConfig::new(sim.base_url(), CREDENTIAL)
            .start_ago(Duration::from_secs(3 * 3600))
            .request_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let declarative = RestSource::new(
        okta_lookback(),
        RestConfig::new(CREDENTIAL)
            .parameter("orgUrl", sim.base_url())
            .start_ago(Duration::from_secs(3 * 3600))
            .request_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let names = ["sentinel", "mdi", "xspm"];
    let products = names.map(RecordingSink::new);
    let prefix = |p: &str| Filter::starts_with("/eventType", p);
    let filters = [
        None,
        Some(prefix("user.authentication").or(prefix("user.session"))),
        Some(
            prefix("user.account")
                .or(prefix("group."))
                .or(prefix("application.")),
        ),
    ];
    let every = Duration::from_millis(400);
    let mut builder = Platform::builder()
        .credentials(store(api_token(TOKEN)).await)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta-hand", Arc::new(hand))
        .tenant_source(TENANT, "okta-ccf", Arc::new(declarative));
    for ((sink, filter), name) in products.iter().zip(&filters).zip(names) {
        builder = builder.tenant_sink(TENANT, name, Arc::new(sink.clone()));
        for source in ["okta-hand", "okta-ccf"] {
            let mut subscription = Subscription::new(name, source, SYSTEM_LOG).every(every);
            if let Some(filter) = filter {
                subscription = subscription.filter(filter.clone());
            }
            builder = builder.subscribe(subscription);
        }
    }
    let running = builder.build().unwrap().start().await.unwrap();

    // New events while the platform runs, some of them late.
    tokio::time::sleep(Duration::from_secs(1)).await;
    sim.emit(None, 30);
    sim.emit(Some("user.session.start"), 4);
    sim.persist_late(
        Some("group.user_membership.add"),
        sim.now() - chrono::Duration::seconds(40),
        3,
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let visible = sim.visible_events();
    let keeps: [EventTypes; 3] = [
        Box::new(|_| true),
        Box::new(|t| t.starts_with("user.authentication") || t.starts_with("user.session")),
        Box::new(|t| {
            t.starts_with("user.account")
                || t.starts_with("group.")
                || t.starts_with("application.")
        }),
    ];
    let wanted: Vec<BTreeMap<String, Bytes>> =
        keeps.iter().map(|keep| expected(&visible, keep)).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let done = products.iter().zip(&wanted).all(|(sink, want)| {
            received(sink, "okta-hand").len() == want.len()
                && received(sink, "okta-ccf").len() == want.len()
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the products did not receive every event in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = running.stats().await;
    running.shutdown().await.unwrap();

    for ((sink, want), name) in products.iter().zip(&wanted).zip(names) {
        let (by_hand, by_definition) = (received(sink, "okta-hand"), received(sink, "okta-ccf"));
        assert_eq!(by_definition, by_hand, "{name}: same ids and payload bytes");
        assert_eq!(&by_definition, want, "{name}: exactly its events");
    }
    assert!(wanted[1].len() > 4 && wanted[2].len() > 3);
    assert_eq!(stats.budgets.len(), 1, "one budget for the org");
    assert_eq!(stats.budgets[0].key, BudgetKey::new("okta", sim.host()));
}
