//! Fan-out throughput and re-plan time (issue: core engine).
//!
//! `cargo bench --bench fanout`
//!
//! - `fanout/sinks/N`: a platform collects 1 KiB records in batches of 1,000 from an
//!   in-process source and delivers them to N no-op sinks; throughput in records/s.
//! - `replan/10k_subscriptions_3k_streams`: time to compute the plan for 10,000
//!   subscriptions over 3,000 streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ucp::*;
use ucp::{BudgetKey, BudgetSpec};

const BATCH: usize = 1_000;
const BATCHES: usize = 20;

/// Serves `BATCHES` pages of `BATCH` 1 KiB records, then nothing.
struct Pages {
    pages: Vec<Vec<Record>>,
}

#[async_trait]
impl Source for Pages {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "bench".into(),
            streams: vec![StreamInfo::new("events", "")],
            capabilities: SourceCapabilities::default(),
            budget: BudgetSpec::new(
                BudgetKey::new("bench", "a"),
                1_000_000_000,
                Duration::from_secs(1),
            ),
        }
    }
    async fn check(&self, _cx: &SourceContext) -> Result<(), SourceError> {
        Ok(())
    }
    async fn collect(&self, _cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let at: usize = req
            .cursor
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let records = self.pages.get(at).cloned().unwrap_or_default();
        Ok(Page {
            records,
            next: Cursor::new((at + 1).min(self.pages.len()).to_string()),
            more: at + 1 < self.pages.len(),
            hint: None,
        })
    }
}

/// Counts records, and signals when it has seen them all.
#[derive(Default)]
struct Counting {
    seen: Arc<AtomicU64>,
    done: Arc<tokio::sync::Notify>,
    target: u64,
}

#[async_trait]
impl Sink for Counting {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("noop")
    }
    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }
    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        if self.seen.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64
            >= self.target
        {
            self.done.notify_one();
        }
        Ok(Delivery::all())
    }
}

fn pages() -> Vec<Vec<Record>> {
    let body = format!(
        "{{\"eventType\":\"user.session.start\",\"pad\":\"{}\"}}",
        "x".repeat(1024 - 48)
    );
    let now = Utc::now();
    (0..BATCHES)
        .map(|p| {
            (0..BATCH)
                .map(|i| Record::new(format!("{p}-{i}"), now, body.clone()))
                .collect()
        })
        .collect()
}

fn fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pages = pages();
    let mut group = c.benchmark_group("fanout");
    group.throughput(Throughput::Elements((BATCH * BATCHES) as u64));
    group.sample_size(20);
    for sinks in [1usize, 3, 10] {
        group.bench_with_input(BenchmarkId::new("sinks", sinks), &sinks, |b, &sinks| {
            b.to_async(&runtime).iter(|| {
                let pages = pages.clone();
                async move {
                    let mut builder = Platform::builder()
                        .max_jitter(Duration::ZERO)
                        .dedup_window(Duration::from_secs(60), 0)
                        .source("src", Pages { pages });
                    let mut dones = Vec::new();
                    for n in 0..sinks {
                        let done = Arc::new(tokio::sync::Notify::new());
                        dones.push(done.clone());
                        let sink = Counting {
                            seen: Arc::new(AtomicU64::new(0)),
                            done,
                            target: (BATCH * BATCHES) as u64,
                        };
                        builder = builder.sink(format!("s{n}"), sink).subscribe(
                            Subscription::new(format!("s{n}"), "src", "events")
                                .every(Duration::from_secs(3600)),
                        );
                    }
                    let running = builder
                        .build()
                        .expect("config")
                        .start()
                        .await
                        .expect("start");
                    for done in dones {
                        done.notified().await;
                    }
                    running.shutdown().await.expect("shutdown");
                }
            });
        });
    }
    group.finish();
}

/// A source that only describes itself: the re-plan bench never starts it.
struct Described(SourceInfo);

#[async_trait]
impl Source for Described {
    fn describe(&self) -> SourceInfo {
        self.0.clone()
    }

    async fn check(&self, _cx: &SourceContext) -> Result<(), SourceError> {
        Ok(())
    }

    async fn collect(
        &self,
        _cx: &SourceContext,
        _req: CollectRequest,
    ) -> Result<Page, SourceError> {
        Ok(Page::default())
    }
}

fn replan(c: &mut Criterion) {
    let mut builder = Platform::builder();
    for s in 0..1_000 {
        builder = builder.source(
            format!("src{s}"),
            Described(SourceInfo {
                provider: "okta".into(),
                streams: (0..3)
                    .map(|k| StreamInfo::new(format!("stream{k}"), ""))
                    .collect(),
                capabilities: SourceCapabilities::default().with_server_side_filter(true),
                budget: BudgetSpec::new(
                    BudgetKey::new("okta", format!("org{s}")),
                    600,
                    Duration::from_secs(60),
                ),
            }),
        );
    }
    for p in 0..4 {
        builder = builder.sink(format!("product{p}"), Counting::default());
    }
    for i in 0..10_000usize {
        let stream = i % 3_000;
        let sub = Subscription::new(
            format!("product{}", i / 3_000),
            format!("src{}", stream / 3),
            format!("stream{}", stream % 3),
        )
        .every(Duration::from_secs(60 * (1 + (i % 5) as u64)))
        .filter(Filter::starts_with("/eventType", format!("type{}", i % 7)));
        builder = builder.subscribe(sub);
    }
    let platform = builder.build().expect("a valid configuration");
    c.bench_function("replan/10k_subscriptions_3k_streams", |b| {
        b.iter(|| {
            let plan = platform.plan();
            assert_eq!(plan.jobs.len(), 3_000);
            plan
        })
    });
}

criterion_group!(benches, fanout, replan);
criterion_main!(benches);
