//! The scale lab at any size: one platform, N simulated Okta orgs, three products each.
//!
//! ```text
//! cargo run --release -p ucp-testkit --example scale_lab -- --tenants 1000 --seconds 60
//! ```
//!
//! Options: `--tenants N` (default 100), `--seconds S` of live collection (default 30),
//! `--interval-ms I` per subscription (default 5000), `--eps E` mean events per second per
//! org (default 2), `--drain S` seconds to wait for the last events (default 30). Large runs
//! open two sockets per org: raise `ulimit -n` first. Prints Markdown tables for
//! BENCHMARKS.md.

use std::sync::Arc;
use std::time::Duration;

use ucp_core::Source;
use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_testkit::scale::{self, ScaleConfig, CREDENTIAL};

fn arg(args: &[String], name: &str) -> Option<f64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let config = ScaleConfig {
        tenants: arg(&args, "--tenants").unwrap_or(100.0) as usize,
        run_for: Duration::from_secs_f64(arg(&args, "--seconds").unwrap_or(30.0)),
        drain: Duration::from_secs_f64(arg(&args, "--drain").unwrap_or(30.0)),
        interval: Duration::from_millis(arg(&args, "--interval-ms").unwrap_or(5000.0) as u64),
        events_per_second: arg(&args, "--eps").unwrap_or(2.0),
        rate_limit_per_minute: 600,
        backlog: 20,
    };
    eprintln!("scale lab: {config:?}");
    let report = scale::run(&config, |sim| {
        let source = OktaSource::new(
            OktaConfig::new(sim.base_url(), CREDENTIAL).start_ago(Duration::from_secs(3600)),
        )
        .map_err(|e| e.to_string())?;
        Ok(Arc::new(source) as Arc<dyn Source>)
    })
    .await?;
    println!("{report}");
    if report.missing > 0 || report.duplicates > 0 || report.misrouted > 0 || report.throttled > 0 {
        eprintln!(
            "scale lab: {} missing, {} duplicates, {} misrouted, {} throttled",
            report.missing, report.duplicates, report.misrouted, report.throttled
        );
        std::process::exit(1);
    }
    Ok(())
}
