//! A subscription's durable queue: batches appended in one transaction per page (with the
//! stream's cursor when nothing else is pending), read in order, acknowledged by deletion.

use std::sync::Arc;

use bytes::Bytes;
use rusqlite::{params, OptionalExtension};
use tokio::sync::Notify;

use super::codec::{decode, encode};
use super::cursors::save_cursor;
use super::{DurableError, DurableStore};
use crate::record::{Batch, Cursor, StreamKey};
use crate::subscription::SubscriptionId;
use crate::sync::lock;

impl DurableStore {
    /// Payload bytes waiting in a subscription's queue.
    pub fn queue_bytes(&self, id: &SubscriptionId) -> u64 {
        lock(&self.queue_bytes).get(id).copied().unwrap_or(0)
    }

    /// Batches waiting in a subscription's queue.
    pub async fn queue_len(&self, id: &SubscriptionId) -> Result<u64, DurableError> {
        let id = id.clone();
        self.run("counting a queue", move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM queue WHERE product = ?1 AND source = ?2 AND stream = ?3",
                params![id.product, &*id.stream.source, &*id.stream.stream],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
        .await
    }

    pub(crate) fn arrivals(&self, id: &SubscriptionId) -> Arc<Notify> {
        lock(&self.arrivals).entry(id.clone()).or_default().clone()
    }

    pub(crate) fn room(&self, id: &SubscriptionId) -> Arc<Notify> {
        lock(&self.room).entry(id.clone()).or_default().clone()
    }

    /// Append each batch to its subscription's queue, and save `checkpoint` with them, in one
    /// transaction (one fsync). The engine calls this once per collected page; tools may use
    /// it to put batches on a queue by hand.
    pub async fn append(
        &self,
        entries: Vec<(SubscriptionId, Arc<Batch>)>,
        checkpoint: Option<(StreamKey, Cursor)>,
    ) -> Result<(), DurableError> {
        let sizes: Vec<(SubscriptionId, u64)> = entries
            .iter()
            .map(|(id, batch)| (id.clone(), batch.payload_bytes() as u64))
            .collect();
        self.run("appending to queues", move |conn| {
            let tx = conn.transaction()?;
            for (id, batch) in &entries {
                let next: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM queue WHERE product = ?1 AND source = ?2 AND stream = ?3",
                    params![id.product, &*id.stream.source, &*id.stream.stream],
                    |row| row.get(0),
                )?;
                tx.execute(
                    "INSERT INTO queue (product, source, stream, seq, cursor_after, records, bytes, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        id.product,
                        &*id.stream.source,
                        &*id.stream.stream,
                        next,
                        batch.cursor_after.as_str(),
                        batch.len() as i64,
                        batch.payload_bytes() as i64,
                        encode(&batch.records)
                    ],
                )?;
            }
            if let Some((stream, cursor)) = &checkpoint {
                save_cursor(&tx, stream, cursor)?;
            }
            tx.commit()
        })
        .await?;
        for (id, bytes) in sizes {
            *lock(&self.queue_bytes).entry(id.clone()).or_default() += bytes;
            self.arrivals(&id).notify_one();
        }
        Ok(())
    }

    /// The oldest batch of a subscription's queue with its sequence number, if any.
    pub async fn front(&self, id: &SubscriptionId) -> Result<Option<(i64, Batch)>, DurableError> {
        let key = id.clone();
        let row = self
            .run("reading a queue", move |conn| {
                conn.query_row(
                    "SELECT seq, cursor_after, body FROM queue WHERE product = ?1 AND source = ?2 AND stream = ?3 ORDER BY seq LIMIT 1",
                    params![key.product, &*key.stream.source, &*key.stream.stream],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?, row.get::<_, Vec<u8>>(2)?)),
                )
                .optional()
            })
            .await?;
        let Some((seq, cursor, body)) = row else {
            return Ok(None);
        };
        let records = decode(Bytes::from(body)).map_err(|reason| DurableError::Corrupt {
            path: self.path.clone(),
            subscription: id.to_string(),
            seq,
            reason,
        })?;
        let batch = Batch {
            stream: id.stream.clone(),
            records: records.into(),
            cursor_after: cursor.map(Cursor::new).unwrap_or_default(),
        };
        Ok(Some((seq, batch)))
    }

    /// The product accepted batch `seq`: remove it (the delivery position moves past it).
    pub async fn ack(&self, id: &SubscriptionId, seq: i64) -> Result<(), DurableError> {
        let key = id.clone();
        let bytes = self
            .run("acknowledging a batch", move |conn| {
                let tx = conn.transaction()?;
                let bytes: i64 = tx
                    .query_row(
                        "DELETE FROM queue WHERE product = ?1 AND source = ?2 AND stream = ?3 AND seq = ?4 RETURNING bytes",
                        params![key.product, &*key.stream.source, &*key.stream.stream, seq],
                        |row| row.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                tx.commit()?;
                Ok(bytes)
            })
            .await?;
        self.shrink(id, bytes as u64);
        Ok(())
    }

    /// Drop the oldest batches of a queue until `needed` more bytes fit under `max`; returns
    /// the records dropped.
    pub(crate) async fn drop_oldest(
        &self,
        id: &SubscriptionId,
        needed: u64,
        max: u64,
    ) -> Result<u64, DurableError> {
        let key = id.clone();
        let current = self.queue_bytes(id);
        let (records, bytes) = self
            .run("dropping the oldest batches", move |conn| {
                let tx = conn.transaction()?;
                let mut freed = 0i64;
                let mut records = 0i64;
                let mut left = current as i64;
                loop {
                    if left + needed as i64 <= max as i64 {
                        break;
                    }
                    let oldest: Option<(i64, i64, i64)> = tx
                        .query_row(
                            "SELECT seq, records, bytes FROM queue WHERE product = ?1 AND source = ?2 AND stream = ?3 ORDER BY seq LIMIT 1",
                            params![key.product, &*key.stream.source, &*key.stream.stream],
                            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                        )
                        .optional()?;
                    let Some((seq, n, b)) = oldest else { break };
                    tx.execute(
                        "DELETE FROM queue WHERE product = ?1 AND source = ?2 AND stream = ?3 AND seq = ?4",
                        params![key.product, &*key.stream.source, &*key.stream.stream, seq],
                    )?;
                    freed += b;
                    records += n;
                    left -= b;
                }
                tx.commit()?;
                Ok((records as u64, freed as u64))
            })
            .await?;
        self.shrink(id, bytes);
        Ok(records)
    }

    fn shrink(&self, id: &SubscriptionId, bytes: u64) {
        if let Some(size) = lock(&self.queue_bytes).get_mut(id) {
            *size = size.saturating_sub(bytes);
        }
        self.room(id).notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{batch, id};
    use super::*;
    use crate::checkpoint::CheckpointStore;

    #[tokio::test]
    async fn queues_cursors_and_positions_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = DurableStore::open(dir.path()).unwrap();
            store
                .append(
                    vec![(id("mdi"), batch(0, 3)), (id("xspm"), batch(0, 3))],
                    Some((StreamKey::new("okta", "logs"), Cursor::new("3"))),
                )
                .await
                .unwrap();
            store
                .append(vec![(id("mdi"), batch(3, 5))], None)
                .await
                .unwrap();
            let (seq, first) = store.front(&id("mdi")).await.unwrap().unwrap();
            assert_eq!(first.records.len(), 3);
            store.ack(&id("mdi"), seq).await.unwrap();
        }
        let store = DurableStore::open(dir.path()).unwrap();
        assert_eq!(
            store.load(&StreamKey::new("okta", "logs")).await.unwrap(),
            Some(Cursor::new("3"))
        );
        let (_, next) = store.front(&id("mdi")).await.unwrap().unwrap();
        assert_eq!(
            next.records[0].id.as_str(),
            "r3",
            "mdi resumes after what it acknowledged"
        );
        let (_, xspm) = store.front(&id("xspm")).await.unwrap().unwrap();
        assert_eq!(
            xspm.records[0].id.as_str(),
            "r0",
            "xspm has its own position"
        );
        assert_eq!(store.queue_len(&id("mdi")).await.unwrap(), 1);
        assert_eq!(
            store.queue_bytes(&id("xspm")),
            batch(0, 3).payload_bytes() as u64
        );
    }

    #[tokio::test]
    async fn dropping_oldest_frees_room_and_counts_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableStore::open(dir.path()).unwrap();
        // Four batches of equal size (two-digit record numbers).
        for n in 1..5 {
            store
                .append(vec![(id("mdi"), batch(n * 10, n * 10 + 10))], None)
                .await
                .unwrap();
        }
        let per_batch = batch(10, 20).payload_bytes() as u64;
        // One more batch must fit under three: two go.
        let dropped = store
            .drop_oldest(&id("mdi"), per_batch, 3 * per_batch)
            .await
            .unwrap();
        assert_eq!(dropped, 20);
        assert_eq!(store.queue_len(&id("mdi")).await.unwrap(), 2);
        assert_eq!(store.queue_bytes(&id("mdi")), 2 * per_batch);
        let (_, front) = store.front(&id("mdi")).await.unwrap().unwrap();
        assert_eq!(front.records[0].id.as_str(), "r30");
    }
}
