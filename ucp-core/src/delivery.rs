//! Per-subscription delivery: each subscription has its own bounded queue and its own task,
//! so a slow, failing or hung product never delays another.
//!
//! A delivery task takes batches from its queue in order, delivers them with bounded retries
//! (exponential backoff with jitter, honouring `Retry-After`, a timeout per attempt), sends
//! what the product refuses for good to the dead-letter store, and then *accepts* the batch:
//! the collection job advances its checkpoint once every subscriber accepted.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::watch;
use tracing::Instrument;

use crate::clock::Clock;
use crate::dead_letter::{DeadLetter, DeadLetterStore};
use crate::error::ErrorClass;
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::queue::{QueueReader, Receipt};
use crate::record::{Batch, Record, StreamKey};
use crate::reporting::HealthHub;
use crate::retry::{RetryPolicy, STORAGE_RETRY};
use crate::sink::{Delivery, DeliveryError, Sink, SinkContext, SinkError};
use crate::stats::{add, SubscriptionCounters};
use crate::store::DurableError;
use crate::subscription::SubscriptionId;

/// Wait before reading a durable queue again after the store failed.
const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves once `stop` is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Everything a delivery task needs.
pub(crate) struct DeliveryTask {
    pub id: SubscriptionId,
    pub sink: Arc<dyn Sink>,
    pub cx: SinkContext,
    pub max_batch_records: Option<usize>,
    pub retry: RetryPolicy,
    pub dead_letters: Arc<dyn DeadLetterStore>,
    pub counters: Arc<SubscriptionCounters>,
    pub health: HealthHub,
    pub component: Component,
    pub clock: Clock,
    /// Retry temporary failures without limit (durable queues: the disk absorbs an outage,
    /// and the product gets everything, in order, when it returns).
    pub retry_forever: bool,
}

/// How one chunk ended.
enum Outcome {
    Delivered { rejected: usize },
    DeadLettered { reason: String },
}

impl DeliveryTask {
    /// Deliver the queue's batches in order, accepting each once the product took it (or it
    /// was dead-lettered). A memory queue is delivered until it is closed and drained; a
    /// durable one until `stop`, leaving a batch in flight queued for after the restart.
    pub(crate) async fn run(self, mut queue: QueueReader, stop: watch::Receiver<bool>) {
        let durable = queue.stops_at_once();
        let span = tracing::info_span!("ucp.delivery", product = %self.id.product, stream = %self.id.stream, durable);
        let mut tracker = self
            .health
            .tracker(self.component.clone())
            .mirrored(self.counters.status.clone());
        async {
            loop {
                let next = tokio::select! {
                    biased;
                    _ = stopped(stop.clone()), if durable => break,
                    next = queue.next() => next,
                };
                match next {
                    Ok(Some((batch, receipt))) => {
                        if let Some(waiting) = queue.waiting() {
                            self.health.queue_depth(&self.component, waiting);
                        }
                        let delivery = async {
                            for chunk in chunks(&batch, self.max_batch_records) {
                                self.deliver(&chunk, &mut tracker).await;
                            }
                        };
                        tokio::select! {
                            biased;
                            _ = stopped(stop.clone()), if durable => break,
                            _ = delivery => {}
                        }
                        if !self.accept(&queue, receipt, &mut tracker, &stop).await {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        self.store_failed(&mut tracker, &error).await;
                        tokio::select! {
                            biased;
                            _ = stopped(stop.clone()) => break,
                            _ = tokio::time::sleep(STORE_RETRY) => {}
                        }
                    }
                }
            }
            tracing::debug!("delivery task ends");
        }
        .instrument(span)
        .await
    }

    /// Accept a delivered batch. A durable queue that cannot record it is asked again with
    /// backoff (not the product: the batch is not delivered again); `false` if stopped first,
    /// in which case the batch stays queued and reaches the product once more after the
    /// restart.
    async fn accept(
        &self,
        queue: &QueueReader,
        mut receipt: Receipt,
        tracker: &mut StatusTracker,
        stop: &watch::Receiver<bool>,
    ) -> bool {
        let mut attempt = 0u32;
        loop {
            let error = match queue.done(receipt).await {
                Ok(()) => return true,
                Err((error, back)) => {
                    receipt = back;
                    error
                }
            };
            attempt = attempt.saturating_add(1);
            self.store_failed(tracker, &error).await;
            tokio::select! {
                biased;
                _ = stopped(stop.clone()) => return false,
                _ = tokio::time::sleep(STORAGE_RETRY.backoff(attempt, 1.0)) => {}
            }
        }
    }

    async fn store_failed(&self, tracker: &mut StatusTracker, error: &DurableError) {
        self.health
            .observe(tracker, Status::Error, HealthKind::Storage, || {
                format!("{}: the durable queue failed ({error}); delivery waits and tries again with backoff; free disk space or repair the disk of the durable store — no restart is needed", self.id)
            })
            .await;
    }

    async fn deliver(&self, batch: &Arc<Batch>, tracker: &mut StatusTracker) {
        let outcome = self.deliver_with_retries(batch, tracker).await;
        let (delivered, rejected_ids) = match outcome {
            Outcome::Delivered { rejected } => (batch.len() - rejected, rejected),
            Outcome::DeadLettered { reason } => {
                self.dead_letter(batch.records.iter().cloned(), &batch.stream, |_| {
                    reason.clone()
                })
                .await;
                (0, batch.len())
            }
        };
        if delivered > 0 {
            add(&self.counters.batches_delivered, 1);
            add(&self.counters.records_delivered, delivered as u64);
            let bytes: usize = batch.records.iter().map(|r| r.payload.len()).sum();
            self.health
                .volume(&self.component, delivered as u64, bytes as u64);
        }
        if rejected_ids == 0 {
            self.health
                .observe(tracker, Status::Ok, HealthKind::Delivery, || {
                    format!("{} is delivering", self.id)
                })
                .await;
        }
    }

    async fn deliver_with_retries(
        &self,
        batch: &Arc<Batch>,
        tracker: &mut StatusTracker,
    ) -> Outcome {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.attempt(batch).await;
            let error = match result {
                Ok(delivery) => return self.handle_rejections(batch, delivery, tracker).await,
                Err(error) => error,
            };
            let failure = DeliveryError {
                product: self.id.product.clone(),
                stream: self.id.stream.clone(),
                error,
            };
            tracing::warn!(attempt, error = %failure, "delivery failed");
            self.health
                .error(&self.component, failure.error.type_name(), "deliver");
            if failure.error.class() == ErrorClass::Permanent {
                let status = match failure.error {
                    SinkError::Auth { .. } => Status::Error,
                    _ => Status::Warning,
                };
                self.health
                    .observe(tracker, status, HealthKind::Delivery, || {
                        format!(
                            "{failure}; the batch of {} records was dead-lettered",
                            batch.len()
                        )
                    })
                    .await;
                return Outcome::DeadLettered {
                    reason: failure.to_string(),
                };
            }
            if attempt >= self.retry.max_attempts && !self.retry_forever {
                self.health.observe(tracker, Status::Warning, HealthKind::Delivery, || {
                    format!("{failure}; gave up after {attempt} attempts and dead-lettered {} records", batch.len())
                }).await;
                return Outcome::DeadLettered {
                    reason: format!("gave up after {attempt} attempts: {}", failure.error),
                };
            }
            add(&self.counters.retried, 1);
            self.health
                .observe(tracker, Status::Warning, HealthKind::Delivery, || {
                    format!(
                        "{failure}; retrying (attempt {attempt} of {})",
                        self.retry.max_attempts
                    )
                })
                .await;
            let wait = failure
                .error
                .retry_after()
                .unwrap_or_else(|| self.retry.backoff(attempt, rand::random_range(0.5..=1.0)));
            tokio::time::sleep(wait).await;
        }
    }

    /// One call to the sink, bounded by the attempt timeout; a panicking sink is a permanent
    /// failure of that batch, not of the task.
    async fn attempt(&self, batch: &Batch) -> Result<Delivery, SinkError> {
        let call = AssertUnwindSafe(self.sink.deliver(&self.cx, batch)).catch_unwind();
        match tokio::time::timeout(self.retry.attempt_timeout, call).await {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err(SinkError::Permanent {
                message: "the sink panicked while delivering; this is a bug in the sink".into(),
            }),
            Err(_elapsed) => Err(SinkError::Retryable {
                message: format!("no answer within {:?}", self.retry.attempt_timeout),
                retry_after: None,
            }),
        }
    }

    async fn handle_rejections(
        &self,
        batch: &Batch,
        delivery: Delivery,
        tracker: &mut StatusTracker,
    ) -> Outcome {
        if delivery.rejected.is_empty() {
            return Outcome::Delivered { rejected: 0 };
        }
        let reasons: std::collections::HashMap<_, _> = delivery
            .rejected
            .iter()
            .map(|r| (r.id.clone(), r.reason.clone()))
            .collect();
        let rejected: Vec<Record> = batch
            .records
            .iter()
            .filter(|r| reasons.contains_key(&r.id))
            .cloned()
            .collect();
        let count = rejected.len();
        self.dead_letter(rejected.into_iter(), &batch.stream, |r| {
            reasons.get(&r.id).cloned().unwrap_or_default()
        })
        .await;
        self.health.observe(tracker, Status::Warning, HealthKind::Delivery, || {
            format!("'{}' rejected {count} records of {}; they are in the dead-letter store with the product's reasons", self.id.product, self.id.stream)
        }).await;
        Outcome::Delivered { rejected: count }
    }

    async fn dead_letter(
        &self,
        records: impl Iterator<Item = Record>,
        stream: &StreamKey,
        reason: impl Fn(&Record) -> String,
    ) {
        let time = self.clock.now_utc();
        let letters: Vec<DeadLetter> = records
            .map(|record| DeadLetter {
                product: self.id.product.clone(),
                stream: stream.clone(),
                reason: reason(&record),
                record,
                time,
            })
            .collect();
        let count = letters.len() as u64;
        if let Err(error) = self.dead_letters.put(letters).await {
            // Nothing more can be done here; say so loudly rather than drop silently.
            tracing::error!(subscription = %self.id, records = count, %error, "dead-letter store refused records; they are lost");
        }
        add(&self.counters.dead_lettered, count);
    }
}

/// Split a batch into chunks of at most `max` records (sharing the payloads).
fn chunks(batch: &Arc<Batch>, max: Option<usize>) -> Vec<Arc<Batch>> {
    match max {
        Some(max) if max > 0 && batch.len() > max => batch
            .records
            .chunks(max)
            .map(|part| {
                Arc::new(Batch {
                    stream: batch.stream.clone(),
                    records: Arc::from(part),
                    cursor_after: batch.cursor_after.clone(),
                })
            })
            .collect(),
        _ => vec![batch.clone()],
    }
}
