//! The data lake sink on the local disk: files readable back with `parquet`, rolled by size
//! and age, never visible half-written, and writes that fail are retried without loss.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, RecordBatch, StringArray, TimestampMillisecondArray};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use futures::stream::BoxStream;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::json;
use tokio::sync::Notify;
use ucp_core::credentials::MemoryCredentials;
use ucp_core::Context;
use ucp_core::*;
use ucp_sinks::datalake::{DataLakeConfig, DataLakeSink};

fn cx() -> SinkContext {
    SinkContext::new(
        "datalake",
        Context::standalone("contoso", Arc::new(MemoryCredentials::new()), Clock::new())
            .expect("a standalone context"),
    )
}

/// `count` events from `first` on, one a minute from 08:00.
fn batch(first: usize, count: usize, size: usize) -> Batch {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let records: Vec<Record> = (first..first + count)
        .map(|i| {
            let mut event = json!({
                "uuid": format!("evt-{i}"),
                "eventType": if i % 2 == 0 { "user.session.start" } else { "user.account.lock" },
                "actor": {"id": format!("actor-{}", i % 3)},
                "outcome": {"result": "SUCCESS"},
            });
            event["padding"] = json!("x".repeat(size.saturating_sub(150)));
            Record::new(
                format!("evt-{i}"),
                start + chrono::Duration::minutes(i as i64),
                serde_json::to_vec(&event).unwrap(),
            )
        })
        .collect();
    Batch {
        stream: StreamKey::new("okta-contoso", "system_log"),
        records: records.into(),
        cursor_after: Cursor::new("next"),
    }
}

/// Files in the final layout (readers' view), staged parts excluded.
async fn files(store: &dyn ObjectStore) -> Vec<ObjectMeta> {
    let mut files: Vec<ObjectMeta> = store
        .list(Some(&Path::from("lake/system_log")))
        .try_collect()
        .await
        .unwrap();
    files.sort_by(|a, b| a.location.cmp(&b.location));
    files
}

async fn read(store: &dyn ObjectStore, path: &Path) -> Vec<RecordBatch> {
    let bytes: Bytes = store.get(path).await.unwrap().bytes().await.unwrap();
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    (0..array.len())
        .map(|i| (!array.is_null(i)).then(|| array.value(i).to_string()))
        .collect()
}

async fn all_ids(store: &dyn ObjectStore) -> Vec<String> {
    let mut ids = Vec::new();
    for file in files(store).await {
        for batch in read(store, &file.location).await {
            ids.extend(strings(&batch, "id").into_iter().flatten());
        }
    }
    ids.sort_by_key(|id| id[4..].parse::<usize>().unwrap());
    ids
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("evt-{i}")).collect()
}

#[tokio::test]
async fn files_are_partitioned_by_hour_and_readable_back_with_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let sink = DataLakeSink::local(dir.path(), DataLakeConfig::new("lake")).unwrap();
    let input = batch(0, 90, 400); // 08:00 .. 09:29
    sink.deliver(&cx(), &input).await.unwrap();
    assert_eq!(sink.flush(Utc::now()).await.unwrap(), 2);
    let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let files = files(&store).await;
    let paths: Vec<String> = files.iter().map(|f| f.location.to_string()).collect();
    assert_eq!(paths.len(), 2);
    assert!(
        paths[0].starts_with("lake/system_log/date=2026-11-01/hour=08/"),
        "{paths:?}"
    );
    assert!(
        paths[1].starts_with("lake/system_log/date=2026-11-01/hour=09/"),
        "{paths:?}"
    );
    assert!(paths.iter().all(|p| p.ends_with(".parquet")));

    let batches = read(&store, &files[0].location).await;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 60);
    let first = &batches[0];
    let schema = first.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "time",
            "id",
            "stream",
            "source",
            "event_type",
            "actor_id",
            "outcome",
            "raw"
        ]
    );
    let times = first
        .column_by_name("time")
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .unwrap();
    assert_eq!(times.value(5), input.records[5].time.timestamp_millis());
    assert_eq!(strings(first, "id")[5].as_deref(), Some("evt-5"));
    assert_eq!(strings(first, "stream")[5].as_deref(), Some("system_log"));
    assert_eq!(strings(first, "source")[5].as_deref(), Some("okta-contoso"));
    assert_eq!(
        strings(first, "event_type")[5].as_deref(),
        Some("user.account.lock")
    );
    assert_eq!(strings(first, "actor_id")[5].as_deref(), Some("actor-2"));
    assert_eq!(strings(first, "outcome")[5].as_deref(), Some("SUCCESS"));
    assert_eq!(
        strings(first, "raw")[5].as_deref().map(str::as_bytes),
        Some(&input.records[5].payload[..])
    );
    assert_eq!(all_ids(&store).await, expected(0..90));
    assert_eq!(sink.stats().rows_written, 90);
}

#[tokio::test]
async fn files_roll_by_size_during_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let config = DataLakeConfig {
        roll_bytes: 6_000,
        ..DataLakeConfig::new("lake")
    };
    let sink = DataLakeSink::local(dir.path(), config).unwrap();
    for i in 0..10 {
        // Each batch stays within hour 08 (minutes 0..50).
        sink.deliver(&cx(), &batch(i * 5, 5, 1024)).await.unwrap();
    }
    let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let written = files(&store).await.len();
    assert!(
        (2..10).contains(&written),
        "parts of about 3 KB roll into 6 KB files: several deliveries per file, {written} files"
    );
    assert_eq!(sink.stats().files_written as usize, written);
    sink.flush(Utc::now()).await.unwrap();
    assert_eq!(all_ids(&store).await, expected(0..50));
    assert_eq!(sink.staged_parts().await, 0);
    let staging: Vec<ObjectMeta> = store
        .list(Some(&Path::from("lake/_staging")))
        .try_collect()
        .await
        .unwrap();
    assert!(staging.is_empty(), "combined parts are deleted");
}

#[tokio::test(start_paused = true)]
async fn files_roll_by_age_at_the_next_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let config = DataLakeConfig {
        roll_age: Duration::from_secs(300),
        ..DataLakeConfig::new("lake")
    };
    let sink = DataLakeSink::local(dir.path(), config).unwrap();
    let cx = cx();
    sink.deliver(&cx, &batch(0, 3, 300)).await.unwrap();
    tokio::time::advance(Duration::from_secs(299)).await;
    sink.deliver(&cx, &batch(3, 3, 300)).await.unwrap();
    assert_eq!(sink.stats().files_written, 0, "not old enough yet");
    tokio::time::advance(Duration::from_secs(2)).await;
    sink.deliver(&cx, &batch(6, 3, 300)).await.unwrap();
    assert_eq!(sink.stats().files_written, 1);
    assert_eq!(
        sink.stats().rows_written,
        6,
        "the file that came of age holds the first two batches"
    );
    assert_eq!(
        sink.staged_parts().await,
        1,
        "the third batch opens a new file"
    );
}

/// A local store whose writes can fail or stall half-way, as a dying process would.
#[derive(Debug)]
struct FlakyStore {
    inner: LocalFileSystem,
    mode: AtomicU8,
    stalled: Notify,
}

const NORMAL: u8 = 0;
const FAIL: u8 = 1;
const STALL_HALF_WRITTEN: u8 = 2;
const FAIL_AFTER_ONE: u8 = 3;

impl std::fmt::Display for FlakyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlakyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FlakyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        match self.mode.load(Ordering::SeqCst) {
            FAIL => Err(object_store::Error::Generic {
                store: "flaky",
                source: "injected write failure".into(),
            }),
            FAIL_AFTER_ONE => {
                self.mode.store(FAIL, Ordering::SeqCst);
                self.inner.put_opts(location, payload, opts).await
            }
            STALL_HALF_WRITTEN => {
                let bytes: Bytes = payload.into();
                let mut upload = self.inner.put_multipart(location).await?;
                upload
                    .put_part(PutPayload::from(bytes.slice(..bytes.len() / 2)))
                    .await?;
                self.stalled.notify_one();
                std::future::pending().await
            }
            _ => self.inner.put_opts(location, payload, opts).await,
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

fn flaky(dir: &std::path::Path, mode: u8) -> Arc<FlakyStore> {
    Arc::new(FlakyStore {
        inner: LocalFileSystem::new_with_prefix(dir).unwrap(),
        mode: AtomicU8::new(mode),
        stalled: Notify::new(),
    })
}

fn parquet_files_on_disk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_crash_mid_write_leaves_no_file_that_readers_see() {
    let dir = tempfile::tempdir().unwrap();
    let store = flaky(dir.path(), STALL_HALF_WRITTEN);
    let config = DataLakeConfig {
        roll_bytes: 10_000,
        ..DataLakeConfig::new("lake")
    };
    let sink = DataLakeSink::new(store.clone(), config.clone());
    let writer = tokio::spawn(async move { sink.deliver(&cx(), &batch(0, 40, 1024)).await });
    store.stalled.notified().await;
    writer.abort(); // the process dies with half the file written
    assert!(writer.await.unwrap_err().is_cancelled());

    let reader = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    assert!(files(&reader).await.is_empty(), "no file is listed");
    assert!(
        parquet_files_on_disk(dir.path()).is_empty(),
        "no .parquet name exists on disk"
    );

    // After the restart the batch is delivered again (the cursor never moved) and the file
    // is complete.
    let sink = DataLakeSink::new(
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
        config,
    );
    sink.deliver(&cx(), &batch(0, 40, 1024)).await.unwrap();
    sink.flush(Utc::now()).await.unwrap();
    assert_eq!(all_ids(&reader).await, expected(0..40));
}

#[tokio::test]
async fn delivered_records_survive_a_crash_before_their_file_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let sink = DataLakeSink::local(dir.path(), DataLakeConfig::new("lake")).unwrap();
    sink.deliver(&cx(), &batch(0, 30, 500)).await.unwrap();
    sink.deliver(&cx(), &batch(30, 30, 500)).await.unwrap();
    assert_eq!(sink.stats().files_written, 0, "nothing rolled yet");
    drop(sink); // the process dies

    let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    assert!(files(&store).await.is_empty());
    let restarted = DataLakeSink::local(dir.path(), DataLakeConfig::new("lake")).unwrap();
    restarted.flush(Utc::now()).await.unwrap();
    assert_eq!(
        all_ids(&store).await,
        expected(0..60),
        "every delivered record, once"
    );
}

#[tokio::test]
async fn a_failed_write_refuses_the_batch_and_its_retry_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = flaky(dir.path(), NORMAL);
    let sink = DataLakeSink::new(store.clone(), DataLakeConfig::new("lake"));
    sink.deliver(&cx(), &batch(0, 20, 1024)).await.unwrap();
    // 100 minutes of events: parts for three hours; the second write fails.
    store.mode.store(FAIL_AFTER_ONE, Ordering::SeqCst);
    let error = sink.deliver(&cx(), &batch(20, 100, 300)).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
    assert!(
        error.to_string().contains("injected write failure"),
        "{error}"
    );
    assert_eq!(sink.stats().write_failures, 1);

    store.mode.store(NORMAL, Ordering::SeqCst);
    sink.deliver(&cx(), &batch(20, 100, 300)).await.unwrap(); // the engine's retry
    sink.flush(Utc::now()).await.unwrap();
    assert_eq!(
        all_ids(store.as_ref()).await,
        expected(0..120),
        "no loss, no duplicate"
    );
}
