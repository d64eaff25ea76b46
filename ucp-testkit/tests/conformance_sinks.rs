//! The in-process product sink passes the sink suite.

use std::convert::Infallible;

use ucp_testkit::conformance::{checks, sink_suite, Outcome, RecordingSinkFixture};
use ucp_testkit::RecordingSink;

#[tokio::test]
async fn recording_sink_passes_the_sink_suite() {
    let report = sink_suite(
        |product: &RecordingSink| Ok::<_, Infallible>(product.clone()),
        RecordingSinkFixture::default(),
    )
    .await;
    println!("{report}");
    report.assert_all_passed();
    assert_eq!(report.checks.len(), 9, "{report}");
    assert_eq!(
        report.outcome(checks::SPLITS_OVERSIZED_BATCHES),
        Some(&Outcome::Passed)
    );
}
