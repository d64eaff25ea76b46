//! Per-subscription delivery: each subscription has its own bounded queue and its own task,
//! so a slow, failing or hung product never delays another.
//!
//! A delivery task takes batches from its queue in order, delivers them with bounded retries
//! (exponential backoff with jitter, honouring `Retry-After`, a timeout per attempt), sends
//! what the product refuses for good to the dead-letter store, and then *accepts* the batch:
//! the collection job advances its checkpoint once every subscriber accepted.

pub mod durable;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::clock::Clock;
use crate::dead_letter::{DeadLetter, DeadLetterStore};
use crate::error::{DeliveryError, ErrorClass};
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::plan::{RetryPolicy, SubscriptionId};
use crate::record::{Batch, Record};
use crate::reporting::HealthHub;
use crate::sink::{Delivery, Sink, SinkContext, SinkError};
use crate::stats::{add, SubscriptionCounters};
use durable::{DurableError, DurableStore};

/// Wait before reading a durable queue again after the store failed.
const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves once `stop` is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Acceptance state of one fanned-out page, shared by the job and its subscribers' acks.
#[derive(Debug)]
pub(crate) struct PendingPage {
    /// Subscribers (plus the job's own guard while fanning out) that have not accepted yet.
    pub remaining: AtomicUsize,
    /// A subscriber lost the batch without accepting it (its task died): the cursor must not
    /// pass this page until it is collected again.
    pub abandoned: AtomicBool,
}

impl PendingPage {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(PendingPage {
            remaining: AtomicUsize::new(1),
            abandoned: AtomicBool::new(false),
        })
    }
}

/// A subscriber's promise to accept one batch. Dropping it unaccepted marks the page
/// abandoned, unless the subscription was removed (then nobody wants the batch any more).
pub(crate) struct Ack {
    page: Arc<PendingPage>,
    released: Arc<AtomicBool>,
    notify: mpsc::UnboundedSender<()>,
    done: bool,
}

impl Ack {
    pub(crate) fn new(
        page: Arc<PendingPage>,
        released: Arc<AtomicBool>,
        notify: mpsc::UnboundedSender<()>,
    ) -> Self {
        page.remaining.fetch_add(1, Ordering::AcqRel);
        Ack {
            page,
            released,
            notify,
            done: false,
        }
    }

    /// The batch is delivered, dead-lettered, or dropped by policy with the loss counted.
    pub(crate) fn accept(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        if self.page.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.notify.send(());
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.done {
            if !self.released.load(Ordering::Acquire) {
                self.page.abandoned.store(true, Ordering::Release);
            }
            self.finish();
        }
    }
}

/// One batch on its way to one product.
pub(crate) struct Envelope {
    pub batch: Arc<Batch>,
    pub ack: Ack,
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
    /// Deliver every batch of the queue in order until the queue is closed and empty.
    pub(crate) async fn run(self, mut queue: mpsc::Receiver<Envelope>) {
        let span = tracing::info_span!("ucp.delivery", product = %self.id.product, stream = %self.id.stream);
        let mut tracker = self.health.tracker(self.component.clone());
        async {
            while let Some(envelope) = queue.recv().await {
                self.health.queue_depth(&self.component, queue.len());
                for chunk in chunks(&envelope.batch, self.max_batch_records) {
                    self.deliver(&chunk, &mut tracker).await;
                }
                envelope.ack.accept();
            }
            tracing::debug!("queue closed; delivery task ends");
        }
        .instrument(span)
        .await
    }

    /// Deliver the subscription's durable queue in order, acknowledging each batch once the
    /// product accepted it (or it was dead-lettered), until `stop`. A batch in flight at stop
    /// stays queued and is delivered again after the restart.
    pub(crate) async fn run_durable(self, store: Arc<DurableStore>, stop: watch::Receiver<bool>) {
        let span = tracing::info_span!("ucp.delivery", product = %self.id.product, stream = %self.id.stream, durable = true);
        let mut tracker = self.health.tracker(self.component.clone());
        let arrivals = store.arrivals(&self.id);
        async {
            loop {
                let arrived = arrivals.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                let front = tokio::select! {
                    biased;
                    _ = stopped(stop.clone()) => break,
                    front = store.front(&self.id) => front,
                };
                match front {
                    Ok(Some((seq, batch))) => {
                        let batch = Arc::new(batch);
                        let delivery = async {
                            for chunk in chunks(&batch, self.max_batch_records) {
                                self.deliver(&chunk, &mut tracker).await;
                            }
                        };
                        tokio::select! {
                            biased;
                            _ = stopped(stop.clone()) => break,
                            _ = delivery => {}
                        }
                        if let Err(error) = store.ack(&self.id, seq).await {
                            // Delivered but not acknowledged: it is delivered again later.
                            self.store_failed(&mut tracker, &error).await;
                        }
                    }
                    Ok(None) => {
                        tokio::select! {
                            biased;
                            _ = stopped(stop.clone()) => break,
                            _ = arrived => {}
                        }
                    }
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
            tracing::debug!("durable delivery task stops; its queue stays on disk");
        }
        .instrument(span)
        .await
    }

    async fn store_failed(&self, tracker: &mut StatusTracker, error: &DurableError) {
        self.health
            .observe(tracker, Status::Error, HealthKind::Delivery, || {
                format!("{}: the durable queue failed: {error}", self.id)
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
        stream: &crate::record::StreamKey,
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
