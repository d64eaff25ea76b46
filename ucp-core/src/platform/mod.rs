//! The platform: register sources, sinks and subscriptions once; start it; manage it while it
//! runs (`plan`, `stats`, `subscribe`, `unsubscribe`, `check`, `shutdown`).
//!
//! ```no_run
//! # use std::sync::Arc; use std::time::Duration;
//! # use ucp_core::*;
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

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

use crate::budget::{BudgetKey, RateBudget};
use crate::checkpoint::CheckpointStore;
use crate::clock::Clock;
use crate::credentials::token::TokenProvider;
use crate::credentials::CredentialStore;
use crate::dead_letter::DeadLetterStore;
use crate::dedup::DedupWindow;
use crate::delivery::durable::DurableStore;
use crate::delivery::DeliveryTask;
use crate::error::{ConfigError, PlatformError};
use crate::health::Component;
use crate::health::{HealthKind, Status};
use crate::job::{Job, JobConfig, Subscriber, SubscriberQueue};
use crate::plan::{self, Plan, QueueBackend, Subscription, SubscriptionId};
use crate::record::StreamKey;
use crate::reporting::HealthHub;
use crate::sink::{Sink, SinkContext, SinkError, SinkInfo};
use crate::source::{Source, SourceContext, SourceError, SourceInfo};
use crate::stats::{JobCounters, PlatformStats, SubscriptionCounters};

mod builder;

pub use builder::PlatformBuilder;
use builder::Settings;

const DEFAULT_TENANT: &str = "default";

struct SourceEntry {
    tenant: String,
    source: Arc<dyn Source>,
    info: SourceInfo,
}

struct SinkEntry {
    tenant: String,
    sink: Arc<dyn Sink>,
    info: SinkInfo,
}

/// A durable queue needs the durable store.
fn needs_store(sub: &Subscription, have_store: bool) -> Result<(), ConfigError> {
    if matches!(sub.queue.backend, QueueBackend::Disk { .. }) && !have_store {
        return Err(ConfigError::InvalidSubscription {
            product: sub.product.clone(),
            stream: sub.stream_key(),
            problem: "a durable queue needs a durable store: add .durable(DurableStore::open(dir)?) to the platform".into(),
        });
    }
    Ok(())
}

/// What never changes after `build`.
struct Shared {
    tokens: Arc<TokenProvider>,
    durable: Option<Arc<DurableStore>>,
    checkpoints_are_durable: bool,
    credentials: Arc<dyn CredentialStore>,
    health: HealthHub,
    checkpoints: Arc<dyn CheckpointStore>,
    dead_letters: Arc<dyn DeadLetterStore>,
    clock: Clock,
    sources: BTreeMap<String, SourceEntry>,
    sinks: BTreeMap<String, SinkEntry>,
    infos: BTreeMap<String, SourceInfo>,
    budgets: HashMap<BudgetKey, Arc<RateBudget>>,
    settings: Settings,
}

/// A checked configuration, ready to start.
pub struct Platform {
    shared: Arc<Shared>,
    subscriptions: BTreeMap<SubscriptionId, Subscription>,
}

impl Platform {
    /// Start configuring a platform.
    pub fn builder() -> PlatformBuilder {
        PlatformBuilder::default()
    }

    /// The plan the platform will run.
    pub fn plan(&self) -> Plan {
        compute_plan(&self.shared, self.subscriptions.values())
    }

    /// Start every job and delivery task. Jobs resume from their saved cursors.
    pub async fn start(self) -> Result<RunningPlatform, PlatformError> {
        let (stop_tx, _) = watch::channel(false);
        let running = RunningPlatform {
            shared: self.shared,
            state: Mutex::new(RunState::default()),
            stop: stop_tx,
        };
        if let Some(recovery) = running.shared.durable.as_ref().and_then(|d| d.recovery()) {
            let component = Component {
                tenant: DEFAULT_TENANT.into(),
                connector: "durable-store".into(),
                product: None,
                stream: None,
            };
            let mut tracker = running.shared.health.tracker(component);
            let message = recovery.to_string();
            running
                .shared
                .health
                .observe(&mut tracker, Status::Warning, HealthKind::Lifecycle, || {
                    message
                })
                .await;
        }
        {
            let mut state = running.state.lock().await;
            for sub in self.subscriptions.into_values() {
                running.add_subscription(&mut state, sub);
            }
            running.apply_plan(&mut state);
        }
        Ok(running)
    }
}

fn compute_plan<'a>(shared: &Shared, subs: impl IntoIterator<Item = &'a Subscription>) -> Plan {
    let capacity: HashMap<BudgetKey, f64> = shared
        .budgets
        .iter()
        .map(|(k, b)| (k.clone(), b.calls_per_second()))
        .collect();
    plan::plan(subs, &shared.infos, &capacity)
}

struct SubscriptionRuntime {
    subscription: Subscription,
    subscriber: Subscriber,
    counters: Arc<SubscriptionCounters>,
    /// Stops a durable delivery task (a memory one stops when its queue closes).
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct JobRuntime {
    config: watch::Sender<JobConfig>,
    counters: Arc<JobCounters>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct RunState {
    subscriptions: BTreeMap<SubscriptionId, SubscriptionRuntime>,
    jobs: BTreeMap<StreamKey, JobRuntime>,
    /// The plan the jobs run.
    plan: Plan,
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

/// A started platform.
pub struct RunningPlatform {
    shared: Arc<Shared>,
    state: Mutex<RunState>,
    stop: watch::Sender<bool>,
}

impl RunningPlatform {
    /// The current plan: jobs with their subscribers, intervals and server-side filters.
    pub async fn plan(&self) -> Plan {
        self.state.lock().await.plan.clone()
    }

    /// Counters of every job, subscription and budget.
    pub async fn stats(&self) -> PlatformStats {
        let state = self.state.lock().await;
        let jobs = state
            .jobs
            .iter()
            .map(|(key, job)| job.counters.snapshot(key.clone()))
            .collect();
        let mut subscriptions = Vec::with_capacity(state.subscriptions.len());
        for (id, sub) in &state.subscriptions {
            let (depth, capacity, bytes) = match &sub.subscriber.queue {
                SubscriberQueue::Memory(queue) => {
                    let capacity = queue.max_capacity();
                    (capacity - queue.capacity(), capacity, 0)
                }
                SubscriberQueue::Disk { store, id, .. } => {
                    let depth = store.queue_len(id).await.unwrap_or(0) as usize;
                    (depth, 0, store.queue_bytes(id))
                }
            };
            let mut stats = sub.counters.snapshot(id.clone(), depth, capacity);
            stats.queue_bytes = bytes;
            subscriptions.push(stats);
        }
        let mut budgets: Vec<_> = self.shared.budgets.values().map(|b| b.status()).collect();
        budgets.sort_by(|a, b| a.key.cmp(&b.key));
        PlatformStats {
            jobs,
            subscriptions,
            budgets,
        }
    }

    /// The shared budget of an account, if a source uses it.
    pub fn budget(&self, key: &BudgetKey) -> Option<Arc<RateBudget>> {
        self.shared.budgets.get(key).cloned()
    }

    /// Check every source and sink once (each source check draws from its budget).
    pub async fn check(&self) -> Vec<CheckOutcome> {
        let mut outcomes = Vec::new();
        for (name, entry) in &self.shared.sources {
            let cx = self.source_context(name, entry);
            cx.budget().acquire().await;
            let result = entry.source.check(&cx).await;
            outcomes.push(CheckOutcome::Source {
                name: name.clone(),
                result,
            });
        }
        for (name, entry) in &self.shared.sinks {
            let cx = SinkContext::new(
                name,
                &entry.tenant,
                self.shared.credentials.clone(),
                self.shared.clock,
            )
            .with_tokens(self.shared.tokens.clone());
            let result = entry.sink.check(&cx).await;
            outcomes.push(CheckOutcome::Sink {
                name: name.clone(),
                result,
            });
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
        let sink_names: Vec<&str> = self.shared.sinks.keys().map(String::as_str).collect();
        let mut state = self.state.lock().await;
        let mut seen = std::collections::BTreeSet::new();
        for subscription in &subscriptions {
            plan::validate(subscription, &self.shared.infos, &sink_names)?;
            needs_store(subscription, self.shared.durable.is_some())?;
            let id = subscription.id();
            if state.subscriptions.contains_key(&id) || !seen.insert(id.clone()) {
                return Err(ConfigError::DuplicateSubscription {
                    product: id.product,
                    stream: id.stream,
                });
            }
        }
        for subscription in subscriptions {
            self.add_subscription(&mut state, subscription);
        }
        self.apply_plan(&mut state);
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
        let Some(removed) = state.subscriptions.remove(&id) else {
            return Err(ConfigError::NoSuchSubscription {
                product: id.product,
                stream: id.stream,
            });
        };
        removed.subscriber.released.store(true, Ordering::Release);
        self.apply_plan(&mut state);
        // A memory queue's task ends once its queue is drained and the job has let go of it;
        // a durable one stops now (its queue stays on disk for a later subscription).
        let _ = removed.stop.send(true);
        drop(removed.task);
        Ok(())
    }

    /// Stop collecting, deliver what is queued, save cursors, and stop. Waits at most the
    /// shutdown timeout; what is still undelivered then is collected again at the next start.
    pub async fn shutdown(self) -> Result<(), PlatformError> {
        let _ = self.stop.send(true);
        let mut state = self.state.into_inner();
        let timeout = self.shared.settings.shutdown_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut unfinished = 0;
        for (_, job) in std::mem::take(&mut state.jobs) {
            let _ = job.stop.send(true);
            let JobRuntime { config, task, .. } = job;
            let aborter = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                aborter.abort();
                unfinished += 1;
            }
            drop(config);
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

    fn source_context(&self, name: &str, entry: &SourceEntry) -> SourceContext {
        let budget = self.shared.budgets[&entry.info.budget.key].clone();
        SourceContext::new(
            name,
            &entry.tenant,
            budget,
            self.shared.credentials.clone(),
            self.shared.clock,
        )
        .with_tokens(self.shared.tokens.clone())
    }

    fn add_subscription(&self, state: &mut RunState, subscription: Subscription) {
        let id = subscription.id();
        let entry = &self.shared.sinks[&subscription.product];
        let source_tenant = &self.shared.sources[&subscription.source].tenant;
        let counters = Arc::new(SubscriptionCounters::default());
        let component = Component {
            tenant: source_tenant.clone(),
            connector: subscription.source.clone(),
            product: Some(subscription.product.clone()),
            stream: Some(subscription.stream.clone()),
        };
        let task = DeliveryTask {
            id: id.clone(),
            sink: entry.sink.clone(),
            cx: SinkContext::new(
                &subscription.product,
                &entry.tenant,
                self.shared.credentials.clone(),
                self.shared.clock,
            )
            .with_tokens(self.shared.tokens.clone()),
            max_batch_records: entry.info.max_batch_records,
            retry: subscription.retry,
            dead_letters: self.shared.dead_letters.clone(),
            counters: counters.clone(),
            health: self.shared.health.clone(),
            component,
            clock: self.shared.clock,
            retry_forever: matches!(subscription.queue.backend, QueueBackend::Disk { .. }),
        };
        let (stop, stop_rx) = watch::channel(false);
        let (queue, task) = match (subscription.queue.backend, &self.shared.durable) {
            (QueueBackend::Disk { max_bytes }, Some(store)) => {
                let queue = SubscriberQueue::Disk {
                    store: store.clone(),
                    id: id.clone(),
                    max_bytes,
                };
                (
                    queue,
                    tokio::spawn(task.run_durable(store.clone(), stop_rx)),
                )
            }
            _ => {
                let (queue, rx) = mpsc::channel(subscription.queue.capacity);
                (SubscriberQueue::Memory(queue), tokio::spawn(task.run(rx)))
            }
        };
        let subscriber = Subscriber {
            product: Arc::from(subscription.product.as_str()),
            filter: subscription.filter.clone(),
            when_full: subscription.queue.when_full,
            queue,
            counters: counters.clone(),
            released: Arc::new(AtomicBool::new(false)),
        };
        state.subscriptions.insert(
            id,
            SubscriptionRuntime {
                subscription,
                subscriber,
                counters,
                stop,
                task,
            },
        );
    }

    /// Re-plan and bring jobs in line: update running jobs (keeping their cursors), start new
    /// ones, stop those left without subscribers.
    fn apply_plan(&self, state: &mut RunState) {
        let plan = compute_plan(
            &self.shared,
            state.subscriptions.values().map(|s| &s.subscription),
        );
        let mut keep: std::collections::BTreeSet<StreamKey> = std::collections::BTreeSet::new();
        // Jobs are sorted by stream in both plans: unchanged jobs keep their config untouched,
        // so adding 1,000 subscriptions wakes only the jobs they concern.
        let old = std::mem::take(&mut state.plan);
        let unchanged = |job: &plan::JobPlan| {
            old.jobs
                .binary_search_by(|o| o.stream.cmp(&job.stream))
                .is_ok_and(|i| old.jobs[i] == *job)
        };
        for job_plan in &plan.jobs {
            if unchanged(job_plan) && state.jobs.contains_key(&job_plan.stream) {
                keep.insert(job_plan.stream.clone());
                continue;
            }
            let subscribers: Vec<Subscriber> = job_plan
                .subscribers
                .iter()
                .filter_map(|product| {
                    let id = SubscriptionId {
                        product: product.clone(),
                        stream: job_plan.stream.clone(),
                    };
                    state.subscriptions.get(&id).map(|s| s.subscriber.clone())
                })
                .collect();
            let budget = &self.shared.budgets[&job_plan.budget];
            let stretch_message = (job_plan.effective_interval > job_plan.interval).then(|| {
                format!(
                    "{}: the plan needs more calls than budget {} allows ({:.2} calls/min); intervals of every job on it are stretched ×{:.2}, this one from {:?} to {:?}",
                    job_plan.stream,
                    job_plan.budget,
                    budget.calls_per_second() * 60.0,
                    job_plan.stretch(),
                    job_plan.interval,
                    job_plan.effective_interval
                )
            });
            let config = JobConfig {
                interval: job_plan.effective_interval,
                server_filter: job_plan.server_filter.clone(),
                subscribers,
                stretch_message,
            };
            keep.insert(job_plan.stream.clone());
            match state.jobs.get(&job_plan.stream) {
                Some(job) => {
                    job.config.send_replace(config);
                }
                None => {
                    let runtime = self.spawn_job(&job_plan.stream, config);
                    state.jobs.insert(job_plan.stream.clone(), runtime);
                }
            }
        }
        let gone: Vec<StreamKey> = state
            .jobs
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(job) = state.jobs.remove(&key) {
                let _ = job.stop.send(true);
            }
        }
        state.plan = plan;
    }

    fn spawn_job(&self, key: &StreamKey, config: JobConfig) -> JobRuntime {
        let entry = &self.shared.sources[&*key.source];
        let cx = self.source_context(&key.source, entry);
        let (config_tx, config_rx) = watch::channel(config);
        let (stop_tx, stop_rx) = watch::channel(false);
        // Platform-wide stop also stops this job.
        let mut platform_stop = self.stop.subscribe();
        let job_stop = stop_tx.clone();
        tokio::spawn(async move {
            let _ = platform_stop.wait_for(|s| *s).await;
            let _ = job_stop.send(true);
        });
        let counters = Arc::new(JobCounters::default());
        let job = Job {
            key: key.clone(),
            source: entry.source.clone(),
            budget: cx.budget().clone(),
            cx,
            checkpoints: self.shared.checkpoints.clone(),
            counters: counters.clone(),
            health: self.shared.health.clone(),
            component: Component {
                tenant: entry.tenant.clone(),
                connector: key.source.to_string(),
                product: None,
                stream: Some(key.stream.to_string()),
            },
            dedup_cell: std::sync::Mutex::new(DedupWindow::new(
                self.shared.settings.dedup_ttl,
                self.shared.settings.dedup_capacity,
            )),
            max_jitter: self.shared.settings.max_jitter,
            config: config_rx,
            stop: stop_rx,
            checkpoints_are_durable: self.shared.checkpoints_are_durable,
        };
        let task = tokio::spawn(job.run());
        JobRuntime {
            config: config_tx,
            counters,
            stop: stop_tx,
            task,
        }
    }
}
