//! Fan-out: one page becomes one batch per subscriber — deduplicated, filtered per product,
//! sharing payloads — put on each subscriber's queue under that queue's bound and policy.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    wait_stop, Job, JobConfig, Pending, Room, RoundEnd, State, Subscriber, SubscriberQueue,
};
use crate::delivery::durable::DurableStore;
use crate::delivery::{Ack, Envelope, PendingPage};
use crate::filter::Filter;
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::plan::{SubscriptionId, WhenFull};
use crate::record::{Batch, Cursor, Record, StreamKey};
use crate::source::Page;
use crate::stats::add;

impl Job {
    /// Dedup, filter per subscriber and queue one batch per subscriber.
    pub(super) async fn fan_out(
        &self,
        state: &mut State,
        page: Page,
        config: &JobConfig,
    ) -> RoundEnd {
        let now = Instant::now();
        let received = page.records.len();
        let fresh: Vec<Record> = {
            let mut dedup = self.dedup_lock();
            page.records
                .into_iter()
                .filter(|r| dedup.first_sighting(&r.id, now))
                .collect()
        };
        add(
            &self.counters.duplicates_dropped,
            (received - fresh.len()) as u64,
        );
        let bytes: usize = fresh.iter().map(|r| r.payload.len()).sum();
        self.health
            .volume(&self.component, fresh.len() as u64, bytes as u64);
        state.cursor = page.next.clone();

        let pending = PendingPage::new();
        state.pending.push_back(Pending {
            cursor: page.next.clone(),
            page: pending.clone(),
        });
        let shared = Arc::new(Batch {
            stream: self.key.clone(),
            records: Arc::from(fresh),
            cursor_after: page.next,
        });
        let docs = parse_if_filtered(&shared.records, &config.subscribers);
        let mut result = RoundEnd::Done;
        let mut durable = Vec::new();
        let mut sent_to_memory = false;
        for subscriber in &config.subscribers {
            let batch = select(&shared, docs.as_deref(), subscriber.filter.as_ref());
            add(
                &subscriber.counters.filtered_out,
                (shared.len() - batch.len()) as u64,
            );
            if batch.is_empty() {
                continue;
            }
            let ack = Ack::new(
                pending.clone(),
                subscriber.released.clone(),
                state.ack_tx.clone(),
            );
            match &subscriber.queue {
                SubscriberQueue::Disk { .. } => durable.push((subscriber, batch, ack)),
                SubscriberQueue::Memory(queue) => {
                    sent_to_memory = true;
                    let envelope = Envelope { batch, ack };
                    if let RoundEnd::Stopped =
                        self.enqueue(state, subscriber, queue, envelope).await
                    {
                        result = RoundEnd::Stopped;
                        break;
                    }
                }
            }
        }
        if !durable.is_empty() && matches!(result, RoundEnd::Done) {
            // With nothing else to wait for, the cursor commits with the appends.
            let alone = !sent_to_memory && state.pending.len() == 1;
            let checkpoint = (alone && self.checkpoints_are_durable)
                .then(|| (self.key.clone(), shared.cursor_after.clone()));
            result = self.enqueue_durable(state, durable, checkpoint).await;
        }
        // Release the job's own guard: the page may be complete already.
        if pending.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = state.ack_tx.send(());
        }
        result
    }

    /// Append one page's batches to the durable queues of its subscribers in one transaction,
    /// applying each queue's byte bound and when-full policy first.
    async fn enqueue_durable(
        &self,
        state: &mut State,
        entries: Vec<(&Subscriber, Arc<Batch>, Ack)>,
        checkpoint: Option<(StreamKey, Cursor)>,
    ) -> RoundEnd {
        let mut appends = Vec::with_capacity(entries.len());
        let mut acks = Vec::with_capacity(entries.len());
        let mut store = None;
        for (subscriber, batch, ack) in entries {
            let SubscriberQueue::Disk {
                store: disk,
                id,
                max_bytes,
            } = &subscriber.queue
            else {
                continue;
            };
            let size = batch.payload_bytes() as u64;
            if disk.queue_bytes(id) + size > *max_bytes {
                match self
                    .make_room(
                        state,
                        subscriber,
                        disk,
                        id,
                        *max_bytes,
                        size,
                        batch.len() as u64,
                    )
                    .await
                {
                    Room::Made => {}
                    Room::Dropped => {
                        ack.accept();
                        continue;
                    }
                    Room::Stopped => return RoundEnd::Stopped,
                }
            }
            store = Some(disk.clone());
            appends.push((id.clone(), batch));
            acks.push((subscriber, ack));
        }
        let Some(store) = store else {
            return RoundEnd::Done;
        };
        match store.append(appends, checkpoint.clone()).await {
            Ok(()) => {
                if let Some((_, cursor)) = checkpoint {
                    state.saved = Some(cursor);
                }
                for (subscriber, ack) in acks {
                    ack.accept();
                    self.queue_level(state, subscriber).await;
                }
            }
            Err(error) => {
                // The acks drop unaccepted: the cursor stays before this page, and the next
                // start collects it again for the durable queues.
                self.health
                    .observe(&mut state.collection, Status::Error, HealthKind::Delivery, || {
                        format!(
                            "{}: cannot write to the durable queues ({error}); collection goes on, and what they missed is collected again at the next start; free disk space or fix the store",
                            self.key
                        )
                    })
                    .await;
            }
        }
        RoundEnd::Done
    }

    /// A durable queue is over its byte bound: apply its policy.
    #[allow(clippy::too_many_arguments)]
    async fn make_room(
        &self,
        state: &mut State,
        subscriber: &Subscriber,
        store: &Arc<DurableStore>,
        id: &SubscriptionId,
        max_bytes: u64,
        size: u64,
        records: u64,
    ) -> Room {
        let component = self.queue_component(subscriber);
        let full = |what: String| {
            format!(
                "the durable queue of '{}' for {} is full ({} of {max_bytes} bytes): {what}; the product is slower than collection",
                subscriber.product,
                self.key,
                store.queue_bytes(id)
            )
        };
        match subscriber.when_full {
            WhenFull::DropNewest => {
                add(&subscriber.counters.dropped, records);
                self.health.dropped(&component, records);
                let message = full(format!(
                    "dropped the newest {records} records by policy (counted)"
                ));
                let tracker = self.queue_tracker(state, subscriber);
                self.health
                    .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
                    .await;
                Room::Dropped
            }
            WhenFull::DropOldest => {
                match store.drop_oldest(id, size, max_bytes).await {
                    Ok(dropped) => {
                        add(&subscriber.counters.dropped, dropped);
                        self.health.dropped(&component, dropped);
                        let message = full(format!(
                            "dropped the oldest {dropped} records by policy (counted)"
                        ));
                        let tracker = self.queue_tracker(state, subscriber);
                        self.health
                            .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
                            .await;
                    }
                    Err(error) => tracing::error!(%error, "could not drop the oldest batches"),
                }
                Room::Made
            }
            WhenFull::Block => {
                let message = full(
                    "collection of this stream is paused for every product until it has room"
                        .into(),
                );
                let tracker = self.queue_tracker(state, subscriber);
                self.health
                    .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
                    .await;
                let room = store.room(id);
                loop {
                    let notified = room.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if store.queue_bytes(id) + size <= max_bytes || store.queue_bytes(id) == 0 {
                        return Room::Made;
                    }
                    let stop = wait_stop(self.stop.clone());
                    tokio::select! {
                        biased;
                        _ = stop => return Room::Stopped,
                        _ = notified => {}
                    }
                }
            }
        }
    }

    async fn enqueue(
        &self,
        state: &mut State,
        subscriber: &Subscriber,
        queue: &mpsc::Sender<Envelope>,
        envelope: Envelope,
    ) -> RoundEnd {
        let records = envelope.batch.len() as u64;
        let full_message = |what: &str| {
            format!(
                "the queue of '{}' for {} is full ({} batches): {what}; the product is slower than collection",
                subscriber.product,
                self.key,
                queue.max_capacity()
            )
        };
        let envelope = match queue.try_send(envelope) {
            Ok(()) => {
                self.queue_level(state, subscriber).await;
                return RoundEnd::Done;
            }
            Err(mpsc::error::TrySendError::Closed(envelope)) => {
                // Unsubscribed meanwhile: nobody wants it; accepting keeps the cursor moving.
                envelope.ack.accept();
                return RoundEnd::Done;
            }
            Err(mpsc::error::TrySendError::Full(envelope)) => envelope,
        };
        let tracker = self.queue_tracker(state, subscriber);
        match subscriber.when_full {
            WhenFull::DropNewest | WhenFull::DropOldest => {
                add(&subscriber.counters.dropped, records);
                self.health
                    .dropped(&self.queue_component(subscriber), records);
                tracing::warn!(product = %subscriber.product, records, "queue full: batch dropped by policy");
                let message =
                    full_message(&format!("dropped {records} records by policy (counted)"));
                self.health
                    .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
                    .await;
                envelope.ack.accept();
                RoundEnd::Done
            }
            WhenFull::Block => {
                let message = full_message(
                    "collection of this stream is paused for every product until it has room",
                );
                self.health
                    .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
                    .await;
                let stop = wait_stop(self.stop.clone());
                tokio::select! {
                    biased;
                    _ = stop => RoundEnd::Stopped, // the envelope is dropped unaccepted: re-collected
                    sent = queue.send(envelope) => {
                        if let Err(mpsc::error::SendError(envelope)) = sent {
                            envelope.ack.accept();
                        }
                        RoundEnd::Done
                    }
                }
            }
        }
    }

    /// Report a queue at or above 80% of its bound as a Warning, and its recovery.
    pub(super) async fn queue_level(&self, state: &mut State, subscriber: &Subscriber) {
        let (used, bound, unit) = match &subscriber.queue {
            SubscriberQueue::Memory(queue) => {
                let capacity = queue.max_capacity();
                (
                    (capacity - queue.capacity()) as u64,
                    capacity as u64,
                    "batches",
                )
            }
            SubscriberQueue::Disk {
                store,
                id,
                max_bytes,
            } => (store.queue_bytes(id), *max_bytes, "bytes"),
        };
        if let SubscriberQueue::Memory(_) = subscriber.queue {
            self.health
                .queue_depth(&self.queue_component(subscriber), used as usize);
        }
        let tracker = self.queue_tracker(state, subscriber);
        if used * 5 >= bound * 4 {
            let consequence = match subscriber.when_full {
                WhenFull::Block => "when full, collection pauses for every product of the stream",
                WhenFull::DropNewest => {
                    "when full, new batches are dropped for this product (counted)"
                }
                WhenFull::DropOldest => {
                    "when full, the oldest batches are dropped for this product (counted)"
                }
            };
            let message = format!(
                "the queue of '{}' for {} is {}% full ({used} of {bound} {unit}): the product is slower than collection; {consequence}",
                subscriber.product,
                self.key,
                used * 100 / bound.max(1)
            );
            self.health
                .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
                .await;
        } else if tracker.status() == Status::Warning {
            self.health
                .observe(tracker, Status::Ok, HealthKind::Delivery, || {
                    format!(
                        "the queue of '{}' for {} has room again",
                        subscriber.product, self.key
                    )
                })
                .await;
        }
    }

    fn queue_component(&self, subscriber: &Subscriber) -> Component {
        Component {
            product: Some(subscriber.product.to_string()),
            ..self.component.clone()
        }
    }

    fn queue_tracker<'s>(
        &self,
        state: &'s mut State,
        subscriber: &Subscriber,
    ) -> &'s mut StatusTracker {
        let index = match state
            .queue_status
            .iter()
            .position(|(p, _)| *p == subscriber.product)
        {
            Some(index) => index,
            None => {
                let component = self.queue_component(subscriber);
                state
                    .queue_status
                    .push((subscriber.product.clone(), self.health.tracker(component)));
                state.queue_status.len() - 1
            }
        };
        &mut state.queue_status[index].1
    }
}

/// Parse each payload once when some subscriber filters; `None` when nobody does.
fn parse_if_filtered(records: &[Record], subscribers: &[Subscriber]) -> Option<Vec<Option<Value>>> {
    subscribers.iter().any(|s| s.filter.is_some()).then(|| {
        records
            .iter()
            .map(|r| serde_json::from_slice(&r.payload).ok())
            .collect()
    })
}

/// The subscriber's share of the batch: the shared batch itself when it takes everything,
/// otherwise a new batch of the matching records (payloads still shared).
fn select(
    shared: &Arc<Batch>,
    docs: Option<&[Option<Value>]>,
    filter: Option<&Filter>,
) -> Arc<Batch> {
    let (Some(filter), Some(docs)) = (filter, docs) else {
        return shared.clone();
    };
    let matching: Vec<Record> = shared
        .records
        .iter()
        .zip(docs)
        .filter(|(_, doc)| doc.as_ref().is_some_and(|d| filter.matches(d)))
        .map(|(r, _)| r.clone())
        .collect();
    if matching.len() == shared.len() {
        return shared.clone();
    }
    Arc::new(Batch {
        stream: shared.stream.clone(),
        records: Arc::from(matching),
        cursor_after: shared.cursor_after.clone(),
    })
}
