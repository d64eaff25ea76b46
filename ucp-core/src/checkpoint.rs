//! Checkpoints: the last cursor of each stream that every subscriber has accepted.
//!
//! The engine saves a cursor only after every subscriber accepted the batches before it, so a
//! crash re-collects at worst and never skips.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::record::{Cursor, StreamKey};
use crate::sync::lock;

/// A checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("checkpoint file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a valid checkpoint file.
    #[error("checkpoint file {path} is corrupt ({reason}): restore it from a backup or remove it to collect again from the start")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A cluster refused the save: this node no longer holds the stream's lease, another
    /// node took the job over (fencing). The cursor must not be written; the job stops here.
    #[error("checkpoint of {stream} refused: this node's lease (fencing token {token}) was taken over by another node, which collects the stream now")]
    Fenced {
        /// The stream (`source/stream`).
        stream: String,
        /// The fencing token this node held.
        token: u64,
    },
    /// A checkpoint store on a server (a cluster's database) could not be reached or
    /// refused the request.
    #[error("checkpoint store {store}: {reason}")]
    Backend {
        /// The store, e.g. `postgres`.
        store: String,
        /// What failed (never a secret).
        reason: String,
    },
}

/// Stores one cursor per stream.
#[async_trait]
pub trait CheckpointStore: Send + Sync + 'static {
    /// The saved cursor of `stream`, if any.
    async fn load(&self, stream: &StreamKey) -> Result<Option<Cursor>, CheckpointError>;
    /// Save `cursor` as the position of `stream`.
    async fn save(&self, stream: &StreamKey, cursor: &Cursor) -> Result<(), CheckpointError>;
}

/// Checkpoints in process memory (tests, examples; lost on exit).
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    cursors: Mutex<BTreeMap<StreamKey, Cursor>>,
}

impl MemoryCheckpoints {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl CheckpointStore for MemoryCheckpoints {
    async fn load(&self, stream: &StreamKey) -> Result<Option<Cursor>, CheckpointError> {
        Ok(lock(&self.cursors).get(stream).cloned())
    }

    async fn save(&self, stream: &StreamKey, cursor: &Cursor) -> Result<(), CheckpointError> {
        lock(&self.cursors).insert(stream.clone(), cursor.clone());
        Ok(())
    }
}

/// Checkpoints in one JSON file, replaced atomically (write a temporary file, fsync, rename,
/// fsync the directory) on every save, so a crash leaves either the old or the new file.
#[derive(Debug)]
pub struct FileCheckpoints {
    path: PathBuf,
    cursors: tokio::sync::Mutex<BTreeMap<String, Cursor>>,
}

impl FileCheckpoints {
    /// Open (or create on first save) the checkpoint file at `path`. A corrupt file is an
    /// error that names it.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, CheckpointError> {
        let path = path.into();
        let cursors = match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CheckpointError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(CheckpointError::Io { path, source }),
        };
        Ok(FileCheckpoints {
            path,
            cursors: tokio::sync::Mutex::new(cursors),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The file's key of a stream: `source/stream`, with `%` and `/` inside either name
/// percent-encoded so that (`a/b`, `c`) and (`a`, `b/c`) stay two streams. Names without
/// either character keep the key earlier versions wrote.
fn file_key(stream: &StreamKey) -> String {
    fn escape(name: &str) -> String {
        name.replace('%', "%25").replace('/', "%2F")
    }
    format!("{}/{}", escape(&stream.source), escape(&stream.stream))
}

#[async_trait]
impl CheckpointStore for FileCheckpoints {
    async fn load(&self, stream: &StreamKey) -> Result<Option<Cursor>, CheckpointError> {
        Ok(self.cursors.lock().await.get(&file_key(stream)).cloned())
    }

    async fn save(&self, stream: &StreamKey, cursor: &Cursor) -> Result<(), CheckpointError> {
        let mut cursors = self.cursors.lock().await;
        cursors.insert(file_key(stream), cursor.clone());
        let bytes = serde_json::to_vec_pretty(&*cursors).map_err(|e| CheckpointError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let path = self.path.clone();
        // Held across the blocking write so saves are applied in order.
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| CheckpointError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?
    }
}

/// Replace `path` with `bytes` so that a crash leaves the old or the new content, never a mix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    });
    if let Err(error) = written {
        // No stray temporary file on a full or failing disk.
        let _ = std::fs::remove_file(&tmp);
        return Err(io(error));
    }
    // The rename is durable only once the directory entry is.
    if let Ok(dir) = std::fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_checkpoints_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/checkpoints.json");
        let key = StreamKey::new("okta", "system_log");
        {
            let store = FileCheckpoints::open(&path).await.unwrap();
            assert_eq!(store.load(&key).await.unwrap(), None);
            store.save(&key, &Cursor::new("page-7")).await.unwrap();
        }
        let store = FileCheckpoints::open(&path).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), Some(Cursor::new("page-7")));
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[tokio::test]
    async fn streams_whose_names_hold_a_slash_keep_their_own_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        let one = StreamKey::new("a/b", "c");
        let two = StreamKey::new("a", "b/c");
        let plain = StreamKey::new("okta", "system_log");
        {
            let store = FileCheckpoints::open(&path).await.unwrap();
            store.save(&one, &Cursor::new("1")).await.unwrap();
            store.save(&two, &Cursor::new("2")).await.unwrap();
            store.save(&plain, &Cursor::new("3")).await.unwrap();
        }
        let store = FileCheckpoints::open(&path).await.unwrap();
        assert_eq!(store.load(&one).await.unwrap(), Some(Cursor::new("1")));
        assert_eq!(store.load(&two).await.unwrap(), Some(Cursor::new("2")));
        // The key earlier versions wrote for plain names is unchanged.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"okta/system_log\""), "{text}");
    }

    #[tokio::test]
    async fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        std::fs::write(&path, b"{\"okta/system_log\": ").unwrap();
        let err = FileCheckpoints::open(&path).await.unwrap_err();
        assert!(matches!(err, CheckpointError::Corrupt { .. }));
        assert!(err.to_string().contains("checkpoints.json"), "{err}");
    }
}
