//! Where state is kept: the checkpoint and dead-letter stores (traits, and in-memory and file
//! versions), and the durable store on SQLite that holds both together with the queues.
//!
//! The durable store on SQLite: one disk-backed queue per subscription, the stream
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

//!
//! The store is split by concept: `queue.rs` (append, front, ack, drop-oldest),
//! `cursors.rs` (the checkpoint store), `dead_letters.rs`, `codec.rs` (a batch's bytes in a
//! row) and `recovery.rs` (what opening had to repair).

mod codec;
#[cfg(test)]
mod codec_proptests;
mod cursors;
mod dead_letters;
mod queue;
mod recovery;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

use crate::record::StreamKey;
use crate::subscription::SubscriptionId;
use crate::sync::lock;

pub use crate::checkpoint::{CheckpointError, CheckpointStore, FileCheckpoints, MemoryCheckpoints};
pub use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterStore, MemoryDeadLetters};
pub use dead_letters::StoredDeadLetter;

const FILE_NAME: &str = "ucp-state.sqlite";

// 64 KiB pages: batches are large blobs; this doubles append throughput over the default 4 KiB
// (BENCHMARKS.md, "Disk queue"). It only applies when the file is created.
const SCHEMA: &str = "
PRAGMA page_size = 65536;
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

/// Queues, cursors and dead letters in one SQLite file. Share one per platform (as its
/// checkpoint store and dead-letter store too, so cursors and queues commit together).
pub struct DurableStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    queue_bytes: Mutex<HashMap<SubscriptionId, u64>>,
    arrivals: Mutex<HashMap<SubscriptionId, Arc<Notify>>>,
    room: Mutex<HashMap<SubscriptionId, Arc<Notify>>>,
    recovery: Option<String>,
    /// The last call failed in a way that may have left the file handle unusable (an I/O
    /// error, a file system gone read-only, a file that cannot be opened): the next call
    /// opens the file again first, so a disk that was repaired and mounted again is used
    /// without a restart.
    reopen: Arc<AtomicBool>,
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
        let recovery = recovery::torn_tail(&path);
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
            reopen: Arc::new(AtomicBool::new(false)),
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

    /// Run `f` on the connection in a blocking task.
    async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, DurableError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        let reopen = self.reopen.clone();
        let file = self.path.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = lock(&conn);
            if reopen.load(Ordering::Acquire) {
                *conn = open_again(&file)?;
                reopen.store(false, Ordering::Release);
                tracing::info!(path = %file.display(), "durable store opened again after a failure");
            }
            let result = f(&mut conn);
            if let Err(error) = &result {
                reopen.store(handle_may_be_stale(error), Ordering::Release);
            }
            result
        })
        .await
        .map_err(|e| DurableError::Task {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        result.map_err(|source| DurableError::Sql { path, what, source })
    }
}

/// Open the store's file again on a new connection (the schema is there already).
fn open_again(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    Ok(conn)
}

/// Whether `error` may come from a file handle that no longer works (the disk failed, went
/// read-only or was mounted again): then the file is opened again before the next call. A
/// full disk is not such an error: the same handle works once space returns.
pub(crate) fn handle_may_be_stale(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{CannotOpen, ReadOnly, SystemIoFailure};
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if matches!(e.code, SystemIoFailure | ReadOnly | CannotOpen)
    )
}

#[cfg(test)]
pub(crate) mod test_data {
    use std::sync::Arc;

    use chrono::DateTime;

    use crate::record::{Batch, Cursor, Record, StreamKey};
    use crate::subscription::SubscriptionId;

    pub(crate) fn record(n: u32) -> Record {
        Record::new(
            format!("r{n}"),
            DateTime::from_timestamp(1_700_000_000 + n as i64, n).unwrap_or_default(),
            format!("{{\"n\":{n}}}"),
        )
    }

    pub(crate) fn id(product: &str) -> SubscriptionId {
        SubscriptionId {
            product: product.into(),
            stream: StreamKey::new("okta", "logs"),
        }
    }

    pub(crate) fn batch(from: u32, to: u32) -> Arc<Batch> {
        Arc::new(Batch {
            stream: StreamKey::new("okta", "logs"),
            records: (from..to).map(record).collect::<Vec<_>>().into(),
            cursor_after: Cursor::new(to.to_string()),
        })
    }
}
