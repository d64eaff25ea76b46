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
    // The limit is on the body as sent: the same JSON gzipped is small, and taken.
    assert_eq!(
        send(&good, "application/json", gzip(big.as_bytes()), true).await,
        204
    );
    assert_eq!(
        send(&good, "application/json", gzip(&rows), true).await,
        204
    );
    assert_eq!(send(&good, "application/json", rows, false).await, 204);
    assert_eq!(logs.rows("dcr-1", "Custom-T_CL").len(), 3);
    let statuses: Vec<u16> = logs.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 403, 415, 400, 400, 413, 204, 204, 204]);
}

/// A granted client of a stream, and a way to post bodies to it.
struct Ingest {
    _tokens: TokenEndpoint,
    logs: LogsIngestion,
    token: String,
    url: String,
}

impl Ingest {
    async fn start() -> Ingest {
        let tokens = TokenEndpoint::start().await.unwrap();
        let token = token(&tokens, logs_ingestion::MONITOR_SCOPE).await;
        let logs = LogsIngestion::start(tokens.verifier()).await.unwrap();
        logs.add_stream("dcr-1", "Custom-T_CL");
        logs.grant("dcr-1", "app");
        let url = format!(
            "{}/dataCollectionRules/dcr-1/streams/Custom-T_CL?api-version=2023-01-01",
            logs.url()
        );
        Ingest {
            _tokens: tokens,
            logs,
            token,
            url,
        }
    }

    /// Post `body` (gzip-encoded when `gzipped`): the status and the error body, if any.
    async fn post(&self, body: Vec<u8>, gzipped: bool) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("Content-Type", "application/json")
            .body(body);
        if gzipped {
            request = request.header("Content-Encoding", "gzip");
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Rows of random base64url text (compressing about 1.5 times, like events full of ids,
/// hashes and addresses) until the JSON array passes `bytes`; the rows and the array.
fn noisy_rows(bytes: usize) -> (Vec<Value>, Vec<u8>) {
    const NOISE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut rows = Vec::new();
    let mut size = 2;
    while size <= bytes {
        let noise: String = (0..400)
            .map(|_| char::from(NOISE[rng.random_range(0..NOISE.len())]))
            .collect();
        let row = serde_json::json!({
            "TimeGenerated": "2026-11-01T00:00:00Z",
            "EventId": format!("evt-{}", rows.len()),
            "Detail": noise,
        });
        size += serde_json::to_vec(&row).unwrap().len() + 1;
        rows.push(row);
    }
    let json = serde_json::to_vec(&rows).unwrap();
    (rows, json)
}

#[tokio::test]
async fn a_gzip_body_under_1_mb_as_sent_is_taken_whatever_it_inflates_to() {
    let ingest = Ingest::start().await;
    // What the official SDK sends: ~1.05 MB of JSON, gzipped to ~0.7 MB.
    let (rows, json) = noisy_rows(1_050_400);
    let body = gzip(&json);
    assert!(
        json.len() > logs_ingestion::MAX_BODY_BYTES,
        "{}",
        json.len()
    );
    assert!(
        (640_000..740_000).contains(&body.len()),
        "{} bytes gzipped",
        body.len()
    );
    let (status, error) = ingest.post(body.clone(), true).await;
    assert_eq!(status, 204, "{error}");
    assert_eq!(ingest.logs.rows("dcr-1", "Custom-T_CL"), rows);
    let call = &ingest.logs.calls()[0];
    assert_eq!(
        (call.body_bytes, call.gzip, call.rows),
        (body.len(), true, rows.len())
    );
}

#[tokio::test]
async fn a_body_over_1_mb_as_sent_gets_413_with_the_service_error() {
    let ingest = Ingest::start().await;
    let (_, json) = noisy_rows(1_700_000);
    let compressed = gzip(&json);
    assert!(compressed.len() > logs_ingestion::MAX_BODY_BYTES);
    for (body, gzipped) in [(json, false), (compressed, true)] {
        let (status, error) = ingest.post(body, gzipped).await;
        assert_eq!(status, 413, "gzip {gzipped}: {error}");
        assert_eq!(error["error"]["code"], "ContentLengthLimitExceeded");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Maximum request body size is 1 MB"),
            "{error}"
        );
    }
    // Far past any buffer: still read to its end and answered by the service, not the server.
    let (status, error) = ingest.post(vec![b' '; 40 * 1024 * 1024], false).await;
    assert_eq!(status, 413);
    assert_eq!(error["error"]["code"], "ContentLengthLimitExceeded");
    assert!(ingest.logs.rows("dcr-1", "Custom-T_CL").is_empty());
    assert_eq!(ingest.logs.calls()[2].body_bytes, 40 * 1024 * 1024);
}

#[tokio::test]
async fn a_gzip_body_inflating_past_the_bomb_guard_gets_413() {
    let ingest = Ingest::start().await;
    ingest.logs.set_max_decompressed_bytes(2 * 1024 * 1024);
    let bomb = format!("[{{\"a\":\"{}\"}}]", "x".repeat(3 * 1024 * 1024));
    let body = gzip(bomb.as_bytes());
    assert!(body.len() < 10_000, "{}", body.len());
    let (status, error) = ingest.post(body, true).await;
    assert_eq!(status, 413);
    assert_eq!(error["error"]["code"], "ContentLengthLimitExceeded");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inflates"),
        "{error}"
    );
    let fine = format!("[{{\"a\":\"{}\"}}]", "x".repeat(1024 * 1024));
    assert_eq!(ingest.post(gzip(fine.as_bytes()), true).await.0, 204);
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

#[tokio::test]
async fn every_answer_has_a_fresh_service_request_id_and_echoes_the_client_s() {
    let sim = TokenEndpoint::start().await.unwrap();
    let logs = LogsIngestion::start(sim.verifier()).await.unwrap();
    let hubs = EventHubs::start(None).await.unwrap();
    let client = reqwest::Client::new();
    let urls = [
        format!(
            "{}/dataCollectionRules/dcr-1/streams/Custom-T_CL?api-version=2023-01-01",
            logs.url()
        ),
        format!("{}/h/messages?timeout=60&api-version=2014-01", hubs.url()),
    ];
    let mut answered = Vec::new();
    for url in &urls {
        for client_id in [Some("c-1"), None] {
            let mut request = client.post(url).header("user-agent", "probe/1").body("[]");
            if let Some(id) = client_id {
                request = request.header(CLIENT_REQUEST_ID, id);
            }
            // Refused (no credential), as every kind of answer carries the ids.
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401);
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_string())
            };
            assert_eq!(header(CLIENT_REQUEST_ID).as_deref(), client_id);
            answered.push(header(REQUEST_ID).unwrap());
        }
    }
    let mut seen: Vec<CallIds> = logs.calls().into_iter().map(|c| c.ids).collect();
    seen.extend(hubs.calls().into_iter().map(|c| c.ids));
    assert_eq!(
        seen.iter()
            .map(|ids| ids.request_id.clone())
            .collect::<Vec<_>>(),
        answered
    );
    assert_eq!(
        seen.iter()
            .map(|ids| ids.client_request_id.as_deref())
            .collect::<Vec<_>>(),
        [Some("c-1"), None, Some("c-1"), None]
    );
    assert!(seen
        .iter()
        .all(|ids| ids.user_agent.as_deref() == Some("probe/1")));
    let distinct: std::collections::HashSet<&String> = answered.iter().collect();
    assert_eq!(distinct.len(), 4, "{answered:?}");
}

#[tokio::test]
async fn a_skewed_service_clock_shows_in_date_and_retry_after_and_the_kit_waits_right() {
    let sim = TokenEndpoint::start().await.unwrap();
    let logs = LogsIngestion::start(sim.verifier()).await.unwrap();
    let hubs = EventHubs::start(None).await.unwrap();
    for minutes in [5, -5] {
        let offset = chrono::Duration::minutes(minutes);
        logs.set_clock_offset(offset);
        hubs.set_clock_offset(offset);
        logs.inject([ProductFault::ThrottledUntil { seconds: 30 }]);
        hubs.inject([ProductFault::ThrottledUntil { seconds: 30 }]);
        let urls = [
            format!("{}/dataCollectionRules/dcr-1/streams/Custom-T", logs.url()),
            format!("{}/hub/messages", hubs.url()),
        ];
        for url in urls {
            let response = reqwest::Client::new().post(&url).send().await.unwrap();
            let received = chrono::Utc::now();
            assert_eq!(response.status(), 429, "{url}");
            let skew = ucp_core::http::clock_skew(response.headers(), received).unwrap();
            let expected = offset.num_seconds().unsigned_abs();
            assert!(
                skew.magnitude().as_secs().abs_diff(expected) <= 2
                    && skew.is_ahead() == (minutes > 0),
                "{url}: {skew}"
            );
            // The HTTP-date is read on the service's clock: 30 s, not 30 s ± 5 minutes.
            let wait = ucp_core::http::retry_after(response.headers(), received).unwrap();
            assert!(wait.as_secs().abs_diff(30) <= 2, "{url}: {wait:?}");
        }
    }
}
