//! The shipped Okta source passes the source suite against the Okta simulator.

use std::time::Duration;

use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_testkit::conformance::{checks, source_suite, OktaFixture, Outcome};
use ucp_testkit::okta::OktaSimulator;

fn okta_factory(fixture: &OktaFixture) -> impl Fn(&OktaSimulator) -> Result<OktaSource, String> {
    let fixture = fixture.clone();
    move |sim: &OktaSimulator| {
        OktaSource::new(
            OktaConfig::new(sim.base_url(), fixture.credential.clone())
                .page_limit(fixture.page_size as u32)
                .start_ago(Duration::from_secs(2 * 3600))
                .request_timeout(fixture.timeout),
        )
        .map_err(|e| e.to_string())
    }
}

#[tokio::test]
async fn okta_source_passes_the_source_suite() {
    let fixture = OktaFixture::default();
    let report = source_suite(okta_factory(&fixture), fixture).await;
    println!("{report}");
    report.assert_all_passed();
    // Every check applies to Okta: none may be skipped.
    assert!(
        report.checks.iter().all(|c| c.outcome == Outcome::Passed),
        "{report}"
    );
    assert!(report.outcome(checks::RANDOM_FAULTS_LOSE_NOTHING).is_some());
}
