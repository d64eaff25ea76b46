//! Three products fed through the platform from one collected stream: Sentinel (Logs
//! Ingestion API) and two event hubs (MDI, XSPM), each against its emulator over loopback.
//! One product's endpoint is dead; the other two still get every record, promptly.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use secrecy::SecretString;
use ucp_core::credentials::token::HttpTokenFetcher;
use ucp_core::credentials::token::TokenProvider;
use ucp_core::credentials::CredentialStore;
use ucp_core::credentials::{Credential, CredentialRef, MemoryCredentials};
use ucp_core::health::MemoryHealth;
use ucp_core::store::{MemoryCheckpoints, MemoryDeadLetters};
use ucp_core::*;
use ucp_sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp_sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp_testkit::azure::{EventHubs, LogsIngestion, ProductFault};
use ucp_testkit::token_endpoint::TokenEndpoint;
use ucp_testkit::{EventLog, EventLogSource};

const DCR: &str = "dcr-products";
const STREAM: &str = "Custom-OktaSystemLog_CL";
const KEY: &str = "cHJvZHVjdHMtdGVzdC1rZXk=";

async fn credentials(tokens: &TokenEndpoint) -> Arc<MemoryCredentials> {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new("default", "entra"),
            Credential::ClientSecret {
                token_url: tokens.entra_token_url("contoso-tenant"),
                client_id: "ucp-app".into(),
                secret: SecretString::from("app-secret".to_string()),
            },
        )
        .await
        .unwrap();
    store
        .put(
            CredentialRef::new("default", "hubs-sas"),
            Credential::SharedAccessKey {
                key_name: "send".into(),
                key: SecretString::from(KEY.to_string()),
            },
        )
        .await
        .unwrap();
    store
}

async fn hubs(name: &str) -> EventHubs {
    let hubs = EventHubs::start(None).await.unwrap();
    hubs.add_hub(name);
    hubs.add_key("send", KEY);
    hubs
}

fn hub_sink(product: &str, hubs: &EventHubs, tokens: &Arc<TokenProvider>) -> EventHubsSink {
    let config = EventHubsConfig::new(
        product,
        hubs.url(),
        product,
        EventHubsAuth::SharedAccessKey {
            credential: "hubs-sas".into(),
        },
    )
    .partition_key("/actor/id");
    EventHubsSink::new(config, tokens.clone())
}

fn hub_ids(hubs: &EventHubs, hub: &str) -> Vec<String> {
    hubs.messages(hub)
        .iter()
        .map(|m| {
            m.user_properties["ucp.id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_product_endpoint_leaves_the_other_products_deliveries_unaffected() {
    let tokens = TokenEndpoint::start().await.unwrap();
    tokens.register_secret_client("ucp-app", "app-secret");
    let logs = LogsIngestion::start(tokens.verifier()).await.unwrap();
    logs.add_stream(DCR, STREAM);
    logs.grant(DCR, "ucp-app");
    let mdi = hubs("mdi").await;
    let xspm = hubs("xspm").await;
    xspm.always(ProductFault::unavailable()); // dead: 503 forever

    let provider = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().unwrap(),
    )));
    let sentinel = SentinelSink::new(
        SentinelConfig::new(logs.url(), DCR, STREAM, "entra"),
        provider.clone(),
    );
    let log = EventLog::new();
    log.generate(1000, Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let mdi_filter = Filter::starts_with("/eventType", "user.authentication")
        .or(Filter::starts_with("/eventType", "user.session"));
    let clock = Clock::new();
    let every = Duration::from_millis(100);
    let platform = Platform::builder()
        .clock(clock)
        .credentials(credentials(&tokens).await)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .dead_letters(Arc::new(MemoryDeadLetters::new()))
        .max_jitter(Duration::ZERO)
        .shutdown_timeout(Duration::from_secs(1))
        .source(
            "okta-contoso",
            EventLogSource::new("contoso", log.clone(), clock),
        )
        .sink("sentinel", sentinel)
        .sink("mdi", hub_sink("mdi", &mdi, &provider))
        .sink("xspm", hub_sink("xspm", &xspm, &provider))
        .subscribe(Subscription::new("sentinel", "okta-contoso", "events").every(every))
        .subscribe(
            Subscription::new("mdi", "okta-contoso", "events")
                .every(every)
                .filter(mdi_filter.clone()),
        )
        .subscribe(Subscription::new("xspm", "okta-contoso", "events").every(every))
        .build()
        .unwrap();
    let running = platform.start().await.unwrap();

    let all = log.ids_matching(None);
    let for_mdi = log.ids_matching(Some(&mdi_filter));
    assert!(!for_mdi.is_empty() && for_mdi.len() < all.len());
    let row_ids = || -> Vec<String> {
        logs.rows(DCR, STREAM)
            .iter()
            .map(|r| r["uuid"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // A liveness bound, not a speed target: 10 pages at 100 ms intervals take about a second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while (row_ids().len() < all.len() || hub_ids(&mdi, "mdi").len() < for_mdi.len())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(row_ids(), all, "Sentinel got every record, in order");
    assert_eq!(
        hub_ids(&mdi, "mdi"),
        for_mdi,
        "MDI got every record of its filter, in order"
    );
    assert!(xspm.request_count() >= 1, "XSPM's endpoint was tried");
    assert!(xspm.messages("xspm").is_empty());

    let stats = running.stats().await;
    let delivered = |product: &str| {
        stats
            .subscriptions
            .iter()
            .find(|s| s.id.product == product)
            .map(|s| s.records_delivered)
    };
    assert_eq!(delivered("sentinel"), Some(all.len() as u64));
    assert_eq!(delivered("xspm"), Some(0));
    running.shutdown().await.ok();
}
