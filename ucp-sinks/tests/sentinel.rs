//! The Sentinel sink against the Logs Ingestion emulator and the Entra token endpoint
//! simulator, over loopback.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use secrecy::SecretString;
use serde_json::{json, Value};
use ucp_core::credentials::token::HttpTokenFetcher;
use ucp_core::credentials::token::TokenProvider;
use ucp_core::credentials::CredentialStore;
use ucp_core::credentials::{Credential, CredentialRef, MemoryCredentials};
use ucp_core::Context;
use ucp_core::*;
use ucp_sinks::sentinel::{ColumnMapping, SentinelConfig, SentinelSink, MAX_BODY_BYTES};
use ucp_testkit::azure::{
    assert_each_traceable, assert_request_id_named, LogsIngestion, ProductFault,
};
use ucp_testkit::leak::TraceCapture;
use ucp_testkit::token_endpoint::TokenEndpoint;

const DCR: &str = "dcr-0123456789abcdef";
const STREAM: &str = "Custom-OktaSystemLog_CL";

struct Lab {
    tokens: TokenEndpoint,
    logs: LogsIngestion,
    provider: Arc<TokenProvider>,
    cx: SinkContext,
}

async fn lab() -> Lab {
    let tokens = TokenEndpoint::start().await.unwrap();
    tokens.register_secret_client("sentinel-app", "app-secret");
    let logs = LogsIngestion::start(tokens.verifier()).await.unwrap();
    logs.add_stream(DCR, STREAM);
    logs.grant(DCR, "sentinel-app");
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new("contoso", "entra"),
            Credential::ClientSecret {
                token_url: tokens.entra_token_url("contoso-tenant"),
                client_id: "sentinel-app".into(),
                secret: SecretString::from("app-secret".to_string()),
            },
        )
        .await
        .unwrap();
    let provider = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().unwrap(),
    )));
    let cx = SinkContext::new(
        "sentinel",
        Context::standalone("contoso", store, Clock::new()).expect("a standalone context"),
    );
    Lab {
        tokens,
        logs,
        provider,
        cx,
    }
}

impl Lab {
    fn config(&self) -> SentinelConfig {
        SentinelConfig::new(self.logs.url(), DCR, STREAM, "entra")
    }

    fn sink(&self, config: SentinelConfig) -> SentinelSink {
        SentinelSink::new(config, self.provider.clone())
    }

    fn rows(&self) -> Vec<Value> {
        self.logs.rows(DCR, STREAM)
    }
}

/// `count` events of about `size` bytes each.
fn batch(count: usize, size: usize) -> Batch {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let event = json!({
                "uuid": format!("evt-{i}"),
                "eventType": "user.session.start",
                "actor": {"id": format!("actor-{}", i % 7)},
                "padding": "x".repeat(size.saturating_sub(120)),
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

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["uuid"].as_str().unwrap().to_string())
        .collect()
}

fn expected_ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("evt-{i}")).collect()
}

#[tokio::test]
async fn rows_carry_time_generated_and_the_mapped_columns() {
    let lab = lab().await;
    let config = SentinelConfig {
        mapping: ColumnMapping::copy_top_level()
            .rename("uuid", "EventId")
            .column("ActorId", "/actor/id")
            .with_id("RecordId"),
        ..lab.config()
    };
    let delivery = lab
        .sink(config)
        .deliver(&lab.cx, &batch(3, 300))
        .await
        .unwrap();
    assert!(delivery.rejected.is_empty());
    let rows = lab.rows();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["TimeGenerated"], "2026-11-01T08:00:01.000Z");
    assert_eq!(rows[1]["EventId"], "evt-1");
    assert_eq!(rows[1]["RecordId"], "evt-1");
    assert_eq!(rows[1]["ActorId"], "actor-1");
    assert_eq!(rows[1]["eventType"], "user.session.start");
    assert_eq!(
        lab.logs
            .calls()
            .iter()
            .map(|c| c.status)
            .collect::<Vec<_>>(),
        [204]
    );
}

#[tokio::test]
async fn batches_are_split_so_each_call_stays_within_1_mb() {
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    sink.deliver(&lab.cx, &batch(3000, 1024)).await.unwrap();
    let calls = lab.logs.calls();
    assert!(
        calls.len() >= 3,
        "3 MB of events need at least 3 calls, got {}",
        calls.len()
    );
    assert!(calls
        .iter()
        .all(|c| c.status == 204 && c.body_bytes <= MAX_BODY_BYTES));
    assert_eq!(ids(&lab.rows()), expected_ids(3000));
    assert_eq!(sink.stats().rows_accepted, 3000);
}

#[tokio::test]
async fn gzip_bodies_are_sent_compressed_and_decoded_by_the_service() {
    let lab = lab().await;
    let sink = lab.sink(SentinelConfig {
        gzip: true,
        ..lab.config()
    });
    sink.deliver(&lab.cx, &batch(500, 1024)).await.unwrap();
    let calls = lab.logs.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].gzip);
    assert!(
        calls[0].body_bytes < 100_000,
        "500 KB of repetitive JSON should compress well, sent {} bytes",
        calls[0].body_bytes
    );
    assert_eq!(ids(&lab.rows()), expected_ids(500));
}

#[tokio::test]
async fn a_413_splits_the_body_and_retries_the_halves() {
    let lab = lab().await;
    lab.logs.set_max_body_bytes(150_000);
    let sink = lab.sink(lab.config());
    let delivery = sink.deliver(&lab.cx, &batch(400, 1024)).await.unwrap();
    assert!(delivery.rejected.is_empty());
    let statuses: Vec<u16> = lab.logs.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses[0], 413);
    assert!(statuses.iter().filter(|s| **s == 204).count() >= 3);
    assert!(sink.stats().splits >= 2);
    assert_eq!(ids(&lab.rows()), expected_ids(400));
}

#[tokio::test]
async fn a_single_row_too_large_for_the_service_is_rejected_not_retried_forever() {
    let lab = lab().await;
    lab.logs.set_max_body_bytes(2_000);
    let delivery = lab
        .sink(lab.config())
        .deliver(&lab.cx, &batch(2, 3_000))
        .await
        .unwrap();
    assert_eq!(delivery.rejected.len(), 2);
    assert!(delivery.rejected[0].reason.contains("413"));
    assert!(lab.rows().is_empty());
}

#[tokio::test]
async fn throttling_and_unavailability_surface_with_retry_after() {
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    lab.logs.inject([
        ProductFault::throttle(7),
        ProductFault::Status {
            status: 503,
            retry_after: Some(3),
        },
    ]);
    let error = sink.deliver(&lab.cx, &batch(5, 200)).await.unwrap_err();
    assert!(matches!(error, SinkError::RateLimited { .. }), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    let error = sink.deliver(&lab.cx, &batch(5, 200)).await.unwrap_err();
    assert!(matches!(error, SinkError::Retryable { .. }), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
    sink.deliver(&lab.cx, &batch(5, 200)).await.unwrap();
    assert_eq!(lab.rows().len(), 5);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_delivers() {
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap();
    assert_eq!(lab.tokens.token_requests(), 1);
    lab.tokens.revoke_all();
    sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap();
    assert_eq!(
        lab.tokens.token_requests(),
        2,
        "one fresh token after the 401"
    );
    let statuses: Vec<u16> = lab.logs.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [204, 401, 204]);
    assert_eq!(lab.rows().len(), 4);
}

#[tokio::test]
async fn a_token_for_the_wrong_audience_ends_in_an_auth_error() {
    let lab = lab().await;
    let sink = lab.sink(SentinelConfig {
        scope: "https://management.azure.com/.default".into(),
        ..lab.config()
    });
    let error = sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert_eq!(
        lab.logs.calls().len(),
        2,
        "one retry with a fresh token, then stop"
    );
}

#[tokio::test]
async fn a_403_is_a_permanent_auth_error_naming_the_missing_role() {
    let lab = lab().await;
    lab.logs.revoke(DCR, "sentinel-app");
    let error = lab
        .sink(lab.config())
        .deliver(&lab.cx, &batch(2, 200))
        .await
        .unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    let message = error.to_string();
    assert!(
        message.contains("Monitoring Metrics Publisher"),
        "{message}"
    );
    assert!(message.contains(DCR), "{message}");
    assert!(!message.contains("app-secret"));
}

#[tokio::test]
async fn other_4xx_are_permanent_and_carry_the_service_body() {
    let lab = lab().await;
    let sink = lab.sink(SentinelConfig::new(
        lab.logs.url(),
        DCR,
        "Custom-Missing_CL",
        "entra",
    ));
    let error = sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap_err();
    assert!(matches!(error, SinkError::Permanent { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("has no stream 'Custom-Missing_CL'"),
        "{error}"
    );
}

#[tokio::test]
async fn field_values_over_64_kb_are_truncated_and_counted() {
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    sink.deliver(&lab.cx, &batch(1, 100_000)).await.unwrap();
    let rows = lab.rows();
    let padding = rows[0]["padding"].as_str().unwrap();
    assert_eq!(padding.len(), 64 * 1024);
    assert_eq!(rows[0]["uuid"], "evt-0");
    assert_eq!(sink.stats().truncated_fields, 1);
}

#[tokio::test]
async fn check_mints_a_token_or_says_why_not() {
    let lab = lab().await;
    lab.sink(lab.config()).check(&lab.cx).await.unwrap();
    let missing = lab.sink(SentinelConfig::new(lab.logs.url(), DCR, STREAM, "nope"));
    let error = missing.check(&lab.cx).await.unwrap_err();
    assert!(error.to_string().contains("nope"), "{error}");
}

#[tokio::test]
async fn secrets_and_tokens_stay_out_of_errors_and_debug() {
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    sink.deliver(&lab.cx, &batch(1, 200)).await.unwrap();
    lab.logs.revoke(DCR, "sentinel-app");
    let forbidden = sink.deliver(&lab.cx, &batch(1, 200)).await.unwrap_err();
    lab.tokens.revoke_all();
    lab.logs.always(ProductFault::Unauthorized);
    let rejected = sink.deliver(&lab.cx, &batch(1, 200)).await.unwrap_err();
    let mut scanner = ucp_testkit::leak::LeakScanner::new();
    scanner.secret("client secret", "app-secret");
    for (i, token) in lab.tokens.issued_tokens().iter().enumerate() {
        scanner.secret(format!("token {i}"), token);
    }
    scanner.scan_display("403 error", &forbidden);
    scanner.scan_display("401 error", &rejected);
    scanner.scan_debug("sink", &sink);
    scanner.scan_debug("403 error", &forbidden);
    scanner.assert_clean();
    assert!(matches!(rejected, SinkError::Auth { .. }), "{rejected}");
}

#[tokio::test]
async fn every_call_carries_ucp_s_user_agent_and_a_client_request_id_of_its_own() {
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    // Splits after a 413, then a 401 and the call again with a fresh token.
    lab.logs.set_max_body_bytes(150_000);
    sink.deliver(&lab.cx, &batch(400, 1024)).await.unwrap();
    lab.tokens.revoke_all();
    sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap();
    let calls = lab.logs.calls();
    let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
    assert!(
        statuses.contains(&413) && statuses.contains(&401),
        "{statuses:?}"
    );
    assert_each_traceable(&calls.into_iter().map(|c| c.ids).collect::<Vec<_>>());
}

/// Current-thread runtime on purpose: the capture is the thread's default subscriber.
#[tokio::test]
async fn the_service_request_id_is_in_every_error_and_in_the_log() {
    let capture = TraceCapture::new();
    let _guard = capture.set_default();
    let lab = lab().await;
    let sink = lab.sink(lab.config());
    // The role missing, the service unavailable, and a token for another audience refused
    // even fresh.
    lab.logs.revoke(DCR, "sentinel-app");
    let forbidden = sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap_err();
    lab.logs.grant(DCR, "sentinel-app");
    lab.logs.inject([ProductFault::unavailable()]);
    let unavailable = sink.deliver(&lab.cx, &batch(2, 200)).await.unwrap_err();
    let other_audience = lab.sink(SentinelConfig {
        scope: "https://management.azure.com/.default".into(),
        ..lab.config()
    });
    let rejected = other_audience
        .deliver(&lab.cx, &batch(2, 200))
        .await
        .unwrap_err();
    let calls = lab.logs.calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [403, 503, 401, 401]
    );
    let logs = capture.text();
    for (error, call) in [
        (&forbidden, &calls[0]),
        (&unavailable, &calls[1]),
        (&rejected, &calls[3]),
    ] {
        assert_request_id_named(error, &call.ids, &logs);
        // Our own id of the call is logged beside it.
        let client = call.ids.client_request_id.as_deref().unwrap();
        assert!(
            logs.contains(&format!("client_request_id={client}")),
            "{client}"
        );
    }
    assert!(matches!(rejected, SinkError::Auth { .. }), "{rejected}");
    assert!(
        rejected
            .to_string()
            .contains("https://management.azure.com/.default"),
        "names the scope to check: {rejected}"
    );
}
