//! Subscriptions and the collect-once plan.
//!
//! Every product subscribes to (source instance, stream) with its own interval, filter, queue
//! and retry policy. [`plan`] merges subscriptions to the same stream into one collection
//! job: its interval is the shortest requested, its server-side filter the union of the
//! subscribers' filters (when the source can filter), and when the jobs sharing a rate budget
//! need more calls than the budget allows, their intervals stretch by the same factor.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use crate::budget::BudgetKey;
use crate::error::ConfigError;
use crate::filter::Filter;
use crate::record::StreamKey;
use crate::source::SourceInfo;

/// What happens when a subscription's queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// The collection job waits for room. This pauses collection for every product of the
    /// job (reported as a Warning) but loses nothing.
    #[default]
    Block,
    /// The new batch is dropped for this product only; the loss is counted and reported.
    DropNewest,
    /// The oldest batches of this product's durable queue are dropped to make room; the loss
    /// is counted and reported. Only for durable queues.
    DropOldest,
}

/// Where a subscription's queue lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueBackend {
    /// In memory, bounded by [`QueueConfig::capacity`] batches. While a batch waits here,
    /// the stream's cursor does not move past it.
    #[default]
    Memory,
    /// On disk in the platform's [`crate::DurableStore`], bounded by `max_bytes` of payload.
    /// A batch counts as accepted once it is committed there, so collection moves on while
    /// the product catches up at its own pace; a restart resumes from the product's position.
    /// Temporary delivery failures are retried without limit (the disk absorbs an outage);
    /// only records the product refuses for good are dead-lettered.
    Disk {
        /// Payload bytes the queue may hold before [`WhenFull`] applies.
        max_bytes: u64,
    },
}

/// A subscription's bounded queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Batches an in-memory queue holds before [`WhenFull`] applies.
    pub capacity: usize,
    /// The policy when full.
    pub when_full: WhenFull,
    /// Memory or disk.
    pub backend: QueueBackend,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 16,
            when_full: WhenFull::Block,
            backend: QueueBackend::Memory,
        }
    }
}

/// How deliveries are retried: exponential backoff with jitter, bounded, honouring the
/// product's `Retry-After`. After the last attempt the batch goes to the dead-letter store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// An attempt with no answer by then counts as a retryable failure.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): `initial × 2^(attempt-1)`,
    /// capped, scaled by `jitter` in [0.5, 1] so that many retrying clients spread out.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        exp.min(self.max_backoff).mul_f64(jitter.clamp(0.5, 1.0))
    }
}

/// One product's subscription to one stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// The product: a sink's registered name.
    pub product: String,
    /// The source instance's registered name.
    pub source: String,
    /// The stream.
    pub stream: String,
    /// How often the product wants new data.
    pub every: Duration,
    /// The product's own filter, applied before its delivery.
    pub filter: Option<Filter>,
    /// Its queue.
    pub queue: QueueConfig,
    /// Its delivery retries.
    pub retry: RetryPolicy,
}

impl Subscription {
    /// `product` subscribes to `source`'s `stream`, every 5 minutes, unfiltered.
    pub fn new(
        product: impl Into<String>,
        source: impl Into<String>,
        stream: impl Into<String>,
    ) -> Self {
        Subscription {
            product: product.into(),
            source: source.into(),
            stream: stream.into(),
            every: Duration::from_secs(300),
            filter: None,
            queue: QueueConfig::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Collect at least this often.
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval;
        self
    }

    /// Deliver only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Queue size in batches.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue.capacity = capacity;
        self
    }

    /// Policy when the queue is full.
    pub fn when_full(mut self, policy: WhenFull) -> Self {
        self.queue.when_full = policy;
        self
    }

    /// Keep this product's queue on disk, holding at most `max_bytes` of payload.
    pub fn durable(mut self, max_bytes: u64) -> Self {
        self.queue.backend = QueueBackend::Disk { max_bytes };
        self
    }

    /// Delivery retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The stream subscribed to.
    pub fn stream_key(&self) -> StreamKey {
        StreamKey::new(&self.source, &self.stream)
    }

    /// Product and stream.
    pub fn id(&self) -> SubscriptionId {
        SubscriptionId {
            product: self.product.clone(),
            stream: self.stream_key(),
        }
    }

    /// The first problem with this subscription's own numbers, if any.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.every.is_zero() {
            Some("the interval is zero: give a positive interval with .every(...)".into())
        } else if self.queue.capacity == 0 {
            Some("the queue capacity is zero: it must hold at least one batch".into())
        } else if self.queue.backend == (QueueBackend::Disk { max_bytes: 0 }) {
            Some("the durable queue's byte bound is zero".into())
        } else if self.queue.when_full == WhenFull::DropOldest
            && self.queue.backend == QueueBackend::Memory
        {
            Some("drop-oldest needs a durable queue (.durable(max_bytes)); in memory use Block or DropNewest".into())
        } else if self.retry.max_attempts == 0 {
            Some("the retry policy allows zero attempts: allow at least one".into())
        } else if self.retry.attempt_timeout.is_zero() {
            Some("the delivery attempt timeout is zero".into())
        } else {
            None
        }
    }
}

/// Identifies a subscription: product and stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId {
    /// The product.
    pub product: String,
    /// The stream.
    pub stream: StreamKey,
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ← {}", self.product, self.stream)
    }
}

/// The collection jobs that serve every subscription.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// One job per subscribed stream, ordered by stream.
    pub jobs: Vec<JobPlan>,
}

impl Plan {
    /// The job collecting `source`/`stream`, if any.
    pub fn job(&self, source: &str, stream: &str) -> Option<&JobPlan> {
        self.jobs
            .iter()
            .find(|j| &*j.stream.source == source && &*j.stream.stream == stream)
    }

    /// Subscriptions served, over jobs run: what collect-once saves.
    pub fn subscriptions(&self) -> usize {
        self.jobs.iter().map(|j| j.subscribers.len()).sum()
    }
}

/// One collection job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// The stream collected.
    pub stream: StreamKey,
    /// The rate budget it draws from.
    pub budget: BudgetKey,
    /// The shortest interval its subscribers asked for.
    pub interval: Duration,
    /// The interval it runs at: `interval`, stretched when the budget cannot serve every job.
    pub effective_interval: Duration,
    /// The filter sent to the provider: the union of the subscribers' filters, or `None`
    /// when a subscriber wants everything or the source cannot filter.
    pub server_filter: Option<Filter>,
    /// The subscribing products, sorted.
    pub subscribers: Vec<String>,
}

impl JobPlan {
    /// How much the budget stretched the interval (1.0 = not at all).
    pub fn stretch(&self) -> f64 {
        self.effective_interval.as_secs_f64() / self.interval.as_secs_f64()
    }
}

/// Merge `subscriptions` into collection jobs. `sources` describes every source instance by
/// name; `capacity` gives each budget's calls per second. Subscriptions are assumed valid
/// (see [`validate`]).
pub fn plan<'a>(
    subscriptions: impl IntoIterator<Item = &'a Subscription>,
    sources: &BTreeMap<String, SourceInfo>,
    capacity: &HashMap<BudgetKey, f64>,
) -> Plan {
    // Grouped by borrowed names (the same order as `StreamKey`): one key allocated per job,
    // not per subscription.
    let mut by_stream: BTreeMap<(&str, &str), Vec<&Subscription>> = BTreeMap::new();
    for sub in subscriptions {
        by_stream
            .entry((&sub.source, &sub.stream))
            .or_default()
            .push(sub);
    }
    let mut jobs: Vec<JobPlan> = Vec::with_capacity(by_stream.len());
    for ((source, stream), subs) in by_stream {
        let Some(info) = sources.get(source) else {
            continue;
        };
        let stream = StreamKey::new(source, stream);
        let interval = subs.iter().map(|s| s.every).min().unwrap_or_default();
        let server_filter = if info.capabilities.server_side_filter {
            Filter::union(subs.iter().map(|s| s.filter.as_ref()))
        } else {
            None
        };
        let mut subscribers: Vec<String> = subs.iter().map(|s| s.product.clone()).collect();
        subscribers.sort();
        jobs.push(JobPlan {
            stream,
            budget: info.budget.key.clone(),
            interval,
            effective_interval: interval,
            server_filter,
            subscribers,
        });
    }
    stretch_to_budgets(&mut jobs, capacity);
    Plan { jobs }
}

/// When the jobs of a budget need more calls per second than it allows (one call per round),
/// stretch all their intervals by the same factor.
fn stretch_to_budgets(jobs: &mut [JobPlan], capacity: &HashMap<BudgetKey, f64>) {
    let mut demand: HashMap<&BudgetKey, f64> = HashMap::new();
    for job in jobs.iter() {
        *demand.entry(&job.budget).or_default() += 1.0 / job.interval.as_secs_f64();
    }
    let factors: HashMap<BudgetKey, f64> = demand
        .into_iter()
        .filter_map(|(key, need)| {
            let allowed = *capacity.get(key)?;
            (allowed > 0.0 && need > allowed).then(|| (key.clone(), need / allowed))
        })
        .collect();
    for job in jobs.iter_mut() {
        if let Some(factor) = factors.get(&job.budget) {
            job.effective_interval = job.interval.mul_f64(*factor);
        }
    }
}

/// Check a subscription against the registered sources and sinks.
pub fn validate(
    sub: &Subscription,
    sources: &BTreeMap<String, SourceInfo>,
    sinks: &[&str],
) -> Result<(), ConfigError> {
    let Some(info) = sources.get(&sub.source) else {
        return Err(ConfigError::UnknownSource {
            product: sub.product.clone(),
            source_name: sub.source.clone(),
            known: join(sources.keys().map(String::as_str)),
        });
    };
    if !sinks.contains(&sub.product.as_str()) {
        return Err(ConfigError::UnknownSink {
            product: sub.product.clone(),
            stream: sub.stream_key().to_string(),
            known: join(sinks.iter().copied()),
        });
    }
    if info.stream(&sub.stream).is_none() {
        return Err(ConfigError::UnknownStream {
            product: sub.product.clone(),
            source_name: sub.source.clone(),
            stream: sub.stream.clone(),
            offered: join(info.streams.iter().map(|s| s.name.as_str())),
        });
    }
    if let Some(problem) = sub.problem() {
        return Err(ConfigError::InvalidSubscription {
            product: sub.product.clone(),
            stream: sub.stream_key(),
            problem,
        });
    }
    Ok(())
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::BudgetSpec;
    use crate::source::{SourceCapabilities, StreamInfo};

    fn info(filtering: bool, limit: u32) -> SourceInfo {
        SourceInfo {
            provider: "okta".into(),
            streams: vec![StreamInfo::new("logs", ""), StreamInfo::new("users", "")],
            capabilities: SourceCapabilities::default().with_server_side_filter(filtering),
            budget: BudgetSpec::new(
                BudgetKey::new("okta", "org"),
                limit,
                Duration::from_secs(60),
            ),
        }
    }

    fn mins(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn subscriptions_to_one_stream_share_a_job_with_the_shortest_interval() {
        let sources = BTreeMap::from([("okta".to_string(), info(true, 600))]);
        let a = Filter::starts_with("/eventType", "user.");
        let b = Filter::equals("/eventType", "group.user_membership.add");
        let subs = vec![
            Subscription::new("mdi", "okta", "logs")
                .every(mins(5))
                .filter(a.clone()),
            Subscription::new("xspm", "okta", "logs")
                .every(mins(10))
                .filter(b.clone()),
            Subscription::new("sentinel", "okta", "users").every(mins(1)),
        ];
        let plan = plan(&subs, &sources, &HashMap::new());
        assert_eq!(plan.jobs.len(), 2);
        let logs = plan.job("okta", "logs").unwrap();
        assert_eq!(logs.interval, mins(5));
        assert_eq!(logs.subscribers, vec!["mdi", "xspm"]);
        assert_eq!(logs.server_filter, Some(Filter::Or(vec![a, b])));
        assert_eq!(plan.job("okta", "users").unwrap().server_filter, None);
        assert_eq!(plan.subscriptions(), 3);
    }

    #[test]
    fn no_server_filter_when_the_source_cannot_filter_or_a_subscriber_wants_all() {
        let f = Filter::equals("/a", "1");
        let subs = vec![
            Subscription::new("mdi", "okta", "logs").filter(f.clone()),
            Subscription::new("sentinel", "okta", "logs"),
        ];
        let filtering = BTreeMap::from([("okta".to_string(), info(true, 600))]);
        assert_eq!(
            plan(&subs, &filtering, &HashMap::new()).jobs[0].server_filter,
            None
        );
        let blind = BTreeMap::from([("okta".to_string(), info(false, 600))]);
        assert_eq!(
            plan(&subs[..1], &blind, &HashMap::new()).jobs[0].server_filter,
            None
        );
    }

    #[test]
    fn intervals_stretch_evenly_when_the_budget_is_short() {
        let sources = BTreeMap::from([("okta".to_string(), info(false, 600))]);
        let subs = vec![
            Subscription::new("a", "okta", "logs").every(Duration::from_secs(1)),
            Subscription::new("a", "okta", "users").every(Duration::from_secs(2)),
        ];
        // Demand 1.5 calls/s against 0.5 allowed → ×3.
        let capacity = HashMap::from([(BudgetKey::new("okta", "org"), 0.5)]);
        let plan = plan(&subs, &sources, &capacity);
        assert_eq!(
            plan.job("okta", "logs").unwrap().effective_interval,
            Duration::from_secs(3)
        );
        assert_eq!(
            plan.job("okta", "users").unwrap().effective_interval,
            Duration::from_secs(6)
        );
        assert!((plan.jobs[0].stretch() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(policy.backoff(10, 1.0), Duration::from_secs(5));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_secs(1));
    }
}
