//! The vocabulary of failure shared by every layer: how a failure should be handled
//! ([`ErrorClass`]) and what is wrong with a configuration ([`ConfigError`]). Each
//! component's own error type lives beside it (`SourceError` with `Source`, …).

use crate::record::StreamKey;

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
    /// The platform's HTTP client could not be built (the TLS backend failed to start).
    #[error("the platform's HTTP client could not be built ({reason})")]
    HttpClient {
        /// Why.
        reason: String,
    },
    /// A source or sink named by a call is not registered.
    #[error("no {kind} named '{name}' is registered")]
    Unknown {
        /// `source` or `sink`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A source or sink cannot be removed while subscriptions use it.
    #[error("{kind} '{name}' is still used by {by}: unsubscribe them first")]
    InUse {
        /// `source` or `sink`.
        kind: &'static str,
        /// The name.
        name: String,
        /// Who uses it.
        by: String,
    },
    /// A stream's cursor cannot change while its job collects it.
    #[error("{stream} is being collected: pause its source before changing its cursor")]
    StreamRunning {
        /// The stream.
        stream: StreamKey,
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
