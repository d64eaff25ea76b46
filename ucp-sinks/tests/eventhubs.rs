//! The Event Hubs sink against the Event Hubs emulator (SAS and Entra bearer auth), over
//! loopback.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use secrecy::SecretString;
use serde_json::json;
use ucp_core::credentials::token::HttpTokenFetcher;
use ucp_core::credentials::token::TokenProvider;
use ucp_core::credentials::CredentialStore;
use ucp_core::credentials::{Credential, CredentialRef, MemoryCredentials};
use ucp_core::Context;
use ucp_core::*;
use ucp_sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink, MAX_BATCH_BYTES};
use ucp_testkit::azure::{assert_each_traceable, assert_request_id_named, EventHubs, ProductFault};
use ucp_testkit::leak::TraceCapture;
use ucp_testkit::token_endpoint::TokenEndpoint;

const KEY: &str = "c2VuZC1wb2xpY3kta2V5LWZvci10ZXN0cw==";

struct Lab {
    tokens: TokenEndpoint,
    hubs: EventHubs,
    store: Arc<MemoryCredentials>,
    provider: Arc<TokenProvider>,
}

async fn lab() -> Lab {
    let tokens = TokenEndpoint::start().await.unwrap();
    tokens.register_secret_client("hub-app", "app-secret");
    let hubs = EventHubs::start(Some(tokens.verifier())).await.unwrap();
    hubs.add_hub("mdi");
    hubs.add_key("send-policy", KEY);
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new("contoso", "mdi-sas"),
            Credential::SharedAccessKey {
                key_name: "send-policy".into(),
                key: SecretString::from(KEY.to_string()),
            },
        )
        .await
        .unwrap();
    store
        .put(
            CredentialRef::new("contoso", "entra"),
            Credential::ClientSecret {
                token_url: tokens.entra_token_url("contoso-tenant"),
                client_id: "hub-app".into(),
                secret: SecretString::from("app-secret".to_string()),
            },
        )
        .await
        .unwrap();
    let provider = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().unwrap(),
    )));
    Lab {
        tokens,
        hubs,
        store,
        provider,
    }
}

impl Lab {
    fn cx(&self) -> SinkContext {
        self.cx_at(Clock::new())
    }

    fn cx_at(&self, clock: Clock) -> SinkContext {
        SinkContext::new(
            "mdi",
            Context::standalone("contoso", self.store.clone(), clock)
                .expect("a standalone context"),
        )
    }

    fn sas(&self) -> EventHubsConfig {
        EventHubsConfig::new(
            "mdi",
            self.hubs.url(),
            "mdi",
            EventHubsAuth::SharedAccessKey {
                credential: "mdi-sas".into(),
            },
        )
    }

    fn entra(&self) -> EventHubsConfig {
        EventHubsConfig::new(
            "mdi",
            self.hubs.url(),
            "mdi",
            EventHubsAuth::Entra {
                credential: "entra".into(),
            },
        )
    }

    fn sink(&self, config: EventHubsConfig) -> EventHubsSink {
        EventHubsSink::new(config, self.provider.clone())
    }

    fn statuses(&self) -> Vec<u16> {
        self.hubs.calls().iter().map(|c| c.status).collect()
    }
}

fn batch(count: usize, size: usize) -> Batch {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let event = json!({
                "uuid": format!("evt-{i}"),
                "actor": {"id": format!("actor-{}", i % 7)},
                "padding": "x".repeat(size.saturating_sub(100)),
            });
            Record::new(
                format!("evt-{i}"),
                start + chrono::Duration::seconds(i as i64),
                serde_json::to_vec(&event).unwrap(),
            )
        })
        .collect();
    Batch {
        stream: StreamKey::new("okta-contoso", "system_log"),
        records: records.into(),
        cursor_after: Cursor::new("next"),
    }
}

#[tokio::test]
async fn sas_signed_batches_arrive_with_bodies_partition_keys_and_properties() {
    let lab = lab().await;
    let sink = lab.sink(lab.sas().partition_key("/actor/id"));
    let input = batch(10, 200);
    let delivery = sink.deliver(&lab.cx(), &input).await.unwrap();
    assert!(delivery.rejected.is_empty());
    assert_eq!(lab.statuses(), [201]);
    let messages = lab.hubs.messages("mdi");
    assert_eq!(messages.len(), 10);
    for (i, (message, record)) in messages.iter().zip(input.records.iter()).enumerate() {
        assert_eq!(message.body.as_bytes(), &record.payload[..]);
        assert_eq!(
            message.partition_key.as_deref(),
            Some(&*format!("actor-{}", i % 7))
        );
        assert_eq!(message.user_properties["ucp.id"], format!("evt-{i}"));
        assert_eq!(message.user_properties["ucp.stream"], "system_log");
    }
    assert_eq!(sink.stats().messages_accepted, 10);
    assert!(lab.hubs.refusals().is_empty());
}

#[tokio::test]
async fn batches_are_split_so_each_call_stays_within_1_mb() {
    let lab = lab().await;
    lab.sink(lab.sas())
        .deliver(&lab.cx(), &batch(3000, 1024))
        .await
        .unwrap();
    let calls = lab.hubs.calls();
    assert!(calls.len() >= 3, "got {} calls", calls.len());
    assert!(calls
        .iter()
        .all(|c| c.status == 201 && c.body_bytes <= MAX_BATCH_BYTES));
    let ids: Vec<String> = lab
        .hubs
        .messages("mdi")
        .iter()
        .map(|m| m.user_properties["ucp.id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        (0..3000).map(|i| format!("evt-{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_by_the_signature_check_and_is_a_permanent_auth_error() {
    let lab = lab().await;
    lab.store
        .put(
            CredentialRef::new("contoso", "mdi-sas"),
            Credential::SharedAccessKey {
                key_name: "send-policy".into(),
                key: SecretString::from("not-the-key".to_string()),
            },
        )
        .await
        .unwrap();
    let error = lab
        .sink(lab.sas())
        .deliver(&lab.cx(), &batch(2, 200))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert!(error.to_string().contains("Send claim"), "{error}");
    assert!(!error.to_string().contains("not-the-key"));
    assert!(
        lab.hubs.refusals()[0].contains("signature"),
        "{:?}",
        lab.hubs.refusals()
    );
    assert!(lab.hubs.messages("mdi").is_empty());
}

#[tokio::test]
async fn an_unknown_policy_name_is_refused() {
    let lab = lab().await;
    lab.store
        .put(
            CredentialRef::new("contoso", "mdi-sas"),
            Credential::SharedAccessKey {
                key_name: "listen-policy".into(),
                key: SecretString::from(KEY.to_string()),
            },
        )
        .await
        .unwrap();
    let error = lab
        .sink(lab.sas())
        .deliver(&lab.cx(), &batch(1, 200))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert!(lab.hubs.refusals()[0].contains("listen-policy"));
}

#[tokio::test]
async fn an_expired_sas_token_is_refused() {
    let lab = lab().await;
    // A clock two hours behind mints tokens that expired an hour ago.
    let clock = Clock::at(Utc::now() - chrono::Duration::hours(2));
    let error = lab
        .sink(lab.sas())
        .deliver(&lab.cx_at(clock), &batch(1, 200))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert!(lab.hubs.refusals()[0].contains("expired"));
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable() {
    let lab = lab().await;
    let sink = lab.sink(lab.sas());
    lab.hubs.inject([
        ProductFault::throttle(4),
        ProductFault::Status {
            status: 503,
            retry_after: Some(1),
        },
        ProductFault::Status {
            status: 500,
            retry_after: None,
        },
    ]);
    let error = sink.deliver(&lab.cx(), &batch(3, 200)).await.unwrap_err();
    assert!(matches!(error, SinkError::RateLimited { .. }));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(4)));
    let error = sink.deliver(&lab.cx(), &batch(3, 200)).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    let error = sink.deliver(&lab.cx(), &batch(3, 200)).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable);
    sink.deliver(&lab.cx(), &batch(3, 200)).await.unwrap();
    assert_eq!(lab.hubs.messages("mdi").len(), 3);
}

#[tokio::test]
async fn entra_bearer_tokens_are_accepted_for_a_data_sender_and_refreshed_after_a_401() {
    let lab = lab().await;
    lab.hubs.grant_sender("hub-app");
    let sink = lab.sink(lab.entra());
    sink.deliver(&lab.cx(), &batch(2, 200)).await.unwrap();
    lab.tokens.revoke_all();
    sink.deliver(&lab.cx(), &batch(2, 200)).await.unwrap();
    assert_eq!(lab.statuses(), [201, 401, 201]);
    assert_eq!(lab.tokens.token_requests(), 2);
    assert_eq!(lab.hubs.messages("mdi").len(), 4);
}

#[tokio::test]
async fn entra_without_the_sender_role_is_a_permanent_auth_error_naming_the_role() {
    let lab = lab().await;
    let error = lab
        .sink(lab.entra())
        .deliver(&lab.cx(), &batch(2, 200))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn an_injected_403_names_the_role_and_a_missing_hub_is_permanent() {
    let lab = lab().await;
    lab.hubs.inject([ProductFault::Forbidden]);
    let error = lab
        .sink(lab.entra())
        .deliver(&lab.cx(), &batch(1, 200))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("Azure Event Hubs Data Sender"),
        "{error}"
    );
    let missing = EventHubsConfig {
        hub: "nope".into(),
        ..lab.sas()
    };
    let error = lab
        .sink(missing)
        .deliver(&lab.cx(), &batch(1, 200))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Permanent { .. }), "{error}");
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[tokio::test]
async fn check_refuses_a_credential_of_the_wrong_kind() {
    let lab = lab().await;
    lab.sink(lab.sas()).check(&lab.cx()).await.unwrap();
    let wrong = EventHubsConfig {
        auth: EventHubsAuth::SharedAccessKey {
            credential: "entra".into(),
        },
        ..lab.sas()
    };
    let error = lab.sink(wrong).check(&lab.cx()).await.unwrap_err();
    assert!(error.to_string().contains("shared-access key"), "{error}");
}

#[tokio::test]
async fn keys_and_signatures_stay_out_of_errors_and_debug() {
    let lab = lab().await;
    let sink = lab.sink(lab.sas());
    sink.deliver(&lab.cx(), &batch(1, 200)).await.unwrap();
    lab.hubs
        .add_key("send-policy", "rotated-on-the-service-side");
    let error = sink.deliver(&lab.cx(), &batch(1, 200)).await.unwrap_err();
    let mut scanner = ucp_testkit::leak::LeakScanner::new();
    scanner.secret("policy key", KEY);
    scanner.scan_display("error", &error);
    scanner.scan_debug("error", &error);
    scanner.scan_debug("sink", &sink);
    scanner.assert_clean();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
}

#[tokio::test]
async fn every_call_carries_ucp_s_user_agent_and_a_client_request_id_of_its_own() {
    let lab = lab().await;
    lab.hubs.grant_sender("hub-app");
    let sas = lab.sink(lab.sas());
    sas.check(&lab.cx()).await.unwrap();
    sas.deliver(&lab.cx(), &batch(3000, 1024)).await.unwrap();
    let entra = lab.sink(lab.entra());
    entra.deliver(&lab.cx(), &batch(2, 200)).await.unwrap();
    lab.tokens.revoke_all();
    entra.deliver(&lab.cx(), &batch(2, 200)).await.unwrap();
    let calls = lab.hubs.calls();
    assert!(calls.len() >= 6, "{}", calls.len());
    assert!(calls.iter().any(|c| c.status == 401), "a refreshed token");
    assert_each_traceable(&calls.into_iter().map(|c| c.ids).collect::<Vec<_>>());
}

/// Current-thread runtime on purpose: the capture is the thread's default subscriber.
#[tokio::test]
async fn the_service_request_id_is_in_every_error_and_in_the_log() {
    let capture = TraceCapture::new();
    let _guard = capture.set_default();
    let lab = lab().await;
    let sink = lab.sink(lab.sas());
    // A role refused, the service failing, and a hub that does not exist.
    lab.hubs
        .inject([ProductFault::Forbidden, ProductFault::unavailable()]);
    let forbidden = sink.deliver(&lab.cx(), &batch(1, 200)).await.unwrap_err();
    let unavailable = sink.deliver(&lab.cx(), &batch(1, 200)).await.unwrap_err();
    let missing = lab.sink(EventHubsConfig {
        hub: "nope".into(),
        ..lab.sas()
    });
    let not_found = missing
        .deliver(&lab.cx(), &batch(1, 200))
        .await
        .unwrap_err();
    let calls = lab.hubs.calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [403, 503, 404]
    );
    assert!(matches!(forbidden, SinkError::Auth { .. }), "{forbidden}");
    assert!(forbidden.to_string().contains("Send claim"), "{forbidden}");
    assert_eq!(unavailable.class(), ErrorClass::Retryable);
    assert!(
        matches!(not_found, SinkError::Permanent { .. }),
        "{not_found}"
    );
    let logs = capture.text();
    for (error, call) in [
        (&forbidden, &calls[0]),
        (&unavailable, &calls[1]),
        (&not_found, &calls[2]),
    ] {
        assert_request_id_named(error, &call.ids, &logs);
    }
}
