//! The durable queue's throughput and commit cost (issue: durable delivery).
//!
//! `cargo bench --bench disk_queue`
//!
//! - `disk_queue/append_1000x1KiB`: one page of 1,000 records of 1 KiB appended to three
//!   products' queues in one transaction (group commit, one fsync) — records/s per queue.
//! - `disk_queue/append_1x1KiB`: the same with one record: the fixed cost of a commit (fsync).
//! - `disk_queue/read_ack_1000x1KiB`: reading a batch of 1,000 records back and acknowledging
//!   it (its delete commits with an fsync).

use std::sync::Arc;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ucp::store::DurableStore;
use ucp::SubscriptionId;
use ucp::*;

fn batch(records: usize) -> Arc<Batch> {
    let body = format!(
        "{{\"eventType\":\"user.session.start\",\"pad\":\"{}\"}}",
        "x".repeat(1024 - 48)
    );
    let now = Utc::now();
    Arc::new(Batch {
        stream: StreamKey::new("okta", "logs"),
        records: (0..records)
            .map(|i| Record::new(format!("r{i}"), now, body.clone()))
            .collect::<Vec<_>>()
            .into(),
        cursor_after: Cursor::new("next"),
    })
}

fn id(product: &str) -> SubscriptionId {
    SubscriptionId {
        product: product.into(),
        stream: StreamKey::new("okta", "logs"),
    }
}

fn disk_queue(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DurableStore::open(dir.path()).expect("store");
    let products = ["sentinel", "mdi", "xspm"];
    let mut group = c.benchmark_group("disk_queue");
    group.sample_size(20);

    let page = batch(1_000);
    group.throughput(Throughput::Bytes(
        (page.payload_bytes() * products.len()) as u64,
    ));
    group.bench_function("append_1000x1KiB", |b| {
        b.to_async(&runtime).iter(|| async {
            let entries = products.iter().map(|p| (id(p), page.clone())).collect();
            store
                .append(
                    entries,
                    Some((StreamKey::new("okta", "logs"), Cursor::new("next"))),
                )
                .await
                .expect("append");
        })
    });
    // Keep the file from growing without bound between benchmarks.
    runtime.block_on(async {
        for p in products {
            while let Some((seq, _)) = store.front(&id(p)).await.expect("front") {
                store.ack(&id(p), seq).await.expect("ack");
            }
        }
    });

    let one = batch(1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("append_1x1KiB", |b| {
        b.to_async(&runtime).iter(|| async {
            store
                .append(vec![(id("sentinel"), one.clone())], None)
                .await
                .expect("append");
        })
    });

    group.throughput(Throughput::Bytes(page.payload_bytes() as u64));
    group.bench_function("read_ack_1000x1KiB", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (store, page) = (store.clone(), page.clone());
            async move {
                for _ in 0..iters {
                    store
                        .append(vec![(id("mdi"), page.clone())], None)
                        .await
                        .expect("append");
                }
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    let (seq, batch) = store
                        .front(&id("mdi"))
                        .await
                        .expect("front")
                        .expect("a batch");
                    assert_eq!(batch.len(), 1_000);
                    store.ack(&id("mdi"), seq).await.expect("ack");
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

criterion_group!(benches, disk_queue);
criterion_main!(benches);
