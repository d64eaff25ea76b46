//! Heap allocations per record on the per-product hot path, old against new, counted by a
//! counting global allocator (this binary only: the timed benches run without it).
//!
//! `cargo bench --bench allocations`
//!
//! Input: 1,000 events from the Okta simulator's generator. Each path runs once to warm the
//! reused buffers and deflate states, then is counted over three batches.

#[path = "reference/okta_events.rs"]
#[allow(dead_code)]
mod okta_events;
#[path = "reference/tree_encoder.rs"]
#[allow(dead_code)]
mod tree_encoder;

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use ucp::sinks::eventhubs::EventHubsEncoder;
use ucp::sinks::sentinel::{ColumnMapping, SentinelEncoder};
use ucp::{Filter, Record, StreamKey};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const RECORDS: usize = 1_000;

/// One way of handling a batch.
type Path<'a> = dyn Fn(&[Record]) + 'a;
const BATCHES: usize = 3;

/// Allocations and allocated bytes per record of `run` over fresh copies of `records`
/// (made outside the count).
fn per_record(records: &[Record], shared_views: bool, run: &dyn Fn(&[Record])) -> (f64, f64) {
    let prepare = || {
        let fresh = okta_events::fresh(records);
        if shared_views {
            for r in &fresh {
                r.json();
            }
        }
        fresh
    };
    run(&prepare());
    let mut allocations = 0;
    let mut bytes = 0;
    for _ in 0..BATCHES {
        let batch = prepare();
        let region = Region::new(GLOBAL);
        run(&batch);
        let change = region.change();
        allocations += change.allocations + change.reallocations;
        bytes += change.bytes_allocated;
        drop(batch);
    }
    let n = (RECORDS * BATCHES) as f64;
    (allocations as f64 / n, bytes as f64 / n)
}

/// The Event Hubs message as the sink wrote it before: a serde struct per message, the
/// event parsed into a tree for its partition key, the time as a `String`.
fn old_event_hubs(stream: &StreamKey, records: &[Record]) -> usize {
    #[derive(serde::Serialize)]
    struct Message<'a> {
        #[serde(rename = "Body")]
        body: &'a str,
        #[serde(rename = "UserProperties")]
        user: User<'a>,
        #[serde(rename = "BrokerProperties")]
        broker: Option<Broker>,
    }
    #[derive(serde::Serialize)]
    struct User<'a> {
        #[serde(rename = "ucp.id")]
        id: &'a str,
        #[serde(rename = "ucp.source")]
        source: &'a str,
        #[serde(rename = "ucp.stream")]
        stream: &'a str,
        #[serde(rename = "ucp.time")]
        time: String,
    }
    #[derive(serde::Serialize)]
    struct Broker {
        #[serde(rename = "PartitionKey")]
        key: String,
    }
    let mut chunk = Vec::new();
    for record in records {
        let body = std::str::from_utf8(&record.payload).unwrap_or_default();
        let event: serde_json::Value = serde_json::from_slice(&record.payload).unwrap_or_default();
        let key = match event.pointer("/actor/id") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let message = serde_json::to_vec(&Message {
            body,
            user: User {
                id: record.id.as_str(),
                source: &stream.source,
                stream: &stream.stream,
                time: record.time.to_rfc3339(),
            },
            broker: key.map(|key| Broker { key }),
        })
        .unwrap_or_default();
        chunk.extend_from_slice(&message);
    }
    chunk.len()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let records = okta_events::records(RECORDS);
    let mdi = Filter::starts_with("/eventType", "user.authentication");
    let sentinel = SentinelEncoder::new(ColumnMapping::copy_top_level());
    let hubs = EventHubsEncoder::new(Some("/actor/id".into()), 1024 * 1024);
    let stream = StreamKey::new("okta", "system_log");
    let filter_new = |rs: &[Record]| {
        std::hint::black_box(rs.iter().filter(|r| mdi.matches_json(&r.json())).count());
    };
    let filter_old = |rs: &[Record]| {
        std::hint::black_box(
            rs.iter()
                .filter(|r| {
                    serde_json::from_slice(&r.payload)
                        .map(|d| mdi.matches(&d))
                        .unwrap_or(false)
                })
                .count(),
        );
    };
    let sentinel = &sentinel;
    let sentinel_new = |gzip: bool| {
        move |rs: &[Record]| {
            let encoded = sentinel.encode(rs);
            std::hint::black_box(encoded.to_bodies(gzip).expect("bodies"));
        }
    };
    let sentinel_old = |gzip: bool| {
        move |rs: &[Record]| {
            std::hint::black_box(tree_encoder::encode(
                &tree_encoder::Mapping::CopyTopLevel,
                rs,
                gzip,
            ));
        }
    };
    let hubs_new = |rs: &[Record]| {
        let encoded = hubs.encode(&stream, rs);
        std::hint::black_box(encoded.to_bodies().expect("bodies"));
    };
    let hubs_old = |rs: &[Record]| {
        std::hint::black_box(old_event_hubs(&stream, rs));
    };
    println!("| path (per record of a 1,000-record batch) | old: allocations | old: bytes | new: allocations | new: bytes |");
    println!("|---|---|---|---|---|");
    let rows: [(&str, &Path<'_>, &Path<'_>, bool); 6] = [
        (
            "filter, first product (view built)",
            &filter_old,
            &filter_new,
            false,
        ),
        (
            "filter, next products (view shared)",
            &filter_old,
            &filter_new,
            true,
        ),
        (
            "Sentinel encode, plain, view built",
            &sentinel_old(false),
            &sentinel_new(false),
            false,
        ),
        (
            "Sentinel encode, gzip, view shared",
            &sentinel_old(true),
            &sentinel_new(true),
            true,
        ),
        (
            "Event Hubs encode (partition key /actor/id), view built",
            &hubs_old,
            &hubs_new,
            false,
        ),
        ("Event Hubs encode, view shared", &hubs_old, &hubs_new, true),
    ];
    for (name, old, new, shared) in rows {
        let (old_n, old_bytes) = per_record(&records, false, old);
        let (new_n, new_bytes) = per_record(&records, shared, new);
        println!("| {name} | {old_n:.2} | {old_bytes:.0} | {new_n:.2} | {new_bytes:.0} |");
    }
}
