//! An Azure Event Hubs REST emulator: batch send with SAS or Entra bearer auth.
//!
//! Serves `POST /{hub}/messages?timeout=60&api-version=2014-01` on `127.0.0.1:<random port>`
//! (the emulator's URL stands for `https://{namespace}`) and checks what the service checks:
//! the `Authorization` header, either a `SharedAccessSignature` (known policy name, expiry in
//! the future, resource `sr` covering the hub, HMAC-SHA256 signature over
//! `"<url-encoded sr>\n<expiry>"` with the policy's key) or a bearer token issued for
//! `https://eventhubs.azure.net/.default` to a client granted "Azure Event Hubs Data Sender"
//! (401 otherwise); the hub (404); the `application/vnd.microsoft.servicebus.json` content type
//! (415); the 1 MB batch limit (413); and a JSON array of `{"Body": string, …}` messages (400).
//! Accepted messages are kept per hub with their partition key and user properties. Faults
//! (429 with `Retry-After`, 5xx, latency, 401, 403) can be scheduled.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use super::faults::{fault_response, stamp_date, FaultSchedule, ProductFault, Refusal};
use super::ids::CallIds;
use crate::token_endpoint::TokenVerifier;

/// The scope (audience) an Event Hubs bearer token must be issued for.
pub const EVENT_HUBS_SCOPE: &str = "https://eventhubs.azure.net/.default";
/// The API version the emulator accepts.
pub const API_VERSION: &str = "2014-01";
/// The service's limit on one batch (standard tier: 1 MB).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// The batch content type.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";

/// One message as the hub keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct HubMessage {
    /// The message body.
    pub body: String,
    /// `BrokerProperties.PartitionKey`, if sent.
    pub partition_key: Option<String>,
    /// `UserProperties`, if sent.
    pub user_properties: Map<String, Value>,
}

/// What the emulator saw of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubCall {
    /// The hub addressed.
    pub hub: String,
    /// The status it answered.
    pub status: u16,
    /// Body bytes.
    pub body_bytes: usize,
    /// Messages accepted by this call.
    pub messages: usize,
    /// Its `User-Agent` and request ids.
    pub ids: CallIds,
}

#[derive(Default)]
struct Inner {
    hubs: HashMap<String, Vec<HubMessage>>,
    keys: HashMap<String, Vec<u8>>,
    senders: HashSet<String>,
    calls: Vec<HubCall>,
    refusals: Vec<String>,
}

struct Shared {
    base_url: String,
    tokens: Option<TokenVerifier>,
    inner: Mutex<Inner>,
    faults: FaultSchedule,
    requests: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running Event Hubs namespace emulator. Stops when dropped.
pub struct EventHubs {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for EventHubs {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for EventHubs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHubs")
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

impl EventHubs {
    /// Run the service's clock `offset` off the host's (positive: ahead): its `Date` header
    /// and the HTTP dates of [`ProductFault::ThrottledUntil`] follow it.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        self.shared.faults.set_clock_offset(offset);
    }

    /// Start on a random loopback port. Bearer tokens are accepted only when `tokens` is given.
    pub async fn start(tokens: Option<TokenVerifier>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            base_url,
            tokens,
            inner: Mutex::new(Inner::default()),
            faults: FaultSchedule::default(),
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/{hub}/messages", post(send))
            .layer(DefaultBodyLimit::max(16 * MAX_BATCH_BYTES))
            .layer(axum::middleware::map_response_with_state(
                shared.clone(),
                date_header,
            ))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "event hubs emulator stopped");
            }
        });
        Ok(EventHubs { shared, server })
    }

    /// The namespace URL, e.g. `http://127.0.0.1:41234` (stands for `https://{namespace}`).
    pub fn url(&self) -> &str {
        &self.shared.base_url
    }

    /// Create an event hub (idempotent).
    pub fn add_hub(&self, hub: &str) {
        self.shared.lock().hubs.entry(hub.to_string()).or_default();
    }

    /// Add (or replace) a shared access policy with a Send claim.
    pub fn add_key(&self, key_name: &str, key: &str) {
        self.shared
            .lock()
            .keys
            .insert(key_name.to_string(), key.as_bytes().to_vec());
    }

    /// Give an Entra client the "Azure Event Hubs Data Sender" role.
    pub fn grant_sender(&self, client_id: &str) {
        self.shared.lock().senders.insert(client_id.to_string());
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

    /// Messages accepted by `hub`, in arrival order.
    pub fn messages(&self, hub: &str) -> Vec<HubMessage> {
        self.shared
            .lock()
            .hubs
            .get(hub)
            .cloned()
            .unwrap_or_default()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<HubCall> {
        self.shared.lock().calls.clone()
    }

    /// Why authorization was refused, in order (never contains keys or signatures).
    pub fn refusals(&self) -> Vec<String> {
        self.shared.lock().refusals.clone()
    }

    /// Number of requests received, faults included.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

#[derive(Deserialize)]
struct SendQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "UserProperties", default)]
    user_properties: Map<String, Value>,
    #[serde(rename = "BrokerProperties", default)]
    broker_properties: Map<String, Value>,
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path(hub): Path<String>,
    Query(query): Query<SendQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let ids = CallIds::of(&headers);
    let (mut response, messages) = match shared.faults.take().await {
        Some(fault) => (fault_response(&fault, shared.faults.now()), 0),
        None => match check_and_store(&shared, &hub, &query, &headers, &body) {
            Ok(count) => (StatusCode::CREATED.into_response(), count),
            Err(refusal) => (refusal.into_response(), 0),
        },
    };
    ids.stamp(&mut response);
    shared.lock().calls.push(HubCall {
        hub,
        status: response.status().as_u16(),
        body_bytes: body.len(),
        messages,
        ids,
    });
    response
}

fn check_and_store(
    shared: &Shared,
    hub: &str,
    query: &SendQuery,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<usize, Refusal> {
    if query.api_version.as_deref() != Some(API_VERSION) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!("api-version must be {API_VERSION}"),
        ));
    }
    if let Err(reason) = authorize(shared, hub, headers) {
        shared.lock().refusals.push(reason.clone());
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            &reason,
        ));
    }
    let mut inner = shared.lock();
    if !inner.hubs.contains_key(hub) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("event hub '{hub}' does not exist"),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.trim().eq_ignore_ascii_case(BATCH_CONTENT_TYPE) {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("Content-Type must be {BATCH_CONTENT_TYPE}"),
        ));
    }
    if body.len() > MAX_BATCH_BYTES {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MessageSizeExceeded",
            "the batch exceeds the 1 MB limit",
        ));
    }
    let wire: Vec<WireMessage> = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidBatch",
            format!("body must be a JSON array of messages with a string Body: {e}"),
        )
    })?;
    let count = wire.len();
    let messages = inner.hubs.entry(hub.to_string()).or_default();
    messages.extend(wire.into_iter().map(|m| {
        HubMessage {
            body: m.body,
            partition_key: m
                .broker_properties
                .get("PartitionKey")
                .and_then(Value::as_str)
                .map(str::to_string),
            user_properties: m.user_properties,
        }
    }));
    Ok(count)
}

/// Check the `Authorization` header; the reason names what is wrong, never a secret.
fn authorize(shared: &Shared, hub: &str, headers: &HeaderMap) -> Result<(), String> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization header")?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        let verifier = shared
            .tokens
            .as_ref()
            .ok_or("bearer tokens are not accepted by this namespace")?;
        let client = verifier.verify(token, EVENT_HUBS_SCOPE)?;
        return if shared.lock().senders.contains(&client) {
            Ok(())
        } else {
            Err(format!(
                "client {client} lacks the Azure Event Hubs Data Sender role"
            ))
        };
    }
    let sas = value
        .strip_prefix("SharedAccessSignature ")
        .ok_or("Authorization is neither a SharedAccessSignature nor a Bearer token")?;
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for pair in sas.split('&') {
        let (k, v) = pair.split_once('=').ok_or("malformed SAS token")?;
        fields.insert(k, v);
    }
    let field = |name: &str| {
        fields
            .get(name)
            .copied()
            .ok_or(format!("SAS token lacks {name}"))
    };
    let (sr_raw, sig_raw, se_raw, skn) = (field("sr")?, field("sig")?, field("se")?, field("skn")?);
    let decode = |raw: &str| -> String {
        url::form_urlencoded::parse(format!("v={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let expiry: u64 = se_raw.parse().map_err(|_| "SAS expiry is not a number")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if expiry <= now {
        return Err("SAS token expired".into());
    }
    let sr = decode(sr_raw).to_ascii_lowercase();
    let sr = sr
        .split_once("://")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(sr);
    let sr = sr.trim_end_matches('/');
    let host = shared
        .base_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&shared.base_url);
    let target = format!("{host}/{hub}").to_ascii_lowercase();
    if !(target == sr || target.starts_with(&format!("{sr}/"))) {
        return Err(format!("SAS resource '{sr}' does not cover '{target}'"));
    }
    let key = shared
        .lock()
        .keys
        .get(&decode(skn))
        .cloned()
        .ok_or_else(|| format!("unknown shared access policy '{}'", decode(skn)))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(decode(sig_raw))
        .map_err(|_| "SAS signature is not base64")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| "unusable policy key")?;
    mac.update(format!("{sr_raw}\n{se_raw}").as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| format!("SAS signature of policy '{}' does not match", decode(skn)))
}
