//! Error classes shared by sources and sinks, and the platform's own errors.

use std::time::Duration;

use crate::record::StreamKey;
use crate::sink::SinkError;
use crate::source::SourceError;

/// How a failure should be handled: the one question every retry decision asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Try again after a backoff.
    Retryable,
    /// Try again once the rate limit allows.
    RateLimited,
    /// Retrying will not help; a person must act.
    Permanent,
}

/// A configuration mistake found by [`crate::PlatformBuilder::build`] or at run time by
/// `subscribe`; each names the item at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two sources or two sinks share a name.
    #[error("duplicate {kind} name '{name}': names must be unique")]
    DuplicateName {
        /// `source` or `sink`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A subscription names a source that was not registered.
    #[error(
        "subscription of '{product}' names unknown source '{source_name}' (registered: {known})"
    )]
    UnknownSource {
        /// The subscribing product.
        product: String,
        /// The missing source.
        source_name: String,
        /// Registered source names.
        known: String,
    },
    /// A subscription names a sink that was not registered.
    #[error("subscription to '{stream}' names unknown sink '{product}' (registered: {known})")]
    UnknownSink {
        /// The missing sink.
        product: String,
        /// The stream subscribed to.
        stream: String,
        /// Registered sink names.
        known: String,
    },
    /// A subscription names a stream the source does not offer.
    #[error("source '{source_name}' has no stream '{stream}' (it offers: {offered}); subscription of '{product}'")]
    UnknownStream {
        /// The subscribing product.
        product: String,
        /// The source.
        source_name: String,
        /// The missing stream.
        stream: String,
        /// What the source offers.
        offered: String,
    },
    /// The same product subscribed twice to the same stream.
    #[error("'{product}' subscribes twice to {stream}: one subscription per product and stream")]
    DuplicateSubscription {
        /// The product.
        product: String,
        /// The stream.
        stream: StreamKey,
    },
    /// A zero interval, capacity or other invalid number.
    #[error("subscription of '{product}' to {stream}: {problem}")]
    InvalidSubscription {
        /// The product.
        product: String,
        /// The stream.
        stream: StreamKey,
        /// What is wrong.
        problem: String,
    },
    /// A source's rate budget is unusable.
    #[error("source '{source_name}': {problem}")]
    InvalidBudget {
        /// The source.
        source_name: String,
        /// What is wrong.
        problem: String,
    },
    /// The HTTP client of the default token provider could not be built.
    #[error("the token provider's HTTP client could not be built ({reason}); pass one with .tokens(...)")]
    TokenClient {
        /// Why.
        reason: String,
    },
    /// `unsubscribe` named a subscription that does not exist.
    #[error("'{product}' has no subscription to {stream}")]
    NoSuchSubscription {
        /// The product.
        product: String,
        /// The stream.
        stream: StreamKey,
    },
}

/// A failed collection, naming the source instance and stream it concerns.
#[derive(Debug, thiserror::Error)]
#[error("collecting {stream}: {error}; what to do: {}", error.action())]
pub struct CollectError {
    /// The stream.
    pub stream: StreamKey,
    /// The source's error.
    #[source]
    pub error: SourceError,
}

/// A failed delivery, naming the product and stream it concerns.
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

/// Errors of the running platform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// A configuration mistake.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// Shutdown did not finish draining in time; undelivered batches will be collected again.
    #[error("shutdown timed out after {0:?}: {1} deliveries were still in flight and will be re-collected at the next start")]
    ShutdownTimeout(Duration, usize),
}
