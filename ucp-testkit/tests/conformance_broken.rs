//! Deliberately broken connectors fail exactly the checks named for their fault: the suites
//! catch what they claim to catch.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use ucp_core::credentials::Credential;
use ucp_core::{
    Batch, CollectRequest, Delivery, Page, Sink, SinkContext, SinkError, SinkInfo, Source,
    SourceContext, SourceError, SourceInfo,
};
use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_testkit::conformance::{
    checks, sink_suite, source_suite, OktaFixture, Outcome, ProductSetup, ProviderSetup,
    RecordingSinkFixture, Redelivery, SeenRequest, SinkFixture, SourceFixture, SuiteReport,
};
use ucp_testkit::faults::{Faults, RateLimitDialect, RATE_LIMIT_HEADERS};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::RecordingSink;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Breakage {
    AuthAsRetryable,
    SkipMalformedPage,
    UnbudgetedExtraRequest,
    TokenInErrors,
    TokenInTrace,
    /// A 429 reported as a plain temporary failure, its reset lost.
    ThrottleAsRetryable,
    /// Pages without their rate-limit hint.
    NoPageHint,
}

/// The shipped Okta source with one fault added.
struct BrokenSource {
    inner: OktaSource,
    breakage: Breakage,
    credential: String,
}

impl BrokenSource {
    async fn token(&self, cx: &SourceContext) -> String {
        match cx.credential(&self.credential).await {
            Ok(Credential::ApiToken { token }) => token.expose_secret().to_string(),
            _ => String::new(),
        }
    }

    async fn broken(&self, cx: &SourceContext, error: SourceError) -> SourceError {
        match (self.breakage, error) {
            (Breakage::AuthAsRetryable, SourceError::Auth { message }) => SourceError::Retryable {
                message,
                retry_after: None,
            },
            (Breakage::TokenInErrors, SourceError::Auth { message }) => SourceError::Auth {
                message: format!("{message} (sent token {})", self.token(cx).await),
            },
            (Breakage::ThrottleAsRetryable, SourceError::RateLimited { message, .. }) => {
                SourceError::Retryable {
                    message,
                    retry_after: None,
                }
            }
            (_, error) => error,
        }
    }
}

#[async_trait]
impl Source for BrokenSource {
    fn describe(&self) -> SourceInfo {
        self.inner.describe()
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        match self.inner.check(cx).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.broken(cx, e).await),
        }
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        if self.breakage == Breakage::TokenInTrace {
            let token = self.token(cx).await;
            tracing::trace!(%token, "collecting");
        }
        let result = self.inner.collect(cx, req.clone()).await;
        if self.breakage == Breakage::UnbudgetedExtraRequest {
            // A second request per call without drawing a permit.
            let _ = self.inner.check(cx).await;
        }
        match result {
            Ok(page) if self.breakage == Breakage::NoPageHint => Ok(Page { hint: None, ..page }),
            Ok(page) => Ok(page),
            Err(SourceError::Malformed { .. }) if self.breakage == Breakage::SkipMalformedPage => {
                // Skip past the bad page: fetch it again only to learn the cursor after it.
                let page = self.inner.collect(cx, req).await?;
                Ok(Page {
                    records: Vec::new(),
                    next: page.next,
                    more: page.more,
                    hint: page.hint,
                })
            }
            Err(e) => Err(self.broken(cx, e).await),
        }
    }
}

async fn broken_source_report(breakage: Breakage) -> SuiteReport {
    let fixture = OktaFixture::default();
    let f = fixture.clone();
    source_suite(
        move |sim: &OktaSimulator| {
            let inner = OktaSource::new(
                OktaConfig::new(sim.base_url(), f.credential.clone())
                    .page_limit(f.page_size as u32)
                    .start_ago(Duration::from_secs(2 * 3600))
                    .request_timeout(f.timeout),
            )?;
            Ok::<_, SourceError>(BrokenSource {
                inner,
                breakage,
                credential: f.credential.clone(),
            })
        },
        fixture,
    )
    .await
}

/// `required` all failed, and nothing failed beyond `required` and `allowed`.
fn assert_fails(report: &SuiteReport, required: &[&str], allowed: &[&str]) {
    let failed: BTreeSet<&str> = report.failed().into_iter().collect();
    for name in required {
        assert!(failed.contains(name), "{name} should fail:\n{report}");
    }
    for name in &failed {
        assert!(
            required.contains(name) || allowed.contains(name),
            "{name} should not fail:\n{report}"
        );
    }
    let panicked = std::panic::catch_unwind(|| report.assert_all_passed());
    assert!(panicked.is_err(), "assert_all_passed must panic");
}

#[tokio::test]
async fn a_lost_throttle_or_page_hint_fails_the_rate_limit_check() {
    let okta = RateLimitDialect::Okta.check_name();
    for breakage in [Breakage::ThrottleAsRetryable, Breakage::NoPageHint] {
        let report = broken_source_report(breakage).await;
        assert_fails(&report, &[okta], &[]);
    }
}

/// The Okta fixture, except that the source sees only Okta's rate-limit headers and
/// `Retry-After`: what a source that reads only those sees of the others' (the shipped
/// source reads every dialect through the HTTP kit, so the limit is put in its way).
struct OktaHeadersOnly(OktaFixture);

/// Drops every rate-limit header but Okta's `X-Rate-Limit-*` and `Retry-After`.
async fn okta_headers_only(mut response: axum::response::Response) -> axum::response::Response {
    for name in RATE_LIMIT_HEADERS {
        if !name.starts_with("x-rate-limit-") && name != "retry-after" {
            response.headers_mut().remove(name);
        }
    }
    response
}

#[async_trait]
impl SourceFixture for OktaHeadersOnly {
    type Provider = OktaSimulator;

    async fn start(&self, setup: ProviderSetup) -> Result<OktaSimulator, String> {
        let token = match &self.0.credentials()[0].1 {
            Credential::ApiToken { token } => token.expose_secret().to_string(),
            _ => return Err("the Okta fixture holds an API token".into()),
        };
        let config = OktaSimConfig::default()
            .token(token)
            .backlog(setup.events)
            .backlog_span(Duration::from_secs(3600));
        let faults = setup.faults.layer();
        OktaSimulator::start_wrapped(config, |router| {
            router
                .layer(faults)
                .layer(axum::middleware::map_response(okta_headers_only))
        })
        .await
        .map_err(|e| e.to_string())
    }
    async fn emit(&self, sim: &OktaSimulator, count: usize) -> Result<Vec<String>, String> {
        self.0.emit(sim, count).await
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
    fn future_cursor(&self, sim: &OktaSimulator) -> Option<ucp_core::Cursor> {
        self.0.future_cursor(sim)
    }
    fn request_timeout(&self) -> Option<Duration> {
        self.0.request_timeout()
    }
    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        self.0.rate_limit_dialects()
    }
}

#[tokio::test]
async fn a_source_checked_in_dialects_it_does_not_read_fails_exactly_those() {
    // A source that reads Okta's headers and Retry-After (seconds or a date), not GitHub's
    // or the IETF drafts'.
    let inner = OktaFixture {
        rate_limit_dialects: RateLimitDialect::ALL.to_vec(),
        ..OktaFixture::default()
    };
    let f = inner.clone();
    let report = source_suite(
        move |sim: &OktaSimulator| {
            OktaSource::new(
                OktaConfig::new(sim.base_url(), f.credential.clone())
                    .page_limit(f.page_size as u32)
                    .start_ago(Duration::from_secs(2 * 3600))
                    .request_timeout(f.timeout),
            )
        },
        OktaHeadersOnly(inner),
    )
    .await;
    assert_eq!(
        report.failed(),
        vec![
            RateLimitDialect::GitHub.check_name(),
            RateLimitDialect::IetfDraft.check_name(),
            RateLimitDialect::IetfStructured.check_name(),
        ],
        "{report}"
    );
    for dialect in [
        RateLimitDialect::Okta,
        RateLimitDialect::RetryAfterSeconds,
        RateLimitDialect::RetryAfterDate,
    ] {
        assert_eq!(
            report.outcome(dialect.check_name()),
            Some(&Outcome::Passed),
            "{report}"
        );
    }
    let text = report.to_string();
    assert!(
        text.contains(
            "a 429 with ietf headers gives SourceError::RateLimited whose hint's reset is ~"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn auth_failures_reported_as_retryable_fail_the_auth_checks() {
    let report = broken_source_report(Breakage::AuthAsRetryable).await;
    assert_fails(
        &report,
        &[
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            checks::COLLECT_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            checks::AUTH_EXPIRY_IS_AUTH_ERROR,
        ],
        &[],
    );
    assert!(report.to_string().contains("Retryable"), "{report}");
}

#[tokio::test]
async fn skipping_a_malformed_page_fails_the_cursor_check() {
    let report = broken_source_report(Breakage::SkipMalformedPage).await;
    assert_fails(
        &report,
        &[checks::MALFORMED_BODY_KEEPS_CURSOR],
        // The seeded faults may draw a malformed body too; then records go missing there.
        &[checks::RANDOM_FAULTS_LOSE_NOTHING],
    );
}

#[tokio::test]
async fn an_unbudgeted_request_fails_the_budget_check() {
    let report = broken_source_report(Breakage::UnbudgetedExtraRequest).await;
    assert_fails(&report, &[checks::CALLS_ARE_BUDGETED], &[]);
}

#[tokio::test]
async fn a_token_in_an_error_message_fails_the_leak_check() {
    let report = broken_source_report(Breakage::TokenInErrors).await;
    assert_fails(&report, &[checks::NO_SECRET_IN_OUTPUT], &[]);
    // The report names where the secret was, never the secret itself.
    assert!(report.to_string().contains("okta-token"), "{report}");
    assert!(
        !report.to_string().contains("conformance-good-ssws"),
        "{report}"
    );

    let report = broken_source_report(Breakage::TokenInTrace).await;
    assert_fails(&report, &[checks::NO_SECRET_IN_OUTPUT], &[]);
    assert!(
        report.to_string().contains("tracing output at TRACE"),
        "{report}"
    );
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum SinkBreakage {
    SwallowRejections,
    DropRetryAfter,
    NoSplitting,
    AuthAsPermanent,
}

/// The recording product with one fault added.
struct BrokenSink {
    inner: RecordingSink,
    breakage: SinkBreakage,
}

#[async_trait]
impl Sink for BrokenSink {
    fn describe(&self) -> SinkInfo {
        let info = self.inner.describe();
        match self.breakage {
            SinkBreakage::NoSplitting => SinkInfo::new(info.kind),
            _ => info,
        }
    }

    async fn check(&self, cx: &SinkContext) -> Result<(), SinkError> {
        match self.inner.check(cx).await {
            Err(SinkError::Auth { message }) if self.breakage == SinkBreakage::AuthAsPermanent => {
                Err(SinkError::Permanent { message })
            }
            other => other,
        }
    }

    async fn deliver(&self, cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        match (self.breakage, self.inner.deliver(cx, batch).await) {
            (SinkBreakage::SwallowRejections, Ok(_)) => Ok(Delivery::all()),
            (SinkBreakage::DropRetryAfter, Err(SinkError::RateLimited { message, .. })) => {
                Err(SinkError::Retryable {
                    message,
                    retry_after: None,
                })
            }
            (_, other) => other,
        }
    }
}

async fn broken_sink_report(breakage: SinkBreakage) -> SuiteReport {
    sink_suite(
        move |product: &RecordingSink| {
            Ok::<_, Infallible>(BrokenSink {
                inner: product.clone(),
                breakage,
            })
        },
        RecordingSinkFixture::default(),
    )
    .await
}

#[tokio::test]
async fn broken_sinks_fail_the_named_checks() {
    for (breakage, check) in [
        (
            SinkBreakage::SwallowRejections,
            checks::REJECTS_RECORDS_INDIVIDUALLY,
        ),
        (SinkBreakage::DropRetryAfter, checks::HONOURS_RETRY_AFTER),
        (SinkBreakage::NoSplitting, checks::SPLITS_OVERSIZED_BATCHES),
        (
            SinkBreakage::AuthAsPermanent,
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS,
        ),
    ] {
        let report = broken_sink_report(breakage).await;
        assert_eq!(report.failed(), vec![check], "{breakage:?}:\n{report}");
    }
}

/// A fixture that declares some checks not applicable, otherwise `inner`'s.
struct Declaring<X> {
    inner: X,
    not_applicable: &'static [&'static str],
}

impl<X> Declaring<X> {
    fn why(&self, check: &str) -> Option<String> {
        self.not_applicable
            .contains(&check)
            .then(|| "declared by the test".to_string())
    }
}

#[async_trait]
impl SinkFixture for Declaring<RecordingSinkFixture> {
    type Product = RecordingSink;

    async fn start(&self, setup: ProductSetup) -> Result<RecordingSink, String> {
        self.inner.start(setup).await
    }
    async fn stored(&self, product: &RecordingSink) -> Vec<String> {
        self.inner.stored(product).await
    }
    async fn requests(&self, product: &RecordingSink) -> Vec<SeenRequest> {
        self.inner.requests(product).await
    }
    async fn throttle_next(&self, product: &RecordingSink, faults: &Faults, wait: Duration) {
        self.inner.throttle_next(product, faults, wait).await
    }
    async fn reject(&self, product: &RecordingSink, ids: &[String]) {
        self.inner.reject(product, ids).await
    }
    fn max_records_per_request(&self) -> Option<usize> {
        self.inner.max_records_per_request()
    }
    fn redelivery(&self) -> Redelivery {
        self.inner.redelivery()
    }
    fn credentials(&self) -> Vec<(String, Credential)> {
        self.inner.credentials()
    }
    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        self.inner.bad_credentials()
    }
    fn not_applicable(&self, check: &str) -> Option<String> {
        self.why(check)
    }
}

#[async_trait]
impl SourceFixture for Declaring<OktaFixture> {
    type Provider = OktaSimulator;

    async fn start(&self, setup: ProviderSetup) -> Result<OktaSimulator, String> {
        self.inner.start(setup).await
    }
    async fn emit(&self, sim: &OktaSimulator, count: usize) -> Result<Vec<String>, String> {
        self.inner.emit(sim, count).await
    }
    fn stream(&self) -> String {
        self.inner.stream()
    }
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }
    fn credentials(&self) -> Vec<(String, Credential)> {
        self.inner.credentials()
    }
    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        self.inner.bad_credentials()
    }
    fn future_cursor(&self, sim: &OktaSimulator) -> Option<ucp_core::Cursor> {
        self.inner.future_cursor(sim)
    }
    fn request_timeout(&self) -> Option<Duration> {
        self.inner.request_timeout()
    }
    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        self.inner.rate_limit_dialects()
    }
    fn not_applicable(&self, check: &str) -> Option<String> {
        self.why(check)
    }
}

#[tokio::test]
async fn a_check_declared_not_applicable_is_skipped_with_its_reason_not_run() {
    // The sink drops Retry-After, which fails honours_retry_after when it runs.
    let report = sink_suite(
        |product: &RecordingSink| {
            Ok::<_, Infallible>(BrokenSink {
                inner: product.clone(),
                breakage: SinkBreakage::DropRetryAfter,
            })
        },
        Declaring {
            inner: RecordingSinkFixture::default(),
            not_applicable: &[checks::HONOURS_RETRY_AFTER],
        },
    )
    .await;
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.skipped(), vec![checks::HONOURS_RETRY_AFTER]);
    assert_eq!(
        report.outcome(checks::HONOURS_RETRY_AFTER),
        Some(&Outcome::Skipped {
            why: "does not apply to this connector: declared by the test".into()
        })
    );
    assert!(
        report
            .to_string()
            .contains("skipped honours_retry_after: does not apply to this connector"),
        "{report}"
    );
}

#[tokio::test]
async fn one_check_of_a_pair_declared_not_applicable_leaves_the_other_run() {
    // An unbudgeted request fails calls_are_budgeted, measured by the same read as
    // basic_read: declaring only the budget check n/a still runs and passes basic_read.
    let f = OktaFixture::default();
    let fixture = Declaring {
        inner: f.clone(),
        not_applicable: &[checks::CALLS_ARE_BUDGETED],
    };
    let report = source_suite(
        move |sim: &OktaSimulator| {
            let inner = OktaSource::new(
                OktaConfig::new(sim.base_url(), f.credential.clone())
                    .page_limit(f.page_size as u32)
                    .start_ago(Duration::from_secs(2 * 3600))
                    .request_timeout(f.timeout),
            )?;
            Ok::<_, SourceError>(BrokenSource {
                inner,
                breakage: Breakage::UnbudgetedExtraRequest,
                credential: f.credential.clone(),
            })
        },
        fixture,
    )
    .await;
    assert!(report.all_passed(), "{report}");
    assert_eq!(
        report.skipped(),
        vec![checks::CALLS_ARE_BUDGETED],
        "{report}"
    );
    assert_eq!(report.outcome(checks::BASIC_READ), Some(&Outcome::Passed));
}
