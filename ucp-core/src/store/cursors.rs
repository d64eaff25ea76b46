//! The stream cursors, kept in the same file as the queues so that a page's appends and its
//! cursor commit in one transaction.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::{DurableError, DurableStore};
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::record::{Cursor, StreamKey};

pub(super) fn save_cursor(
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
