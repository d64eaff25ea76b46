//! Fenced cursors: the platform's [`CheckpointStore`] on the cluster's jobs table, where a
//! save counts only if the saving node still holds the job's current fencing token.
//!
//! The save is one `UPDATE … WHERE owner = me AND token = mine`: a node that was paused past
//! its lease, and whose job another node claimed meanwhile (the token grew), changes no row;
//! the save is refused with [`CheckpointError::Fenced`], noted in `ucp_fenced`, and the
//! node's lease manager stops the job at its next renewal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ucp_core::store::{CheckpointError, CheckpointStore};
use ucp_core::{Cursor, StreamKey};

use crate::db::Db;
use crate::holdings::Holdings;

/// Cursors in PostgreSQL, saved only under the current fencing token.
#[derive(Clone, Debug)]
pub struct FencedCheckpoints {
    db: Db,
    node: String,
    holdings: Holdings,
    refused: Arc<AtomicU64>,
}

fn backend(error: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Backend {
        store: "postgres".into(),
        reason: error.to_string(),
    }
}

impl FencedCheckpoints {
    /// The cursors of node `node`, which presents the tokens in `holdings`.
    pub fn new(db: Db, node: impl Into<String>, holdings: Holdings) -> Self {
        FencedCheckpoints {
            db,
            node: node.into(),
            holdings,
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Saves refused by fencing so far (this process).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    async fn note_refusal(&self, stream: &StreamKey, token: u64) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let Ok(client) = self.db.client().await else {
            return;
        };
        let token = i64::try_from(token).unwrap_or(i64::MAX);
        if let Err(error) = client
            .execute(
                "INSERT INTO ucp_fenced (source, stream, node, token) VALUES ($1, $2, $3, $4)",
                &[&&*stream.source, &&*stream.stream, &self.node, &token],
            )
            .await
        {
            tracing::warn!(%error, "refused commit not noted");
        }
    }
}

#[async_trait]
impl CheckpointStore for FencedCheckpoints {
    async fn load(&self, stream: &StreamKey) -> Result<Option<Cursor>, CheckpointError> {
        let client = self.db.client().await.map_err(backend)?;
        let row = client
            .query_opt(
                "SELECT cursor, cursor_saved FROM ucp_jobs WHERE source = $1 AND stream = $2",
                &[&&*stream.source, &&*stream.stream],
            )
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let saved: bool = row.try_get(1).map_err(backend)?;
        if !saved {
            return Ok(None);
        }
        let cursor: Option<String> = row.try_get(0).map_err(backend)?;
        Ok(Some(cursor.map_or_else(Cursor::start, Cursor::new)))
    }

    async fn save(&self, stream: &StreamKey, cursor: &Cursor) -> Result<(), CheckpointError> {
        let Some(token) = self.holdings.token(stream) else {
            self.note_refusal(stream, 0).await;
            return Err(CheckpointError::Fenced {
                stream: stream.to_string(),
                token: 0,
            });
        };
        let client = self.db.client().await.map_err(backend)?;
        let signed = i64::try_from(token).unwrap_or(i64::MAX);
        let changed = client
            .execute(
                "UPDATE ucp_jobs
                 SET cursor = $3, cursor_saved = true, cursor_at = clock_timestamp()
                 WHERE source = $1 AND stream = $2 AND owner = $4 AND token = $5",
                &[
                    &&*stream.source,
                    &&*stream.stream,
                    &cursor.as_str(),
                    &self.node,
                    &signed,
                ],
            )
            .await
            .map_err(backend)?;
        if changed == 1 {
            return Ok(());
        }
        tracing::warn!(stream = %stream, token, "cursor commit refused: the lease was taken over");
        self.note_refusal(stream, token).await;
        Err(CheckpointError::Fenced {
            stream: stream.to_string(),
            token,
        })
    }
}

/// Commits refused by fencing, cluster-wide (from `ucp_fenced`), for operators and tests.
pub async fn refused_commits(db: &Db) -> Result<u64, crate::ClusterError> {
    let client = db.client().await?;
    let row = client
        .query_one("SELECT count(*) FROM ucp_fenced", &[])
        .await
        .map_err(|e| crate::ClusterError::db("counting refused commits", e))?;
    let n: i64 = row
        .try_get(0)
        .map_err(|e| crate::ClusterError::db("counting refused commits", e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
