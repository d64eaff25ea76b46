//! The emulators refuse what Azure refuses, checked with raw HTTP requests.

use std::io::Write;

use serde_json::Value;

use super::*;
use crate::token_endpoint::TokenEndpoint;

async fn token(sim: &TokenEndpoint, scope: &str) -> String {
    sim.register_secret_client("app", "secret");
    let response: Value = reqwest::Client::new()
        .post(sim.entra_token_url("tid"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "secret"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_string()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn logs_ingestion_checks_audience_role_type_size_and_shape() {
    let sim = TokenEndpoint::start().await.unwrap();
    let good = token(&sim, logs_ingestion::MONITOR_SCOPE).await;
    let other = token(&sim, "https://storage.azure.com/.default").await;
    let logs = LogsIngestion::start(sim.verifier()).await.unwrap();
    logs.add_stream("dcr-1", "Custom-T_CL");
    let url = format!(
        "{}/dataCollectionRules/dcr-1/streams/Custom-T_CL?api-version=2023-01-01",
        logs.url()
    );
    let client = reqwest::Client::new();
    let send = |token: &str, content_type: &str, body: Vec<u8>, gzipped: bool| {
        let mut request = client
            .post(&url)
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body);
        if gzipped {
            request = request.header("Content-Encoding", "gzip");
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let rows = br#"[{"TimeGenerated":"2026-11-01T00:00:00Z","a":1}]"#.to_vec();
    assert_eq!(
        send(&other, "application/json", rows.clone(), false).await,
        401
    );
    assert_eq!(
        send(&good, "application/json", rows.clone(), false).await,
        403
    );
    logs.grant("dcr-1", "app");
    assert_eq!(send(&good, "text/plain", rows.clone(), false).await, 415);
    assert_eq!(
        send(&good, "application/json", br#"{"a":1}"#.to_vec(), false).await,
        400
    );
    assert_eq!(
        send(&good, "application/json", b"[1,2]".to_vec(), false).await,
        400
    );
    let big = format!(
        "[{{\"a\":\"{}\"}}]",
        "x".repeat(logs_ingestion::MAX_BODY_BYTES)
    );
    assert_eq!(
        send(&good, "application/json", big.clone().into_bytes(), false).await,
        413
    );
    // Small on the wire, too large once gunzipped.
    assert_eq!(
        send(&good, "application/json", gzip(big.as_bytes()), true).await,
        413
    );
    assert_eq!(
        send(&good, "application/json", gzip(&rows), true).await,
        204
    );
    assert_eq!(send(&good, "application/json", rows, false).await, 204);
    assert_eq!(logs.rows("dcr-1", "Custom-T_CL").len(), 2);
    let statuses: Vec<u16> = logs.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 403, 415, 400, 400, 413, 413, 204, 204]);
}

#[tokio::test]
async fn faults_are_served_in_order_then_always() {
    let sim = TokenEndpoint::start().await.unwrap();
    let good = token(&sim, logs_ingestion::MONITOR_SCOPE).await;
    let logs = LogsIngestion::start(sim.verifier()).await.unwrap();
    logs.add_stream("d", "s");
    logs.grant("d", "app");
    logs.inject([
        ProductFault::throttle(9),
        ProductFault::Latency(std::time::Duration::from_millis(1)),
    ]);
    logs.always(ProductFault::Forbidden);
    let url = format!(
        "{}/dataCollectionRules/d/streams/s?api-version=2023-01-01",
        logs.url()
    );
    let call = || async {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(&good)
            .header("Content-Type", "application/json")
            .body("[]")
            .send()
            .await
            .unwrap()
    };
    let throttled = call().await;
    assert_eq!(throttled.status().as_u16(), 429);
    assert_eq!(throttled.headers()["retry-after"], "9");
    assert_eq!(call().await.status().as_u16(), 204, "latency, then served");
    assert_eq!(call().await.status().as_u16(), 403);
    logs.clear_faults();
    assert_eq!(call().await.status().as_u16(), 204);
    assert_eq!(logs.request_count(), 4);
}

#[tokio::test]
async fn event_hubs_checks_auth_content_type_and_size() {
    let hubs = EventHubs::start(None).await.unwrap();
    hubs.add_hub("h");
    let url = format!("{}/h/messages?timeout=60&api-version=2014-01", hubs.url());
    let client = reqwest::Client::new();
    let send = |auth: &str, content_type: &str, body: String| {
        let request = client
            .post(&url)
            .header("Authorization", auth)
            .header("Content-Type", content_type)
            .body(body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let batch = r#"[{"Body":"hello","BrokerProperties":{"PartitionKey":"k"}}]"#.to_string();
    assert_eq!(
        send("Bearer x", event_hubs::BATCH_CONTENT_TYPE, batch.clone()).await,
        401
    );
    assert_eq!(
        send(
            "SharedAccessSignature sr=a",
            event_hubs::BATCH_CONTENT_TYPE,
            batch
        )
        .await,
        401
    );
    assert_eq!(hubs.refusals().len(), 2);
    assert!(hubs.refusals()[0].contains("bearer tokens are not accepted"));
    assert!(hubs.refusals()[1].contains("lacks"));
    assert!(hubs.messages("h").is_empty());
}
