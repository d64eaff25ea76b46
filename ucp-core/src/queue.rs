//! A subscriber's bounded queue, in memory or durable: the job writes batches at one end
//! ([`QueueWriter`]), the subscriber's delivery task reads them at the other
//! ([`QueueReader`]).
//!
//! Both kinds answer the same questions — does a batch fit, wait for room, drop the oldest,
//! how full is it — so the when-full policy is written once, in the job's fan-out. They differ
//! in what accepting a batch means: a memory batch is accepted once delivered (its ack
//! travels with it), a durable one once committed to disk (the job accepts it at the append;
//! the reader removes it from disk once delivered).

use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use crate::acceptance::Ack;
use crate::record::Batch;
use crate::store::{DurableError, DurableStore};
use crate::subscription::SubscriptionId;

/// One batch on its way to one product through a memory queue, with its acceptance.
pub(crate) struct Envelope {
    pub batch: Arc<Batch>,
    pub ack: Ack,
}

/// How full a queue is, in its own unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueLevel {
    pub used: u64,
    pub bound: u64,
    pub unit: &'static str,
}

impl QueueLevel {
    /// At or above 80 % of the bound: worth a Warning.
    pub(crate) fn is_high(&self) -> bool {
        self.used.saturating_mul(5) >= self.bound.saturating_mul(4)
    }

    /// Percent used, for messages.
    pub(crate) fn percent(&self) -> u64 {
        self.used.saturating_mul(100) / self.bound.max(1)
    }
}

/// The job's end of a subscriber's queue.
#[derive(Clone)]
pub(crate) enum QueueWriter {
    /// A bounded channel to the delivery task, counted in batches.
    Memory(mpsc::Sender<Envelope>),
    /// The subscription's queue in the durable store, bounded by payload bytes.
    Durable {
        store: Arc<DurableStore>,
        id: SubscriptionId,
        max_bytes: u64,
    },
}

/// A new memory queue of `capacity` batches.
pub(crate) fn memory(capacity: usize) -> (QueueWriter, QueueReader) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (QueueWriter::Memory(tx), QueueReader::Memory(rx))
}

/// The durable queue of subscription `id` in `store`, bounded by `max_bytes`.
pub(crate) fn durable(
    store: Arc<DurableStore>,
    id: SubscriptionId,
    max_bytes: u64,
) -> (QueueWriter, QueueReader) {
    let arrivals = store.arrivals(&id);
    let reader = QueueReader::Durable {
        store: store.clone(),
        id: id.clone(),
        arrivals,
    };
    (
        QueueWriter::Durable {
            store,
            id,
            max_bytes,
        },
        reader,
    )
}

impl QueueWriter {
    /// Whether a batch of `bytes` fits now. An empty durable queue takes any batch, so a
    /// batch larger than the bound still moves (alone).
    pub(crate) fn fits(&self, bytes: u64) -> bool {
        match self {
            QueueWriter::Memory(tx) => tx.capacity() > 0 || tx.is_closed(),
            QueueWriter::Durable {
                store,
                id,
                max_bytes,
            } => {
                let queued = store.queue_bytes(id);
                queued == 0 || queued.saturating_add(bytes) <= *max_bytes
            }
        }
    }

    /// Wait until a batch of `bytes` fits (or the queue is closed). The job is the only
    /// writer, so the room found stays until it writes.
    pub(crate) async fn wait_for_room(&self, bytes: u64) {
        match self {
            QueueWriter::Memory(tx) => {
                // The permit is given back at once: only the job writes, so the slot stays.
                let _ = tx.reserve().await;
            }
            QueueWriter::Durable { store, id, .. } => {
                let room = store.room(id);
                loop {
                    let notified = room.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if self.fits(bytes) {
                        return;
                    }
                    notified.await;
                }
            }
        }
    }

    /// Make room for `bytes` by dropping the oldest batches; the records dropped. A memory
    /// queue cannot reach into its channel, so it drops nothing (validation only allows
    /// drop-oldest on durable queues).
    pub(crate) async fn drop_oldest(&self, bytes: u64) -> Result<u64, DurableError> {
        match self {
            QueueWriter::Memory(_) => Ok(0),
            QueueWriter::Durable {
                store,
                id,
                max_bytes,
            } => store.drop_oldest(id, bytes, *max_bytes).await,
        }
    }

    /// How full the queue is.
    pub(crate) fn level(&self) -> QueueLevel {
        match self {
            QueueWriter::Memory(tx) => {
                let bound = tx.max_capacity();
                QueueLevel {
                    used: bound.saturating_sub(tx.capacity()) as u64,
                    bound: bound as u64,
                    unit: "batches",
                }
            }
            QueueWriter::Durable {
                store,
                id,
                max_bytes,
            } => QueueLevel {
                used: store.queue_bytes(id),
                bound: *max_bytes,
                unit: "bytes",
            },
        }
    }

    /// Batches waiting and the bound in batches (memory), or the batches on disk (durable).
    pub(crate) async fn depth(&self) -> (usize, usize, u64) {
        match self {
            QueueWriter::Memory(tx) => {
                let capacity = tx.max_capacity();
                (capacity.saturating_sub(tx.capacity()), capacity, 0)
            }
            QueueWriter::Durable { store, id, .. } => {
                let depth = store.queue_len(id).await.unwrap_or(0);
                (
                    usize::try_from(depth).unwrap_or(usize::MAX),
                    0,
                    store.queue_bytes(id),
                )
            }
        }
    }
}

/// What the reader hands back once the product took a batch.
pub(crate) enum Receipt {
    /// A memory batch: accepting its ack tells the job.
    Ack(Ack),
    /// A durable batch: its sequence number in the store, removed once delivered.
    Stored(i64),
}

/// The delivery task's end of a subscriber's queue.
pub(crate) enum QueueReader {
    /// Closed and drained when the subscription goes; shutdown drains it.
    Memory(mpsc::Receiver<Envelope>),
    /// Stays on disk across stops; a stop interrupts the reader at once.
    Durable {
        store: Arc<DurableStore>,
        id: SubscriptionId,
        arrivals: Arc<Notify>,
    },
}

impl QueueReader {
    /// Whether a stop interrupts delivery at once (the batch stays queued on disk) rather
    /// than after the queue is drained.
    pub(crate) fn stops_at_once(&self) -> bool {
        matches!(self, QueueReader::Durable { .. })
    }

    /// Batches still waiting in a memory queue (durable depths come from the store).
    pub(crate) fn waiting(&self) -> Option<usize> {
        match self {
            QueueReader::Memory(rx) => Some(rx.len()),
            QueueReader::Durable { .. } => None,
        }
    }

    /// The next batch in order; `None` once a memory queue is closed and drained. A durable
    /// reader waits for arrivals.
    pub(crate) async fn next(&mut self) -> Result<Option<(Arc<Batch>, Receipt)>, DurableError> {
        match self {
            QueueReader::Memory(rx) => Ok(rx
                .recv()
                .await
                .map(|envelope| (envelope.batch, Receipt::Ack(envelope.ack)))),
            QueueReader::Durable {
                store,
                id,
                arrivals,
            } => loop {
                let arrived = arrivals.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some((seq, batch)) = store.front(id).await? {
                    return Ok(Some((Arc::new(batch), Receipt::Stored(seq))));
                }
                arrived.await;
            },
        }
    }

    /// The product took the batch (delivered or dead-lettered): accept it. When the store
    /// cannot record that, the receipt comes back with the error, to be tried again (the
    /// batch is not delivered twice for a disk that is full for a while).
    pub(crate) async fn done(&self, receipt: Receipt) -> Result<(), (DurableError, Receipt)> {
        match (self, receipt) {
            (_, Receipt::Ack(ack)) => {
                ack.accept();
                Ok(())
            }
            (QueueReader::Durable { store, id, .. }, Receipt::Stored(seq)) => store
                .ack(id, seq)
                .await
                .map_err(|error| (error, Receipt::Stored(seq))),
            (QueueReader::Memory(_), Receipt::Stored(_)) => Ok(()),
        }
    }
}
