//! Disk-writing sinks on a disk that fills up, fails with I/O errors or turns read-only, and
//! comes back: the file sink and the data lake's staging fail the delivery as retryable
//! (naming the file and what to do), never tear a line, roll a file or leave an empty or
//! stray one, and write a retried batch once. Then the flagship scenario: durable queues and
//! file products on one small disk that fills up and frees space again.
//!
//! The disks are real file systems from `ucp_testkit::disk` (root needed; skipped with a
//! message elsewhere, failing under `CI=true`).

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, StringArray};
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ucp_core::credentials::MemoryCredentials;
use ucp_core::health::{HealthKind, MemoryHealth, Status};
use ucp_core::store::DurableStore;
use ucp_core::*;
use ucp_sinks::datalake::{open_store, DataLakeConfig, DataLakeSink};
use ucp_sinks::file::{FileSink, FileSinkConfig};
use ucp_testkit::disk::{require_lab_disks, LabDisk};
use ucp_testkit::{EventLog, EventLogSource};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Full, with a few KiB left so that a batch is written halfway.
    Full,
    Io,
    ReadOnly,
}

const FAULTS: [Fault; 3] = [Fault::Full, Fault::Io, Fault::ReadOnly];

impl Fault {
    fn strike(self, disk: &LabDisk) {
        match self {
            Fault::Full => disk.fill_leaving(6 * 1024),
            Fault::Io => disk.fail_io(),
            Fault::ReadOnly => disk.go_read_only(),
        }
        .unwrap();
    }

    fn clear(self, disk: &mut LabDisk) {
        match self {
            Fault::Full => disk.free(),
            Fault::Io | Fault::ReadOnly => disk.repair(),
        }
        .unwrap();
    }
}

fn cx() -> SinkContext {
    SinkContext::new(
        "product",
        Context::standalone("contoso", Arc::new(MemoryCredentials::new()), Clock::new())
            .expect("a standalone context"),
    )
}

/// Records `from..to`, about 450 bytes each, an event a second from 08:00; the padding is
/// scrambled hex, so that gzip cannot shrink a batch below the space a test leaves.
fn batch(from: usize, to: usize) -> Batch {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let records: Vec<Record> = (from..to)
        .map(|i| {
            let event = serde_json::json!({
                "uuid": format!("e{i}"),
                "eventType": "user.session.start",
                "padding": (0..40u64)
                    .map(|k| format!("{:08x}", (i as u64 * 2_654_435_761 + k * 40_503) % (1 << 32)))
                    .collect::<String>(),
            });
            Record::new(
                format!("e{i}"),
                start + chrono::Duration::seconds(i as i64),
                serde_json::to_vec(&event).unwrap(),
            )
        })
        .collect();
    Batch {
        stream: StreamKey::new("okta", "system_log"),
        records: records.into(),
        cursor_after: Cursor::new(to.to_string()),
    }
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("e{i}")).collect()
}

/// Every file name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The text of a completed file (gzip: one stream, read with a single-stream decoder).
fn text(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(raw).unwrap()
    }
}

/// The ids of every line of `files`; each line must be a whole JSON envelope.
fn line_ids(files: &[PathBuf]) -> Vec<String> {
    let mut ids = Vec::new();
    for file in files {
        let text = text(file);
        assert!(!text.is_empty(), "{} is empty", file.display());
        assert!(
            text.ends_with('\n'),
            "{} ends in a torn line",
            file.display()
        );
        for line in text.lines() {
            let envelope: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: a torn line ({e}): {line}", file.display()));
            ids.push(envelope["id"].as_str().unwrap().to_string());
        }
    }
    ids
}

#[tokio::test]
async fn the_file_sink_cuts_a_failed_write_back_and_writes_the_retry_once() {
    if !require_lab_disks("the_file_sink_cuts_a_failed_write_back") {
        return;
    }
    for gzip in [false, true] {
        for fault in FAULTS {
            let mut disk = LabDisk::ext4(8 << 20).unwrap();
            let dir = disk.path().join("out");
            let config = FileSinkConfig::new("sentinel", &dir)
                .gzip(gzip)
                .max_bytes(200 * 1024);
            let sink = FileSink::open(config).unwrap();
            sink.deliver(&cx(), &batch(0, 100)).await.unwrap();
            let before = names(&dir);

            fault.strike(&disk);
            for _attempt in 0..3 {
                let refused = sink.deliver(&cx(), &batch(100, 200)).await.unwrap_err();
                let SinkError::Retryable { message, .. } = &refused else {
                    panic!("{fault:?}: a retryable failure, got {refused:?}");
                };
                assert!(
                    message.contains(&dir.display().to_string())
                        && message.contains("check the disk's space"),
                    "{fault:?}: names the file and what to do: {message}"
                );
            }
            if let Fault::Full = fault {
                // Still readable: the part holds the first batch, whole, nothing more.
                assert_eq!(names(&dir), before, "gzip={gzip}: no roll, no new file");
                let part = dir.join(&before[0]);
                let size = std::fs::metadata(&part).unwrap().len();
                assert!(size > 0, "the first batch stays");
                if !gzip {
                    let text = std::fs::read_to_string(&part).unwrap();
                    assert_eq!(text.lines().count(), 100, "cut back to the first batch");
                    assert!(text.ends_with('\n'));
                }
            }

            fault.clear(&mut disk);
            sink.deliver(&cx(), &batch(100, 200)).await.unwrap();
            sink.deliver(&cx(), &batch(200, 300)).await.unwrap();
            sink.close().await.unwrap();
            let files = sink.completed_files().unwrap();
            assert_eq!(
                line_ids(&files),
                expected(0..300),
                "gzip={gzip} {fault:?}: every record once, in order"
            );
            let listed = names(&dir);
            assert_eq!(
                listed.len(),
                files.len(),
                "gzip={gzip} {fault:?}: nothing but completed files: {listed:?}"
            );
            assert!(sink.stats().failed_writes >= 3, "{fault:?}");
        }
    }
}

#[tokio::test]
async fn a_file_the_disk_cut_short_is_completed_with_its_whole_lines_and_writing_goes_on() {
    if !require_lab_disks("a_file_the_disk_cut_short_is_completed") {
        return;
    }
    for gzip in [false, true] {
        let mut disk = LabDisk::ext4(8 << 20).unwrap();
        let dir = disk.path().join("out");
        let sink = FileSink::open(FileSinkConfig::new("sentinel", &dir).gzip(gzip)).unwrap();
        // Written to the operating system, not synced (fsync_each_batch is off)…
        sink.deliver(&cx(), &batch(0, 100)).await.unwrap();
        // …when the disk dies: after the repair the part is shorter than what was written.
        disk.fail_io_losing_unsynced().unwrap();
        assert!(sink.deliver(&cx(), &batch(100, 200)).await.is_err());
        disk.repair().unwrap();
        // The damaged part is completed with what it has; the retry starts a new file.
        let _ = sink.deliver(&cx(), &batch(100, 200)).await;
        sink.deliver(&cx(), &batch(100, 200)).await.unwrap();
        sink.deliver(&cx(), &batch(200, 300)).await.unwrap();
        sink.close().await.unwrap();
        let files = sink.completed_files().unwrap();
        assert_eq!(
            names(&dir).len(),
            files.len(),
            "gzip={gzip}: nothing but completed files: {:?}",
            names(&dir)
        );
        let ids = line_ids(&files);
        let tail: Vec<String> = ids
            .iter()
            .filter(|id| id[1..].parse::<usize>().unwrap() >= 100)
            .cloned()
            .collect();
        assert_eq!(
            tail,
            expected(100..300),
            "gzip={gzip}: every batch after, once"
        );
    }
}

/// Ids of every Parquet file under `prefix` (staged parts excluded unless asked).
async fn lake_ids(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    let files: Vec<_> = store
        .list(Some(&StorePath::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for file in files {
        let bytes: Bytes = store
            .get(&file.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            ids.extend((0..column.len()).map(|i| column.value(i).to_string()));
        }
    }
    ids.sort_by_key(|id| id[1..].parse::<usize>().unwrap());
    ids
}

/// Files left anywhere under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn the_data_lake_stages_a_retried_batch_once_and_leaves_no_stray_part() {
    if !require_lab_disks("the_data_lake_stages_a_retried_batch_once") {
        return;
    }
    for fault in FAULTS {
        let mut disk = LabDisk::ext4(16 << 20).unwrap();
        let root = disk.path().join("lake");
        let (store, _) = open_store(&root.display().to_string(), []).unwrap();
        let mut config = DataLakeConfig::new("lake");
        config.roll_bytes = 64 * 1024;
        let sink = DataLakeSink::new(store.clone(), config);
        sink.deliver(&cx(), &batch(0, 100)).await.unwrap();

        fault.strike(&disk);
        let refused = sink.deliver(&cx(), &batch(100, 200)).await.unwrap_err();
        assert!(
            matches!(&refused, SinkError::Retryable { message, .. } if message.contains("could not")),
            "{fault:?}: {refused:?}"
        );

        fault.clear(&mut disk);
        sink.deliver(&cx(), &batch(100, 200)).await.unwrap();
        sink.flush(Utc::now()).await.unwrap();
        assert_eq!(
            lake_ids(store.as_ref(), "lake/system_log").await,
            expected(0..200),
            "{fault:?}: every row once"
        );
        assert_eq!(sink.parts_to_delete().await, 0, "{fault:?}");
        let staging = files_under(&root.join("lake/_staging"));
        assert!(
            staging.is_empty(),
            "{fault:?}: stray staged files {staging:?}"
        );
    }
}

/// The trial, as a test: three products of one stream on durable queues, two
/// writing NDJSON files (one gzip), all on one small disk that fills up while records keep
/// coming, then frees space. Without a restart every record reaches every product within
/// two minutes of the space returning, no file is torn or empty, the storage health goes
/// Error → Ok, and duplicates are counted (at most one batch per product).
#[tokio::test(start_paused = true)]
async fn a_full_disk_under_durable_queues_and_file_products_heals_without_a_restart() {
    if !require_lab_disks("a_full_disk_under_durable_queues_and_file_products") {
        return;
    }
    let disk = LabDisk::tmpfs(12 << 20).unwrap();
    let clock = Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let store = DurableStore::open(disk.path().join("state")).unwrap();
    let log = EventLog::new();
    log.generate(200, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
    let products = [("sentinel", false), ("datalake", true)];
    let sinks: Vec<FileSink> = products
        .iter()
        .map(|(product, gzip)| {
            FileSink::open(
                FileSinkConfig::new(*product, disk.path().join(product))
                    .gzip(*gzip)
                    .max_bytes(256 * 1024),
            )
            .unwrap()
        })
        .collect();
    let health = Arc::new(MemoryHealth::new());
    let retry = RetryPolicy {
        max_backoff: Duration::from_secs(30),
        ..RetryPolicy::default()
    };
    let mut builder = Platform::builder()
        .clock(clock)
        .health(health.clone())
        .durable(store.clone())
        .max_jitter(Duration::ZERO)
        .source("okta", EventLogSource::new("contoso", log.clone(), clock));
    for ((product, _), sink) in products.iter().zip(&sinks) {
        builder = builder.sink(*product, sink.clone()).subscribe(
            Subscription::new(*product, "okta", "events")
                .every(Duration::from_secs(10))
                .durable(8 << 20)
                .retry(retry),
        );
    }
    let running = builder.build().unwrap().start().await.unwrap();
    let minute = |n: u64| Duration::from_secs(60 * n);
    for _ in 0..3 {
        log.generate(100, Utc::now());
        tokio::time::sleep(minute(1)).await;
    }

    disk.fill().unwrap();
    for _ in 0..5 {
        log.generate(100, Utc::now());
        tokio::time::sleep(minute(1)).await;
    }
    let storage_errors = health
        .events()
        .into_iter()
        .filter(|e| e.kind == HealthKind::Storage && e.status == Status::Error)
        .count();
    assert!(storage_errors > 0, "the full disk is an Error in health");

    disk.free().unwrap();
    let freed = tokio::time::Instant::now();
    loop {
        let stats = running.stats().await;
        let all = log.len() as u64;
        if products.iter().all(|(p, _)| {
            stats
                .subscription(p, "okta", "events")
                .is_some_and(|s| s.records_delivered >= all && s.queue_bytes == 0)
        }) {
            break;
        }
        assert!(
            freed.elapsed() < minute(2),
            "every record reaches every product within two minutes of the space returning: {stats:?}"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    running.shutdown().await.unwrap();

    let all = log.ids_matching(None);
    for ((product, _), sink) in products.iter().zip(&sinks) {
        sink.close().await.unwrap();
        let dir = disk.path().join(product);
        let files = sink.completed_files().unwrap();
        assert_eq!(
            names(&dir).len(),
            files.len(),
            "{product}: nothing but completed files"
        );
        let ids = line_ids(&files);
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), all.len(), "{product}: every record");
        assert!(all.iter().all(|id| unique.contains(id)), "{product}");
        let duplicates = ids.len() - unique.len();
        eprintln!("{product}: {} lines, {duplicates} duplicates", ids.len());
        assert!(
            duplicates <= 100,
            "{product}: duplicates bounded by one batch: {duplicates}"
        );
    }
    let storage: Vec<Status> = health
        .events()
        .into_iter()
        .filter(|e| e.kind == HealthKind::Storage && e.component.product.is_none())
        .map(|e| e.status)
        .collect();
    assert_eq!(
        storage.last(),
        Some(&Status::Ok),
        "storage health goes Error → Ok: {storage:?}"
    );
}
