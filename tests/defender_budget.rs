//! The Defender XDR sources keep to Graph's per-minute and per-hour limits while using most
//! of both: against the simulated Graph security API over loopback, with its throttling
//! windows and the sources' budget compressed alike (a minute lasts a second, an hour a
//! minute), three streams on the tenant's security budget ask as often as they can.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp::health::MemoryHealth;
use ucp::sources::defender::{
    DefenderConfig, DefenderSource, GraphLimits, MdiAlertsSource, ALERTS, INCIDENTS,
};
use ucp::store::MemoryCheckpoints;
use ucp::{Platform, Subscription};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};
use ucp_testkit::RecordingSink;

const TENANT: &str = "contoso";
const APP: &str = "graph-app";
/// Graph's minute lasts a second and its hour a minute: slow enough that a loaded CI machine
/// still asks faster than the budget allows (about 60 calls a second were measured here).
const SPEED: f64 = 60.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_uses_most_of_both_windows_without_a_429() {
    let sim = GraphSimulator::start(
        GraphSimConfig::default()
            .incidents(100)
            .alerts(200)
            .speed(SPEED),
    )
    .await
    .unwrap();
    sim.register_app(
        APP,
        "graph-secret",
        &["SecurityIncident.Read.All", "SecurityAlert.Read.All"],
    );
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new(TENANT, APP),
            Credential::ClientSecret {
                token_url: sim.token_url(),
                client_id: APP.into(),
                secret: SecretString::from("graph-secret".to_string()),
            },
        )
        .await
        .unwrap();
    // Pages of one: every round is a long chain of pages, asked at the minute's pace.
    let config = DefenderConfig::new(TENANT_ID, APP)
        .graph_url(sim.url())
        .pages(1, 1)
        .limits(GraphLimits::SECURITY.compressed(SPEED));
    let sink = RecordingSink::new("sentinel");
    let every = Duration::from_millis(1);
    let running = Platform::builder()
        .credentials(credentials)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .tokens(Arc::new(TokenProvider::new(Arc::new(
            HttpTokenFetcher::new().unwrap(),
        ))))
        .max_jitter(Duration::ZERO)
        .tenant_source(
            TENANT,
            "defender-contoso",
            Arc::new(DefenderSource::new(config.clone()).unwrap()),
        )
        .tenant_source(
            TENANT,
            "mdi-contoso",
            Arc::new(MdiAlertsSource::new(config).unwrap()),
        )
        .tenant_sink(TENANT, "sentinel", Arc::new(sink.clone()))
        .subscribe(Subscription::new("sentinel", "defender-contoso", INCIDENTS).every(every))
        .subscribe(Subscription::new("sentinel", "defender-contoso", ALERTS).every(every))
        .subscribe(Subscription::new("sentinel", "mdi-contoso", ALERTS).every(every))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    // Long enough for 80 % of the hour's calls at the minute's pace (1,200 calls at 45 a
    // compressed minute of one second is 26.7 s; rounds end and restart, and a loaded machine
    // answers slower, so give it most of the compressed hour).
    tokio::time::sleep(Duration::from_secs(45)).await;
    running.shutdown().await.unwrap();

    let peak = sim.peak_use();
    let counts = sim.counts();
    println!("{peak:?} {counts:?}");
    assert_eq!(counts.throttled, 0, "{counts:?}");
    assert!(
        peak.security_minute >= 40,
        "{peak:?}: at least 80 % of 50 a minute"
    );
    assert!(
        peak.security_hour >= 1_200,
        "{peak:?}: at least 80 % of 1,500 an hour"
    );
    assert!(
        peak.security_minute <= 50 && peak.security_hour <= 1_500,
        "{peak:?}"
    );
    assert!(!sink.ids().is_empty());
}
