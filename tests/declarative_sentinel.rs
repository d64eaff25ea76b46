//! A declarative definition's `dcrConfig` becomes the Sentinel subscription CCF implied: the
//! Globex audit export, collected by the shipped definition from its simulator, lands in the
//! Logs Ingestion emulator's rule and stream named by the definition, through the real
//! platform over loopback.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp::declarative::sentinel_config;
use ucp::health::MemoryHealth;
use ucp::sinks::sentinel::SentinelSink;
use ucp::sources::rest::{load, shipped, RestConfig, RestSource};
use ucp::store::MemoryCheckpoints;
use ucp::{Clock, Platform, Subscription};
use ucp_testkit::azure::LogsIngestion;
use ucp_testkit::rest::{RestApi, RestApiConfig};
use ucp_testkit::token_endpoint::TokenEndpoint;

const DCR: &str = "dcr-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const STREAM: &str = "Custom-GlobexAudit_CL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dcr_config_of_a_definition_is_the_sentinel_subscription() {
    let clock = Clock::new();
    let api = RestApi::start(RestApiConfig::globex_audit(), clock)
        .await
        .unwrap();
    let now = clock.now_utc();
    let ids = api.add_between(
        150,
        now - chrono::Duration::minutes(50),
        now - chrono::Duration::seconds(3),
    );

    let entra = TokenEndpoint::start().await.unwrap();
    entra.register_secret_client("sentinel-app", "app-secret");
    let logs = LogsIngestion::start(entra.verifier()).await.unwrap();
    logs.add_stream(DCR, STREAM);
    logs.grant(DCR, "sentinel-app");

    let mut value: Value = serde_json::from_str(shipped::GLOBEX_AUDIT_EXPORT).unwrap();
    value["properties"]["dcrConfig"] = serde_json::json!({
        "dataCollectionEndpoint": logs.url(),
        "dataCollectionRuleImmutableId": DCR,
        "streamName": STREAM,
    });
    let definition = Arc::new(load("globex_with_dcr.json", &value.to_string()).unwrap());
    let sentinel = sentinel_config(&definition, "entra").expect("the definition has a dcrConfig");
    assert!(sentinel_config(&shipped::globex_audit_export().unwrap(), "entra").is_none());

    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new("contoso", "globex"),
            Credential::ApiToken {
                token: SecretString::from("globex-key-31c4".to_string()),
            },
        )
        .await
        .unwrap();
    store
        .put(
            CredentialRef::new("contoso", "entra"),
            Credential::ClientSecret {
                token_url: entra.entra_token_url("contoso-tenant"),
                client_id: "sentinel-app".into(),
                secret: SecretString::from("app-secret".to_string()),
            },
        )
        .await
        .unwrap();
    let tokens = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().unwrap(),
    )));
    let source = RestSource::new(
        definition,
        RestConfig::new("globex")
            .parameter("baseUrl", api.base_url())
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap();
    let running = Platform::builder()
        .credentials(store)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .tokens(tokens.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source("contoso", "globex", Arc::new(source))
        .tenant_sink(
            "contoso",
            "sentinel",
            Arc::new(SentinelSink::new(sentinel, tokens)),
        )
        .subscribe(
            Subscription::new("sentinel", "globex", "audit").every(Duration::from_millis(300)),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while logs.rows(DCR, STREAM).len() < ids.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rows: {}",
            logs.rows(DCR, STREAM).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.shutdown().await.unwrap();
    let rows = logs.rows(DCR, STREAM);
    let landed: Vec<&str> = rows
        .iter()
        .filter_map(|row| row["event_id"].as_str())
        .collect();
    assert_eq!(landed, ids.iter().map(String::as_str).collect::<Vec<_>>());
}
