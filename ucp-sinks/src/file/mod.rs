//! NDJSON files: one line per record, rolled by size and age, optionally gzip-compressed.
//!
//! Each line is a small envelope, so a consumer can drop duplicates by `id`:
//!
//! ```text
//! {"id":"<record id>","time":"<RFC 3339>","stream":"<source>/<stream>","event":<payload>}
//! ```
//!
//! `event` is the payload as the provider sent it when it is JSON (payloads spanning several
//! lines are compacted: whitespace outside strings is dropped, nothing else changes), or a
//! JSON string holding the payload otherwise.
//!
//! **Files.** The sink writes `{prefix}-{n:06}.ndjson` (`.ndjson.gz` with gzip) in its
//! directory, numbering on from the highest file already there. The file being written is
//! named with a `.part` suffix; it is renamed to its final name only once complete (flushed,
//! gzip trailer written, fsynced), so a reader that lists `*.ndjson` / `*.ndjson.gz` never
//! sees half a file. A file is completed when the next batch would take it past
//! [`FileSinkConfig::max_bytes`] (counted before compression; a file holds at least one batch,
//! and batches are never split), when a batch arrives after it is
//! [`FileSinkConfig::max_age`] old (on the platform clock), or on [`FileSink::close`].
//!
//! **Gzip.** Written directly: each file is one gzip stream, each batch deflated and
//! sync-flushed as it is written, so what a delivery acknowledged is already decodable in
//! the file.
//!
//! **Whole lines or nothing.** A batch is appended in one write; when it fails (a full disk,
//! an I/O error, a read-only file system) the `.part` is cut back to the end of the batch
//! before, and the delivery fails as retryable: the retry goes into the same file, so a batch
//! written halfway is neither torn nor duplicated, and no file is rolled, completed or left
//! empty because of a failed attempt. A file that cannot be completed (its fsync or rename
//! fails) stays the current `.part` until it can. Nothing else is created in the directory.
//! When the disk itself lost writes that were not yet synced (it died and was repaired), the
//! `.part` is completed with the whole lines it still has and writing goes on in a new file;
//! [`FileSinkConfig::fsync_each_batch`] is what prevents that loss.
//!
//! **Durability and idempotency.** A delivery returns once the batch is written to the
//! operating system (and fsynced too with [`FileSinkConfig::fsync_each_batch`]); files are
//! fsynced when completed. A `.part` left by a crash is completed when a sink opens the
//! directory again: its complete lines are kept, a trailing half line is dropped (a `.part`
//! without a whole line is removed). Delivery is **at-least-once**: a batch re-collected after
//! a crash is written again, so consumers drop duplicates by `id`.

mod lines;
mod part;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use ucp_core::{Batch, Delivery, Sink, SinkContext, SinkError, SinkInfo};

pub use lines::encode_lines;
use part::Part;

/// Suffix of the file being written.
pub const PART_SUFFIX: &str = ".part";

/// How a [`FileSink`] writes. Build with [`FileSinkConfig::new`] and the setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// Product name the sink reports (e.g. `sentinel`).
    pub product: String,
    /// Directory of the files (created if missing).
    pub dir: PathBuf,
    /// File name prefix (default: the product name).
    pub prefix: String,
    /// Complete a file before it would exceed this many bytes of NDJSON (default 64 MiB).
    pub max_bytes: u64,
    /// Complete a file once it is this old when a batch arrives (default 1 hour).
    pub max_age: Duration,
    /// Compress each file as one gzip stream (default off).
    pub gzip: bool,
    /// fsync after every batch, not only when a file completes (default off).
    pub fsync_each_batch: bool,
}

impl FileSinkConfig {
    /// Files for `product` in `dir`, with the defaults above.
    pub fn new(product: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        let product = product.into();
        FileSinkConfig {
            prefix: product.clone(),
            product,
            dir: dir.into(),
            max_bytes: 64 * 1024 * 1024,
            max_age: Duration::from_secs(3600),
            gzip: false,
            fsync_each_batch: false,
        }
    }

    /// Name files `{prefix}-{n}.ndjson`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Roll before a file exceeds `bytes` (uncompressed).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Roll once a file is `age` old.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Compress files with gzip.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// fsync after every batch.
    pub fn fsync_each_batch(mut self, on: bool) -> Self {
        self.fsync_each_batch = on;
        self
    }

    fn extension(&self) -> &'static str {
        if self.gzip {
            "ndjson.gz"
        } else {
            "ndjson"
        }
    }

    fn file_name(&self, seq: u64) -> String {
        format!("{}-{seq:06}.{}", self.prefix, self.extension())
    }

    /// Whether `name` is a gzip part's recovery copy of this sink (left only by a crash
    /// during recovery).
    fn is_recovering(&self, name: &str) -> bool {
        name.strip_suffix(".recovering")
            .and_then(|stem| self.seq_of(&format!("{stem}{PART_SUFFIX}")))
            .is_some()
    }

    /// The sequence number of a file of this sink, completed or not.
    fn seq_of(&self, name: &str) -> Option<u64> {
        let name = name.strip_suffix(PART_SUFFIX).unwrap_or(name);
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix('-')?;
        let digits = rest.strip_suffix(self.extension())?.strip_suffix('.')?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    }
}

/// Why the file sink could not set up or write.
#[derive(Debug, thiserror::Error)]
#[error("file sink of '{product}' could not {action} {path}: {source}; check that the directory exists, is writable and has space")]
pub struct FileSinkError {
    /// The product.
    pub product: String,
    /// What it was doing.
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Counters of a file sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileSinkStats {
    /// Records written (a batch counts once it is whole in the file).
    pub records: u64,
    /// NDJSON bytes written, before compression.
    pub bytes: u64,
    /// Files completed (renamed to their final name).
    pub files_completed: u64,
    /// Writes that failed and were cut back (the delivery is retried).
    pub failed_writes: u64,
}

struct State {
    next_seq: u64,
    current: Option<Part>,
    stats: FileSinkStats,
}

struct Inner {
    config: FileSinkConfig,
    state: Mutex<State>,
}

/// The NDJSON file sink. See the module docs. Clones share the same files.
#[derive(Clone)]
pub struct FileSink {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl FileSink {
    /// Create the directory if needed, complete any `.part` a previous run left, and number
    /// new files after the highest one there.
    pub fn open(config: FileSinkConfig) -> Result<FileSink, FileSinkError> {
        let fail = |action, path: &Path, source| FileSinkError {
            product: config.product.clone(),
            action,
            path: path.to_path_buf(),
            source,
        };
        fs::create_dir_all(&config.dir).map_err(|e| fail("create directory", &config.dir, e))?;
        let mut highest = 0;
        let mut parts = Vec::new();
        let mut stray = Vec::new();
        let entries = fs::read_dir(&config.dir).map_err(|e| fail("list", &config.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| fail("list", &config.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(seq) = config.seq_of(&name) {
                highest = highest.max(seq);
                if name.ends_with(PART_SUFFIX) {
                    parts.push(seq);
                }
            } else if config.is_recovering(&name) {
                stray.push(entry.path());
            }
        }
        // A recovery that a crash interrupted: its part is still there and recovered again.
        for path in stray {
            fs::remove_file(&path).map_err(|e| fail("remove", &path, e))?;
        }
        parts.sort_unstable();
        let mut stats = FileSinkStats::default();
        for seq in parts {
            let part = part_path(&config, seq);
            let done = config.dir.join(config.file_name(seq));
            if part::recover(&part, &done, config.gzip).map_err(|e| fail("recover", &part, e))? {
                stats.files_completed += 1;
                tracing::warn!(product = %config.product, file = %part.display(), "completed a partial file left by an earlier run");
            }
        }
        Ok(FileSink {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State {
                    next_seq: highest + 1,
                    current: None,
                    stats,
                }),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FileSinkConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> FileSinkStats {
        lock(&self.inner.state).stats
    }

    /// Completed files of this sink in its directory, oldest first.
    pub fn completed_files(&self) -> io::Result<Vec<PathBuf>> {
        let config = &self.inner.config;
        let mut files: Vec<(u64, PathBuf)> = fs::read_dir(&config.dir)?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let seq = config.seq_of(&name)?;
                (!name.ends_with(PART_SUFFIX)).then(|| (seq, entry.path()))
            })
            .collect();
        files.sort();
        Ok(files.into_iter().map(|(_, path)| path).collect())
    }

    /// Complete the file being written, if any; returns its final path (`None` also when
    /// the file held nothing: it is removed, not completed).
    pub async fn close(&self) -> Result<Option<PathBuf>, FileSinkError> {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut state = lock(&inner.state);
            complete(&inner.config, &mut state)
        })
        .await
        .map_err(|(path, source)| FileSinkError {
            product: self.inner.config.product.clone(),
            action: "complete",
            path,
            source,
        })
    }

    /// Write `bytes` (whole lines), completing the current file first if the batch would
    /// overflow it or it is too old. Nothing rolls on a failed attempt: a file that cannot be
    /// completed stays current, and a failed write is cut back in the same file.
    fn write(&self, bytes: &[u8], records: u64, now: Instant) -> Result<(), (PathBuf, io::Error)> {
        let config = &self.inner.config;
        let mut state = lock(&self.inner.state);
        if let Some(current) = &state.current {
            let full = current.text_bytes > 0
                && current.text_bytes + bytes.len() as u64 > config.max_bytes;
            let old = current.text_bytes > 0
                && now.saturating_duration_since(current.opened) >= config.max_age;
            if full || old {
                complete(config, &mut state)?;
            }
        }
        if state.current.is_none() {
            let seq = state.next_seq;
            let path = part_path(config, seq);
            // The directory too may be gone (a disk repaired after losing unsynced writes).
            fs::create_dir_all(&config.dir).map_err(|e| (config.dir.clone(), e))?;
            let part = Part::create(path.clone(), seq, config.gzip, now).map_err(|e| (path, e))?;
            state.next_seq += 1;
            state.current = Some(part);
        }
        let State { current, stats, .. } = &mut *state;
        let Some(current) = current.as_mut() else {
            return Ok(());
        };
        if let Err(error) = current.append(bytes, config.fsync_each_batch) {
            stats.failed_writes += 1;
            let path = current.path.clone();
            if current.damaged {
                // Keep what the disk still has, whole lines only; the retry starts a new file.
                let done = config.dir.join(config.file_name(current.seq));
                tracing::error!(product = %config.product, file = %path.display(), %error, "the disk lost part of a file; completing it with what it has");
                match part::recover(&path, &done, config.gzip) {
                    Ok(true) => stats.files_completed += 1,
                    Ok(false) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err((path, e)),
                }
                state.current = None;
            }
            return Err((path, error));
        }
        stats.records += records;
        stats.bytes += bytes.len() as u64;
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if let Err((path, error)) = complete(&self.config, &mut state) {
            tracing::warn!(product = %self.config.product, file = %path.display(), %error, "could not complete the file on drop");
        }
    }
}

/// Finish the current file, fsync it and rename it to its final name (then fsync the
/// directory so the rename survives a power loss). A file that holds nothing is removed
/// instead. On failure the file stays current, to be completed at the next attempt.
fn complete(
    config: &FileSinkConfig,
    state: &mut State,
) -> Result<Option<PathBuf>, (PathBuf, io::Error)> {
    let Some(current) = state.current.as_mut() else {
        return Ok(None);
    };
    if current.is_empty() {
        match fs::remove_file(&current.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err((current.path.clone(), e)),
        }
        state.current = None;
        return Ok(None);
    }
    let done = config.dir.join(config.file_name(current.seq));
    current.finish().map_err(|e| (current.path.clone(), e))?;
    fs::rename(&current.path, &done).map_err(|e| (current.path.clone(), e))?;
    state.current = None;
    sync_dir(&config.dir);
    state.stats.files_completed += 1;
    Ok(Some(done))
}

fn part_path(config: &FileSinkConfig, seq: u64) -> PathBuf {
    config
        .dir
        .join(format!("{}{PART_SUFFIX}", config.file_name(seq)))
}

/// fsync a directory after a rename; best effort (not every platform allows it).
fn sync_dir(dir: &Path) {
    if let Err(error) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), %error, "directory fsync not done");
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run blocking file work off the async threads.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, (PathBuf, io::Error)> + Send + 'static,
) -> Result<T, (PathBuf, io::Error)> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err((PathBuf::new(), io::Error::other(join.to_string()))),
    }
}

#[async_trait]
impl Sink for FileSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new(self.inner.config.product.clone())
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        let dir = self.inner.config.dir.clone();
        let probe = dir.join(format!(".{}-check{PART_SUFFIX}", self.inner.config.prefix));
        run_blocking(move || {
            File::create(&probe)
                .and_then(|_| fs::remove_file(&probe))
                .map_err(|e| (dir, e))
        })
        .await
        .map_err(|(path, e)| SinkError::Permanent {
            message: format!(
                "file sink of '{}' cannot write in {}: {e}; check the directory's permissions",
                self.inner.config.product,
                path.display()
            ),
        })
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        if batch.is_empty() {
            return Ok(Delivery::all());
        }
        let lines = encode_lines(&batch.stream.to_string(), &batch.records);
        let records = batch.len() as u64;
        let now = cx.clock().now();
        let sink = self.clone();
        run_blocking(move || sink.write(&lines, records, now))
            .await
            .map_err(|(path, e)| SinkError::Retryable {
                message: format!(
                    "file sink of '{}' could not write {}: {e}; check the disk's space and permissions",
                    self.inner.config.product,
                    path.display()
                ),
                retry_after: None,
            })?;
        Ok(Delivery::all())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_to_their_sequence() {
        let config = FileSinkConfig::new("mdi", "/tmp").gzip(true);
        assert_eq!(config.file_name(7), "mdi-000007.ndjson.gz");
        assert_eq!(config.seq_of("mdi-000007.ndjson.gz"), Some(7));
        assert_eq!(config.seq_of("mdi-000007.ndjson.gz.part"), Some(7));
        assert_eq!(config.seq_of("mdi-000007.ndjson"), None);
        assert_eq!(config.seq_of("xspm-000007.ndjson.gz"), None);
    }
}
