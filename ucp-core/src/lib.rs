//! # ucp-core
//!
//! The heart of the Unified Connectors Platform: a partner implements a [`Source`] (one page
//! of one stream from a provider) and a [`Sink`] (deliver a batch to one product); the
//! [`Platform`] collects each stream once for every subscribed product, keeps every call
//! inside the provider account's shared [`RateBudget`], fans each batch out to every product
//! through its own bounded queue, and checkpoints progress so nothing is skipped or lost.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod budget;
pub mod checkpoint;
pub mod clock;
pub mod credentials;
pub mod dead_letter;
pub mod dedup;
pub mod delivery;
pub mod error;
pub mod filter;
pub mod health;
pub mod http;
mod job;
pub mod plan;
pub mod platform;
pub mod record;
mod reporting;
pub mod sink;
pub mod source;
pub mod stats;

pub use budget::{BudgetKey, BudgetSpec, RateBudget};
pub use checkpoint::{CheckpointError, CheckpointStore, FileCheckpoints, MemoryCheckpoints};
pub use clock::Clock;
pub use credentials::token::{AccessToken, TokenError, TokenProvider, TokenRequest};
pub use credentials::{
    Credential, CredentialError, CredentialRef, CredentialStore, EnvCredentials, FileCredentials,
    FileKey, MemoryCredentials, TenantCredentials,
};
pub use dead_letter::{DeadLetter, DeadLetterStore, MemoryDeadLetters};
pub use dedup::DedupWindow;
pub use delivery::durable::{DurableError, DurableStore, StoredDeadLetter};
pub use error::{CollectError, ConfigError, DeliveryError, ErrorClass, PlatformError};
pub use filter::Filter;
pub use health::{
    render_volume_svg, BinSize, Component, ConnectorStatus, HealthEvent, HealthKind, HealthQuery,
    HealthReporter, HealthRow, HealthService, HealthTable, MemoryHealth, MemoryHealthTable,
    Metrics, Notifier, SqliteHealthTable, Status, VolumeQuery, VolumeSample, VolumeSeries, Volumes,
    WebhookNotifier,
};
pub use plan::{
    JobPlan, Plan, QueueBackend, QueueConfig, RetryPolicy, Subscription, SubscriptionId, WhenFull,
};
pub use platform::{CheckOutcome, Platform, PlatformBuilder, RunningPlatform};
pub use record::{Batch, Cursor, Record, RecordId, StreamKey};
pub use sink::{Delivery, RejectedRecord, Sink, SinkContext, SinkError, SinkInfo};
pub use source::{
    CollectRequest, Page, RateLimitHint, Source, SourceCapabilities, SourceContext, SourceError,
    SourceInfo, StreamInfo,
};
pub use stats::{JobStats, PlatformStats, SubscriptionStats};
