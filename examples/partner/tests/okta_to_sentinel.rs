//! The partner's build (core + okta + sentinel only) collects a simulated org's System Log
//! into the Logs Ingestion emulator over loopback: every event lands once, in order.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_partner_example::{
    okta_to_sentinel, Integration, ENTRA_CREDENTIAL, OKTA_CREDENTIAL, TENANT,
};
use ucp_testkit::azure::LogsIngestion;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::token_endpoint::TokenEndpoint;

const DCR: &str = "dcr-00112233445566778899aabbccddeeff";
const STREAM: &str = "Custom-OktaSystemLog_CL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_build_lands_every_okta_event_in_sentinel_once() {
    let org = OktaSimulator::start(
        OktaSimConfig::default()
            .token("00aPartnerToken")
            .backlog(300),
    )
    .await
    .unwrap();
    let entra = TokenEndpoint::start().await.unwrap();
    entra.register_secret_client("partner-app", "app-secret");
    let logs = LogsIngestion::start(entra.verifier()).await.unwrap();
    logs.add_stream(DCR, STREAM);
    logs.grant(DCR, "partner-app");

    let store = Arc::new(MemoryCredentials::new());
    let token = SecretString::from("00aPartnerToken".to_string());
    store
        .put(
            CredentialRef::new(TENANT, OKTA_CREDENTIAL),
            Credential::ApiToken { token },
        )
        .await
        .unwrap();
    let entra_secret = Credential::ClientSecret {
        token_url: entra.entra_token_url("partner-directory"),
        client_id: "partner-app".into(),
        secret: SecretString::from("app-secret".to_string()),
    };
    store
        .put(CredentialRef::new(TENANT, ENTRA_CREDENTIAL), entra_secret)
        .await
        .unwrap();
    let integration = Integration {
        okta_url: org.base_url().to_string(),
        start_ago: Duration::from_secs(3 * 3600),
        every: Duration::from_millis(200),
        dce_url: logs.url().to_string(),
        dcr_id: DCR.into(),
        stream: STREAM.into(),
    };
    let running = okta_to_sentinel(&integration, store).await.unwrap();

    let expected: Vec<String> = org.visible_events().into_iter().map(|e| e.uuid).collect();
    assert_eq!(expected.len(), 300, "the simulated backlog");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while logs.rows(DCR, STREAM).len() < expected.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} rows landed",
            logs.rows(DCR, STREAM).len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.shutdown().await.unwrap();
    let landed: Vec<String> = logs
        .rows(DCR, STREAM)
        .iter()
        .filter_map(|row| row["uuid"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        landed, expected,
        "every event once, in the order Okta published them"
    );
}
