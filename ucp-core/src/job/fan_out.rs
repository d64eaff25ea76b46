//! Fan-out: one page becomes one batch per subscriber — deduplicated, filtered per product,
//! sharing payloads — put on each subscriber's queue under that queue's bound and policy.
//! The when-full policy is here, once, for memory and durable queues alike.

use std::sync::Arc;

use tokio::time::Instant;

use super::{wait_stop, Job, JobConfig, Pending, Room, RoundEnd, State, Subscriber};
use crate::acceptance::{Ack, PendingPage};
use crate::filter::Filter;
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::queue::{Envelope, QueueWriter};
use crate::record::{Batch, Cursor, Record, StreamKey};
use crate::retry::STORAGE_RETRY;
use crate::source::Page;
use crate::stats::add;
use crate::subscription::WhenFull;

/// Where a subscriber's batch went.
enum Offer {
    /// Queued, or accepted without queueing (dropped by policy, or unsubscribed meanwhile).
    Done,
    /// For a durable queue, appended with the page's other durable batches.
    Durable(Arc<Batch>, Ack),
    /// The platform is stopping: the batch is left unaccepted and collected again.
    Stopped,
}

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
        let mut result = RoundEnd::Done;
        let mut durable = Vec::new();
        let mut sent_to_memory = false;
        for subscriber in &config.subscribers {
            let batch = select(&shared, subscriber.filter.as_ref());
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
            sent_to_memory |= matches!(subscriber.queue, QueueWriter::Memory(_));
            match self.offer(state, subscriber, batch, ack).await {
                Offer::Done => {}
                Offer::Durable(batch, ack) => durable.push((subscriber, batch, ack)),
                Offer::Stopped => {
                    result = RoundEnd::Stopped;
                    break;
                }
            }
        }
        if !durable.is_empty() && matches!(result, RoundEnd::Done) {
            // With nothing else to wait for, the cursor commits with the appends.
            let alone = !sent_to_memory && state.pending.len() == 1;
            let checkpoint = (alone && self.checkpoints_are_durable)
                .then(|| (self.key.clone(), shared.cursor_after.clone()));
            result = self.append_durable(state, durable, checkpoint).await;
        }
        // Release the job's own guard: the page may be complete already.
        pending.release_guard(&state.ack_tx);
        result
    }

    /// Put one subscriber's batch on its queue, applying the queue's when-full policy first.
    async fn offer(
        &self,
        state: &mut State,
        subscriber: &Subscriber,
        batch: Arc<Batch>,
        ack: Ack,
    ) -> Offer {
        let size = batch.payload_bytes() as u64;
        if !subscriber.queue.fits(size) {
            match self
                .when_full(state, subscriber, size, batch.len() as u64)
                .await
            {
                Room::Made => {}
                Room::Dropped => {
                    ack.accept();
                    return Offer::Done;
                }
                Room::Stopped => return Offer::Stopped,
            }
        }
        let QueueWriter::Memory(queue) = &subscriber.queue else {
            return Offer::Durable(batch, ack);
        };
        match queue.try_send(Envelope { batch, ack }) {
            Ok(()) => {}
            // Unsubscribed meanwhile: nobody wants it; accepting keeps the cursor moving.
            Err(tokio::sync::mpsc::error::TrySendError::Closed(envelope)) => {
                envelope.ack.accept();
                return Offer::Done;
            }
            // The job is the queue's only writer, so room found stays; wait if it did not.
            Err(tokio::sync::mpsc::error::TrySendError::Full(envelope)) => {
                let stop = wait_stop(self.stop.clone());
                tokio::select! {
                    biased;
                    _ = stop => return Offer::Stopped,
                    sent = queue.send(envelope) => {
                        if let Err(tokio::sync::mpsc::error::SendError(envelope)) = sent {
                            envelope.ack.accept();
                        }
                    }
                }
            }
        }
        self.queue_level(state, subscriber).await;
        Offer::Done
    }

    /// A subscriber's queue has no room for a batch of `size` bytes: apply its policy.
    async fn when_full(
        &self,
        state: &mut State,
        subscriber: &Subscriber,
        size: u64,
        records: u64,
    ) -> Room {
        let level = subscriber.queue.level();
        let full = |what: String| {
            format!(
                "the queue of '{}' for {} is full ({} of {} {}): {what}; the product is slower than collection",
                subscriber.product, self.key, level.used, level.bound, level.unit
            )
        };
        let dropped = |records: u64, which: &str| {
            add(&subscriber.counters.dropped, records);
            self.health
                .dropped(&self.queue_component(subscriber), records);
            tracing::warn!(product = %subscriber.product, records, "queue full: {which} records dropped by policy");
            full(format!(
                "dropped the {which} {records} records by policy (counted)"
            ))
        };
        let (message, room) = match subscriber.when_full {
            WhenFull::DropOldest => match subscriber.queue.drop_oldest(size).await {
                Ok(0) => (dropped(records, "newest"), Room::Dropped),
                Ok(oldest) => (dropped(oldest, "oldest"), Room::Made),
                Err(error) => {
                    tracing::error!(%error, "could not drop the oldest batches");
                    (dropped(records, "newest"), Room::Dropped)
                }
            },
            WhenFull::DropNewest => (dropped(records, "newest"), Room::Dropped),
            WhenFull::Block => (
                full(
                    "collection of this stream is paused for every product until it has room"
                        .into(),
                ),
                Room::Made,
            ),
        };
        let tracker = self.queue_tracker(state, subscriber);
        self.health
            .observe(tracker, Status::Warning, HealthKind::Delivery, || message)
            .await;
        if !matches!(subscriber.when_full, WhenFull::Block) {
            return room;
        }
        let stop = wait_stop(self.stop.clone());
        tokio::select! {
            biased;
            _ = stop => Room::Stopped,
            _ = subscriber.queue.wait_for_room(size) => Room::Made,
        }
    }

    /// Append one page's batches to the durable queues of its subscribers in one transaction
    /// (with the stream's cursor when nothing else is pending).
    ///
    /// When the store refuses (a full or failing disk), the page is kept and appended again
    /// with backoff ([`STORAGE_RETRY`]) until the store takes it; the stream's collection waits
    /// meanwhile, so memory holds one page per job whatever the outage lasts, and no
    /// restart is needed. Only a stop gives up: the acks drop unaccepted and the page is
    /// collected again at the next start.
    async fn append_durable(
        &self,
        state: &mut State,
        entries: Vec<(&Subscriber, Arc<Batch>, Ack)>,
        checkpoint: Option<(StreamKey, Cursor)>,
    ) -> RoundEnd {
        let mut appends = Vec::with_capacity(entries.len());
        let mut acks = Vec::with_capacity(entries.len());
        let mut store = None;
        for (subscriber, batch, ack) in entries {
            if let QueueWriter::Durable {
                store: disk, id, ..
            } = &subscriber.queue
            {
                store = Some(disk.clone());
                appends.push((id.clone(), batch));
                acks.push((subscriber, ack));
            }
        }
        let Some(store) = store else {
            return RoundEnd::Done;
        };
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let error = match store.append(appends.clone(), checkpoint.clone()).await {
                Ok(()) => break,
                Err(error) => error,
            };
            add(&self.counters.store_failures, 1);
            let wait = STORAGE_RETRY.backoff(attempt, 1.0);
            tracing::warn!(%error, attempt, ?wait, "durable append failed; the page is kept and appended again");
            self.health
                .observe(&mut state.storage, Status::Error, HealthKind::Storage, || {
                    format!(
                        "{}: the durable store {} refused a page ({error}); collection of this stream waits and the page (held in memory) is appended again with backoff; free disk space or repair the disk where {} lives — no restart is needed",
                        self.key,
                        store.path().display(),
                        store.path().display()
                    )
                })
                .await;
            let stop = wait_stop(self.stop.clone());
            tokio::select! {
                biased;
                // The acks drop unaccepted: the cursor stays before this page.
                _ = stop => return RoundEnd::Stopped,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Some((_, cursor)) = checkpoint {
            state.saved = Some(cursor);
        }
        for (subscriber, ack) in acks {
            ack.accept();
            self.queue_level(state, subscriber).await;
        }
        if state.storage.status() == Status::Error {
            self.health
                .observe(&mut state.storage, Status::Ok, HealthKind::Storage, || {
                    format!(
                        "{}: the durable store {} takes pages again; the held page is queued",
                        self.key,
                        store.path().display()
                    )
                })
                .await;
        }
        RoundEnd::Done
    }

    /// Report a queue at or above 80% of its bound as a Warning, and its recovery.
    pub(super) async fn queue_level(&self, state: &mut State, subscriber: &Subscriber) {
        let level = subscriber.queue.level();
        if let QueueWriter::Memory(_) = subscriber.queue {
            self.health.queue_depth(
                &self.queue_component(subscriber),
                usize::try_from(level.used).unwrap_or(usize::MAX),
            );
        }
        let tracker = self.queue_tracker(state, subscriber);
        if level.is_high() {
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
                "the queue of '{}' for {} is {}% full ({} of {} {}): the product is slower than collection; {consequence}",
                subscriber.product,
                self.key,
                level.percent(),
                level.used,
                level.bound,
                level.unit
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

/// The subscriber's share of the batch: the shared batch itself when it takes everything,
/// otherwise a new batch of the matching records (payloads still shared).
///
/// Each record's JSON is read in place, once: the first filter builds the record's view
/// ([`Record::json`]) and every other filter, and every product's sink, reuses it (the
/// selected records are clones that share it).
fn select(shared: &Arc<Batch>, filter: Option<&Filter>) -> Arc<Batch> {
    let Some(filter) = filter else {
        return shared.clone();
    };
    let matching: Vec<Record> = shared
        .records
        .iter()
        .filter(|r| filter.matches_json(&r.json()))
        .cloned()
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
