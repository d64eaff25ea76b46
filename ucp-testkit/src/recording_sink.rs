//! A simulated product: records every batch it accepts, and behaves as told.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use ucp_core::{Batch, Delivery, RejectedRecord, Sink, SinkContext, SinkError, SinkInfo};

/// How the product answers the next delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkBehaviour {
    /// Accept.
    Accept,
    /// Never answer.
    Hang,
    /// A temporary failure (5xx), with an optional `Retry-After`.
    Unavailable(Option<Duration>),
    /// Throttled (429) with `Retry-After`.
    Throttle(Duration),
    /// The credential is refused.
    Unauthorized,
    /// Answer after this long, then accept.
    Slow(Duration),
}

struct Inner {
    product: String,
    max_batch_records: Option<usize>,
    default: Mutex<SinkBehaviour>,
    script: Mutex<VecDeque<SinkBehaviour>>,
    reject: Mutex<HashSet<String>>,
    received: Mutex<Vec<(Instant, Arc<Batch>)>>,
    attempts: Mutex<Vec<Instant>>,
}

/// The simulated product as a [`Sink`]. Clone it to keep a handle for assertions.
#[derive(Clone)]
pub struct RecordingSink {
    inner: Arc<Inner>,
}

impl RecordingSink {
    /// A product that accepts everything.
    pub fn new(product: impl Into<String>) -> Self {
        Self::with_limit(product, None)
    }

    /// A product that takes at most `max` records per call.
    pub fn with_limit(product: impl Into<String>, max: Option<usize>) -> Self {
        RecordingSink {
            inner: Arc::new(Inner {
                product: product.into(),
                max_batch_records: max,
                default: Mutex::new(SinkBehaviour::Accept),
                script: Mutex::new(VecDeque::new()),
                reject: Mutex::new(HashSet::new()),
                received: Mutex::new(Vec::new()),
                attempts: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Behave like this from now on (after any scripted answers).
    pub fn set_behaviour(&self, behaviour: SinkBehaviour) {
        *lock(&self.inner.default) = behaviour;
    }

    /// Answer the next deliveries like this, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = SinkBehaviour>) {
        lock(&self.inner.script).extend(answers);
    }

    /// Refuse these record ids for good (each reported individually).
    pub fn reject_ids<I, S>(&self, ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        lock(&self.inner.reject).extend(ids.into_iter().map(Into::into));
    }

    /// Stop refusing any record (the product was fixed).
    pub fn accept_all(&self) {
        lock(&self.inner.reject).clear();
    }

    /// Batches accepted so far, with when.
    pub fn batches(&self) -> Vec<(Instant, Arc<Batch>)> {
        lock(&self.inner.received).clone()
    }

    /// Ids of accepted records (rejected ones excluded), in order.
    pub fn ids(&self) -> Vec<String> {
        let rejected = lock(&self.inner.reject).clone();
        lock(&self.inner.received)
            .iter()
            .flat_map(|(_, b)| {
                b.records
                    .iter()
                    .map(|r| r.id.to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|id| !rejected.contains(id))
            .collect()
    }

    /// Delivery attempts so far (accepted or not), with when.
    pub fn attempts(&self) -> Vec<Instant> {
        lock(&self.inner.attempts).clone()
    }
}

#[async_trait]
impl Sink for RecordingSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo {
            kind: self.inner.product.clone(),
            max_batch_records: self.inner.max_batch_records,
        }
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        match &*lock(&self.inner.default) {
            SinkBehaviour::Unauthorized => Err(SinkError::Auth {
                message: format!("{} refused the credential", self.inner.product),
            }),
            _ => Ok(()),
        }
    }

    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        lock(&self.inner.attempts).push(Instant::now());
        let behaviour = lock(&self.inner.script)
            .pop_front()
            .unwrap_or_else(|| lock(&self.inner.default).clone());
        let product = &self.inner.product;
        match behaviour {
            SinkBehaviour::Accept => {}
            SinkBehaviour::Hang => std::future::pending::<()>().await,
            SinkBehaviour::Unavailable(retry_after) => {
                return Err(SinkError::Retryable {
                    message: format!("{product} answered 503"),
                    retry_after,
                })
            }
            SinkBehaviour::Throttle(after) => {
                return Err(SinkError::RateLimited {
                    message: format!("{product} answered 429"),
                    retry_after: Some(after),
                })
            }
            SinkBehaviour::Unauthorized => {
                return Err(SinkError::Auth {
                    message: format!("{product} refused the credential"),
                })
            }
            SinkBehaviour::Slow(delay) => tokio::time::sleep(delay).await,
        }
        let reject = lock(&self.inner.reject).clone();
        let rejected: Vec<RejectedRecord> = batch
            .records
            .iter()
            .filter(|r| reject.contains(r.id.as_str()))
            .map(|r| RejectedRecord {
                id: r.id.clone(),
                reason: format!("{product} refuses record {}", r.id),
            })
            .collect();
        // Keep what was accepted: the batch minus the refused records.
        let accepted = Batch {
            records: batch
                .records
                .iter()
                .filter(|r| !reject.contains(r.id.as_str()))
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ..batch.clone()
        };
        lock(&self.inner.received).push((Instant::now(), Arc::new(accepted)));
        Ok(Delivery::with_rejected(rejected))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
