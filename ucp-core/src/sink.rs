//! The product side of a connector: [`Sink`] delivers a batch to one product.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::credentials::token::{HttpTokenFetcher, TokenProvider};
use crate::credentials::{Credential, CredentialError, CredentialStore, TenantCredentials};
use crate::error::ErrorClass;
use crate::record::{Batch, RecordId};

/// What a sink is and what it accepts, returned by [`Sink::describe`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkInfo {
    /// Product name, e.g. `sentinel`.
    pub product: String,
    /// Largest number of records per `deliver` call; the platform splits larger batches.
    /// The sink still splits by bytes itself (it knows its encoding).
    pub max_batch_records: Option<usize>,
}

impl SinkInfo {
    /// A sink of `product` with no record-count limit.
    pub fn new(product: impl Into<String>) -> Self {
        SinkInfo {
            product: product.into(),
            max_batch_records: None,
        }
    }

    /// Split batches above `max` records.
    pub fn max_batch_records(mut self, max: usize) -> Self {
        self.max_batch_records = Some(max);
        self
    }
}

/// Everything a sink call may use: its name, tenant, credentials and the platform clock.
#[derive(Clone)]
pub struct SinkContext {
    name: Arc<str>,
    tenant: Arc<str>,
    credentials: TenantCredentials,
    tokens: Option<Arc<TokenProvider>>,
    clock: Clock,
}

impl std::fmt::Debug for SinkContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkContext")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl SinkContext {
    /// A context; the platform builds these, tests and conformance suites may too.
    pub fn new(
        name: impl AsRef<str>,
        tenant: impl AsRef<str>,
        credentials: Arc<dyn CredentialStore>,
        clock: Clock,
    ) -> Self {
        SinkContext {
            name: Arc::from(name.as_ref()),
            tenant: Arc::from(tenant.as_ref()),
            credentials: TenantCredentials::new(tenant.as_ref(), credentials),
            tokens: HttpTokenFetcher::new()
                .ok()
                .map(|fetcher| Arc::new(TokenProvider::new(Arc::new(fetcher)).with_clock(clock))),
            clock,
        }
    }

    /// The sink's registered name (the product).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant the sink belongs to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The platform's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Use this shared token provider (the platform passes its one provider to every
    /// connector, so a token is minted once per credential and scope for all of them).
    pub fn with_tokens(mut self, tokens: Arc<TokenProvider>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The shared OAuth token provider: cached, refreshed before expiry, single-flight.
    /// `None` only when no HTTP client could be built for it.
    pub fn tokens(&self) -> Option<&Arc<TokenProvider>> {
        self.tokens.as_ref()
    }

    /// This tenant's credentials (other tenants' are refused).
    pub fn credentials(&self) -> &TenantCredentials {
        &self.credentials
    }

    /// Resolve a credential of this sink's tenant by name.
    pub async fn credential(&self, name: &str) -> Result<Credential, CredentialError> {
        self.credentials.get_named(name).await
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
