//! # ucp-core
//!
//! The heart of the Unified Connectors Platform: a partner implements a [`Source`] (one page
//! of one stream from a provider) and a [`Sink`] (deliver a batch to one product); the
//! [`Platform`] collects each stream once for every subscribed product, keeps every call
//! inside the provider account's shared [`RateBudget`], fans each batch out to every product
//! through its own bounded queue, and checkpoints progress so nothing is skipped or lost.
//!
//! A connector author needs [`prelude`]. Beside the root items, namespaces hold what fewer
//! users need: [`credentials`] (stores and the token provider), [`health`] (the health
//! service, its tables, volumes and notifiers), [`health_source`] (the platform's health as
//! a source products subscribe to), [`store`] (checkpoints, dead letters and the durable
//! store), [`catalog`] (connector definitions and the factories that build their sources,
//! for a management plane) and [`json`] (a record's JSON read in place: validity, top-level
//! fields and pointer lookups over the provider's bytes).
//!
//! Inside, data flows one way: a plan of jobs (`plan`) → the account's rate budget
//! (`budget`) → one collection job per stream (`job`) → fan-out to each subscriber's queue
//! (`queue`) → its delivery task and the product's sink (`delivery`) → acceptance
//! (`acceptance`) → the stream's checkpoint (`checkpoint`, `store`). ARCHITECTURE.md at the
//! repository root maps every module.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acceptance;
mod action;
mod budget;
pub mod catalog;
mod checkpoint;
mod client;
mod clock;
mod context;
pub mod credentials;
mod dead_letter;
mod dedup;
mod delivery;
mod error;
mod filter;
pub mod health;
pub mod health_source;
pub mod http;
mod job;
pub mod json;
mod plan;
mod platform;
pub mod prelude;
mod queue;
mod record;
mod reporting;
mod retry;
mod sink;
mod source;
mod stats;
pub mod store;
mod subscription;
mod sync;

pub use action::{
    ActOptions, ActionError, ActionInfo, ActionOutcome, ActionPlan, ActionRequest, ActionResult,
    PlannedRequest,
};
pub use budget::{
    BudgetKey, BudgetSpec, BudgetStatus, RateBudget, RateLimitHint, SharedBudget, SharedBudgetError,
};
pub use clock::Clock;
pub use context::{Context, DEFAULT_TENANT};
pub use error::{ConfigError, ErrorClass};
pub use filter::Filter;
pub use plan::{JobPlan, Plan};
pub use platform::{
    CheckOutcome, Platform, PlatformBuilder, PlatformError, PlatformInventory, Restarted,
    RunningPlatform,
};
pub use record::{Batch, Cursor, Record, RecordId, StreamKey};
pub use retry::RetryPolicy;
pub use sink::{Delivery, DeliveryError, RejectedRecord, Sink, SinkContext, SinkError, SinkInfo};
pub use source::{
    CollectError, CollectRequest, Page, Source, SourceCapabilities, SourceContext, SourceError,
    SourceInfo, StreamInfo,
};
pub use stats::{JobStats, PlatformStats, SubscriptionStats};
pub use subscription::{QueueBackend, QueueConfig, Subscription, SubscriptionId, WhenFull};
