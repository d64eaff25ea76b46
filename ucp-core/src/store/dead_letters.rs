//! Dead letters kept durably: listed, replayed onto their product's queue, purged.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{DurableError, DurableStore};
use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterStore};
use crate::record::{Batch, Cursor, Record, StreamKey};
use crate::subscription::SubscriptionId;

/// A dead letter as kept by the durable store, with its id for replay and purge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDeadLetter {
    /// Row id.
    pub id: i64,
    /// The letter.
    pub letter: DeadLetter,
}

impl DurableStore {
    /// Dead letters, oldest first; of one product, or all.
    pub async fn dead_letters(
        &self,
        product: Option<&str>,
    ) -> Result<Vec<StoredDeadLetter>, DurableError> {
        let product = product.map(str::to_string);
        let rows = self
            .run("listing dead letters", move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT id, product, source, stream, record_id, record_time, payload, reason, time FROM dead_letters WHERE ?1 IS NULL OR product = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map(params![product], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Vec<u8>>(6)?,
                        row.get::<_, String>(7)?,
                        row.get::<_, String>(8)?,
                    ))
                })?;
                rows.collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        Ok(rows
            .into_iter()
            .map(
                |(id, product, source, stream, record_id, record_time, payload, reason, at)| {
                    StoredDeadLetter {
                        id,
                        letter: DeadLetter {
                            product,
                            stream: StreamKey::new(source, stream),
                            record: Record::new(record_id, time(&record_time), payload),
                            reason,
                            time: time(&at),
                        },
                    }
                },
            )
            .collect())
    }

    /// Put dead letters back on their product's queue (one batch per product and stream, in
    /// their original order) and remove them from the dead letters; returns how many.
    pub async fn replay_dead_letters(&self, ids: &[i64]) -> Result<usize, DurableError> {
        let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
        let letters: Vec<StoredDeadLetter> = self
            .dead_letters(None)
            .await?
            .into_iter()
            .filter(|l| wanted.contains(&l.id))
            .collect();
        let mut groups: Vec<(SubscriptionId, Vec<Record>)> = Vec::new();
        for stored in &letters {
            let id = SubscriptionId {
                product: stored.letter.product.clone(),
                stream: stored.letter.stream.clone(),
            };
            match groups.iter_mut().find(|(g, _)| *g == id) {
                Some((_, records)) => records.push(stored.letter.record.clone()),
                None => groups.push((id, vec![stored.letter.record.clone()])),
            }
        }
        let entries: Vec<(SubscriptionId, Arc<Batch>)> = groups
            .into_iter()
            .map(|(id, records)| {
                let batch = Arc::new(Batch {
                    stream: id.stream.clone(),
                    records: records.into(),
                    cursor_after: Cursor::start(),
                });
                (id, batch)
            })
            .collect();
        // Append first, purge after: a crash in between replays twice rather than never.
        self.append(entries, None).await?;
        self.purge_dead_letters(&letters.iter().map(|l| l.id).collect::<Vec<_>>())
            .await
    }

    /// Delete dead letters for good; returns how many.
    pub async fn purge_dead_letters(&self, ids: &[i64]) -> Result<usize, DurableError> {
        let ids = ids.to_vec();
        self.run("purging dead letters", move |conn| {
            let tx = conn.transaction()?;
            let mut removed = 0;
            for id in ids {
                removed += tx.execute("DELETE FROM dead_letters WHERE id = ?1", params![id])?;
            }
            tx.commit()?;
            Ok(removed)
        })
        .await
    }
}

#[async_trait]
impl DeadLetterStore for DurableStore {
    async fn put(&self, letters: Vec<DeadLetter>) -> Result<(), DeadLetterError> {
        self.run("keeping dead letters", move |conn| {
            let tx = conn.transaction()?;
            for l in &letters {
                tx.execute(
                    "INSERT INTO dead_letters (product, source, stream, record_id, record_time, payload, reason, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        l.product,
                        &*l.stream.source,
                        &*l.stream.stream,
                        l.record.id.as_str(),
                        l.record.time.to_rfc3339(),
                        l.record.payload.as_ref(),
                        l.reason,
                        l.time.to_rfc3339()
                    ],
                )?;
            }
            tx.commit()
        })
        .await
        .map_err(|e| DeadLetterError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{id, record};
    use super::*;

    #[tokio::test]
    async fn dead_letters_list_replay_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableStore::open(dir.path()).unwrap();
        let letter = |n| DeadLetter {
            product: "mdi".into(),
            stream: StreamKey::new("okta", "logs"),
            record: record(n),
            reason: format!("rejected {n}"),
            time: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        };
        store
            .put(vec![letter(1), letter(2), letter(3)])
            .await
            .unwrap();
        let listed = store.dead_letters(Some("mdi")).await.unwrap();
        assert_eq!(
            listed.iter().map(|l| l.letter.clone()).collect::<Vec<_>>(),
            vec![letter(1), letter(2), letter(3)]
        );
        assert!(store
            .dead_letters(Some("sentinel"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .replay_dead_letters(&[listed[0].id, listed[2].id])
                .await
                .unwrap(),
            2
        );
        let (_, replayed) = store.front(&id("mdi")).await.unwrap().unwrap();
        assert_eq!(
            replayed
                .records
                .iter()
                .map(|r| r.id.to_string())
                .collect::<Vec<_>>(),
            vec!["r1", "r3"]
        );
        assert_eq!(store.purge_dead_letters(&[listed[1].id]).await.unwrap(), 1);
        assert!(store.dead_letters(None).await.unwrap().is_empty());
    }
}
