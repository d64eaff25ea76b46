//! The port to the running engine: what the management layer asks of it.
//!
//! The engine is ucp-core's [`RunningPlatform`], which implements this trait; the trait
//! names exactly the operations management needs, so the catalog, the store, RBAC, the audit
//! log and the API do not depend on how the engine is built (a host may wrap the platform,
//! e.g. to meter it). Names are engine-global: sources are `<tenant>.<instance>`, sinks
//! `<tenant>.<product>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use ucp_core::{
    ActOptions, ActionError, ActionRequest, ActionResult, BudgetKey, ConfigError, Context, Cursor,
    PlatformError, RateBudget, Restarted, RunningPlatform, Sink, Source, StreamKey, Subscription,
};
use utoipa::ToSchema;

/// Why the engine refused or failed an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The operation does not fit the engine's state (unknown name, name in use, …).
    #[error("{0}")]
    Refused(String),
    /// The operation cannot run yet: a stream still saves the cursor of pages collected
    /// before it was paused. It can run in a moment.
    #[error("{0}")]
    Busy(String),
    /// The engine failed (a checkpoint could not be read or written).
    #[error("{0}")]
    Failed(String),
}

/// What one source instance moved, from the engine's counters of its current jobs and
/// deliveries: they start at zero when the connector starts, resumes or is upgraded.
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
    /// Restart the source's jobs and deliveries, or only the failed ones; says which.
    async fn restart_source(&self, name: &str, only_failed: bool)
        -> Result<Restarted, EngineError>;
    /// The saved cursor of a stream.
    async fn saved_cursor(&self, stream: &StreamKey) -> Result<Option<Cursor>, EngineError>;
    /// Replace the saved cursor of a stream; refused while its job runs un-paused.
    async fn set_cursor(&self, stream: &StreamKey, cursor: Cursor) -> Result<(), EngineError>;
    /// The source's volumes.
    async fn volumes(&self, source: &str) -> SourceVolumes;
    /// The shared rate budget of a provider account, if a registered source uses it, so a
    /// prerequisite check draws from the same budget as collection.
    async fn budget(&self, key: &BudgetKey) -> Option<Arc<RateBudget>>;
    /// The context the engine gives `tenant`'s connectors (credentials, the one token
    /// provider, HTTP client, clock), so a prerequisite check calls as collection will.
    async fn context(&self, tenant: &str) -> Context;
    /// Perform a response action through source `name`'s credentials and rate budget, ahead
    /// of its collection, with the options' idempotency key, timeout and retries; the engine
    /// reports it to health.
    async fn act(
        &self,
        source: &str,
        request: ActionRequest,
        options: ActOptions,
    ) -> Result<ActionResult, ActionError>;
}

impl From<ConfigError> for EngineError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::StreamRunning { .. } => EngineError::Busy(error.to_string()),
            other => EngineError::Refused(other.to_string()),
        }
    }
}

impl From<PlatformError> for EngineError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Config(e) => e.into(),
            other => EngineError::Failed(other.to_string()),
        }
    }
}

#[async_trait]
impl Engine for RunningPlatform {
    async fn add_source(
        &self,
        name: &str,
        tenant: &str,
        source: Arc<dyn Source>,
    ) -> Result<(), EngineError> {
        Ok(RunningPlatform::add_source(self, name, tenant, source).await?)
    }

    async fn remove_source(&self, name: &str) -> Result<(), EngineError> {
        Ok(RunningPlatform::remove_source(self, name).await?)
    }

    async fn add_sink(
        &self,
        name: &str,
        tenant: &str,
        sink: Arc<dyn Sink>,
    ) -> Result<(), EngineError> {
        Ok(RunningPlatform::add_sink(self, name, tenant, sink).await?)
    }

    async fn remove_sink(&self, name: &str) -> Result<(), EngineError> {
        Ok(RunningPlatform::remove_sink(self, name).await?)
    }

    async fn subscribe(&self, subscriptions: Vec<Subscription>) -> Result<(), EngineError> {
        Ok(self.subscribe_all(subscriptions).await?)
    }

    async fn unsubscribe(
        &self,
        product: &str,
        source: &str,
        stream: &str,
    ) -> Result<(), EngineError> {
        Ok(RunningPlatform::unsubscribe(self, product, source, stream).await?)
    }

    async fn pause_source(&self, name: &str) -> Result<(), EngineError> {
        Ok(RunningPlatform::pause_source(self, name).await?)
    }

    async fn resume_source(&self, name: &str) -> Result<(), EngineError> {
        Ok(RunningPlatform::resume_source(self, name).await?)
    }

    async fn restart_source(
        &self,
        name: &str,
        only_failed: bool,
    ) -> Result<Restarted, EngineError> {
        Ok(RunningPlatform::restart_source(self, name, only_failed).await?)
    }

    async fn saved_cursor(&self, stream: &StreamKey) -> Result<Option<Cursor>, EngineError> {
        Ok(RunningPlatform::saved_cursor(self, stream).await?)
    }

    async fn set_cursor(&self, stream: &StreamKey, cursor: Cursor) -> Result<(), EngineError> {
        Ok(RunningPlatform::set_cursor(self, stream, cursor).await?)
    }

    async fn volumes(&self, source: &str) -> SourceVolumes {
        let stats = self.stats().await;
        let mut volumes = SourceVolumes::default();
        for job in stats.jobs.iter().filter(|j| &*j.stream.source == source) {
            volumes.source_calls = volumes.source_calls.saturating_add(job.source_calls);
            volumes.records_collected = volumes
                .records_collected
                .saturating_add(job.records_collected);
            volumes.errors = volumes.errors.saturating_add(job.errors);
        }
        for sub in stats
            .subscriptions
            .iter()
            .filter(|s| &*s.id.stream.source == source)
        {
            let delivered = volumes.delivered.entry(sub.id.product.clone()).or_default();
            *delivered = delivered.saturating_add(sub.records_delivered);
            let lost = volumes.lost.entry(sub.id.product.clone()).or_default();
            *lost = lost
                .saturating_add(sub.dropped)
                .saturating_add(sub.dead_lettered);
        }
        volumes
    }

    async fn budget(&self, key: &BudgetKey) -> Option<Arc<RateBudget>> {
        RunningPlatform::budget(self, key).await
    }

    async fn context(&self, tenant: &str) -> Context {
        RunningPlatform::context(self, tenant).await
    }

    async fn act(
        &self,
        source: &str,
        request: ActionRequest,
        options: ActOptions,
    ) -> Result<ActionResult, ActionError> {
        RunningPlatform::act(self, source, request, options).await
    }
}
