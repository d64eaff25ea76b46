//! Durable delivery state on SQLite: one disk-backed queue per subscription, the stream
//! cursors, and the dead letters, all in one database file so that a page's appends to every
//! product's queue and the stream's cursor commit together.
//!
//! Why SQLite (through `rusqlite` with the bundled library): it is already the engine of the
//! persistent health table, its WAL mode gives crash-safe group commit with one fsync per
//! transaction, and on open it rolls back whatever a power loss tore off the end of the log.
//! Measured against the alternatives in BENCHMARKS.md ("Disk queue").
//!
//! Layout: `queue` rows hold one batch of one subscription each (`seq` grows per
//! subscription; a product's delivery position is its lowest remaining `seq`: delivered
//! batches are deleted in the same transaction that acknowledges them); `checkpoints` holds
//! cursors; `dead_letters` holds undeliverable records with product, stream, id, reason and
//! time.

#![allow(dead_code)] // wired into the engine in the next commit

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

use crate::budget::lock;
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterStore};
use crate::plan::SubscriptionId;
use crate::record::{Batch, Cursor, Record, StreamKey};

const FILE_NAME: &str = "ucp-state.sqlite";

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS queue (
    product TEXT NOT NULL, source TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    cursor_after TEXT, records INTEGER NOT NULL, bytes INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (product, source, stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT NOT NULL, stream TEXT NOT NULL, cursor TEXT,
    PRIMARY KEY (source, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, product TEXT NOT NULL, source TEXT NOT NULL,
    stream TEXT NOT NULL, record_id TEXT NOT NULL, record_time TEXT NOT NULL,
    payload BLOB NOT NULL, reason TEXT NOT NULL, time TEXT NOT NULL
);
";

/// The durable store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// SQLite refused an operation.
    #[error("durable store {path}: {what}: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored batch cannot be decoded.
    #[error("durable store {path}: the batch {seq} of {subscription} is corrupt ({reason}); purge it from the queue or restore the file from a backup")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The subscription.
        subscription: String,
        /// The batch.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
    /// The blocking task running the SQL did not finish.
    #[error("durable store {path}: the storage task failed: {reason}")]
    Task {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A dead letter as kept by the durable store, with its id for replay and purge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDeadLetter {
    /// Row id.
    pub id: i64,
    /// The letter.
    pub letter: DeadLetter,
}

/// Queues, cursors and dead letters in one SQLite file. Share one per platform (as its
/// checkpoint store and dead-letter store too, so cursors and queues commit together).
pub struct DurableStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    queue_bytes: Mutex<HashMap<SubscriptionId, u64>>,
    arrivals: Mutex<HashMap<SubscriptionId, Arc<Notify>>>,
    room: Mutex<HashMap<SubscriptionId, Arc<Notify>>>,
    recovery: Option<String>,
}

impl std::fmt::Debug for DurableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DurableStore {
    /// Open (or create) the store in directory `dir`. A log tail torn by a crash is rolled
    /// back to the last complete commit; [`DurableStore::recovery`] says so.
    pub fn open(dir: impl AsRef<Path>) -> Result<Arc<Self>, DurableError> {
        let dir = dir.as_ref();
        let path = dir.join(FILE_NAME);
        let sql = |what: &'static str| {
            let path = path.clone();
            move |source| DurableError::Sql { path, what, source }
        };
        std::fs::create_dir_all(dir).map_err(|e| DurableError::Sql {
            path: path.clone(),
            what: "creating its directory",
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        let recovery = torn_tail(&path);
        let conn = Connection::open(&path).map_err(sql("opening the file"))?;
        conn.execute_batch(SCHEMA)
            .map_err(sql("creating the schema"))?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(sql("checking integrity"))?;
        if check != "ok" {
            return Err(DurableError::Corrupt {
                path,
                subscription: "the database".into(),
                seq: 0,
                reason: check,
            });
        }
        let mut queue_bytes = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT product, source, stream, SUM(bytes) FROM queue GROUP BY product, source, stream")
                .map_err(sql("reading queue sizes"))?;
            let rows = stmt
                .query_map([], |row| {
                    let id = SubscriptionId {
                        product: row.get(0)?,
                        stream: StreamKey::new(row.get::<_, String>(1)?, row.get::<_, String>(2)?),
                    };
                    Ok((id, row.get::<_, i64>(3)? as u64))
                })
                .map_err(sql("reading queue sizes"))?;
            for row in rows {
                let (id, bytes) = row.map_err(sql("reading queue sizes"))?;
                queue_bytes.insert(id, bytes);
            }
        }
        if let Some(recovery) = &recovery {
            tracing::warn!(path = %path.display(), "{recovery}");
        }
        Ok(Arc::new(DurableStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
            queue_bytes: Mutex::new(queue_bytes),
            arrivals: Mutex::new(HashMap::new()),
            room: Mutex::new(HashMap::new()),
            recovery,
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening had to repair, if anything (a torn log tail dropped after a crash).
    pub fn recovery(&self) -> Option<&str> {
        self.recovery.as_deref()
    }

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

    /// Run `f` on the connection in a blocking task.
    async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, DurableError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = lock(&conn);
            f(&mut conn)
        })
        .await
        .map_err(|e| DurableError::Task {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        result.map_err(|source| DurableError::Sql { path, what, source })
    }

    /// Append each batch to its subscription's queue, and save `checkpoint` with them, in one
    /// transaction (one fsync).
    pub(crate) async fn append(
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

    /// The oldest batch of a subscription's queue, if any.
    pub(crate) async fn front(
        &self,
        id: &SubscriptionId,
    ) -> Result<Option<(i64, Batch)>, DurableError> {
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
    pub(crate) async fn ack(&self, id: &SubscriptionId, seq: i64) -> Result<(), DurableError> {
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

fn save_cursor(
    conn: &Connection,
    stream: &StreamKey,
    cursor: &Cursor,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO checkpoints (source, stream, cursor) VALUES (?1, ?2, ?3) ON CONFLICT (source, stream) DO UPDATE SET cursor = excluded.cursor",
        params![&*stream.source, &*stream.stream, cursor.as_str()],
    )?;
    Ok(())
}

#[async_trait]
impl CheckpointStore for DurableStore {
    async fn load(&self, stream: &StreamKey) -> Result<Option<Cursor>, CheckpointError> {
        let key = stream.clone();
        let found = self
            .run("loading a cursor", move |conn| {
                conn.query_row(
                    "SELECT cursor FROM checkpoints WHERE source = ?1 AND stream = ?2",
                    params![&*key.source, &*key.stream],
                    |row| row.get::<_, Option<String>>(0),
                )
                .optional()
            })
            .await
            .map_err(|e| checkpoint_error(&self.path, e))?;
        Ok(found.map(|cursor| cursor.map(Cursor::new).unwrap_or_default()))
    }

    async fn save(&self, stream: &StreamKey, cursor: &Cursor) -> Result<(), CheckpointError> {
        let (key, cursor) = (stream.clone(), cursor.clone());
        self.run("saving a cursor", move |conn| {
            save_cursor(conn, &key, &cursor)
        })
        .await
        .map_err(|e| checkpoint_error(&self.path, e))
    }
}

fn checkpoint_error(path: &Path, error: DurableError) -> CheckpointError {
    CheckpointError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
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

/// Batch body: per record, `u32` id length, id, `i64` seconds, `u32` nanoseconds, `u32`
/// payload length, payload (little-endian). A row value, not a file format: SQLite keeps
/// the file consistent.
fn encode(records: &[Record]) -> Vec<u8> {
    let size: usize = records
        .iter()
        .map(|r| 20 + r.id.as_str().len() + r.payload.len())
        .sum();
    let mut out = Vec::with_capacity(size);
    for r in records {
        out.extend_from_slice(&(r.id.as_str().len() as u32).to_le_bytes());
        out.extend_from_slice(r.id.as_str().as_bytes());
        out.extend_from_slice(&r.time.timestamp().to_le_bytes());
        out.extend_from_slice(&r.time.timestamp_subsec_nanos().to_le_bytes());
        out.extend_from_slice(&(r.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.payload);
    }
    out
}

fn decode(body: Bytes) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<std::ops::Range<usize>, String> {
        let end = at
            .checked_add(n)
            .filter(|end| *end <= body.len())
            .ok_or_else(|| format!("cut short at byte {at}"))?;
        let range = *at..end;
        *at = end;
        Ok(range)
    };
    let u32_at = |range: std::ops::Range<usize>| {
        u32::from_le_bytes(body[range].try_into().unwrap_or([0; 4]))
    };
    while at < body.len() {
        let id_len = u32_at(take(&mut at, 4)?) as usize;
        let id = std::str::from_utf8(&body[take(&mut at, id_len)?])
            .map_err(|e| format!("record id: {e}"))?
            .to_string();
        let secs = i64::from_le_bytes(body[take(&mut at, 8)?].try_into().unwrap_or([0; 8]));
        let nanos = u32_at(take(&mut at, 4)?);
        let time = DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| format!("record {id}: time out of range"))?;
        let len = u32_at(take(&mut at, 4)?) as usize;
        let payload = body.slice(take(&mut at, len)?);
        records.push(Record::new(id, time, payload));
    }
    Ok(records)
}

/// Whether the write-ahead log beside `db` ends in a torn frame (a crash mid-write): SQLite
/// ignores such a tail when it opens the file; this says how much was dropped.
fn torn_tail(db: &Path) -> Option<String> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(PathBuf::from(&wal)).ok()?.len();
    if wal_len == 0 {
        return None;
    }
    let header = std::fs::read(db).ok().filter(|h| h.len() >= 18)?;
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => n as u64,
    };
    let frame = 24 + page_size;
    let torn = wal_len
        .checked_sub(32)
        .map_or(wal_len, |frames| frames % frame);
    (torn != 0).then(|| {
        format!(
            "the durable store's log ended in a torn write of {torn} bytes (a crash mid-write); it was dropped and every queue resumes from the last complete commit"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32) -> Record {
        Record::new(
            format!("r{n}"),
            DateTime::from_timestamp(1_700_000_000 + n as i64, n).unwrap_or_default(),
            format!("{{\"n\":{n}}}"),
        )
    }

    fn id(product: &str) -> SubscriptionId {
        SubscriptionId {
            product: product.into(),
            stream: StreamKey::new("okta", "logs"),
        }
    }

    fn batch(from: u32, to: u32) -> Arc<Batch> {
        Arc::new(Batch {
            stream: StreamKey::new("okta", "logs"),
            records: (from..to).map(record).collect::<Vec<_>>().into(),
            cursor_after: Cursor::new(to.to_string()),
        })
    }

    #[test]
    fn encoding_round_trips_and_refuses_truncation() {
        let records: Vec<Record> = (0..5).map(record).collect();
        let body = encode(&records);
        assert_eq!(decode(Bytes::from(body.clone())).unwrap(), records);
        let err = decode(Bytes::from(body[..body.len() - 3].to_vec())).unwrap_err();
        assert!(err.contains("cut short"), "{err}");
    }

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

    #[tokio::test]
    async fn a_torn_log_tail_is_dropped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = DurableStore::open(dir.path()).unwrap();
            store
                .append(vec![(id("mdi"), batch(0, 5))], None)
                .await
                .unwrap();
            // Keep the WAL (a crash leaves it; a clean close would checkpoint it away).
            std::mem::forget(store);
        }
        let wal = dir.path().join(format!("{FILE_NAME}-wal"));
        let mut bytes = std::fs::read(&wal).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(&[0xA5; 700]); // half a frame of garbage
        std::fs::write(&wal, &bytes).unwrap();
        let store = DurableStore::open(dir.path()).unwrap();
        let recovery = store.recovery().expect("the torn tail is reported");
        assert!(
            recovery.contains("torn write of 700 bytes"),
            "{recovery} (wal was {good} bytes)"
        );
        let (_, batch) = store.front(&id("mdi")).await.unwrap().unwrap();
        assert_eq!(batch.records.len(), 5, "the last complete commit is intact");
    }
}
