//! The port to the running engine: what the management layer asks of it.
//!
//! The engine is ucp-core's running platform; this trait names exactly the operations
//! management needs, so the catalog, the store, RBAC, the audit log and the API do not
//! depend on how the engine is built. Names are engine-global: sources are
//! `<tenant>.<instance>`, sinks `<tenant>.<product>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use ucp_core::{BudgetKey, Cursor, RateBudget, Sink, Source, StreamKey, Subscription};
use utoipa::ToSchema;

/// Why the engine refused or failed an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The operation does not fit the engine's state (unknown name, stream running, …).
    #[error("{0}")]
    Refused(String),
    /// The engine failed (a checkpoint could not be read or written).
    #[error("{0}")]
    Failed(String),
}

/// What one source instance moved, from the engine's counters (since the process started).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SourceVolumes {
    /// Provider calls made for collection.
    pub source_calls: u64,
    /// Records received from the provider.
    pub records_collected: u64,
    /// Failed provider calls.
    pub errors: u64,
    /// Per product: records it accepted.
    pub delivered: BTreeMap<String, u64>,
    /// Per product: records dropped (full queue) or dead-lettered.
    pub lost: BTreeMap<String, u64>,
}

/// The running engine, as management uses it.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Register a source. Its jobs start when subscribed; saved cursors are resumed.
    async fn add_source(
        &self,
        name: &str,
        tenant: &str,
        source: Arc<dyn Source>,
    ) -> Result<(), EngineError>;
    /// Remove a source whose subscriptions are gone; its jobs stop, its cursors stay saved.
    async fn remove_source(&self, name: &str) -> Result<(), EngineError>;
    /// Register a product sink.
    async fn add_sink(
        &self,
        name: &str,
        tenant: &str,
        sink: Arc<dyn Sink>,
    ) -> Result<(), EngineError>;
    /// Remove a sink that no subscription uses.
    async fn remove_sink(&self, name: &str) -> Result<(), EngineError>;
    /// Add subscriptions (all or none), re-planning once.
    async fn subscribe(&self, subscriptions: Vec<Subscription>) -> Result<(), EngineError>;
    /// Remove one subscription; the job stops with its last subscriber, keeping its cursor.
    async fn unsubscribe(
        &self,
        product: &str,
        source: &str,
        stream: &str,
    ) -> Result<(), EngineError>;
    /// Stop calling the provider for this source (an in-flight page finishes and is
    /// accepted; the cursor is saved). Applies to jobs created later too.
    async fn pause_source(&self, name: &str) -> Result<(), EngineError>;
    /// Continue from the saved cursor.
    async fn resume_source(&self, name: &str) -> Result<(), EngineError>;
    /// Restart the source's jobs and deliveries, or only the failed ones.
    async fn restart_source(&self, name: &str, only_failed: bool) -> Result<(), EngineError>;
    /// The saved cursor of a stream.
    async fn saved_cursor(&self, stream: &StreamKey) -> Result<Option<Cursor>, EngineError>;
    /// Replace the saved cursor of a stream; refused while its job runs un-paused.
    async fn set_cursor(&self, stream: &StreamKey, cursor: Cursor) -> Result<(), EngineError>;
    /// The source's volumes.
    async fn volumes(&self, source: &str) -> SourceVolumes;
    /// The shared rate budget of a provider account, if a registered source uses it, so a
    /// prerequisite check draws from the same budget as collection.
    fn budget(&self, key: &BudgetKey) -> Option<Arc<RateBudget>>;
}
