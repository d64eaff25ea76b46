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
//! | 408, 5xx | [`SinkError::Retryable`] with `Retry-After` |
//! | 401 | a fresh token, once; then [`SinkError::Auth`] |
//! | 403 | [`SinkError::Auth`]: the app needs "Monitoring Metrics Publisher" on the DCR |
//! | other 4xx | [`SinkError::Permanent`] with the service's error (dead-lettered) |
//!
//! Requests go through the platform's HTTP client ([`SinkContext::http`](ucp_core::Context::http))
//! with a fresh `x-ms-client-request-id` each, and every refusal is logged with, and its error
//! names, the service's `x-ms-request-id` (the Azure sinks share this code).
//!
//! **Packing.** Bodies are filled by their JSON size, up to 1 MB before compression, as the
//! official Azure Monitor ingestion SDKs fill theirs; the service limits the body as sent, so
//! with gzip that is far within it. Filling toward 1 MB *compressed* was weighed and not
//! done: Okta-shaped rows compress about 25 to 30 times at gzip level 1 (the data of
//! `benches/sentinel_encode.rs`), so a call would carry tens of megabytes of JSON, which no
//! official client sends and nothing says the service takes, to save calls the service does
//! not ask us to save (it allows 12,000 a minute per data collection rule).
//!
//! A failure after some bodies of a batch were accepted fails the batch; the engine sends
//! it again, so those rows arrive twice (at-least-once; rows carry the record time and, with
//! [`ColumnMapping::with_id`], the record id to deduplicate on).

mod encode;
#[cfg(test)]
mod encode_proptests;
pub mod health;
mod mapping;
mod row;
mod tree;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ucp_core::credentials::token::{TokenProvider, TokenRequest};
use ucp_core::{Batch, Delivery, Sink, SinkContext, SinkError, SinkInfo};

use crate::azure::{token_error, Authorization, Chunk, Endpoint, Outbox, Posted};
pub use crate::azure::{DEFAULT_GZIP_LEVEL, GZIP_BACKEND};
pub use encode::{Encoded, SentinelEncoder, MAX_BODY_BYTES, MAX_FIELD_BYTES};
pub use mapping::ColumnMapping;

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
    /// The gzip level, 0 (stored) to 9 (smallest); default [`DEFAULT_GZIP_LEVEL`], chosen
    /// by measurement (BENCHMARKS.md, "Compression").
    pub gzip_level: u32,
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
            gzip_level: DEFAULT_GZIP_LEVEL,
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
    truncated_fields: AtomicU64,
    splits: AtomicU64,
}

/// The Sentinel sink. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SentinelSink {
    config: Arc<SentinelConfig>,
    endpoint: Arc<Endpoint>,
    encoder: SentinelEncoder,
    tokens: Arc<TokenProvider>,
    counters: Arc<Counters>,
}

impl SentinelSink {
    /// A sink sending through the platform's HTTP client, with tokens from the platform's
    /// shared `tokens`.
    pub fn new(config: SentinelConfig, tokens: Arc<TokenProvider>) -> Self {
        let SentinelConfig {
            product,
            endpoint,
            dcr_immutable_id: dcr,
            stream,
            credential,
            scope,
            ..
        } = &config;
        let endpoint = Endpoint {
            url: format!(
                "{}/dataCollectionRules/{dcr}/streams/{stream}?api-version={API_VERSION}",
                endpoint.trim_end_matches('/'),
            ),
            what: format!("{product} (Logs Ingestion API, DCR {dcr}, stream {stream})"),
            content_type: "application/json",
            gzip: config.gzip.then_some(config.gzip_level.min(9)),
            unauthorized: format!(
                "a freshly minted token of credential '{credential}' was refused too: check that the app's tenant is the DCR's and that the token scope is {scope}"
            ),
            forbidden: format!(
                "the app behind credential '{credential}' needs the \"Monitoring Metrics Publisher\" role on data collection rule {dcr}"
            ),
            calls: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        };
        let encoder =
            SentinelEncoder::new(config.mapping.clone()).max_body_bytes(config.max_body_bytes);
        SentinelSink {
            config: Arc::new(config),
            endpoint: Arc::new(endpoint),
            encoder,
            tokens,
            counters: Arc::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> SentinelStats {
        let c = &self.counters;
        SentinelStats {
            calls: self.endpoint.calls.load(Ordering::Relaxed),
            rows_accepted: self.endpoint.accepted.load(Ordering::Relaxed),
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

    /// Post one body with an Entra token.
    async fn post(&self, cx: &SinkContext, chunk: &Chunk) -> Result<Posted, SinkError> {
        let authorization = Authorization::Entra {
            tokens: &self.tokens,
            request: self.token_request(cx),
        };
        self.endpoint.post_chunk(cx, authorization, chunk).await
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
            .map_err(|e| token_error(&self.endpoint.what, e))
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let encoded = self.encoder.encode(&batch.records);
        self.counters
            .truncated_fields
            .fetch_add(encoded.truncated_fields, Ordering::Relaxed);
        let mut outbox = Outbox::new(
            encoded.chunks,
            "the Logs Ingestion API refused this single row as too large (413)",
        );
        while let Some(chunk) = outbox.next() {
            let posted = self.post(cx, &chunk).await?;
            outbox.answered(chunk, posted);
        }
        let sent = outbox.finish();
        self.counters
            .splits
            .fetch_add(sent.splits, Ordering::Relaxed);
        let mut rejected = encoded.rejected;
        rejected.extend(sent.rejected);
        if !rejected.is_empty() {
            tracing::warn!(product = %self.config.product, rejected = rejected.len(), "records rejected by the Sentinel sink");
        }
        Ok(Delivery::with_rejected(rejected))
    }
}
