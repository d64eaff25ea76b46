//! The Sentinel sink's encode path: records → Logs Ingestion API bodies (rows shaped for the
//! DCR stream, 64 KB field limit, packed within 1 MB), with and without gzip (level 1), the
//! new byte-copying encoder against the old tree-building one in the same run.
//!
//! `cargo bench --bench sentinel_encode`
//!
//! One thread, so the throughput is records/s per core. Input: 1,000 events from the Okta
//! simulator's generator (about 1.5 KiB of JSON each).
//!
//! - `…/tree/{plain,gzip}`: the encoder as it was (`reference/tree_encoder.rs`).
//! - `…/copy/{plain,gzip}`: `SentinelEncoder` on fresh records: the record's JSON view is
//!   built inside the measurement (Sentinel as the first or only product to read it).
//! - `…/copy_view_shared/{plain,gzip}`: the same with the views already built (another
//!   product's filter read the records first: the fan-out's usual case).

#[path = "reference/okta_events.rs"]
#[allow(dead_code)]
mod okta_events;
#[path = "reference/tree_encoder.rs"]
#[allow(dead_code)]
mod tree_encoder;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ucp::sinks::sentinel::{ColumnMapping, SentinelEncoder};

const RECORDS: usize = 1_000;

fn encode(c: &mut Criterion) {
    let records = okta_events::records(RECORDS);
    let mut group = c.benchmark_group("sentinel_encode");
    group.throughput(Throughput::Elements(RECORDS as u64));
    for (name, mapping, old) in [
        (
            "copy_top_level",
            ColumnMapping::copy_top_level(),
            tree_encoder::Mapping::CopyTopLevel,
        ),
        (
            "raw_column",
            ColumnMapping::raw("RawData"),
            tree_encoder::Mapping::Raw("RawData"),
        ),
    ] {
        let encoder = SentinelEncoder::new(mapping);
        for gzip in [false, true] {
            let label = if gzip { "gzip" } else { "plain" };
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/tree"), label),
                &gzip,
                |b, &gzip| {
                    b.iter(|| {
                        let bodies = tree_encoder::encode(&old, &records, gzip);
                        assert!(!bodies.is_empty());
                        bodies
                    })
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/copy"), label),
                &gzip,
                |b, &gzip| {
                    b.iter_batched(
                        || okta_events::fresh(&records),
                        |fresh| {
                            let encoded = encoder.encode(&fresh);
                            let bodies = encoded.to_bodies(gzip).expect("bodies");
                            assert!(encoded.rejected.is_empty() && !bodies.is_empty());
                            (bodies, fresh)
                        },
                        BatchSize::LargeInput,
                    )
                },
            );
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/copy_view_shared"), label),
                &gzip,
                |b, &gzip| {
                    for r in &records {
                        r.json();
                    }
                    b.iter(|| {
                        let encoded = encoder.encode(&records);
                        let bodies = encoded.to_bodies(gzip).expect("bodies");
                        assert!(encoded.rejected.is_empty() && !bodies.is_empty());
                        bodies
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
