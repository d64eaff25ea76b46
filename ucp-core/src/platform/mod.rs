//! The platform: register sources, sinks and subscriptions; start it; manage it while it
//! runs — subscriptions, connectors added, paused, resumed, restarted and removed, cursors
//! read and reset, checks, stats, shutdown.
//!
//! ```no_run
//! # use std::sync::Arc; use std::time::Duration;
//! # use ucp_core::*;
//! # use ucp_core::health::MemoryHealth;
//! # use ucp_core::credentials::MemoryCredentials;
//! # use ucp_core::store::FileCheckpoints;
//! # async fn demo(okta: impl Source, sentinel: impl Sink, mdi: impl Sink) -> Result<(), PlatformError> {
//! let platform = Platform::builder()
//!     .credentials(Arc::new(MemoryCredentials::new()))
//!     .health(Arc::new(MemoryHealth::new()))
//!     .checkpoints(Arc::new(FileCheckpoints::open("state/checkpoints.json").await?))
//!     .source("okta-contoso", okta)
//!     .sink("sentinel", sentinel)
//!     .sink("mdi", mdi)
//!     .subscribe(Subscription::new("sentinel", "okta-contoso", "system_log").every(Duration::from_secs(300)))
//!     .subscribe(
//!         Subscription::new("mdi", "okta-contoso", "system_log")
//!             .every(Duration::from_secs(300))
//!             .filter(Filter::starts_with("/eventType", "user.authentication")),
//!     )
//!     .build()?;
//! let running = platform.start().await?;
//! // … later
//! running.shutdown().await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Mutex};

use crate::budget::{BudgetKey, RateBudget, SharedBudget};
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::clock::Clock;
use crate::context::{Context, DEFAULT_TENANT};
use crate::credentials::token::TokenProvider;
use crate::credentials::CredentialStore;
use crate::dead_letter::DeadLetterStore;
use crate::error::ConfigError;
use crate::health::{Component, HealthKind, Status};
use crate::plan::Plan;
use crate::record::StreamKey;
use crate::reporting::HealthHub;
use crate::sink::SinkError;
use crate::source::SourceError;
use crate::stats::PlatformStats;
use crate::store::DurableStore;
use crate::subscription::{Subscription, SubscriptionId};

mod act;
mod builder;
mod connectors;
mod inventory;
mod registry;
mod runtime;

pub use builder::PlatformBuilder;
use builder::Settings;
pub use inventory::PlatformInventory;
use registry::Registry;
use runtime::{RunState, SubscriptionRuntime};

/// Errors of the running platform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// A configuration mistake.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The source cannot do what was asked (e.g. give a cursor for a time).
    #[error("source '{source_name}': {error}")]
    Source {
        /// The source instance.
        source_name: String,
        /// Its error.
        #[source]
        error: SourceError,
    },
    /// Shutdown did not finish draining in time; undelivered batches will be collected again.
    #[error("shutdown timed out after {0:?}: {1} deliveries were still in flight and will be re-collected at the next start")]
    ShutdownTimeout(Duration, usize),
}

/// What never changes after `build`: the shared services every connector uses.
struct Shared {
    tokens: Arc<TokenProvider>,
    http: reqwest::Client,
    durable: Option<Arc<DurableStore>>,
    checkpoints_are_durable: bool,
    credentials: Arc<dyn CredentialStore>,
    health: HealthHub,
    checkpoints: Arc<dyn CheckpointStore>,
    dead_letters: Arc<dyn DeadLetterStore>,
    clock: Clock,
    settings: Settings,
    /// Idempotency keys and health of response actions.
    actions: act::ActionLedger,
    /// In cluster mode, where every budget takes its permits' slots.
    shared_budget: Option<Arc<dyn SharedBudget>>,
}

/// A checked configuration, ready to start.
pub struct Platform {
    shared: Arc<Shared>,
    registry: Registry,
    subscriptions: BTreeMap<SubscriptionId, Subscription>,
    inventory: PlatformInventory,
}

impl Platform {
    /// Start configuring a platform.
    pub fn builder() -> PlatformBuilder {
        PlatformBuilder::default()
    }

    /// The plan the platform will run.
    pub fn plan(&self) -> Plan {
        crate::plan::plan(
            self.subscriptions.values(),
            &self.registry.active(),
            &self
                .registry
                .budgets
                .iter()
                .map(|(k, b)| (k.clone(), b.calls_per_second()))
                .collect(),
        )
    }

    /// Start every job and delivery task. Jobs resume from their saved cursors.
    pub async fn start(self) -> Result<RunningPlatform, PlatformError> {
        let (stop_tx, _) = watch::channel(false);
        let shared = self.shared;
        if let Some(recovery) = shared.durable.as_ref().and_then(|d| d.recovery()) {
            let component = Component {
                tenant: DEFAULT_TENANT.into(),
                connector: "durable-store".into(),
                product: None,
                stream: None,
            };
            let mut tracker = shared.health.tracker(component);
            let message = recovery.to_string();
            shared
                .health
                .observe(&mut tracker, Status::Warning, HealthKind::Lifecycle, || {
                    message
                })
                .await;
        }
        let mut state = RunState {
            registry: self.registry,
            ..RunState::default()
        };
        for sub in self.subscriptions.into_values() {
            state.add_subscription(&shared, sub);
        }
        state.apply_plan(&shared, &stop_tx);
        let state = Arc::new(Mutex::new(state));
        self.inventory.attach(&state);
        Ok(RunningPlatform {
            shared,
            state,
            stop: stop_tx,
            inventory: self.inventory,
        })
    }
}

/// The outcome of checking one connector or product.
#[derive(Debug)]
pub enum CheckOutcome {
    /// A source instance.
    Source {
        /// Its name.
        name: String,
        /// The result.
        result: Result<(), SourceError>,
    },
    /// A product sink.
    Sink {
        /// Its name.
        name: String,
        /// The result.
        result: Result<(), SinkError>,
    },
}

/// What [`RunningPlatform::restart_source`] restarted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restarted {
    /// Collection jobs stopped and started again from their saved cursors.
    pub jobs: Vec<StreamKey>,
    /// Delivery tasks started again on their queues.
    pub deliveries: Vec<SubscriptionId>,
}

/// A started platform. Every method may be called from any task while it runs.
pub struct RunningPlatform {
    shared: Arc<Shared>,
    /// Shared only with the [`PlatformInventory`], which holds it weakly.
    state: Arc<Mutex<RunState>>,
    stop: watch::Sender<bool>,
    inventory: PlatformInventory,
}

impl RunningPlatform {
    /// The current plan: jobs with their subscribers, intervals and server-side filters.
    pub async fn plan(&self) -> Plan {
        self.state.lock().await.plan.clone()
    }

    /// Counters of every job, subscription and budget.
    pub async fn stats(&self) -> PlatformStats {
        let (jobs, subscriptions, mut budgets) = {
            let state = self.state.lock().await;
            let jobs = state
                .jobs
                .iter()
                .map(|(key, job)| job.counters.snapshot(key.clone()))
                .collect();
            let subscriptions: Vec<_> = state
                .subscriptions
                .iter()
                .map(|(id, sub)| {
                    (
                        id.clone(),
                        sub.counters.clone(),
                        sub.subscriber.queue.clone(),
                    )
                })
                .collect();
            let budgets: Vec<_> = state
                .registry
                .budgets
                .values()
                .map(|b| b.status())
                .collect();
            (jobs, subscriptions, budgets)
        };
        let mut stats = Vec::with_capacity(subscriptions.len());
        for (id, counters, queue) in subscriptions {
            let (depth, capacity, bytes) = queue.depth().await;
            let mut snapshot = counters.snapshot(id, depth, capacity);
            snapshot.queue_bytes = bytes;
            stats.push(snapshot);
        }
        budgets.sort_by(|a, b| a.key.cmp(&b.key));
        PlatformStats {
            jobs,
            subscriptions: stats,
            budgets,
        }
    }

    /// The platform's connectors per tenant, for a health source's `inventory` stream (the
    /// same answer as [`PlatformBuilder::inventory`]'s).
    pub fn inventory(&self) -> PlatformInventory {
        self.inventory.clone()
    }

    /// The shared budget of an account, if a source uses it.
    pub async fn budget(&self, key: &BudgetKey) -> Option<Arc<RateBudget>> {
        self.state.lock().await.registry.budgets.get(key).cloned()
    }

    /// The context the platform gives `tenant`'s connectors (its credentials, the one token
    /// provider, the HTTP client, the clock), to call a connector outside a job: e.g. a
    /// management plane checking a source before it adds it.
    pub async fn context(&self, tenant: &str) -> Context {
        let mut state = self.state.lock().await;
        state.registry.context(&self.shared, tenant)
    }

    /// Check every source and sink once (each source check draws from its budget).
    pub async fn check(&self) -> Vec<CheckOutcome> {
        let (sources, sinks) = {
            let state = self.state.lock().await;
            let sources: Vec<_> = state
                .registry
                .sources
                .iter()
                .map(|(name, e)| (name.clone(), e.source.clone(), e.cx.clone()))
                .collect();
            let sinks: Vec<_> = state
                .registry
                .sinks
                .iter()
                .map(|(name, e)| (name.clone(), e.sink.clone(), e.cx.clone()))
                .collect();
            (sources, sinks)
        };
        let mut outcomes = Vec::with_capacity(sources.len() + sinks.len());
        for (name, source, cx) in sources {
            cx.budget().acquire().await;
            let result = source.check(&cx).await;
            outcomes.push(CheckOutcome::Source { name, result });
        }
        for (name, sink, cx) in sinks {
            let result = sink.check(&cx).await;
            outcomes.push(CheckOutcome::Sink { name, result });
        }
        outcomes
    }

    /// Add a subscription while running. A stream already collected keeps its job and cursor;
    /// the new product receives what is collected from now on.
    pub async fn subscribe(&self, subscription: Subscription) -> Result<(), ConfigError> {
        self.subscribe_all(vec![subscription]).await
    }

    /// Add many subscriptions at once, re-planning once. All are checked first: on an error
    /// none is added.
    pub async fn subscribe_all(&self, subscriptions: Vec<Subscription>) -> Result<(), ConfigError> {
        let mut state = self.state.lock().await;
        let mut seen = std::collections::BTreeSet::new();
        for subscription in &subscriptions {
            state
                .registry
                .validate(subscription, self.shared.durable.is_some())?;
            let id = subscription.id();
            if state.subscriptions.contains_key(&id) || !seen.insert(id.clone()) {
                return Err(ConfigError::DuplicateSubscription {
                    product: id.product,
                    stream: id.stream,
                });
            }
        }
        for subscription in subscriptions {
            state.add_subscription(&self.shared, subscription);
        }
        state.apply_plan(&self.shared, &self.stop);
        Ok(())
    }

    /// Remove a subscription while running. Its queued batches are still delivered; the job
    /// stops when its last subscriber leaves, keeping its saved cursor for a later subscriber.
    pub async fn unsubscribe(
        &self,
        product: &str,
        source: &str,
        stream: &str,
    ) -> Result<(), ConfigError> {
        let id = SubscriptionId {
            product: product.to_string(),
            stream: StreamKey::new(source, stream),
        };
        let mut state = self.state.lock().await;
        if !state.remove_subscription(&id) {
            return Err(ConfigError::NoSuchSubscription {
                product: id.product,
                stream: id.stream,
            });
        }
        state.apply_plan(&self.shared, &self.stop);
        Ok(())
    }

    /// Stop collecting, deliver what is queued, save cursors, and stop. Waits at most the
    /// shutdown timeout; what is still undelivered then is collected again at the next start.
    pub async fn shutdown(self) -> Result<(), PlatformError> {
        let _ = self.stop.send(true);
        // Taken out, so an inventory handle still holding the state sees nothing running.
        let mut state = std::mem::take(&mut *self.state.lock().await);
        let timeout = self.shared.settings.shutdown_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut unfinished = 0;
        let keys: Vec<StreamKey> = state.jobs.keys().cloned().collect();
        for key in keys {
            state.stop_job(&key);
        }
        for (_, job) in std::mem::take(&mut state.stopping) {
            let aborter = job.task.abort_handle();
            if tokio::time::timeout_at(deadline, job.task).await.is_err() {
                aborter.abort();
                unfinished += 1;
            }
        }
        for (_, sub) in std::mem::take(&mut state.subscriptions) {
            let SubscriptionRuntime {
                subscriber,
                task,
                stop,
                ..
            } = sub;
            drop(subscriber);
            let _ = stop.send(true);
            let aborter = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                aborter.abort();
                unfinished += 1;
            }
        }
        if unfinished > 0 {
            return Err(PlatformError::ShutdownTimeout(timeout, unfinished));
        }
        Ok(())
    }
}

fn unknown(kind: &'static str, name: &str) -> ConfigError {
    ConfigError::Unknown {
        kind,
        name: name.into(),
    }
}
