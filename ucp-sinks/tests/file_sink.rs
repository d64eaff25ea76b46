//! The NDJSON file sink: envelope, rolling by size and age, gzip, and files that are only
//! visible once complete (also after a crash).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use serde_json::Value;
use ucp_core::credentials::MemoryCredentials;
use ucp_core::Context;
use ucp_core::{Batch, Clock, Cursor, Record, Sink, SinkContext, StreamKey};
use ucp_sinks::{FileSink, FileSinkConfig};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn cx() -> SinkContext {
    SinkContext::new(
        "sentinel",
        Context::standalone(
            "contoso",
            Arc::new(MemoryCredentials::new()),
            Clock::at(t0()),
        )
        .expect("a standalone context"),
    )
}

fn event(n: usize) -> Record {
    let payload = format!(r#"{{"uuid":"e{n}","eventType":"user.session.start","n":{n}}}"#);
    Record::new(
        format!("e{n}"),
        t0() + chrono::Duration::seconds(n as i64),
        payload,
    )
}

fn batch(records: Vec<Record>) -> Batch {
    Batch {
        stream: StreamKey::new("okta-contoso", "system_log"),
        records: Arc::from(records),
        cursor_after: Cursor::start(),
    }
}

fn batch_of(range: std::ops::Range<usize>) -> Batch {
    batch(range.map(event).collect())
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

fn read_text(path: &PathBuf) -> String {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        // One gzip stream per file: a single-stream decoder reads it all.
        let mut text = String::new();
        GzDecoder::new(&raw[..]).read_to_string(&mut text).unwrap();
        text
    } else {
        String::from_utf8(raw).unwrap()
    }
}

fn lines(files: &[PathBuf]) -> Vec<Value> {
    files
        .iter()
        .flat_map(|f| {
            read_text(f)
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

fn expected_ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("e{n}")).collect()
}

#[tokio::test]
async fn each_line_is_an_envelope_with_id_time_stream_and_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::open(FileSinkConfig::new("sentinel", dir.path())).unwrap();
    let pretty = "{\n  \"uuid\": \"p1\",\n  \"msg\": \"a  b\"\n}";
    let records = vec![
        event(1),
        Record::new("p1", t0(), pretty),
        Record::new("x1", t0(), "not json\nat all"),
    ];
    sink.deliver(&cx(), &batch(records)).await.unwrap();
    let done = sink.close().await.unwrap().unwrap();
    assert_eq!(done.file_name().unwrap(), "sentinel-000001.ndjson");

    let text = read_text(&done);
    assert_eq!(text.lines().count(), 3, "one line per record: {text}");
    let lines = lines(&[done]);
    assert_eq!(lines[0]["id"], "e1");
    assert_eq!(lines[0]["time"], "2026-03-02T09:00:01Z");
    assert_eq!(lines[0]["stream"], "okta-contoso/system_log");
    assert_eq!(
        lines[0]["event"],
        serde_json::from_slice::<Value>(&event(1).payload).unwrap()
    );
    // The first event's bytes are embedded as they came.
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains(std::str::from_utf8(&event(1).payload).unwrap()));
    // A pretty-printed payload is put on one line, strings untouched.
    assert_eq!(lines[1]["event"]["msg"], "a  b");
    assert!(text.contains(r#""event":{"uuid":"p1","msg":"a  b"}"#));
    // Not JSON: kept as a string.
    assert_eq!(lines[2]["event"], "not json\nat all");
    assert_eq!(sink.stats().records, 3);
    assert_eq!(sink.stats().files_completed, 1);
}

#[tokio::test]
async fn files_roll_before_they_exceed_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let line_len = ucp_sinks::file::encode_lines("okta-contoso/system_log", &[event(10)]).len();
    // Room for two 10-record batches of two-digit ids, not three.
    let max = (line_len * 25) as u64;
    let sink = FileSink::open(FileSinkConfig::new("mdi", dir.path()).max_bytes(max)).unwrap();
    for start in (10..70).step_by(10) {
        sink.deliver(&cx(), &batch_of(start..start + 10))
            .await
            .unwrap();
    }
    sink.close().await.unwrap();

    let files = sink.completed_files().unwrap();
    assert_eq!(
        names(dir.path()),
        [
            "mdi-000001.ndjson",
            "mdi-000002.ndjson",
            "mdi-000003.ndjson"
        ]
    );
    for file in &files {
        let size = std::fs::metadata(file).unwrap().len();
        assert!(size <= max, "{} holds {size} bytes > {max}", file.display());
        assert_eq!(read_text(file).lines().count(), 20);
    }
    assert_eq!(ids(&lines(&files)), expected_ids(10..70));
}

#[tokio::test(start_paused = true)]
async fn files_roll_once_they_are_older_than_the_age_limit() {
    let dir = tempfile::tempdir().unwrap();
    let sink =
        FileSink::open(FileSinkConfig::new("xspm", dir.path()).max_age(Duration::from_secs(600)))
            .unwrap();
    sink.deliver(&cx(), &batch_of(0..5)).await.unwrap();
    tokio::time::advance(Duration::from_secs(300)).await;
    sink.deliver(&cx(), &batch_of(5..10)).await.unwrap();
    assert!(sink.completed_files().unwrap().is_empty());

    tokio::time::advance(Duration::from_secs(301)).await;
    sink.deliver(&cx(), &batch_of(10..15)).await.unwrap();
    let first = sink.completed_files().unwrap();
    assert_eq!(first.len(), 1, "the 10-minute-old file was completed");
    assert_eq!(ids(&lines(&first)), expected_ids(0..10));

    sink.close().await.unwrap();
    let all = sink.completed_files().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(ids(&lines(&all)), expected_ids(0..15));
}

#[tokio::test]
async fn gzip_files_are_single_streams_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let line_len = ucp_sinks::file::encode_lines("okta-contoso/system_log", &[event(100)]).len();
    let sink = FileSink::open(
        FileSinkConfig::new("sentinel", dir.path())
            .gzip(true)
            .max_bytes((line_len * 150) as u64),
    )
    .unwrap();
    for start in (100..500).step_by(100) {
        sink.deliver(&cx(), &batch_of(start..start + 100))
            .await
            .unwrap();
    }
    sink.close().await.unwrap();
    let files = sink.completed_files().unwrap();
    assert_eq!(files.len(), 4);
    for file in &files {
        assert!(file.to_string_lossy().ends_with(".ndjson.gz"));
        // Compressed: repetitive JSON shrinks well below its NDJSON size.
        let size = std::fs::metadata(file).unwrap().len() as usize;
        assert!(size < line_len * 100 / 2, "{size} bytes is not compressed");
    }
    assert_eq!(ids(&lines(&files)), expected_ids(100..500));
}

#[tokio::test]
async fn a_file_is_visible_only_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::open(FileSinkConfig::new("mdi", dir.path())).unwrap();
    sink.deliver(&cx(), &batch_of(0..3)).await.unwrap();
    assert_eq!(names(dir.path()), ["mdi-000001.ndjson.part"]);
    assert!(sink.completed_files().unwrap().is_empty());
    // The part already holds what was acknowledged.
    let part = std::fs::read_to_string(dir.path().join("mdi-000001.ndjson.part")).unwrap();
    assert_eq!(part.lines().count(), 3);

    sink.close().await.unwrap();
    assert_eq!(names(dir.path()), ["mdi-000001.ndjson"]);
    // Nothing open: closing again completes nothing.
    assert_eq!(sink.close().await.unwrap(), None);
}

#[tokio::test]
async fn a_part_left_by_a_crash_is_completed_with_whole_lines_only() {
    for gzip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let config = FileSinkConfig::new("sentinel", dir.path()).gzip(gzip);
        let crashed = FileSink::open(config.clone()).unwrap();
        crashed.deliver(&cx(), &batch_of(0..4)).await.unwrap();
        crashed.deliver(&cx(), &batch_of(4..8)).await.unwrap();
        // The process dies: no close, no drop.
        std::mem::forget(crashed);
        let part = names(dir.path()).pop().unwrap();
        assert!(part.ends_with(".part"), "{part}");
        if !gzip {
            // …in the middle of writing a line.
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(dir.path().join(&part))
                .unwrap();
            f.write_all(br#"{"id":"e8","time":"2026-03"#).unwrap();
        }

        let reopened = FileSink::open(config).unwrap();
        let recovered = reopened.completed_files().unwrap();
        assert_eq!(recovered.len(), 1, "gzip={gzip}");
        assert_eq!(ids(&lines(&recovered)), expected_ids(0..8), "gzip={gzip}");
        // New files number on after the recovered one.
        reopened.deliver(&cx(), &batch_of(8..10)).await.unwrap();
        let next = reopened.close().await.unwrap().unwrap();
        let ext = if gzip { "ndjson.gz" } else { "ndjson" };
        assert_eq!(
            next.file_name().unwrap().to_string_lossy(),
            format!("sentinel-000002.{ext}")
        );
        assert_eq!(
            ids(&lines(&reopened.completed_files().unwrap())),
            expected_ids(0..10)
        );
    }
}
