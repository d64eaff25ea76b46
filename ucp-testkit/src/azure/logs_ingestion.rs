//! An Azure Monitor Logs Ingestion API emulator (the endpoint behind Sentinel custom tables).
//!
//! Serves `POST /dataCollectionRules/{dcrImmutableId}/streams/{streamName}?api-version=2023-01-01`
//! on `127.0.0.1:<random port>` and checks what the service checks, in its order: the
//! `api-version`, a bearer token issued by the [`TokenEndpoint`](crate::token_endpoint::TokenEndpoint)
//! for the `https://monitor.azure.com/.default` scope (401 otherwise), the data collection rule
//! and stream (404), the caller's "Monitoring Metrics Publisher" role on the rule (403), the
//! JSON content type (415), the 1 MB limit on the body as sent (413), and a body that is a JSON
//! array of objects (400). Accepted rows are kept per (rule, stream) and can be queried; every
//! call's status is recorded. Faults (429 with `Retry-After`, 5xx, latency, 401, 403) can be
//! scheduled.
//!
//! **Size.** The service limits the body *as sent*: with `Content-Encoding: gzip` that is the
//! compressed size. The official ingestion SDKs rely on it: they fill each call with about
//! 1 MB of JSON *before* compression (plus the row that crossed the line, ~1.05 MB) and send
//! it gzipped (~0.7 MB), and the service takes it. What a gzip body inflates to is bounded
//! separately, and much higher, by [`MAX_DECOMPRESSED_BYTES`]: a guard against compression
//! bombs, not a service limit.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::Value;

use super::faults::{fault_response, stamp_date, FaultSchedule, ProductFault, Refusal};
use super::ids::CallIds;
use crate::token_endpoint::TokenVerifier;

/// The scope (audience) a Logs Ingestion token must be issued for.
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com/.default";
/// The API version the emulator accepts.
pub const API_VERSION: &str = "2023-01-01";
/// The service's limit on one call's body as sent: the compressed size when the body is
/// gzip-encoded, else the JSON's size.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most a gzip body may inflate to (64 MiB) before the emulator answers 413: a guard
/// against compression bombs, not a limit of the service's. Deflate reaches about 1000:1 on
/// repetitive input, so a 1 MB body could otherwise cost a gigabyte of memory per call. An
/// honest 1 MB gzip body of JSON rows (which compress 3 to 20 times) stays well below 64 MiB,
/// so no client that the service accepts is refused here.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// What the emulator saw of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestionCall {
    /// The status it answered.
    pub status: u16,
    /// Body bytes as sent (compressed when gzip).
    pub body_bytes: usize,
    /// Whether the body was gzip-encoded.
    pub gzip: bool,
    /// Rows accepted by this call (0 unless 204).
    pub rows: usize,
    /// Its `User-Agent` and request ids.
    pub ids: CallIds,
}

#[derive(Default)]
struct Inner {
    streams: HashMap<(String, String), Vec<Value>>,
    grants: HashSet<(String, String)>,
    calls: Vec<IngestionCall>,
    max_body: usize,
    max_decompressed: usize,
}

struct Shared {
    base_url: String,
    tokens: TokenVerifier,
    inner: Mutex<Inner>,
    faults: FaultSchedule,
    requests: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running Logs Ingestion emulator. Stops when dropped.
pub struct LogsIngestion {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LogsIngestion {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for LogsIngestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsIngestion")
            .field("url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

/// The service's own `Date` on every response.
async fn date_header(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    stamp_date(&mut response, shared.faults.now());
    response
}

impl LogsIngestion {
    /// Run the service's clock `offset` off the host's (positive: ahead): its `Date` header
    /// and the HTTP dates of [`ProductFault::ThrottledUntil`] follow it.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        self.shared.faults.set_clock_offset(offset);
    }

    /// Start on a random loopback port, accepting tokens that `tokens` verifies.
    pub async fn start(tokens: TokenVerifier) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            base_url,
            tokens,
            inner: Mutex::new(Inner {
                max_body: MAX_BODY_BYTES,
                max_decompressed: MAX_DECOMPRESSED_BYTES,
                ..Inner::default()
            }),
            faults: FaultSchedule::default(),
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/dataCollectionRules/{dcr}/streams/{stream}", post(ingest))
            // The handler reads bodies itself, keeping at most the limit in memory, so any
            // oversized body gets the service's 413 rather than axum's.
            .layer(DefaultBodyLimit::disable())
            .layer(axum::middleware::map_response_with_state(
                shared.clone(),
                date_header,
            ))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "logs ingestion emulator stopped");
            }
        });
        Ok(LogsIngestion { shared, server })
    }

    /// The data collection endpoint URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.shared.base_url
    }

    /// Create a data collection rule stream (idempotent).
    pub fn add_stream(&self, dcr: &str, stream: &str) {
        self.shared
            .lock()
            .streams
            .entry((dcr.to_string(), stream.to_string()))
            .or_default();
    }

    /// Give `client_id` the "Monitoring Metrics Publisher" role on rule `dcr`.
    pub fn grant(&self, dcr: &str, client_id: &str) {
        self.shared
            .lock()
            .grants
            .insert((dcr.to_string(), client_id.to_string()));
    }

    /// Remove the role again.
    pub fn revoke(&self, dcr: &str, client_id: &str) {
        self.shared
            .lock()
            .grants
            .remove(&(dcr.to_string(), client_id.to_string()));
    }

    /// Lower (or raise) the limit on the body as sent, e.g. to provoke 413 with small bodies.
    pub fn set_max_body_bytes(&self, bytes: usize) {
        self.shared.lock().max_body = bytes;
    }

    /// Lower (or raise) the bound on what a gzip body inflates to
    /// ([`MAX_DECOMPRESSED_BYTES`] by default).
    pub fn set_max_decompressed_bytes(&self, bytes: usize) {
        self.shared.lock().max_decompressed = bytes;
    }

    /// Misbehave on the next calls, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = ProductFault>) {
        self.shared.faults.push(faults);
    }

    /// Misbehave on every call (after the injected ones) until [`clear_faults`](Self::clear_faults).
    pub fn always(&self, fault: ProductFault) {
        self.shared.faults.always(Some(fault));
    }

    /// Behave again.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Rows accepted into (rule, stream), in arrival order.
    pub fn rows(&self, dcr: &str, stream: &str) -> Vec<Value> {
        self.shared
            .lock()
            .streams
            .get(&(dcr.to_string(), stream.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<IngestionCall> {
        self.shared.lock().calls.clone()
    }

    /// Number of requests received, faults included.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

#[derive(serde::Deserialize)]
struct IngestQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

async fn ingest(
    State(shared): State<Arc<Shared>>,
    Path((dcr, stream)): Path<(String, String)>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let ids = CallIds::of(&headers);
    let gzip = header_is(&headers, header::CONTENT_ENCODING, "gzip");
    let keep = shared.lock().max_body;
    let body = match SentBody::read(body, keep).await {
        Ok(body) => body,
        Err(e) => {
            let refusal = Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidPayload",
                format!("the request body could not be read: {e}"),
            );
            return record(&shared, refusal.into_response(), ids, 0, gzip, 0);
        }
    };
    let (response, rows) = match shared.faults.take().await {
        Some(fault) => (fault_response(&fault, shared.faults.now()), 0),
        None => match check_and_store(&shared, &dcr, &stream, &query, &headers, &body, gzip) {
            Ok(rows) => (StatusCode::NO_CONTENT.into_response(), rows),
            Err(refusal) => (refusal.into_response(), 0),
        },
    };
    record(&shared, response, ids, body.len, gzip, rows)
}

/// Keep what the emulator saw of a call, and answer it with the call's ids.
fn record(
    shared: &Shared,
    mut response: Response,
    ids: CallIds,
    body_bytes: usize,
    gzip: bool,
    rows: usize,
) -> Response {
    ids.stamp(&mut response);
    shared.lock().calls.push(IngestionCall {
        status: response.status().as_u16(),
        body_bytes,
        gzip,
        rows,
        ids,
    });
    response
}

/// A request body read to its end with at most `keep` bytes held, so a body of any size gets
/// the service's answer without filling memory.
struct SentBody {
    /// The first `keep` bytes (all of them when `len <= keep`).
    kept: Bytes,
    /// The body's full length as sent.
    len: usize,
}

impl SentBody {
    async fn read(body: Body, keep: usize) -> Result<SentBody, axum::Error> {
        let mut frames = body.into_data_stream();
        let mut kept = BytesMut::new();
        let mut len = 0usize;
        while let Some(frame) = frames.next().await {
            let frame = frame?;
            len = len.saturating_add(frame.len());
            let room = keep.saturating_sub(kept.len()).min(frame.len());
            kept.extend_from_slice(&frame[..room]);
        }
        Ok(SentBody {
            kept: kept.freeze(),
            len,
        })
    }
}

fn check_and_store(
    shared: &Shared,
    dcr: &str,
    stream: &str,
    query: &IngestQuery,
    headers: &HeaderMap,
    body: &SentBody,
    gzip: bool,
) -> Result<usize, Refusal> {
    if query.api_version.as_deref() != Some(API_VERSION) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!("api-version must be {API_VERSION}"),
        ));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "no bearer token",
            )
        })?;
    let client = shared
        .tokens
        .verify(token, MONITOR_SCOPE)
        .map_err(|reason| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                &reason,
            )
        })?;
    let mut inner = shared.lock();
    let key = (dcr.to_string(), stream.to_string());
    if !inner.streams.contains_key(&key) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("data collection rule '{dcr}' has no stream '{stream}'"),
        ));
    }
    if !inner.grants.contains(&(dcr.to_string(), client)) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "OperationFailed",
            format!("The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '{dcr}'."),
        ));
    }
    if !header_starts(headers, header::CONTENT_TYPE, "application/json") {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "Content-Type must be application/json",
        ));
    }
    if body.len > inner.max_body {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ContentLengthLimitExceeded",
            format!(
                "Maximum request body size is 1 MB; this body is {} bytes as sent",
                body.len
            ),
        ));
    }
    let plain = if gzip {
        gunzip(&body.kept, inner.max_decompressed)?
    } else {
        body.kept.clone()
    };
    let rows: Vec<Value> = match serde_json::from_slice::<Value>(&plain) {
        Ok(Value::Array(rows)) if rows.iter().all(Value::is_object) => rows,
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidPayload",
                "body must be a JSON array of objects",
            ))
        }
    };
    let count = rows.len();
    inner.streams.entry(key).or_default().extend(rows);
    Ok(count)
}

/// The inflated body, refused once it passes `limit` bytes (the compression-bomb guard).
fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, Refusal> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "InvalidContentEncoding",
                format!("body is not valid gzip: {e}"),
            )
        })?;
    if out.len() > limit {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ContentLengthLimitExceeded",
            format!("the gzip body inflates to more than {limit} bytes"),
        ));
    }
    Ok(Bytes::from(out))
}

fn header_is(headers: &HeaderMap, name: header::HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

fn header_starts(headers: &HeaderMap, name: header::HeaderName, prefix: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(prefix))
}
