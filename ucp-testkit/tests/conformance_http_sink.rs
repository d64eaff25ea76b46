//! An HTTP product plugs into the sink suite: a small ingestion emulator served behind the
//! check's fault layer, and a sink that speaks to it. The suite's default `throttle_next`
//! (a 429 injected by the layer) and the product's own limit (10 records per request, which
//! the sink splits by itself without declaring it) are exercised over real HTTP.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use ucp_core::credentials::Credential;
use ucp_core::{Batch, Delivery, RecordId, RejectedRecord, Sink, SinkContext, SinkError, SinkInfo};
use ucp_testkit::conformance::{
    checks, sink_suite, Outcome, ProductSetup, Redelivery, SeenRequest, SinkFixture,
};

const MAX_RECORDS: usize = 10;
const KEY: &str = "ingest-key-good-5e1f";

#[derive(Default)]
struct Store {
    accept: bool,
    stored: Vec<String>,
    ids: HashSet<String>,
    reject: HashSet<String>,
    requests: Vec<SeenRequest>,
}

type Shared = Arc<Mutex<Store>>;

fn authorized(store: &Shared, headers: &HeaderMap) -> bool {
    let store = store.lock().unwrap();
    store.accept
        && headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {KEY}").as_str())
}

async fn health(State(store): State<Shared>, headers: HeaderMap) -> StatusCode {
    if authorized(&store, &headers) {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Stores each id once (idempotent); refuses listed ids; at most 10 records per request.
async fn ingest(
    State(store): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<Value>) {
    if !authorized(&store, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"})));
    }
    let Ok(events) = serde_json::from_str::<Vec<Value>>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "not a list"})),
        );
    };
    let mut store = store.lock().unwrap();
    store.requests.push(SeenRequest {
        records: events.len(),
        bytes: body.len(),
    });
    if events.len() > MAX_RECORDS {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({"error": "too many"})),
        );
    }
    let mut rejected = Vec::new();
    for event in events {
        let id = event["uuid"].as_str().unwrap_or_default().to_string();
        if store.reject.contains(&id) {
            rejected.push(json!({"id": id, "reason": "schema mismatch"}));
        } else if store.ids.insert(id.clone()) {
            store.stored.push(id);
        }
    }
    (StatusCode::OK, Json(json!({ "rejected": rejected })))
}

struct Product {
    url: String,
    store: Shared,
    _server: tokio::task::JoinHandle<()>,
}

struct IngestFixture;

#[async_trait]
impl SinkFixture for IngestFixture {
    type Product = Product;

    async fn start(&self, setup: ProductSetup) -> Result<Product, String> {
        let store: Shared = Arc::new(Mutex::new(Store {
            accept: setup.accept_credentials,
            ..Store::default()
        }));
        let app = axum::Router::new()
            .route("/health", get(health))
            .route("/ingest", post(ingest))
            .with_state(store.clone())
            .layer(setup.faults.layer());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Product {
            url,
            store,
            _server: server,
        })
    }

    async fn stored(&self, product: &Product) -> Vec<String> {
        product.store.lock().unwrap().stored.clone()
    }

    async fn requests(&self, product: &Product) -> Vec<SeenRequest> {
        product.store.lock().unwrap().requests.clone()
    }

    async fn reject(&self, product: &Product, ids: &[String]) {
        product
            .store
            .lock()
            .unwrap()
            .reject
            .extend(ids.iter().cloned());
    }

    fn max_records_per_request(&self) -> Option<usize> {
        Some(MAX_RECORDS)
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::Idempotent
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        vec![("ingest".into(), key(KEY))]
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        vec![("ingest".into(), key("ingest-key-revoked-77aa"))]
    }
}

fn key(value: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(value.to_string()),
    }
}

/// A partner's HTTP sink for the emulator above; `split` off leaves splitting undone.
struct IngestSink {
    url: String,
    client: reqwest::Client,
    split: bool,
}

impl IngestSink {
    async fn key(&self, cx: &SinkContext) -> Result<String, SinkError> {
        match cx.credential("ingest").await {
            Ok(Credential::ApiToken { token }) => Ok(token.expose_secret().to_string()),
            _ => Err(SinkError::Auth {
                message: "credential 'ingest' is missing or not an API token".into(),
            }),
        }
    }

    fn error(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> SinkError {
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs);
        match status.as_u16() {
            401 | 403 => SinkError::Auth {
                message: format!("the ingestion API refused the key (HTTP {status})"),
            },
            429 => SinkError::RateLimited {
                message: "the ingestion API throttled the batch".into(),
                retry_after,
            },
            s if s >= 500 => SinkError::Retryable {
                message: format!("the ingestion API failed (HTTP {status})"),
                retry_after,
            },
            _ => SinkError::Permanent {
                message: format!("the ingestion API refused the batch (HTTP {status})"),
            },
        }
    }
}

#[async_trait]
impl Sink for IngestSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("ingest")
    }

    async fn check(&self, cx: &SinkContext) -> Result<(), SinkError> {
        let key = self.key(cx).await?;
        let answer = self
            .client
            .get(format!("{}/health", self.url))
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| SinkError::Retryable {
                message: format!("ingestion API unreachable: {}", e.without_url()),
                retry_after: None,
            })?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(Self::error(answer.status(), answer.headers()))
        }
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let key = self.key(cx).await?;
        let size = if self.split { MAX_RECORDS } else { usize::MAX };
        let mut rejected = Vec::new();
        for part in batch.records.chunks(size) {
            let body: Vec<&serde_json::value::RawValue> = part
                .iter()
                .filter_map(|r| serde_json::from_slice(&r.payload).ok())
                .collect();
            let answer = self
                .client
                .post(format!("{}/ingest", self.url))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .map_err(|e| SinkError::Retryable {
                    message: format!("ingestion API unreachable: {}", e.without_url()),
                    retry_after: None,
                })?;
            if !answer.status().is_success() {
                return Err(Self::error(answer.status(), answer.headers()));
            }
            let reply: Value = answer.json().await.map_err(|e| SinkError::Retryable {
                message: format!("unreadable ingestion reply: {}", e.without_url()),
                retry_after: None,
            })?;
            for item in reply["rejected"].as_array().into_iter().flatten() {
                rejected.push(RejectedRecord {
                    id: RecordId::from(item["id"].as_str().unwrap_or_default()),
                    reason: item["reason"].as_str().unwrap_or("refused").to_string(),
                });
            }
        }
        Ok(Delivery::with_rejected(rejected))
    }
}

async fn report(split: bool) -> ucp_testkit::conformance::SuiteReport {
    sink_suite(
        move |p: &Product| {
            Ok::<_, String>(IngestSink {
                url: p.url.clone(),
                client: reqwest::Client::new(),
                split,
            })
        },
        IngestFixture,
    )
    .await
}

#[tokio::test]
async fn an_http_sink_passes_the_sink_suite() {
    let report = report(true).await;
    println!("{report}");
    report.assert_all_passed();
    assert!(report.checks.iter().all(|c| c.outcome == Outcome::Passed));
}

#[tokio::test]
async fn an_http_sink_that_does_not_split_fails_only_the_split_check() {
    let report = report(false).await;
    assert_eq!(
        report.failed(),
        vec![checks::SPLITS_OVERSIZED_BATCHES],
        "{report}"
    );
}
