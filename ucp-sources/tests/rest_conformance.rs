//! The testkit's source conformance suite, run on the three shipped definitions against
//! simulators speaking each API over loopback: Okta's System Log (with and without the
//! late-arrival lookback), the Acme alerts API (OAuth2, POST template, NextPageToken) and the
//! Globex audit export (gzip CSV, Offset, IETF RateLimit headers).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ucp_core::credentials::Credential;
use ucp_core::Cursor;
use ucp_sources::rest::{shipped, RestConfig, RestDefinition, RestSource};
use ucp_testkit::conformance::{checks, source_suite, OktaFixture, ProviderSetup, SourceFixture};
use ucp_testkit::faults::RateLimitDialect;
use ucp_testkit::okta::OktaSimulator;
use ucp_testkit::rest::{RestApi, RestApiFixture};

mod rest_support;

/// A cursor of a declarative source whose window starts a day from now.
fn future(now: chrono::DateTime<chrono::Utc>) -> Cursor {
    let start = (now + chrono::Duration::days(1)).timestamp_millis();
    Cursor::new(format!(r#"{{"v":1,"start":{start}}}"#))
}

/// The Okta fixture, with a cursor in the future of a declarative source, and a moment's
/// wait after emitting: a window query sees an event once its time lies before now.
struct CcfOkta(OktaFixture);

#[async_trait]
impl SourceFixture for CcfOkta {
    type Provider = OktaSimulator;

    async fn start(&self, setup: ProviderSetup) -> Result<OktaSimulator, String> {
        self.0.start(setup).await
    }
    async fn emit(&self, sim: &OktaSimulator, count: usize) -> Result<Vec<String>, String> {
        let ids = self.0.emit(sim, count).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        ids
    }
    fn stream(&self) -> String {
        self.0.stream()
    }
    fn page_size(&self) -> usize {
        self.0.page_size()
    }
    fn credentials(&self) -> Vec<(String, Credential)> {
        self.0.credentials()
    }
    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        self.0.bad_credentials()
    }
    fn future_cursor(&self, sim: &OktaSimulator) -> Option<Cursor> {
        Some(future(sim.now()))
    }
    fn request_timeout(&self) -> Option<Duration> {
        self.0.request_timeout()
    }
    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        self.0.rate_limit_dialects()
    }
}

async fn okta_suite(definition: Arc<RestDefinition>) {
    let fixture = OktaFixture::default();
    let (credential, page, timeout) = (
        fixture.credential.clone(),
        fixture.page_size,
        fixture.timeout,
    );
    let factory = move |sim: &OktaSimulator| {
        RestSource::new(
            definition.clone(),
            RestConfig::new(credential.clone())
                .parameter("orgUrl", sim.base_url())
                .parameter("pageSize", page.to_string())
                .start_ago(Duration::from_secs(7200))
                .request_timeout(timeout),
        )
    };
    let report = source_suite(factory, CcfOkta(fixture)).await;
    println!("{report}");
    report.assert_all_passed();
}

#[tokio::test]
async fn okta_with_the_late_arrival_lookback_passes_the_source_suite() {
    okta_suite(rest_support::okta_lookback()).await;
}

#[tokio::test]
async fn okta_in_plain_ccf_windows_passes_the_source_suite() {
    okta_suite(rest_support::okta_plain()).await;
}

#[tokio::test]
async fn acme_alerts_passes_the_source_suite() {
    let definition = Arc::new(shipped::acme_alerts().unwrap());
    let fixture = RestApiFixture::acme_alerts();
    let (credential, page, timeout) = (
        fixture.credential.clone(),
        fixture.page_size,
        fixture.timeout,
    );
    let factory = move |api: &RestApi| {
        RestSource::new(
            definition.clone(),
            RestConfig::new(credential.clone())
                .parameter("baseUrl", api.base_url())
                .parameter("pageSize", page.to_string())
                .start_ago(Duration::from_secs(7200))
                .request_timeout(timeout),
        )
    };
    let report = source_suite(factory, fixture.with_future_cursor(future)).await;
    println!("{report}");
    assert!(report
        .skipped()
        .contains(&checks::AUTH_EXPIRY_IS_AUTH_ERROR));
    report.assert_all_passed();
}

#[tokio::test]
async fn globex_audit_export_passes_the_source_suite() {
    let definition = Arc::new(shipped::globex_audit_export().unwrap());
    let fixture = RestApiFixture::globex_audit();
    let (credential, timeout) = (fixture.credential.clone(), fixture.timeout);
    let factory = move |api: &RestApi| {
        RestSource::new(
            definition.clone(),
            RestConfig::new(credential.clone())
                .parameter("baseUrl", api.base_url())
                .start_ago(Duration::from_secs(7200))
                .request_timeout(timeout),
        )
    };
    let report = source_suite(factory, fixture.with_future_cursor(future)).await;
    println!("{report}");
    report.assert_all_passed();
}
