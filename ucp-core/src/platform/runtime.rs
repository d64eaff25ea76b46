//! The running platform's moving parts: the registered connectors, one task per collection
//! job and per subscription, and the re-planning that brings them in line after any change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::registry::Registry;
use super::Shared;
use crate::budget::BudgetKey;
use crate::dedup::DedupWindow;
use crate::delivery::DeliveryTask;
use crate::health::Component;
use crate::job::{Job, JobConfig, JobPhase, Subscriber};
use crate::plan::{self, JobPlan, Plan};
use crate::queue;
use crate::record::StreamKey;
use crate::stats::{JobCounters, SubscriptionCounters};
use crate::subscription::{QueueBackend, Subscription, SubscriptionId};

pub(super) struct SubscriptionRuntime {
    pub subscription: Subscription,
    pub subscriber: Subscriber,
    pub counters: Arc<SubscriptionCounters>,
    /// Stops a durable delivery task (a memory one stops when its queue closes).
    pub stop: watch::Sender<bool>,
    pub task: JoinHandle<()>,
}

pub(super) struct JobRuntime {
    pub config: watch::Sender<JobConfig>,
    pub counters: Arc<JobCounters>,
    pub stop: watch::Sender<bool>,
    pub task: JoinHandle<()>,
    pub phase: watch::Receiver<JobPhase>,
}

/// A job told to stop, possibly still draining.
pub(super) struct StoppingJob {
    pub task: JoinHandle<()>,
    pub phase: watch::Receiver<JobPhase>,
}

/// Everything that changes while the platform runs.
#[derive(Default)]
pub(super) struct RunState {
    pub registry: Registry,
    pub subscriptions: BTreeMap<SubscriptionId, SubscriptionRuntime>,
    pub jobs: BTreeMap<StreamKey, JobRuntime>,
    /// Jobs told to stop that may still be draining: a new job of the same stream waits for
    /// its predecessor, so two never collect one stream and the new one starts from the
    /// cursor the old one saved last.
    pub stopping: BTreeMap<StreamKey, StoppingJob>,
    /// The plan the jobs run.
    pub plan: Plan,
}

impl RunState {
    /// Start the delivery task of `subscription` and keep it.
    pub fn add_subscription(&mut self, shared: &Shared, subscription: Subscription) {
        let id = subscription.id();
        let Some(sink) = self.registry.sinks.get(&subscription.product) else {
            return; // validated before; a sink cannot vanish while subscribed
        };
        let tenant = self
            .registry
            .sources
            .get(&subscription.source)
            .map_or_else(|| sink.cx.tenant().to_string(), |s| s.tenant.clone());
        let counters = Arc::new(SubscriptionCounters::default());
        let durable = match (subscription.queue.backend, &shared.durable) {
            (QueueBackend::Durable { max_bytes }, Some(store)) => Some((store.clone(), max_bytes)),
            _ => None,
        };
        let task = DeliveryTask {
            id: id.clone(),
            sink: sink.sink.clone(),
            cx: sink.cx.clone(),
            max_batch_records: sink.info.max_batch_records,
            retry: subscription.retry,
            dead_letters: shared.dead_letters.clone(),
            counters: counters.clone(),
            health: shared.health.clone(),
            component: Component {
                tenant,
                connector: subscription.source.clone(),
                product: Some(subscription.product.clone()),
                stream: Some(subscription.stream.clone()),
            },
            clock: shared.clock,
            retry_forever: durable.is_some(),
        };
        let (writer, reader) = match durable {
            Some((store, max_bytes)) => queue::durable(store, id.clone(), max_bytes),
            None => queue::memory(subscription.queue.capacity),
        };
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(task.run(reader, stop_rx));
        let subscriber = Subscriber {
            product: Arc::from(subscription.product.as_str()),
            filter: subscription.filter.clone(),
            when_full: subscription.queue.when_full,
            queue: writer,
            counters: counters.clone(),
            released: Arc::new(AtomicBool::new(false)),
            share_millis: 1000,
        };
        self.subscriptions.insert(
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

    /// Remove a subscription: its queued batches are still delivered (memory) or stay on disk
    /// (durable); its unaccepted batches no longer hold the stream's cursor.
    pub fn remove_subscription(&mut self, id: &SubscriptionId) -> bool {
        let Some(removed) = self.subscriptions.remove(id) else {
            return false;
        };
        removed
            .subscriber
            .released
            .store(true, std::sync::atomic::Ordering::Release);
        // A memory queue's task ends once its queue is drained and the job has let go of it;
        // a durable one stops now (its queue stays on disk for a later subscription).
        let _ = removed.stop.send(true);
        drop(removed.task);
        true
    }

    /// The plan for the current subscriptions, leaving out paused sources.
    pub fn compute_plan(&self) -> Plan {
        let capacity: HashMap<BudgetKey, f64> = self
            .registry
            .budgets
            .iter()
            .map(|(k, b)| (k.clone(), b.calls_per_second()))
            .collect();
        plan::plan(
            self.subscriptions.values().map(|s| &s.subscription),
            &self.registry.active(),
            &capacity,
        )
    }

    /// Re-plan and bring jobs in line: update running jobs (keeping their cursors), start new
    /// ones, stop those left without subscribers or whose source is paused.
    pub fn apply_plan(&mut self, shared: &Shared, platform_stop: &watch::Sender<bool>) {
        let plan = self.compute_plan();
        let mut keep: BTreeSet<StreamKey> = BTreeSet::new();
        // Jobs are sorted by stream in both plans: unchanged jobs keep their config untouched,
        // so adding 1,000 subscriptions wakes only the jobs they concern.
        let old = std::mem::take(&mut self.plan);
        let unchanged = |job: &JobPlan| {
            old.jobs
                .binary_search_by(|o| o.stream.cmp(&job.stream))
                .is_ok_and(|i| old.jobs[i] == *job)
        };
        for job_plan in &plan.jobs {
            keep.insert(job_plan.stream.clone());
            if unchanged(job_plan) && self.jobs.contains_key(&job_plan.stream) {
                continue;
            }
            let config = self.job_config(job_plan);
            match self.jobs.get(&job_plan.stream) {
                Some(job) => {
                    job.config.send_replace(config);
                }
                None => {
                    if let Some(runtime) = self.spawn_job(shared, platform_stop, job_plan, config) {
                        self.jobs.insert(job_plan.stream.clone(), runtime);
                    }
                }
            }
        }
        let gone: Vec<StreamKey> = self
            .jobs
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        for key in gone {
            self.stop_job(&key);
        }
        self.plan = plan;
    }

    /// The products subscribed to any stream of source `name`.
    pub fn products_of_source(&self, name: &str) -> Vec<String> {
        let mut products: Vec<String> = self
            .subscriptions
            .keys()
            .filter(|id| &*id.stream.source == name)
            .map(|id| id.product.clone())
            .collect();
        products.dedup();
        products
    }

    /// The phases of the stopped jobs of source `name`, to wait on.
    pub fn stopping_phases(&self, name: &str) -> Vec<watch::Receiver<JobPhase>> {
        self.stopping
            .iter()
            .filter(|(key, _)| &*key.source == name)
            .map(|(_, job)| job.phase.clone())
            .collect()
    }

    /// Tell a job to stop; it drains (its pages are accepted and its cursor saved) while a
    /// successor, if any, waits for it.
    pub fn stop_job(&mut self, key: &StreamKey) {
        if let Some(job) = self.jobs.remove(key) {
            let _ = job.stop.send(true);
            self.stopping.insert(
                key.clone(),
                StoppingJob {
                    task: job.task,
                    phase: job.phase,
                },
            );
        }
    }

    fn job_config(&self, job_plan: &JobPlan) -> JobConfig {
        let subscribers: Vec<Subscriber> = job_plan
            .subscribers
            .iter()
            .filter_map(|product| {
                let id = SubscriptionId {
                    product: product.clone(),
                    stream: job_plan.stream.clone(),
                };
                let runtime = self.subscriptions.get(&id)?;
                let mut subscriber = runtime.subscriber.clone();
                subscriber.share_millis = share_millis(job_plan, &runtime.subscription);
                Some(subscriber)
            })
            .collect();
        let stretch_message = (job_plan.effective_interval > job_plan.interval).then(|| {
            let per_minute = self
                .registry
                .budgets
                .get(&job_plan.budget)
                .map_or(0.0, |b| b.calls_per_second() * 60.0);
            format!(
                "{}: the plan needs more calls than budget {} allows ({per_minute:.2} calls/min); intervals of every job on it are stretched ×{:.2}, this one from {:?} to {:?}",
                job_plan.stream,
                job_plan.budget,
                job_plan.stretch(),
                job_plan.interval,
                job_plan.effective_interval
            )
        });
        JobConfig {
            interval: job_plan.effective_interval,
            server_filter: job_plan.server_filter.clone(),
            subscribers,
            stretch_message,
        }
    }

    fn spawn_job(
        &mut self,
        shared: &Shared,
        platform_stop: &watch::Sender<bool>,
        job_plan: &JobPlan,
        config: JobConfig,
    ) -> Option<JobRuntime> {
        let key = &job_plan.stream;
        let entry = self.registry.sources.get(&*key.source)?;
        let budget = self.registry.budgets.get(&job_plan.budget)?.clone();
        let (config_tx, config_rx) = watch::channel(config);
        let (stop_tx, stop_rx) = watch::channel(false);
        // Platform-wide stop also stops this job.
        let mut platform_stop = platform_stop.subscribe();
        let job_stop = stop_tx.clone();
        tokio::spawn(async move {
            let _ = platform_stop.wait_for(|s| *s).await;
            let _ = job_stop.send(true);
        });
        let counters = Arc::new(JobCounters::default());
        let (phase_tx, phase) = watch::channel(JobPhase::Waiting);
        let job = Job {
            key: key.clone(),
            source: entry.source.clone(),
            budget,
            cx: entry.cx.clone(),
            checkpoints: shared.checkpoints.clone(),
            counters: counters.clone(),
            health: shared.health.clone(),
            component: Component {
                tenant: entry.tenant.clone(),
                connector: key.source.to_string(),
                product: None,
                stream: Some(key.stream.to_string()),
            },
            dedup_cell: std::sync::Mutex::new(DedupWindow::new(
                shared.settings.dedup_ttl,
                shared.settings.dedup_capacity,
            )),
            max_jitter: shared.settings.max_jitter,
            finish_call_on_stop: shared.settings.finish_call_on_stop,
            config: config_rx,
            stop: stop_rx,
            checkpoints_are_durable: shared.checkpoints_are_durable,
            predecessor: self.stopping.remove(key).map(|s| s.task),
            phase: phase_tx,
        };
        let task = tokio::spawn(job.run());
        Some(JobRuntime {
            config: config_tx,
            counters,
            stop: stop_tx,
            task,
            phase,
        })
    }
}

/// What one subscriber would call on its own per call of the job, in thousandths: the job's
/// requested interval over the subscriber's, at most one.
fn share_millis(job: &JobPlan, subscription: &Subscription) -> u64 {
    let ours = job.interval.as_millis();
    let theirs = subscription.every.as_millis().max(1);
    u64::try_from(ours.saturating_mul(1000) / theirs)
        .unwrap_or(u64::MAX)
        .min(1000)
}
