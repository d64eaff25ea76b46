//! The Sentinel sink's encode path: records → Logs Ingestion API bodies (rows shaped for the
//! DCR stream, 64 KB field limit, packed within 1 MB), with and without gzip.
//!
//! `cargo bench --bench sentinel_encode`
//!
//! One thread, so the throughput is records/s per core. Input: batches of 1,000 Okta-shaped
//! events of 1 KiB each.
//!
//! - `sentinel_encode/copy_top_level/{plain,gzip}`: every top-level field a column.
//! - `sentinel_encode/raw_column/{plain,gzip}`: `TimeGenerated` plus the whole event in one
//!   dynamic column.

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ucp::sinks::sentinel::{ColumnMapping, SentinelEncoder};
use ucp::Record;

const RECORDS: usize = 1_000;
const EVENT_BYTES: usize = 1024;

fn records() -> Vec<Record> {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    (0..RECORDS)
        .map(|i| {
            let mut event = serde_json::json!({
                "uuid": format!("evt-{i:08}"),
                "published": (start + chrono::Duration::seconds(i as i64)).to_rfc3339(),
                "eventType": "user.session.start",
                "severity": "INFO",
                "displayMessage": "User login to Okta",
                "actor": {"id": format!("00u{i:017}"), "type": "User",
                          "alternateId": format!("user{i}@contoso.com"), "displayName": "A User"},
                "client": {"ipAddress": "203.0.113.7", "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
                "outcome": {"result": "SUCCESS"},
                "debugContext": {"debugData": {"requestId": format!("req-{i}")}},
            });
            let size = serde_json::to_vec(&event).unwrap().len();
            event["padding"] = serde_json::json!("p".repeat(EVENT_BYTES.saturating_sub(size + 14)));
            let payload = serde_json::to_vec(&event).unwrap();
            Record::new(format!("evt-{i:08}"), start, payload)
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("sentinel_encode");
    group.throughput(Throughput::Elements(RECORDS as u64));
    for (name, mapping) in [
        ("copy_top_level", ColumnMapping::copy_top_level()),
        ("raw_column", ColumnMapping::raw("RawData")),
    ] {
        let encoder = SentinelEncoder::new(mapping);
        for gzip in [false, true] {
            let label = if gzip { "gzip" } else { "plain" };
            group.bench_with_input(BenchmarkId::new(name, label), &gzip, |b, &gzip| {
                b.iter(|| {
                    let encoded = encoder.encode(&records);
                    let bodies = encoded.to_bodies(gzip).unwrap();
                    assert!(encoded.rejected.is_empty() && !bodies.is_empty());
                    bodies
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
