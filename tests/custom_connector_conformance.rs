//! The example's connector (`examples/custom_connector/acme.rs`) passes the conformance
//! suites, run exactly as `cargo run --example custom_connector -- --conformance` runs them.
//!
//! Examples cannot be imported, so this test includes the example's connector and its
//! conformance module by path, as the example itself does.

#[path = "../examples/custom_connector/acme.rs"]
mod acme;
#[path = "../examples/custom_connector/conformance.rs"]
mod conformance;

use ucp_testkit::conformance::{checks, Outcome, RateLimitDialect};

#[tokio::test]
async fn acme_source_passes_the_source_suite() {
    let report = conformance::source_report().await;
    println!("{report}");
    report.assert_all_passed();
    // Every check runs against the demo API: none is skipped for want of a fixture feature.
    assert_eq!(report.skipped(), Vec::<&str>::new(), "{report}");
    // Its rate-limit headers are read in every dialect.
    for dialect in RateLimitDialect::ALL {
        assert_eq!(
            report.outcome(dialect.check_name()),
            Some(&Outcome::Passed),
            "{dialect}"
        );
    }
    for check in [
        RateLimitDialect::GitHub.check_name(),
        checks::TIMEOUT_IS_RETRYABLE,
        checks::MALFORMED_BODY_KEEPS_CURSOR,
        checks::RANDOM_FAULTS_LOSE_NOTHING,
        checks::NO_SECRET_IN_OUTPUT,
    ] {
        assert_eq!(report.outcome(check), Some(&Outcome::Passed), "{check}");
    }
}

#[tokio::test]
async fn ndjson_product_passes_the_sink_suite_with_declared_skips() {
    let report = conformance::sink_report().await;
    println!("{report}");
    report.assert_all_passed();
    assert_eq!(
        report.passed(),
        vec![
            checks::DESCRIBE_IS_STABLE,
            checks::CHECK_OK_WITH_GOOD_CREDENTIALS,
            checks::DELIVERS_A_BATCH,
            checks::REDELIVERY_IS_SAFE,
        ],
        "{report}"
    );
    let text = report.to_string();
    assert!(
        text.contains("skipped honours_retry_after: does not apply to this connector: a local file never throttles"),
        "{text}"
    );
}

#[test]
fn acme_definition_builds_its_source_from_settings_and_the_api_slot() {
    use ucp::catalog::CredentialRefs;
    use ucp::credentials::CredentialRef;
    let definition = acme::definition().unwrap();
    assert_eq!(
        definition.config_schema()["required"],
        serde_json::json!(["base_url", "account"])
    );
    let refs = CredentialRefs::new().with("api", CredentialRef::new("contoso", "acme"));
    let source = definition
        .factory()
        .build(
            &serde_json::json!({"base_url": "http://127.0.0.1:1", "account": "contoso"}),
            &refs,
        )
        .unwrap();
    assert_eq!(source.describe().budget.key.account, "contoso");
    let unknown = definition
        .factory()
        .build(
            &serde_json::json!({"base_url": "x", "account": "c", "colour": 1}),
            &refs,
        )
        .err()
        .unwrap();
    assert!(
        unknown.to_string().contains("unknown field `colour`"),
        "{unknown}"
    );
    assert!(definition
        .factory()
        .build(
            &serde_json::json!({"base_url": "x", "account": "c"}),
            &CredentialRefs::new()
        )
        .is_err());
}
