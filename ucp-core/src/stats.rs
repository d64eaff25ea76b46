//! Counters per collection job and per subscription, readable through
//! [`crate::RunningPlatform::stats`].

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::budget::BudgetStatus;
use crate::health::Status;
use crate::record::StreamKey;
use crate::subscription::SubscriptionId;

/// Live counters of one collection job.
#[derive(Debug, Default)]
pub(crate) struct JobCounters {
    pub source_calls: AtomicU64,
    /// Thousandths of a call, so subscribers at longer intervals count for their share.
    pub calls_saved_millis: AtomicU64,
    pub pages: AtomicU64,
    pub records_collected: AtomicU64,
    pub duplicates_dropped: AtomicU64,
    pub errors: AtomicU64,
    pub throttled: AtomicU64,
    /// Writes of this stream's state the storage refused (each tried again).
    pub store_failures: AtomicU64,
    /// When a page last arrived.
    pub last_success: LastSuccess,
    /// The collection's current status (its tracker mirrors it here).
    pub status: Arc<AtomicU8>,
}

/// A time written by one task and read by others: milliseconds since the epoch, or never.
#[derive(Debug)]
pub(crate) struct LastSuccess(AtomicI64);

impl Default for LastSuccess {
    fn default() -> Self {
        LastSuccess(AtomicI64::new(i64::MIN))
    }
}

impl LastSuccess {
    pub(crate) fn mark(&self, time: DateTime<Utc>) {
        self.0.store(time.timestamp_millis(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Option<DateTime<Utc>> {
        match self.0.load(Ordering::Relaxed) {
            i64::MIN => None,
            millis => DateTime::from_timestamp_millis(millis),
        }
    }
}

/// Live counters of one subscription.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionCounters {
    pub batches_delivered: AtomicU64,
    pub records_delivered: AtomicU64,
    pub filtered_out: AtomicU64,
    pub dropped: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// The delivery's current status (its tracker mirrors it here).
    pub status: Arc<AtomicU8>,
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The status a tracker mirrors into `cell`.
pub(crate) fn status_of(cell: &AtomicU8) -> Status {
    Status::from_severity(cell.load(Ordering::Relaxed)).unwrap_or(Status::Starting)
}

/// A collection job's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStats {
    /// The stream.
    pub stream: StreamKey,
    /// Calls made to the provider (`collect`).
    pub source_calls: u64,
    /// Calls that separate per-product connectors would have made on top of these, each
    /// subscriber counted at its own interval: one asking every 10 minutes of a job running
    /// every 5 counts for half a call per call.
    pub calls_saved: u64,
    /// Pages received.
    pub pages: u64,
    /// Records received (before dedup).
    pub records_collected: u64,
    /// Records dropped as already fanned out.
    pub duplicates_dropped: u64,
    /// Failed calls.
    pub errors: u64,
    /// Calls the provider throttled.
    pub throttled: u64,
    /// Writes of this stream's pages and cursor that the storage refused (a full or failing
    /// disk); each was tried again until the storage took it.
    pub store_failures: u64,
    /// When a page (possibly empty) last arrived from the provider.
    pub last_success: Option<DateTime<Utc>>,
    /// The collection's current status.
    pub status: Status,
}

/// A subscription's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionStats {
    /// Product and stream.
    pub id: SubscriptionId,
    /// Batches the product accepted.
    pub batches_delivered: u64,
    /// Records the product accepted.
    pub records_delivered: u64,
    /// Records the product's filter left out.
    pub filtered_out: u64,
    /// Records dropped because the queue was full (policy `DropNewest`).
    pub dropped: u64,
    /// Delivery attempts retried.
    pub retried: u64,
    /// Records sent to the dead-letter store.
    pub dead_lettered: u64,
    /// Batches waiting in the queue.
    pub queue_depth: usize,
    /// The queue's capacity in batches (0 for a durable queue, bounded in bytes).
    pub queue_capacity: usize,
    /// Payload bytes waiting in a durable queue (0 in memory).
    pub queue_bytes: u64,
    /// The delivery's current status.
    pub status: Status,
}

/// Everything the running platform counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlatformStats {
    /// One entry per collection job.
    pub jobs: Vec<JobStats>,
    /// One entry per subscription.
    pub subscriptions: Vec<SubscriptionStats>,
    /// One entry per rate budget.
    pub budgets: Vec<BudgetStatus>,
}

impl PlatformStats {
    /// The job collecting `source`/`stream`.
    pub fn job(&self, source: &str, stream: &str) -> Option<&JobStats> {
        self.jobs
            .iter()
            .find(|j| &*j.stream.source == source && &*j.stream.stream == stream)
    }

    /// The subscription of `product` to `source`/`stream`.
    pub fn subscription(
        &self,
        product: &str,
        source: &str,
        stream: &str,
    ) -> Option<&SubscriptionStats> {
        self.subscriptions.iter().find(|s| {
            s.id.product == product
                && &*s.id.stream.source == source
                && &*s.id.stream.stream == stream
        })
    }
}

impl JobCounters {
    pub(crate) fn snapshot(&self, stream: StreamKey) -> JobStats {
        JobStats {
            stream,
            source_calls: get(&self.source_calls),
            calls_saved: get(&self.calls_saved_millis) / 1000,
            pages: get(&self.pages),
            records_collected: get(&self.records_collected),
            duplicates_dropped: get(&self.duplicates_dropped),
            errors: get(&self.errors),
            throttled: get(&self.throttled),
            store_failures: get(&self.store_failures),
            last_success: self.last_success.get(),
            status: status_of(&self.status),
        }
    }
}

impl SubscriptionCounters {
    pub(crate) fn snapshot(
        &self,
        id: SubscriptionId,
        queue_depth: usize,
        queue_capacity: usize,
    ) -> SubscriptionStats {
        SubscriptionStats {
            id,
            batches_delivered: get(&self.batches_delivered),
            records_delivered: get(&self.records_delivered),
            filtered_out: get(&self.filtered_out),
            dropped: get(&self.dropped),
            retried: get(&self.retried),
            dead_lettered: get(&self.dead_lettered),
            queue_depth,
            queue_capacity,
            queue_bytes: 0,
            status: status_of(&self.status),
        }
    }
}
