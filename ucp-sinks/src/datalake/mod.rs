//! A data lake of Parquet files written through [`object_store`]: local disk by default,
//! Azure Blob Storage / ADLS Gen2 by URL.
//!
//! Layout: `{prefix}/{stream}/date=YYYY-MM-DD/hour=HH/{unique}.parquet`, partitioned by each
//! record's event time (UTC). Columns: `time` (timestamp, ms, UTC), `id`, `stream`, `source`,
//! one nullable string column per [`TypedField`] (a JSON pointer into the event: cheap to
//! extract, handy to filter on) and `raw` (the event's JSON).
//!
//! Every delivery is first written as a complete Parquet *part* under
//! `{prefix}/_staging/{stream}/date=…/hour=…/` (a folder that Hive-style readers skip because
//! of its leading underscore) and only then acknowledged, so a delivered batch survives a
//! crash. A partition's parts are combined into one file in the final layout when they
//! reach [`DataLakeConfig::roll_bytes`] or their age reaches [`DataLakeConfig::roll_age`]
//! (checked at each delivery; [`DataLakeSink::flush`] combines every partition, e.g. at
//! shutdown), and then deleted. After a restart the first delivery (or `flush`) picks up
//! the parts left in `_staging`.
//!
//! Every file — part or final — is encoded completely in memory and stored with one `put`,
//! which `object_store` makes atomic (a local file is written under a staging name and
//! renamed; an Azure blob is committed in one Put Blob): readers never see a partial file,
//! whatever happens mid-write. A crash between writing a final file and deleting its parts
//! writes those rows again at the next roll (at-least-once; rows carry their record id).
//! When a part cannot be written the delivery fails as retryable and nothing is kept: the
//! parts of the batch already staged are deleted, so the retry does not stage them twice. A
//! part whose deletion fails (after a combine, or after a failed delivery) is remembered and
//! deleted again at every delivery and flush until it is gone, so a running sink leaves no
//! stray part behind a disk that failed for a while.

mod parquet_file;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_schema::SchemaRef;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::{Path, PathPart};
use object_store::{ObjectMeta, ObjectStore, PutPayload};
use rand::RngCore;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use ucp_core::{Batch, Delivery, Sink, SinkContext, SinkError, SinkInfo};

use parquet_file::Row;

/// A typed column extracted from each event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedField {
    /// Column name.
    pub column: String,
    /// JSON pointer into the event, e.g. `/actor/id`.
    pub pointer: String,
}

impl TypedField {
    /// Column `column` from the value at `pointer`.
    pub fn new(column: impl Into<String>, pointer: impl Into<String>) -> Self {
        TypedField {
            column: column.into(),
            pointer: pointer.into(),
        }
    }
}

/// What to write where.
#[derive(Clone, Debug)]
pub struct DataLakeConfig {
    /// Product name reported by [`Sink::describe`] (default `datalake`).
    pub product: String,
    /// Folder inside the store (may be empty).
    pub prefix: String,
    /// Write a file once its buffered events reach this many bytes (default 64 MiB).
    pub roll_bytes: usize,
    /// Write a file once it has been open this long (default 5 minutes).
    pub roll_age: Duration,
    /// Typed columns (default `event_type` `/eventType`, `actor_id` `/actor/id`,
    /// `outcome` `/outcome/result`: Okta System Log shapes).
    pub fields: Vec<TypedField>,
}

impl DataLakeConfig {
    /// Defaults under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        DataLakeConfig {
            product: "datalake".into(),
            prefix: prefix.into(),
            roll_bytes: 64 * 1024 * 1024,
            roll_age: Duration::from_secs(300),
            fields: vec![
                TypedField::new("event_type", "/eventType"),
                TypedField::new("actor_id", "/actor/id"),
                TypedField::new("outcome", "/outcome/result"),
            ],
        }
    }
}

/// Why a data lake could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataLakeError {
    /// The URL is not a store `object_store` knows (file://, az://, abfss://, https://…blob…).
    #[error("data lake URL '{url}' is not usable: {detail}; use a local path, file://, az://container/path or abfss://container@account.dfs.core.windows.net/path")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The local folder could not be created.
    #[error("data lake folder {path} could not be created: {detail}")]
    Folder {
        /// The folder.
        path: String,
        /// What failed.
        detail: String,
    },
}

/// Open a store by URL: a plain path or `file://` is the local disk (created if missing);
/// `az://`, `abfss://`, `https://{account}.blob.core.windows.net/…` are Azure, configured by
/// `options` (e.g. `azure_storage_account_name`, `azure_storage_account_key`, or the
/// `AZURE_*` environment variables via [`object_store::azure::MicrosoftAzureBuilder::from_env`]).
/// Returns the store and the path in it the URL points at (use it as the prefix).
pub fn open_store(
    url: &str,
    options: impl IntoIterator<Item = (String, String)>,
) -> Result<(Arc<dyn ObjectStore>, String), DataLakeError> {
    let local = |path: &str| -> Result<(Arc<dyn ObjectStore>, String), DataLakeError> {
        std::fs::create_dir_all(path).map_err(|e| DataLakeError::Folder {
            path: path.to_string(),
            detail: e.to_string(),
        })?;
        let store =
            LocalFileSystem::new_with_prefix(path).map_err(|e| DataLakeError::InvalidUrl {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        Ok((Arc::new(store), String::new()))
    };
    if !url.contains("://") {
        return local(url);
    }
    let parsed = url::Url::parse(url).map_err(|e| DataLakeError::InvalidUrl {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    if parsed.scheme() == "file" {
        return local(parsed.path());
    }
    let (store, path) =
        object_store::parse_url_opts(&parsed, options).map_err(|e| DataLakeError::InvalidUrl {
            url: url.to_string(),
            detail: e.to_string(),
        })?;
    // object_store reads `az://` paths as `az://container/<ignored>/path`; we document and
    // honour `az://container/path`.
    let prefix = if parsed.scheme() == "az" {
        parsed.path().trim_matches('/').to_string()
    } else {
        path.to_string()
    };
    Ok((Arc::from(store), prefix))
}

/// Counters of one data lake sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataLakeStats {
    /// Files written.
    pub files_written: u64,
    /// Rows in written files.
    pub rows_written: u64,
    /// Failed writes (retried).
    pub write_failures: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    stream: Arc<str>,
    date: String,
    hour: String,
}

/// A partition's staged parts, not yet combined.
#[derive(Debug)]
struct OpenFile {
    opened_at: Instant,
    bytes: usize,
    parts: Vec<Path>,
}

#[derive(Debug, Default)]
struct State {
    recovered: bool,
    open: HashMap<FileKey, OpenFile>,
    /// Parts that must go (combined already, or staged by a failed delivery) but whose
    /// deletion failed: deleted again before each delivery and flush.
    doomed: Vec<Path>,
}

/// The folder of staged parts, below the prefix.
const STAGING: &str = "_staging";

#[derive(Debug, Default)]
struct Counters {
    files: AtomicU64,
    rows: AtomicU64,
    failures: AtomicU64,
}

/// The data lake sink. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct DataLakeSink {
    store: Arc<dyn ObjectStore>,
    config: Arc<DataLakeConfig>,
    schema: SchemaRef,
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
}

impl DataLakeSink {
    /// A sink writing to `store`.
    pub fn new(store: Arc<dyn ObjectStore>, config: DataLakeConfig) -> Self {
        let columns: Vec<String> = config.fields.iter().map(|f| f.column.clone()).collect();
        DataLakeSink {
            store,
            schema: parquet_file::schema(&columns),
            config: Arc::new(config),
            state: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// A sink writing under the local folder `dir` (created if missing).
    pub fn local(
        dir: impl AsRef<std::path::Path>,
        config: DataLakeConfig,
    ) -> Result<Self, DataLakeError> {
        let dir = dir.as_ref().to_string_lossy().to_string();
        let (store, _) = open_store(&dir, [])?;
        Ok(Self::new(store, config))
    }

    /// The counters so far.
    pub fn stats(&self) -> DataLakeStats {
        DataLakeStats {
            files_written: self.counters.files.load(Ordering::Relaxed),
            rows_written: self.counters.rows.load(Ordering::Relaxed),
            write_failures: self.counters.failures.load(Ordering::Relaxed),
        }
    }

    /// Staged parts not yet combined into a final file.
    pub async fn staged_parts(&self) -> usize {
        self.state
            .lock()
            .await
            .open
            .values()
            .map(|f| f.parts.len())
            .sum()
    }

    /// Combine every partition's parts into its final file now (e.g. at shutdown). Returns
    /// the number of files written.
    pub async fn flush(&self, now: DateTime<Utc>) -> Result<usize, SinkError> {
        let mut state = self.state.lock().await;
        self.recover(&mut state, Instant::now()).await?;
        let State { open, doomed, .. } = &mut *state;
        let written = self.roll(open, doomed, None, now).await;
        self.delete_doomed(doomed).await;
        written
    }

    /// Parts that should be gone but are not (their deletion failed); they are deleted
    /// again at the next delivery or flush.
    pub async fn parts_to_delete(&self) -> usize {
        self.state.lock().await.doomed.len()
    }

    /// Delete the parts that must go; keep the ones the store still refuses.
    async fn delete_doomed(&self, doomed: &mut Vec<Path>) {
        let mut left = Vec::new();
        for part in doomed.drain(..) {
            match self.store.delete(&part).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(%part, error = %e, "could not delete a data lake part; trying again at the next delivery");
                    left.push(part);
                }
            }
        }
        *doomed = left;
    }

    fn prefix_parts(&self) -> impl Iterator<Item = PathPart<'static>> + '_ {
        self.config
            .prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .map(|p| PathPart::from(p.to_string()))
    }

    fn staging_root(&self) -> Path {
        Path::from_iter(self.prefix_parts().chain([PathPart::from(STAGING)]))
    }

    /// `{prefix}[/_staging]/{stream}/date=…/hour=…/{time}-{random}.parquet`
    fn path(&self, key: &FileKey, now: DateTime<Utc>, staged: bool) -> Path {
        let mut random = [0u8; 8];
        rand::rng().fill_bytes(&mut random);
        let unique: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{}-{unique}.parquet", now.format("%Y%m%dT%H%M%SZ"));
        let staging = staged.then(|| PathPart::from(STAGING));
        Path::from_iter(self.prefix_parts().chain(staging).chain([
            PathPart::from(key.stream.to_string()),
            PathPart::from(format!("date={}", key.date)),
            PathPart::from(format!("hour={}", key.hour)),
            PathPart::from(name),
        ]))
    }

    fn store_error(&self, what: &str, path: &Path, e: object_store::Error) -> SinkError {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        SinkError::Retryable {
            message: format!(
                "{}: could not {what} {path} in {}: {e}",
                self.config.product, self.store
            ),
            retry_after: None,
        }
    }

    /// Adopt the parts a previous run left in `_staging` (once per sink).
    async fn recover(&self, state: &mut State, now: Instant) -> Result<(), SinkError> {
        if state.recovered {
            return Ok(());
        }
        let root = self.staging_root();
        let found: Vec<ObjectMeta> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(|e| self.store_error("list", &root, e))?;
        let mut found: Vec<ObjectMeta> = found
            .into_iter()
            .filter(|meta| meta.location.as_ref().ends_with(".parquet"))
            .collect();
        found.sort_by(|a, b| a.location.cmp(&b.location));
        for meta in found {
            let parts: Vec<String> = meta
                .location
                .prefix_match(&root)
                .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            let [stream, date, hour, _name] = parts.as_slice() else {
                continue;
            };
            let (Some(date), Some(hour)) = (date.strip_prefix("date="), hour.strip_prefix("hour="))
            else {
                continue;
            };
            let key = FileKey {
                stream: Arc::from(stream.as_str()),
                date: date.to_string(),
                hour: hour.to_string(),
            };
            let file = state.open.entry(key).or_insert_with(|| OpenFile {
                opened_at: now,
                bytes: 0,
                parts: Vec::new(),
            });
            file.bytes += meta.size as usize;
            file.parts.push(meta.location);
        }
        state.recovered = true;
        Ok(())
    }

    /// Combine the partitions that are due (all when `due_at` is `None`).
    async fn roll(
        &self,
        open: &mut HashMap<FileKey, OpenFile>,
        doomed: &mut Vec<Path>,
        due_at: Option<Instant>,
        now: DateTime<Utc>,
    ) -> Result<usize, SinkError> {
        let due: Vec<FileKey> = open
            .iter()
            .filter(|(_, file)| match due_at {
                None => true,
                Some(at) => {
                    file.bytes >= self.config.roll_bytes
                        || at.saturating_duration_since(file.opened_at) >= self.config.roll_age
                }
            })
            .map(|(key, _)| key.clone())
            .collect();
        let mut written = 0;
        for key in due {
            let Some(file) = open.get(&key) else { continue };
            written += self.combine(&key, &file.parts, now).await?;
            if let Some(file) = open.remove(&key) {
                doomed.extend(file.parts);
            }
        }
        Ok(written)
    }

    /// Write one final file from `parts`, then delete them. Returns the files written.
    async fn combine(
        &self,
        key: &FileKey,
        parts: &[Path],
        now: DateTime<Utc>,
    ) -> Result<usize, SinkError> {
        let mut staged = Vec::with_capacity(parts.len());
        for part in parts {
            let bytes = match self.store.get(part).await {
                Ok(result) => result.bytes().await,
                Err(e) => Err(e),
            };
            staged.push(bytes.map_err(|e| self.store_error("read", part, e))?);
        }
        let combined =
            parquet_file::combine(&self.schema, staged).map_err(|detail| SinkError::Permanent {
                message: format!("{}: {detail}", self.config.product),
            })?;
        let mut files: Vec<Bytes> = combined.other_schema;
        files.extend(combined.file);
        for bytes in &files {
            let path = self.path(key, now, false);
            self.store
                .put(&path, PutPayload::from(bytes.clone()))
                .await
                .map_err(|e| self.store_error("write", &path, e))?;
            tracing::debug!(%path, "data lake file written");
        }
        self.counters
            .files
            .fetch_add(files.len() as u64, Ordering::Relaxed);
        self.counters
            .rows
            .fetch_add(combined.rows as u64, Ordering::Relaxed);
        // The caller deletes the parts (and keeps deleting those the store refuses).
        Ok(files.len())
    }

    fn row(&self, batch: &Batch, record: &ucp_core::Record) -> Row {
        let event: Option<Value> = serde_json::from_slice(&record.payload).ok();
        let typed = self
            .config
            .fields
            .iter()
            .map(|field| {
                event
                    .as_ref()
                    .and_then(|e| e.pointer(&field.pointer))
                    .and_then(|v| match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    })
            })
            .collect();
        Row {
            time_ms: record.time.timestamp_millis(),
            id: record.id.to_string(),
            source: batch.stream.source.clone(),
            stream: batch.stream.stream.clone(),
            typed,
            raw: record.payload.clone(),
        }
    }
}

#[async_trait]
impl Sink for DataLakeSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new(self.config.product.clone())
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        let prefix = Path::from(self.config.prefix.as_str());
        self.store
            .list_with_delimiter(Some(&prefix))
            .await
            .map(|_| ())
            .map_err(|e| SinkError::Retryable {
                message: format!(
                    "{}: cannot list {prefix} in {}: {e}",
                    self.config.product, self.store
                ),
                retry_after: None,
            })
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let clock = cx.clock();
        let (now, wall) = (clock.now(), clock.now_utc());
        let mut state = self.state.lock().await;
        self.recover(&mut state, now).await?;
        let State { open, doomed, .. } = &mut *state;
        self.delete_doomed(doomed).await;
        // Rows of this batch, per partition (event hour), in order.
        let mut partitions: Vec<(FileKey, Vec<Row>)> = Vec::new();
        for record in batch.records.iter() {
            let key = FileKey {
                stream: batch.stream.stream.clone(),
                date: record.time.format("%Y-%m-%d").to_string(),
                hour: record.time.format("%H").to_string(),
            };
            match partitions.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rows)) => rows.push(self.row(batch, record)),
                None => partitions.push((key, vec![self.row(batch, record)])),
            }
        }
        // Acknowledge only once every row is in a stored part.
        let mut staged = Vec::with_capacity(partitions.len());
        for (key, rows) in &partitions {
            let bytes = parquet_file::encode(&self.schema, rows).map_err(|detail| {
                SinkError::Permanent {
                    message: format!("{}: {detail}", self.config.product),
                }
            })?;
            let size = bytes.len();
            let path = self.path(key, wall, true);
            if let Err(e) = self.store.put(&path, PutPayload::from(bytes)).await {
                // Parts of this batch already stored would be staged twice on the retry.
                doomed.extend(staged.into_iter().map(|(_, done, _)| done));
                self.delete_doomed(doomed).await;
                return Err(self.store_error("write", &path, e));
            }
            staged.push((key.clone(), path, size));
        }
        // Partitions that came of age are combined before this batch joins them.
        let rolled = self.roll(open, doomed, Some(now), wall).await;
        for (key, path, size) in staged {
            let file = open.entry(key).or_insert_with(|| OpenFile {
                opened_at: now,
                bytes: 0,
                parts: Vec::new(),
            });
            file.bytes += size;
            file.parts.push(path);
        }
        let rolled = match rolled {
            Ok(_) => self.roll(open, doomed, Some(now), wall).await,
            error => error,
        };
        self.delete_doomed(doomed).await;
        if let Err(e) = rolled {
            // The batch is staged (delivered); combining is retried at the next delivery.
            tracing::warn!(product = %self.config.product, error = %e, "data lake roll failed; retried at the next delivery");
        }
        Ok(Delivery::all())
    }
}
