//! Azure Event Hubs through the REST batch send, for products that ingest from an event hub
//! (Defender for Identity, Exposure Management, …).
//!
//! Each batch becomes JSON arrays of `{"Body", "UserProperties", "BrokerProperties"}`
//! messages, each array within the service's 1 MB, posted to
//! `{base}/{hub}/messages?timeout=60&api-version=2014-01` with
//! `Content-Type: application/vnd.microsoft.servicebus.json`. `base` is
//! `https://{namespace}.servicebus.windows.net` in production. The partition key comes from a
//! JSON pointer into the event (e.g. `/actor/id`), so one actor's events stay in order.
//!
//! Auth is a SAS token minted from a shared access policy key ([`Credential::SharedAccessKey`],
//! renewed before it expires) or an Entra bearer token for `https://eventhubs.azure.net/.default`
//! from the platform's shared [`TokenProvider`] (a 401 refreshes it once). [`Sink::check`]
//! sends an empty batch, since only the service can tell a wrong policy key or a missing
//! role: a 401/403 is [`SinkError::Auth`], a 404 (no such hub) [`SinkError::Permanent`].
//!
//! | Answer | What the sink does |
//! |---|---|
//! | 201 | delivered |
//! | 413 | splits the batch in two and sends each half; a single message refused this way is rejected |
//! | 429 | [`SinkError::RateLimited`] with `Retry-After` |
//! | 408, 5xx (ServerBusy, …) | [`SinkError::Retryable`] with `Retry-After` |
//! | 401, 403 | [`SinkError::Auth`] naming the credential and what to check |
//! | other 4xx | [`SinkError::Permanent`] with the service's error (dead-lettered) |
//!
//! Requests go through the platform's HTTP client ([`SinkContext::http`](ucp_core::Context::http))
//! with a fresh `x-ms-client-request-id` each, and every refusal is logged with, and its error
//! names, the service's `x-ms-request-id` (the Azure sinks share this code).
//!
//! [`Credential::SharedAccessKey`]: ucp_core::credentials::Credential::SharedAccessKey

mod encode;
mod sas;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::StatusCode;
use ucp_core::credentials::token::{TokenProvider, TokenRequest};
use ucp_core::credentials::Credential;
use ucp_core::{Batch, Delivery, Sink, SinkContext, SinkError, SinkInfo};

use crate::azure::{Answer, Authorization, Chunk, Endpoint, Outbox, Posted};
pub use encode::{EncodedMessages, EventHubsEncoder};
pub use sas::sas_token;
use sas::SasCache;

/// The scope of Event Hubs bearer tokens.
pub const EVENT_HUBS_SCOPE: &str = "https://eventhubs.azure.net/.default";
/// The REST API version spoken.
pub const API_VERSION: &str = "2014-01";
/// The batch content type.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";
/// The service's limit on one batch (standard tier).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// How the sink authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventHubsAuth {
    /// A SAS token from the shared access policy key stored under this credential name.
    SharedAccessKey {
        /// Credential name (a [`Credential::SharedAccessKey`]).
        credential: String,
    },
    /// An Entra bearer token from the client credential stored under this name.
    Entra {
        /// Credential name (a client secret or private-key JWT client).
        credential: String,
    },
}

impl EventHubsAuth {
    fn credential(&self) -> &str {
        match self {
            EventHubsAuth::SharedAccessKey { credential } | EventHubsAuth::Entra { credential } => {
                credential
            }
        }
    }
}

/// Where and how to send.
#[derive(Clone, Debug)]
pub struct EventHubsConfig {
    /// Product name reported by [`Sink::describe`], e.g. `mdi`.
    pub product: String,
    /// `https://{namespace}.servicebus.windows.net` (an emulator's URL in tests).
    pub base_url: String,
    /// The event hub.
    pub hub: String,
    /// How to authenticate.
    pub auth: EventHubsAuth,
    /// JSON pointer of the partition key in the event (e.g. `/actor/id`); none lets the
    /// service spread messages.
    pub partition_key: Option<String>,
    /// Keep each batch within this many bytes (at most 1 MB).
    pub max_batch_bytes: usize,
    /// Lifetime of minted SAS tokens (renewed a fifth of it, at most 5 minutes, before).
    pub sas_lifetime: Duration,
}

impl EventHubsConfig {
    /// A configuration with the defaults: no partition key, 1 MB batches, 1-hour SAS tokens.
    pub fn new(
        product: impl Into<String>,
        base_url: impl Into<String>,
        hub: impl Into<String>,
        auth: EventHubsAuth,
    ) -> Self {
        EventHubsConfig {
            product: product.into(),
            base_url: base_url.into(),
            hub: hub.into(),
            auth,
            partition_key: None,
            max_batch_bytes: MAX_BATCH_BYTES,
            sas_lifetime: Duration::from_secs(3600),
        }
    }

    /// Partition by the value at `pointer` (e.g. `/actor/id`).
    pub fn partition_key(mut self, pointer: impl Into<String>) -> Self {
        self.partition_key = Some(pointer.into());
        self
    }
}

/// Counters of one Event Hubs sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventHubsStats {
    /// Calls made.
    pub calls: u64,
    /// Messages the hub accepted.
    pub messages_accepted: u64,
}

/// The Event Hubs sink. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct EventHubsSink {
    config: Arc<EventHubsConfig>,
    endpoint: Arc<Endpoint>,
    resource_uri: Arc<str>,
    tokens: Arc<TokenProvider>,
    sas: Arc<SasCache>,
    encoder: EventHubsEncoder,
}

impl EventHubsSink {
    /// A sink sending through the platform's HTTP client; `tokens` is the platform's shared
    /// provider (used for [`EventHubsAuth::Entra`]).
    pub fn new(config: EventHubsConfig, tokens: Arc<TokenProvider>) -> Self {
        let base = config.base_url.trim_end_matches('/');
        let resource_uri = format!("{base}/{}", config.hub);
        let (product, hub, credential) = (&config.product, &config.hub, config.auth.credential());
        let (unauthorized, forbidden) = match config.auth {
            EventHubsAuth::SharedAccessKey { .. } => {
                let check = format!(
                    "check the policy name and key in credential '{credential}', and that the policy has the Send claim on event hub {hub} or its namespace"
                );
                (check.clone(), check)
            }
            EventHubsAuth::Entra { .. } => (
                format!(
                    "a freshly minted token of credential '{credential}' was refused too: check that the app's tenant is the namespace's and that the token scope is {EVENT_HUBS_SCOPE}"
                ),
                format!(
                    "the app behind credential '{credential}' needs the \"Azure Event Hubs Data Sender\" role on event hub {hub} or its namespace"
                ),
            ),
        };
        let endpoint = Endpoint {
            url: format!("{resource_uri}/messages?timeout=60&api-version={API_VERSION}"),
            what: format!("{product} (event hub {hub})"),
            content_type: BATCH_CONTENT_TYPE,
            gzip: None,
            unauthorized,
            forbidden,
            calls: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        };
        let sas = SasCache::new(config.sas_lifetime);
        let encoder = EventHubsEncoder::new(config.partition_key.clone(), config.max_batch_bytes);
        EventHubsSink {
            encoder,
            config: Arc::new(config),
            endpoint: Arc::new(endpoint),
            resource_uri: Arc::from(resource_uri),
            tokens,
            sas: Arc::new(sas),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> EventHubsStats {
        EventHubsStats {
            calls: self.endpoint.calls.load(Ordering::Relaxed),
            messages_accepted: self.endpoint.accepted.load(Ordering::Relaxed),
        }
    }

    /// How the next request is authorized: a SAS token minted from the policy key (renewed
    /// before it expires), or an Entra bearer token.
    async fn authorization(&self, cx: &SinkContext) -> Result<Authorization<'_>, SinkError> {
        let product = &self.config.product;
        match &self.config.auth {
            EventHubsAuth::SharedAccessKey { credential } => {
                let (key_name, key) = match cx.credential(credential).await {
                    Ok(Credential::SharedAccessKey { key_name, key }) => (key_name, key),
                    Ok(other) => {
                        return Err(SinkError::Auth {
                            message: format!("{product}: credential '{credential}' is a {}, but SAS auth needs a shared-access key", other.kind()),
                        })
                    }
                    Err(e) => return Err(SinkError::Auth { message: format!("{product}: {e}") }),
                };
                let token =
                    self.sas
                        .token(&self.resource_uri, &key_name, &key, cx.clock().now_utc());
                Ok(Authorization::Header(token))
            }
            EventHubsAuth::Entra { credential } => Ok(Authorization::Entra {
                tokens: &self.tokens,
                request: TokenRequest::named(cx.credentials(), credential, EVENT_HUBS_SCOPE),
            }),
        }
    }

    /// Post one batch of messages.
    async fn post(&self, cx: &SinkContext, chunk: &Chunk) -> Result<Posted, SinkError> {
        let authorization = self.authorization(cx).await?;
        self.endpoint.post_chunk(cx, authorization, chunk).await
    }
}

#[async_trait]
impl Sink for EventHubsSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new(self.config.product.clone())
    }

    /// Sends an empty batch: only the service can tell whether a SAS key signs correctly or
    /// an app holds the Data Sender role, and an empty batch stores nothing.
    async fn check(&self, cx: &SinkContext) -> Result<(), SinkError> {
        let authorization = self.authorization(cx).await?;
        let empty = Bytes::from_static(b"[]");
        match self.endpoint.post(cx, authorization, empty).await? {
            Answer::Accepted => Ok(()),
            // The service authorizes before it reads the body: a refused empty batch still
            // means the credential was accepted.
            Answer::Refused(refused) if refused.failure.status == StatusCode::BAD_REQUEST => Ok(()),
            Answer::Refused(refused) => Err(self.endpoint.refused(&refused)),
        }
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let encoded = self.encoder.encode(&batch.stream, &batch.records);
        let mut rejected = encoded.rejected;
        let mut outbox = Outbox::new(
            encoded.chunks,
            "the event hub refused this single message as too large (413)",
        );
        while let Some(chunk) = outbox.next() {
            let posted = self.post(cx, &chunk).await?;
            outbox.answered(chunk, posted);
        }
        let sent = outbox.finish();
        rejected.extend(sent.rejected);
        Ok(Delivery::with_rejected(rejected))
    }
}
