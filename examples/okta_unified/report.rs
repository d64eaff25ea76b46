//! What the demo prints: the setup (org, products, the one planned job), a progress line per
//! second, the final summary (calls, records, what each product holds), the health service's
//! table, the state a durable run resumes from, and the volume chart. The summary waits for the
//! last deliveries to settle first, so its figures match what the endpoints hold.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ucp::sources::okta::{OktaAuth, SYSTEM_LOG};
use ucp::SubscriptionId;
use ucp::*;

use crate::args::Args;
use crate::endpoints::Endpoints;
use crate::landed::{files_line, Landed};
use crate::org::Org;
use crate::products::Product;
use crate::{CONNECTOR, TENANT};
use ucp::health::{render_volume_svg, BinSize, HealthService, VolumeQuery};
use ucp::store::CheckpointStore;
use ucp::store::DurableStore;

/// The setup: the org, where the products are, the demo speed, each subscription and the
/// one job the platform planned for all three.
pub fn setup(
    org: &Org,
    endpoints: Option<&Endpoints>,
    out: &Path,
    args: &Args,
    products: &[Product],
    plan: &Plan,
) {
    match org {
        Org::Simulated(sim) => println!(
            "Okta org (simulated) at {}: developer org, 20 calls/min, ucp uses at most half",
            sim.base_url()
        ),
        Org::Real { url, auth } => println!(
            "Okta org {url} (real, {}; budget learned from its headers)",
            match auth {
                OktaAuth::OAuth { .. } => "OAuth service app, scope okta.logs.read",
                _ => "SSWS API token",
            }
        ),
    }
    match endpoints {
        Some(endpoints) => println!("{}", endpoints.describe()),
        None => println!("products: NDJSON files under {}", out.display()),
    }
    println!(
        "demo time runs at {}x: {} real seconds = {:.0} demo minutes",
        args.speed,
        args.duration,
        args.duration as f64 * args.speed / 60.0
    );
    for p in products {
        println!(
            "subscribe {:<8} every {:>2} demo min  {:<38} -> {}",
            p.name,
            (p.every.as_secs_f64() * args.speed / 60.0).round(),
            p.rule,
            p.sink.target()
        );
    }
    for job in &plan.jobs {
        println!(
            "plan: ONE job collects {} every {:.1} s for {}",
            job.stream,
            job.effective_interval.as_secs_f64(),
            job.subscribers.join(", ")
        );
    }
}

/// What a durable run starts from: the saved cursor and what each product has queued.
pub async fn resume(
    store: &DurableStore,
    products: &[Product],
) -> Result<(), Box<dyn std::error::Error>> {
    let cursor = store.load(&StreamKey::new(CONNECTOR, SYSTEM_LOG)).await?;
    match cursor {
        Some(cursor) => println!(
            "durable state {}: resuming after {cursor}",
            store.path().display()
        ),
        None => println!("durable state {}: first run", store.path().display()),
    }
    if let Some(recovery) = store.recovery() {
        println!("  {recovery}");
    }
    for p in products {
        let id = SubscriptionId {
            product: p.name.to_string(),
            stream: StreamKey::new(CONNECTOR, SYSTEM_LOG),
        };
        let queued = store.queue_len(&id).await?;
        if queued > 0 {
            println!(
                "  {} resumes with {queued} batches still queued for it",
                p.name
            );
        }
    }
    Ok(())
}

/// Records delivered to one product so far.
fn delivered(stats: &PlatformStats, product: &str) -> u64 {
    stats
        .subscription(product, CONNECTOR, SYSTEM_LOG)
        .map_or(0, |s| s.records_delivered)
}

/// One line a second: calls the org received, records collected and delivered per product.
pub fn progress(second: u64, org: &Org, stats: &PlatformStats, products: &[Product], speed: f64) {
    let job = stats.job(CONNECTOR, SYSTEM_LOG);
    let (calls, throttled) = match org {
        Org::Simulated(sim) => (sim.requests(), sim.throttled()),
        Org::Real { .. } => (
            job.map_or(0, |j| j.source_calls),
            job.map_or(0, |j| j.throttled),
        ),
    };
    let paused = stats.budgets.iter().any(|b| b.paused_until.is_some());
    let mut line = format!(
        "[{second:>3}s | demo {:>4.0} min] okta calls {calls:>3} (429: {throttled}) | collected {:>6}",
        second as f64 * speed / 60.0,
        job.map_or(0, |j| j.records_collected)
    );
    for p in products {
        line.push_str(&format!(" | {} {:>6}", p.name, delivered(stats, p.name)));
    }
    if paused {
        line.push_str(" | budget paused until the org's reset");
    }
    println!("{line}");
}

/// The summary table: calls, budget, records, and what each product holds.
pub fn summary(
    org: &Org,
    stats: &PlatformStats,
    products: &[Product],
    landed: &[Landed],
    endpoints: Option<&Endpoints>,
    budget_key: &BudgetKey,
    args: &Args,
) {
    let job = stats.job(CONNECTOR, SYSTEM_LOG);
    let budget = stats.budgets.iter().find(|b| &b.key == budget_key);
    println!(
        "\nsummary ({} s real, {:.0} demo minutes)",
        args.duration,
        args.duration as f64 * args.speed / 60.0
    );
    match org {
        Org::Simulated(sim) => {
            println!(
                "  source API calls     {:>8}   (counted by the org; ucp's job made {}, the check 1)",
                sim.requests(),
                job.map_or(0, |j| j.source_calls)
            );
            println!("  429s received        {:>8}", sim.throttled());
        }
        Org::Real { .. } => {
            println!(
                "  source API calls     {:>8}   (collection calls, plus 1 check)",
                job.map_or(0, |j| j.source_calls)
            );
            println!(
                "  calls on the budget  {:>8}   (with the check and any OAuth token requests)",
                budget.map_or(0, |b| b.calls)
            );
            println!(
                "  429s received        {:>8}",
                job.map_or(0, |j| j.throttled)
            );
        }
    }
    println!(
        "  calls saved          {:>8}   (what two more per-product connectors would have made)",
        job.map_or(0, |j| j.calls_saved)
    );
    if let Some(b) = budget {
        let demo_minute = 60.0 / args.speed;
        println!(
            "  budget {}: ucp may make {} calls per {:.1} s ({:.0} per demo minute)",
            b.key,
            b.allowed,
            b.per.as_secs_f64(),
            b.allowed as f64 * demo_minute / b.per.as_secs_f64()
        );
    }
    println!(
        "  records collected    {:>8}   (duplicates dropped: {})",
        job.map_or(0, |j| j.records_collected),
        job.map_or(0, |j| j.duplicates_dropped)
    );
    let truth = match org {
        Org::Simulated(sim) => Some(sim.visible_events()),
        Org::Real { .. } => None,
    };
    let header = match landed.first() {
        Some(Landed::Endpoint { .. }) => "at the product",
        _ => "output",
    };
    println!(
        "\n  {:<9} {:<38} {:>9} {:>7}  {header}",
        "product", "filter", "delivered", "in org"
    );
    for (p, landed) in products.iter().zip(landed) {
        let in_org = truth.as_ref().map_or("-".to_string(), |events| {
            events
                .iter()
                .filter(|e| {
                    p.filter.as_ref().is_none_or(|f| {
                        serde_json::from_str(&e.json).is_ok_and(|doc| f.matches(&doc))
                    })
                })
                .count()
                .to_string()
        });
        let output = match landed {
            Landed::Files(files) => files_line(files),
            Landed::Endpoint { count, unit, .. } => format!("{count:>7} {unit}"),
        };
        println!(
            "  {:<9} {:<38} {:>9} {:>7}  {output}",
            p.name,
            p.rule,
            delivered(stats, p.name),
            in_org
        );
    }
    if truth.is_some() {
        println!("  (\"in org\": matching events the org holds now, including the last second's, not yet collected)");
    }
    let places: Vec<_> = products
        .iter()
        .zip(landed)
        .filter_map(|(p, landed)| match landed {
            Landed::Endpoint {
                place,
                calls,
                emulated,
                ..
            } => Some((p.name, place, calls, *emulated)),
            Landed::Files(_) => None,
        })
        .collect();
    match places.first() {
        Some((.., true)) => println!("\n  product endpoints (emulated on 127.0.0.1, empty at the start of every run; counted by them)"),
        Some((.., false)) => println!("\n  product endpoints (real; calls made and rows or messages accepted, as the sinks counted their answers)"),
        None => {}
    }
    for (name, place, calls, _) in places {
        println!("  {name:<9} {place:<58} {calls}");
    }
    if let Some(Endpoints::Emulated(e)) = endpoints {
        println!(
            "  {:<9} {:<58} {} token requests (one per scope, shared by sentinel's and xspm's calls)",
            "entra",
            "Entra ID token endpoint",
            e.tokens.token_requests()
        );
    }
}

/// The stats once deliveries settle (every product queue empty and nothing new delivered
/// for 100 ms; at most 2 s), so that they match what the endpoints hold.
pub async fn settled_stats(running: &RunningPlatform) -> PlatformStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut last = running.stats().await;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = running.stats().await;
        let same = now
            .subscriptions
            .iter()
            .zip(&last.subscriptions)
            .all(|(a, b)| a.queue_depth == 0 && a.records_delivered == b.records_delivered);
        if same || tokio::time::Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

/// The health service's table: status per connector and part, and the last messages.
pub async fn health(health: &HealthService) -> Result<(), Box<dyn std::error::Error>> {
    println!("\nhealth (from the health service's table; real times)");
    for (connector, rows) in health.table().last_messages_per_connector(4).await? {
        println!(
            "  {}/{}: {}",
            connector.tenant, connector.connector, connector.status
        );
        for part in &connector.parts {
            println!(
                "    {:<22} {:<8} since {}  {}",
                part.product.as_deref().unwrap_or("(collection)"),
                part.status.to_string(),
                part.since.format("%H:%M:%S"),
                part.message
            );
        }
        println!("    last messages:");
        for row in rows {
            println!(
                "      {} {:<8} {:<10} {}",
                row.time.format("%H:%M:%S"),
                row.status.to_string(),
                row.kind.to_string(),
                row.message
            );
        }
    }
    Ok(())
}

/// The volume chart, `volumes.svg` under `out`: records per demo minute, collected and
/// delivered to each product.
pub fn volume_chart(
    health: &HealthService,
    products: &[Product],
    out: &Path,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let svg_path = out.join("volumes.svg");
    let mut series = health.volumes().query(
        &VolumeQuery::collected(TENANT, CONNECTOR, BinSize::Minute, start, end)
            .expect_streams([SYSTEM_LOG]),
    )?;
    for p in products {
        series.extend(
            health.volumes().query(
                &VolumeQuery::collected(TENANT, CONNECTOR, BinSize::Minute, start, end)
                    .delivered_to(p.name)
                    .expect_streams([SYSTEM_LOG]),
            )?,
        );
    }
    let svg = render_volume_svg(&series, "Okta System Log: records per demo minute")?;
    std::fs::write(&svg_path, svg)?;
    println!(
        "\nvolume chart (records per demo minute, collected and per product; the time axis is demo time): {}",
        svg_path.display()
    );
    Ok(())
}
