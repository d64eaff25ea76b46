//! A data lake of Parquet files written through [`object_store`]: local disk by default,
//! Azure Blob Storage / ADLS Gen2 by URL.
//!
//! Layout: `{prefix}/{stream}/date=YYYY-MM-DD/hour=HH/{unique}.parquet`, partitioned by each
//! record's event time (UTC). Columns: `time` (timestamp, ms, UTC), `id`, `stream`, `source`,
//! one nullable string column per [`TypedField`] (a JSON pointer into the event: cheap to
//! extract, handy to filter on) and `raw` (the event's JSON).
//!
//! Records are buffered per partition; a file is written when its buffer reaches
//! [`DataLakeConfig::roll_bytes`] or its age [`DataLakeConfig::roll_age`] (checked at each
//! delivery; [`DataLakeSink::flush`] writes every open file, e.g. at shutdown). A file is
//! encoded completely in memory and then stored with one `put`, which `object_store` makes
//! atomic (a local file is written under a staging name and renamed; an Azure blob is
//! committed in one Put Blob): readers never see a partial file, whatever happens mid-write.
//!
//! Delivery semantics: a batch counts as delivered once buffered. Records still in an open
//! file when the process dies are lost, so `roll_age` bounds what a crash can lose; files
//! already written are complete. When a write fails, the next delivery retries it first and
//! is refused (retryable) until it succeeds, so a failing store holds batches back instead
//! of growing the buffer.

mod parquet_file;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_schema::SchemaRef;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use object_store::local::LocalFileSystem;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, PutPayload};
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

#[derive(Debug)]
struct OpenFile {
    opened_at: Instant,
    bytes: usize,
    rows: Vec<Row>,
}

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
    open: Arc<Mutex<HashMap<FileKey, OpenFile>>>,
    counters: Arc<Counters>,
}

/// Per-row bookkeeping beyond the event itself, for the size estimate.
const ROW_OVERHEAD: usize = 64;

impl DataLakeSink {
    /// A sink writing to `store`.
    pub fn new(store: Arc<dyn ObjectStore>, config: DataLakeConfig) -> Self {
        let columns: Vec<String> = config.fields.iter().map(|f| f.column.clone()).collect();
        DataLakeSink {
            store,
            schema: parquet_file::schema(&columns),
            config: Arc::new(config),
            open: Arc::default(),
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

    /// Records buffered in open files.
    pub async fn buffered(&self) -> usize {
        self.open.lock().await.values().map(|f| f.rows.len()).sum()
    }

    /// Write every open file now (e.g. at shutdown). Returns the number of files written.
    pub async fn flush(&self, now: DateTime<Utc>) -> Result<usize, SinkError> {
        let mut open = self.open.lock().await;
        self.roll(&mut open, None, now).await
    }

    /// Write the files that are due (all when `due_at` is `None`).
    async fn roll(
        &self,
        open: &mut HashMap<FileKey, OpenFile>,
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
            let path = self.path(&key, now);
            let product = &self.config.product;
            let bytes = parquet_file::encode(&self.schema, &file.rows).map_err(|detail| {
                SinkError::Permanent {
                    message: format!("{product}: {detail}"),
                }
            })?;
            if let Err(e) = self.store.put(&path, PutPayload::from(bytes)).await {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                return Err(SinkError::Retryable {
                    message: format!("{product}: could not write {path} to {}: {e}", self.store),
                    retry_after: None,
                });
            }
            if let Some(file) = open.remove(&key) {
                self.counters.files.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .rows
                    .fetch_add(file.rows.len() as u64, Ordering::Relaxed);
                tracing::debug!(%path, rows = file.rows.len(), "data lake file written");
            }
            written += 1;
        }
        Ok(written)
    }

    fn path(&self, key: &FileKey, now: DateTime<Utc>) -> Path {
        let mut random = [0u8; 8];
        rand::rng().fill_bytes(&mut random);
        let unique: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{}-{unique}.parquet", now.format("%Y%m%dT%H%M%SZ"));
        let parts = self
            .config
            .prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .map(PathPart::from)
            .chain([
                PathPart::from(&*key.stream),
                PathPart::from(format!("date={}", key.date)),
                PathPart::from(format!("hour={}", key.hour)),
                PathPart::from(name),
            ]);
        Path::from_iter(parts)
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
        let mut open = self.open.lock().await;
        // A file that failed to write before is retried first; until it is written, new
        // batches are refused rather than buffered.
        self.roll(&mut open, Some(now), wall).await?;
        for record in batch.records.iter() {
            let key = FileKey {
                stream: batch.stream.stream.clone(),
                date: record.time.format("%Y-%m-%d").to_string(),
                hour: record.time.format("%H").to_string(),
            };
            let file = open.entry(key).or_insert_with(|| OpenFile {
                opened_at: now,
                bytes: 0,
                rows: Vec::new(),
            });
            file.bytes += record.payload.len() + ROW_OVERHEAD;
            file.rows.push(self.row(batch, record));
        }
        if let Err(e) = self.roll(&mut open, Some(now), wall).await {
            // The batch is buffered (accepted); the write is retried at the next delivery.
            tracing::warn!(product = %self.config.product, error = %e, "data lake write failed; retried at the next delivery");
        }
        Ok(Delivery::all())
    }
}
