//! A product's subscription to a stream: how often, which records, through which queue, with
//! which retries. The planner merges subscriptions into jobs (`plan.rs`); the queue and
//! retry settings travel with the subscription to its delivery.

use std::fmt;
use std::time::Duration;

use crate::filter::Filter;
use crate::record::StreamKey;
use crate::retry::RetryPolicy;

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
    /// Durable: on disk in the platform's [`crate::store::DurableStore`], bounded by `max_bytes` of payload.
    /// A batch counts as accepted once it is committed there, so collection moves on while
    /// the product catches up at its own pace; a restart resumes from the product's position.
    /// Temporary delivery failures are retried without limit (the disk absorbs an outage);
    /// only records the product refuses for good are dead-lettered.
    Durable {
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
    /// The longest interval a subscription may ask for: a year.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(366 * 24 * 3600);

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

    /// Collect at least this often (at most [`Subscription::MAX_INTERVAL`]).
    ///
    /// Subscriptions to the same stream share one job at the shortest interval asked for.
    /// Each job starts at a stable offset of up to the platform's `max_jitter` (10 s by
    /// default, see [`crate::PlatformBuilder::max_jitter`]) so jobs that share an interval
    /// do not call the provider together; and when the jobs of one rate budget need more
    /// calls than it allows, their intervals stretch (health says so).
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
        self.queue.backend = QueueBackend::Durable { max_bytes };
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
        } else if self.every > Self::MAX_INTERVAL {
            Some(format!(
                "the interval of {:?} is longer than the longest allowed ({} days)",
                self.every,
                Self::MAX_INTERVAL.as_secs() / 86_400
            ))
        } else if self.queue.capacity == 0 {
            Some("the queue capacity is zero: it must hold at least one batch".into())
        } else if self.queue.backend == (QueueBackend::Durable { max_bytes: 0 }) {
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
