//! The product side of a connector: [`Sink`] delivers a batch to one product.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::context::Context;
use crate::error::ErrorClass;
use crate::record::{Batch, RecordId, StreamKey};

/// What a sink is and what it accepts, returned by [`Sink::describe`].
///
/// The *product* a sink delivers to is the name it is registered under
/// ([`crate::PlatformBuilder::sink`]) and that subscriptions name; `kind` says which kind of
/// endpoint it is, so two products can be sinks of the same kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkInfo {
    /// The kind of endpoint, e.g. `sentinel` (the Logs Ingestion API) or `eventhubs`.
    pub kind: String,
    /// Largest number of records per `deliver` call; the platform splits larger batches.
    /// The sink still splits by bytes itself (it knows its encoding).
    pub max_batch_records: Option<usize>,
}

impl SinkInfo {
    /// A sink of `kind` with no record-count limit.
    pub fn new(kind: impl Into<String>) -> Self {
        SinkInfo {
            kind: kind.into(),
            max_batch_records: None,
        }
    }

    /// Split batches above `max` records.
    pub fn max_batch_records(mut self, max: usize) -> Self {
        self.max_batch_records = Some(max);
        self
    }
}

/// Everything a sink call may use: the shared [`Context`] of its tenant (credentials,
/// tokens, clock, HTTP client — through `Deref`), plus the product it delivers to.
#[derive(Clone)]
pub struct SinkContext {
    product: Arc<str>,
    context: Context,
}

impl std::fmt::Debug for SinkContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkContext")
            .field("product", &self.product)
            .field("tenant", &self.context.tenant())
            .finish()
    }
}

impl SinkContext {
    /// The context of the sink registered as `product`; the platform builds these, tests and
    /// conformance suites may too.
    pub fn new(product: impl AsRef<str>, context: Context) -> Self {
        SinkContext {
            product: Arc::from(product.as_ref()),
            context,
        }
    }

    /// The product: the name the sink is registered under, which subscriptions name.
    pub fn product(&self) -> &str {
        &self.product
    }
}

impl std::ops::Deref for SinkContext {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

/// The product accepted the batch, except the records listed as rejected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Records the product refused for good, each with its reason. They go to the dead-letter
    /// store; the rest counts as delivered.
    pub rejected: Vec<RejectedRecord>,
}

impl Delivery {
    /// Every record was accepted.
    pub fn all() -> Self {
        Delivery::default()
    }

    /// Accepted except `rejected`.
    pub fn with_rejected(rejected: Vec<RejectedRecord>) -> Self {
        Delivery { rejected }
    }
}

/// One record the product refused for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRecord {
    /// The record.
    pub id: RecordId,
    /// Why, in the product's words.
    pub reason: String,
}

/// Why a delivery failed as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The product refused the credential. Permanent until the credential or role changes.
    #[error("authentication failed: {message}")]
    Auth {
        /// What the product said, without secrets.
        message: String,
    },
    /// The product throttled the call.
    #[error("rate limited: {message}")]
    RateLimited {
        /// What the product said.
        message: String,
        /// The product's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// A temporary failure (5xx, timeout, connection reset).
    #[error("temporary failure: {message}")]
    Retryable {
        /// What happened.
        message: String,
        /// The product's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The product refuses the whole batch for good; it goes to the dead-letter store.
    #[error("permanent failure: {message}")]
    Permanent {
        /// What the product said.
        message: String,
    },
}

impl SinkError {
    /// Retryable, rate-limited or permanent.
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::RateLimited { .. } => ErrorClass::RateLimited,
            SinkError::Retryable { .. } => ErrorClass::Retryable,
            SinkError::Auth { .. } | SinkError::Permanent { .. } => ErrorClass::Permanent,
        }
    }

    /// The wait the product asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SinkError::RateLimited { retry_after, .. }
            | SinkError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short name of the variant, for metrics labels (`auth`, `rate_limited`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkError::Auth { .. } => "auth",
            SinkError::RateLimited { .. } => "rate_limited",
            SinkError::Retryable { .. } => "retryable",
            SinkError::Permanent { .. } => "permanent",
        }
    }

    /// What a person should do about it.
    pub fn action(&self) -> &'static str {
        match self {
            SinkError::Auth { .. } => {
                "check the product credential and the role it holds at the product; dead-lettered batches can be replayed once fixed"
            }
            SinkError::RateLimited { .. } => "none needed: delivery waits as the product asked",
            SinkError::Retryable { .. } => {
                "none needed: delivery retries with backoff; check the product endpoint if it persists"
            }
            SinkError::Permanent { .. } => {
                "inspect the dead-letter store for the rejected batch and the product's reason"
            }
        }
    }
}

/// A product connector: delivers batches to one product.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Product name and limits.
    fn describe(&self) -> SinkInfo;

    /// Test the endpoint and credential.
    async fn check(&self, cx: &SinkContext) -> Result<(), SinkError>;

    /// Deliver one batch. Called again with the same batch after a retryable failure, so
    /// a sink must be idempotent or let the product drop duplicates by record id.
    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError>;
}

/// A failed delivery, naming the product and stream it concerns (what the delivery task
/// logs and reports to health).
#[derive(Debug, thiserror::Error)]
#[error("delivering {stream} to '{product}': {error}; what to do: {}", error.action())]
pub struct DeliveryError {
    /// The product (sink name).
    pub product: String,
    /// The stream.
    pub stream: StreamKey,
    /// The sink's error.
    #[source]
    pub error: SinkError,
}
