//! The scale lab at CI size: every record reaches every product its filter admits, once,
//! with no 429 and one call per round instead of three.

use std::sync::Arc;
use std::time::Duration;

use ucp_core::Source;
use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_testkit::scale::{self, ScaleConfig, CREDENTIAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tenants_three_products_each() {
    let config = ScaleConfig {
        tenants: 20,
        run_for: Duration::from_secs(4),
        drain: Duration::from_secs(8),
        interval: Duration::from_secs(1),
        events_per_second: 4.0,
        rate_limit_per_minute: 600,
        backlog: 15,
    };
    let report = scale::run(&config, |sim| {
        let source = OktaSource::new(
            OktaConfig::new(sim.base_url(), CREDENTIAL).start_ago(Duration::from_secs(3600)),
        )
        .map_err(|e| e.to_string())?;
        Ok(Arc::new(source) as Arc<dyn Source>)
    })
    .await
    .unwrap();
    println!("{report}");
    assert_eq!(report.tenants, 20);
    assert!(report.events >= 20 * 15, "{report}");
    assert_eq!(report.missing, 0, "{report}");
    assert_eq!(report.duplicates, 0, "{report}");
    assert_eq!(report.misrouted, 0, "{report}");
    assert!(report.deliveries >= report.expected_deliveries, "{report}");
    assert_eq!(report.throttled, 0, "{report}");
    assert!(report.source_calls > 0, "{report}");
    assert_eq!(report.baseline_calls, 3 * report.source_calls, "{report}");
    assert!(report.lag_p50 <= report.lag_p99 && report.lag_p99 <= report.lag_max);
    assert!(report.lag_p99 < Duration::from_secs(8), "{report}");
}
