//! The out-of-process scale lab at test size: two `scale_world` processes serve twenty
//! orgs (ten each) and their products; a platform in this process (real Okta sources, real Sentinel sinks
//! with gzip) delivers every record to every product its filter admits, once, with no 429,
//! no refused body and one call per round instead of three. The large runs are the root
//! package's `scale_platform` example (BENCHMARKS.md).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ucp_core::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp_core::{Sink, Source};
use ucp_sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_testkit::scale_world::{
    lab_platform, WorldConfig, Worlds, LAB_STREAM, OKTA_CREDENTIAL, PRODUCTS, PRODUCTS_CREDENTIAL,
};

const TENANTS: usize = 20;
const INTERVAL: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tenants_in_other_processes_get_everything_once_without_a_429() {
    let config = WorldConfig {
        tenants: TENANTS,
        first_tenant: 0,
        events_per_second: 4.0,
        backlog: 15,
        rate_limit_per_minute: 600,
        drain: Duration::from_secs(15),
        ..WorldConfig::default()
    };
    let program = Path::new(env!("CARGO_BIN_EXE_scale_world"));
    let mut worlds = Worlds::start(program, &config, TENANTS / 2)
        .await
        .expect("the worlds start");
    assert_eq!(worlds.worlds.len(), 2);
    let tenants: Vec<usize> = worlds.orgs().map(|(_, org)| org.tenant).collect();
    assert_eq!(tenants, (0..TENANTS).collect::<Vec<_>>());
    let tokens = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().expect("an HTTP client"),
    )));
    let platform = lab_platform(
        &worlds,
        INTERVAL,
        |org| {
            let config =
                OktaConfig::new(&org.url, OKTA_CREDENTIAL).start_ago(Duration::from_secs(3600));
            let source = OktaSource::new(config).map_err(|e| e.to_string())?;
            Ok(Arc::new(source) as Arc<dyn Source>)
        },
        |product| {
            let mut config =
                SentinelConfig::new(&product.url, &product.dcr, LAB_STREAM, PRODUCTS_CREDENTIAL);
            config.gzip = true;
            config.product = product.sink_name.clone();
            Arc::new(SentinelSink::new(config, tokens.clone())) as Arc<dyn Sink>
        },
    )
    .await
    .expect("the platform builds");
    let running = platform.start().await.expect("the platform starts");
    worlds.live().expect("the worlds hear the platform runs");
    tokio::time::sleep(4 * INTERVAL).await;
    let report = worlds.settle().await.expect("the worlds report");
    let stats = running.stats().await;
    running.shutdown().await.expect("the platform stops");
    let line = report.line();
    println!("{line}");

    assert!(report.events >= (TENANTS * 15) as u64, "{line}");
    // The siem product takes everything, the other two a part.
    assert!(report.expected > report.events, "{line}");
    assert_eq!(report.missing, 0, "{line}");
    assert_eq!(report.duplicates, 0, "{line}");
    assert_eq!(report.misrouted, 0, "{line}");
    assert_eq!(report.throttled, 0, "{line}");
    assert!(report.product_calls > 0, "{line}");
    assert_eq!(report.product_refused, 0, "{line}");
    // Collected once for the three products: the separate connectors would call three times.
    let calls: u64 = stats.jobs.iter().map(|j| j.source_calls).sum();
    let saved: u64 = stats.jobs.iter().map(|j| j.calls_saved).sum();
    assert_eq!(stats.jobs.len(), TENANTS);
    assert!(calls >= TENANTS as u64, "{calls} calls");
    assert_eq!(saved, (PRODUCTS.len() as u64 - 1) * calls);
    let [p50, p95, p99, max] = report.lag_ms;
    assert!(p50 <= p95 && p95 <= p99 && p99 <= max, "{line}");
    assert!(max > 0, "live events were delivered: {line}");
    // A live event waits at most an interval for its round, then one delivery; three
    // intervals leave room for a test machine busy with other builds.
    assert!(
        u128::from(p99) <= 3 * INTERVAL.as_millis(),
        "lag p99 {p99} ms: {line}"
    );
}
