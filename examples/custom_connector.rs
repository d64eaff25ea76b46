//! A partner's connector run for three products with their own filters: a `Source` for the
//! "Acme" events API and a `Sink` for products that take NDJSON files.
//!
//! The connector itself is one file, `custom_connector/acme.rs`: all a partner writes. Next
//! to it, `custom_connector/conformance.rs` runs the testkit's conformance suites on it (a
//! partner's own tests would hold the same few lines). Both are modules of this example by
//! `#[path]`, and the root package's `tests/custom_connector_conformance.rs` includes the
//! same two files, so CI proves the example's connector passes the suites.
//!
//! With no configuration it starts Acme's API simulator on 127.0.0.1 (a backlog plus a live
//! event every 100 ms), so it runs anywhere:
//!
//! ```text
//! cargo run --release --example custom_connector -- --duration 10
//! cargo run --release --example custom_connector -- --conformance
//! ```
//!
//! It prints progress every second and ends with a summary: how many calls the API
//! received (once per round for all three products), what each product got, and health.
//! With `--conformance` it instead runs the source suite on `AcmeSource` (against the
//! simulator, with faults injected) and the sink suite on `NdjsonProduct`, prints both
//! reports, and exits with an error if a check failed.

#[path = "custom_connector/acme.rs"]
mod acme;
#[path = "custom_connector/conformance.rs"]
mod conformance;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ucp::*;
use ucp_testkit::demo_api::DemoApi;
use ucp_testkit::EventLog;

use acme::NdjsonProduct;
use ucp::credentials::CredentialStore;
use ucp::credentials::{Credential, CredentialRef, MemoryCredentials};
use ucp::health::MemoryHealth;
use ucp::store::MemoryCheckpoints;

/// Run the conformance suites on the connector and print their reports.
async fn run_conformance() -> Result<(), Box<dyn std::error::Error>> {
    let source = conformance::source_report().await;
    println!("AcmeSource {source}");
    let sink = conformance::sink_report().await;
    println!("NdjsonProduct {sink}");
    let failed = source.failed().len() + sink.failed().len();
    if failed > 0 {
        return Err(format!("{failed} conformance check(s) failed").into());
    }
    println!("every applicable check passed");
    Ok(())
}

// ---------------------------------------------------------------- running it

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    if std::env::args().any(|a| a == "--conformance") {
        return run_conformance().await;
    }
    let duration = std::env::args()
        .skip_while(|a| a != "--duration")
        .nth(1)
        .map(|d| d.parse::<u64>())
        .transpose()?
        .unwrap_or(10);

    // Acme's API, simulated on loopback: 2,000 events of backlog, then one every 100 ms.
    let log = EventLog::new();
    log.generate(2_000, Utc::now() - chrono::Duration::hours(1));
    let api = DemoApi::start(log.clone(), "acme-demo-token", 120).await?;
    let live = log.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            live.generate(1, Utc::now());
        }
    });

    // Authenticate once: the token lives in the credential store, not in the connector.
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new("contoso", "acme"),
            Credential::ApiToken {
                token: "acme-demo-token".into(),
            },
        )
        .await?;

    let out = PathBuf::from("ucp-out/custom_connector");
    let _ = tokio::fs::remove_dir_all(&out).await;
    let health = Arc::new(MemoryHealth::new());
    // The source, built from the connector's catalog entry as a management API builds it.
    let source = acme::definition()?.factory().build(
        &serde_json::json!({"base_url": api.base_url(), "account": "contoso"}),
        &catalog::CredentialRefs::new().with("api", CredentialRef::new("contoso", "acme")),
    )?;
    let sink = |product: &str| {
        Arc::new(NdjsonProduct::new(out.join(format!("{product}.ndjson")))) as Arc<dyn Sink>
    };
    let auth = Filter::starts_with("/eventType", "user.authentication")
        .or(Filter::starts_with("/eventType", "user.session"));
    let changes = Filter::is_in(
        "/eventType",
        [
            "group.user_membership.add",
            "application.user_membership.add",
            "user.account.lock",
        ],
    );

    // Connect once, collect once: three products subscribe to the same stream.
    let platform = Platform::builder()
        .credentials(credentials)
        .health(health.clone())
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .tenant_source("contoso", "acme-contoso", source)
        .tenant_sink("contoso", "sentinel", sink("sentinel"))
        .tenant_sink("contoso", "mdi", sink("mdi"))
        .tenant_sink("contoso", "xspm", sink("xspm"))
        .max_jitter(Duration::ZERO)
        .subscribe(
            Subscription::new("sentinel", "acme-contoso", "events").every(Duration::from_secs(2)),
        )
        .subscribe(
            Subscription::new("mdi", "acme-contoso", "events")
                .every(Duration::from_secs(2))
                .filter(auth.clone()),
        )
        .subscribe(
            Subscription::new("xspm", "acme-contoso", "events")
                .every(Duration::from_secs(4))
                .filter(changes.clone()),
        )
        .build()?;
    for job in &platform.plan().jobs {
        println!(
            "plan: {} every {:?} for {}",
            job.stream,
            job.effective_interval,
            job.subscribers.join(", ")
        );
    }
    let running = platform.start().await?;
    for outcome in running.check().await {
        println!("check: {outcome:?}");
    }

    for second in 1..=duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stats = running.stats().await;
        let got = |p: &str| {
            stats
                .subscription(p, "acme-contoso", "events")
                .map_or(0, |s| s.records_delivered)
        };
        println!(
            "[{second:>3}s] api calls {:>4} | sentinel {:>6} | mdi {:>6} | xspm {:>6}",
            api.requests(),
            got("sentinel"),
            got("mdi"),
            got("xspm")
        );
    }

    let stats = running.stats().await;
    running.shutdown().await?;
    let job = stats.job("acme-contoso", "events").ok_or("no job")?;
    println!("\nsummary");
    println!(
        "  source API calls           {:>8}  (calls saved by collecting once: {})",
        api.requests(),
        job.calls_saved
    );
    println!("  records collected          {:>8}", job.records_collected);
    for (product, filter) in [
        ("sentinel", None),
        ("mdi", Some(&auth)),
        ("xspm", Some(&changes)),
    ] {
        let s = stats
            .subscription(product, "acme-contoso", "events")
            .ok_or("no subscription")?;
        let expected = log.ids_matching(filter).len();
        println!(
            "  {product:<9} delivered {:>8}  filtered out {:>8}  → {}  (the log holds {expected} such events by now)",
            s.records_delivered,
            s.filtered_out,
            out.join(format!("{product}.ndjson")).display()
        );
    }
    for event in health.events() {
        println!(
            "  health: {} {} → {}: {}",
            event.component, event.previous, event.status, event.message
        );
    }
    Ok(())
}
