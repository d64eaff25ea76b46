//! The fan-out's filter path: a typical product filter (`starts_with` on `/eventType`) over
//! a page of Okta events, on one thread (records/s per core).
//!
//! `cargo bench --bench filter`
//!
//! - `filter/starts_with_eventType/shared_view`: the filter on records whose JSON view is
//!   built (what every product's filter after the first costs; the view is per record and
//!   shared).
//! - `…/first_read`: on fresh records: building the view (checking the whole event and
//!   indexing its top-level fields) is inside the measurement — the per-page cost paid once
//!   for all products.
//! - `…/serde_tree`: the reference, as the fan-out did before: `serde_json::Value` parsed
//!   per record, then `Filter::matches`.
//!
//! Input: 1,000 events from the Okta simulator's generator (about 1.5 KiB each).

#[path = "reference/okta_events.rs"]
#[allow(dead_code)]
mod okta_events;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ucp::Filter;

const RECORDS: usize = 1_000;

fn filter(c: &mut Criterion) {
    let records = okta_events::records(RECORDS);
    let mdi = Filter::starts_with("/eventType", "user.authentication");
    let expected = records
        .iter()
        .filter(|r| {
            serde_json::from_slice(&r.payload)
                .map(|doc| mdi.matches(&doc))
                .unwrap_or(false)
        })
        .count();
    assert!(expected > 0 && expected < RECORDS);
    let mut group = c.benchmark_group("filter/starts_with_eventType");
    group.throughput(Throughput::Elements(RECORDS as u64));
    for r in &records {
        r.json();
    }
    group.bench_function("shared_view", |b| {
        b.iter(|| {
            let n = records
                .iter()
                .filter(|r| mdi.matches_json(&r.json()))
                .count();
            assert_eq!(n, expected);
            n
        })
    });
    group.bench_function("first_read", |b| {
        b.iter_batched(
            || okta_events::fresh(&records),
            |fresh| {
                let n = fresh.iter().filter(|r| mdi.matches_json(&r.json())).count();
                assert_eq!(n, expected);
                (n, fresh)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("serde_tree", |b| {
        b.iter(|| {
            let n = records
                .iter()
                .filter(|r| {
                    serde_json::from_slice::<serde_json::Value>(&r.payload)
                        .map(|doc| mdi.matches(&doc))
                        .unwrap_or(false)
                })
                .count();
            assert_eq!(n, expected);
            n
        })
    });
    group.finish();
}

criterion_group!(benches, filter);
criterion_main!(benches);
