//! Microsoft Sentinel / Log Analytics through the Azure Monitor Logs Ingestion API.
//!
//! Each batch becomes JSON array bodies of rows shaped for a data collection rule (DCR)
//! stream ([`ColumnMapping`]), each within the service's 1 MB, with field values cut to
//! 64 KB (counted in [`SentinelStats::truncated_fields`]), optionally gzip-compressed, and
//! posted to `{endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`
//! with an Entra bearer token for `https://monitor.azure.com/.default` from the platform's
//! shared [`TokenProvider`].
//!
//! | Answer | What the sink does |
//! |---|---|
//! | 204 | delivered |
//! | 413 | splits the body in two and sends each half; a single row refused this way is rejected |
//! | 429 | [`SinkError::RateLimited`] with `Retry-After` |
//! | 503, other 5xx | [`SinkError::Retryable`] with `Retry-After` |
//! | 401 | a fresh token, once; then [`SinkError::Auth`] |
//! | 403 | [`SinkError::Auth`]: the app needs "Monitoring Metrics Publisher" on the DCR |
//! | other 4xx | [`SinkError::Permanent`] with the service's body (dead-lettered) |
//!
//! A failure after some bodies of a batch were accepted fails the batch; the engine sends
//! it again, so those rows arrive twice (at-least-once; rows carry the record time and, with
//! [`ColumnMapping::with_id`], the record id to deduplicate on).

mod chunk;
mod encode;
pub(crate) mod http;
mod mapping;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use ucp_core::credentials::token::{Attempt, TokenProvider, TokenRequest};
use ucp_core::{Batch, Delivery, RejectedRecord, Sink, SinkContext, SinkError, SinkInfo};

pub(crate) use chunk::{Chunk, Packer};
pub use encode::{Encoded, SentinelEncoder, MAX_BODY_BYTES, MAX_FIELD_BYTES};
pub use mapping::ColumnMapping;

use http::{error_body, retry_after, token_error, transport_error};

/// The scope of Logs Ingestion API tokens.
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com/.default";
/// The Logs Ingestion API version spoken.
pub const API_VERSION: &str = "2023-01-01";

/// Where and how to send.
#[derive(Clone, Debug)]
pub struct SentinelConfig {
    /// Product name reported by [`Sink::describe`] (default `sentinel`).
    pub product: String,
    /// The data collection endpoint (or DCR ingestion endpoint), e.g.
    /// `https://my-dce-abcd.eastus-1.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The DCR's immutable id, `dcr-…`.
    pub dcr_immutable_id: String,
    /// The DCR stream, e.g. `Custom-OktaSystemLog_CL`.
    pub stream: String,
    /// Name of the Entra client credential (in the sink's tenant) that mints tokens.
    pub credential: String,
    /// Token scope (default [`MONITOR_SCOPE`]; other clouds differ).
    pub scope: String,
    /// Send bodies with `Content-Encoding: gzip`.
    pub gzip: bool,
    /// How events become rows.
    pub mapping: ColumnMapping,
    /// Keep each body within this many uncompressed bytes (at most 1 MB).
    pub max_body_bytes: usize,
}

impl SentinelConfig {
    /// A configuration with the defaults: product `sentinel`, no gzip, top-level fields copied.
    pub fn new(
        endpoint: impl Into<String>,
        dcr_immutable_id: impl Into<String>,
        stream: impl Into<String>,
        credential: impl Into<String>,
    ) -> Self {
        SentinelConfig {
            product: "sentinel".into(),
            endpoint: endpoint.into(),
            dcr_immutable_id: dcr_immutable_id.into(),
            stream: stream.into(),
            credential: credential.into(),
            scope: MONITOR_SCOPE.into(),
            gzip: false,
            mapping: ColumnMapping::default(),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

/// Counters of one Sentinel sink, for summaries and health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SentinelStats {
    /// Calls made to the Logs Ingestion API.
    pub calls: u64,
    /// Rows the API accepted.
    pub rows_accepted: u64,
    /// Field values cut to 64 KB.
    pub truncated_fields: u64,
    /// Bodies split after a 413.
    pub splits: u64,
}

#[derive(Default, Debug)]
struct Counters {
    calls: AtomicU64,
    rows_accepted: AtomicU64,
    truncated_fields: AtomicU64,
    splits: AtomicU64,
}

/// The Sentinel sink. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SentinelSink {
    config: Arc<SentinelConfig>,
    url: Arc<str>,
    encoder: SentinelEncoder,
    client: reqwest::Client,
    tokens: Arc<TokenProvider>,
    counters: Arc<Counters>,
}

enum Posted {
    Accepted,
    TooLarge,
}

impl SentinelSink {
    /// A sink sending with `client`, tokens from the platform's shared `tokens`.
    pub fn new(
        config: SentinelConfig,
        tokens: Arc<TokenProvider>,
        client: reqwest::Client,
    ) -> Self {
        let url = format!(
            "{}/dataCollectionRules/{}/streams/{}?api-version={API_VERSION}",
            config.endpoint.trim_end_matches('/'),
            config.dcr_immutable_id,
            config.stream
        );
        let encoder =
            SentinelEncoder::new(config.mapping.clone()).max_body_bytes(config.max_body_bytes);
        SentinelSink {
            config: Arc::new(config),
            url: Arc::from(url),
            encoder,
            client,
            tokens,
            counters: Arc::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> SentinelStats {
        let c = &self.counters;
        SentinelStats {
            calls: c.calls.load(Ordering::Relaxed),
            rows_accepted: c.rows_accepted.load(Ordering::Relaxed),
            truncated_fields: c.truncated_fields.load(Ordering::Relaxed),
            splits: c.splits.load(Ordering::Relaxed),
        }
    }

    fn token_request(&self, cx: &SinkContext) -> TokenRequest {
        TokenRequest::named(
            cx.credentials(),
            &self.config.credential,
            &self.config.scope,
        )
    }

    async fn post(&self, cx: &SinkContext, chunk: &Chunk) -> Result<Posted, SinkError> {
        let product = &self.config.product;
        let body = chunk
            .body(self.config.gzip)
            .map_err(|e| SinkError::Permanent {
                message: format!("{product}: could not compress the body: {e}"),
            })?;
        let request = self.token_request(cx);
        let response = self
            .tokens
            .with_token(&request, |token| {
                let body: Bytes = body.clone();
                async move {
                    self.counters.calls.fetch_add(1, Ordering::Relaxed);
                    let mut call = self
                        .client
                        .post(&*self.url)
                        .bearer_auth(token.secret().expose_secret())
                        .header(CONTENT_TYPE, "application/json")
                        .body(body);
                    if self.config.gzip {
                        call = call.header(CONTENT_ENCODING, "gzip");
                    }
                    match call.send().await {
                        Ok(r) if r.status() == StatusCode::UNAUTHORIZED => Attempt::Unauthorized,
                        Ok(r) => Attempt::Done(Ok(r)),
                        Err(e) => Attempt::Done(Err(transport_error(product, &self.url, e))),
                    }
                }
            })
            .await
            .map_err(|e| token_error(product, e))??;
        let status = response.status();
        let wait = retry_after(response.headers());
        match status.as_u16() {
            200..=299 => {
                self.counters
                    .rows_accepted
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Ok(Posted::Accepted)
            }
            413 => Ok(Posted::TooLarge),
            429 => Err(SinkError::RateLimited {
                message: format!("{product}: Logs Ingestion API throttled the call (429)"),
                retry_after: wait,
            }),
            403 => Err(SinkError::Auth {
                message: format!(
                    "{product}: Logs Ingestion API refused the token of credential '{}' (403): the app needs the \"Monitoring Metrics Publisher\" role on data collection rule {}. Service said: {}",
                    self.config.credential,
                    self.config.dcr_immutable_id,
                    error_body(response).await
                ),
            }),
            500..=599 => Err(SinkError::Retryable {
                message: format!("{product}: Logs Ingestion API answered {status}: {}", error_body(response).await),
                retry_after: wait,
            }),
            _ => Err(SinkError::Permanent {
                message: format!(
                    "{product}: Logs Ingestion API refused the batch for DCR {} stream {} with {status}: {}",
                    self.config.dcr_immutable_id,
                    self.config.stream,
                    error_body(response).await
                ),
            }),
        }
    }
}

#[async_trait]
impl Sink for SentinelSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new(self.config.product.clone())
    }

    async fn check(&self, cx: &SinkContext) -> Result<(), SinkError> {
        self.tokens
            .token(&self.token_request(cx))
            .await
            .map(|_| ())
            .map_err(|e| token_error(&self.config.product, e))
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let encoded = self.encoder.encode(&batch.records);
        self.counters
            .truncated_fields
            .fetch_add(encoded.truncated_fields, Ordering::Relaxed);
        let mut rejected = encoded.rejected;
        let mut queue: VecDeque<Chunk> = encoded.chunks.into();
        while let Some(chunk) = queue.pop_front() {
            match self.post(cx, &chunk).await? {
                Posted::Accepted => {}
                Posted::TooLarge if chunk.len() > 1 => {
                    self.counters.splits.fetch_add(1, Ordering::Relaxed);
                    let (first, second) = chunk.split();
                    queue.push_front(second);
                    queue.push_front(first);
                }
                Posted::TooLarge => rejected.extend(chunk.ids().iter().map(|id| RejectedRecord {
                    id: id.clone(),
                    reason:
                        "the Logs Ingestion API refused this single row as too large (413)".into(),
                })),
            }
        }
        if !rejected.is_empty() {
            tracing::warn!(product = %self.config.product, rejected = rejected.len(), "records rejected by the Sentinel sink");
        }
        Ok(Delivery::with_rejected(rejected))
    }
}
