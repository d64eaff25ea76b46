//! The partner's conformance runs: the testkit's suites on the Acme connector, as a partner
//! puts them in their own tests (the example runs them with `--conformance`, and the root
//! package's `tests/custom_connector_conformance.rs` runs them in CI).
//!
//! The source suite needs a provider simulator: the testkit's demo events API is Acme's, so
//! its fixture ([`DemoApiFixture`]) comes ready-made. The sink suite needs to read what the
//! product stored: that is specific to this product, so the partner writes a small fixture
//! ([`NdjsonFixture`]) and declares which checks do not apply to a local file.

use std::convert::Infallible;
use std::path::PathBuf;

use async_trait::async_trait;
use ucp::credentials::Credential;
use ucp_testkit::conformance::{
    checks, sink_suite, source_suite, DemoApiFixture, ProductSetup, RateLimitDialect, Redelivery,
    SeenRequest, SinkFixture, SuiteReport,
};
use ucp_testkit::demo_api::DemoApi;

use crate::acme::{AcmeSource, NdjsonProduct};

/// The source suite on [`AcmeSource`], against the demo API with faults injected. Acme
/// states its quota GitHub's way, but the source reads rate-limit headers with the HTTP kit,
/// so the suite checks it in every dialect.
pub async fn source_report() -> SuiteReport {
    let fixture = DemoApiFixture {
        rate_limit_dialects: RateLimitDialect::ALL.to_vec(),
        ..DemoApiFixture::default()
    };
    let (credential, page, timeout) = (
        fixture.credential.clone(),
        fixture.page_size,
        fixture.timeout,
    );
    let factory = move |api: &DemoApi| {
        Ok::<_, Infallible>(
            AcmeSource::new(api.base_url(), "conformance", credential.clone())
                .page_size(page)
                .request_timeout(timeout),
        )
    };
    source_suite(factory, fixture).await
}

/// The sink suite on [`NdjsonProduct`], writing into a temporary directory.
pub async fn sink_report() -> SuiteReport {
    let factory = |file: &NdjsonFile| Ok::<_, Infallible>(NdjsonProduct::new(file.path.clone()));
    sink_suite(factory, NdjsonFixture).await
}

/// One product: an NDJSON file in a directory removed when it drops.
pub struct NdjsonFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// Stands up an [`NdjsonFile`] and reads back the `uuid` of every line. Acme events carry
/// their id as `uuid`, so a batch delivered twice leaves two lines with the same id, which
/// readers drop ([`Redelivery::DuplicatesCarryIds`]).
pub struct NdjsonFixture;

#[async_trait]
impl SinkFixture for NdjsonFixture {
    type Product = NdjsonFile;

    async fn start(&self, _setup: ProductSetup) -> Result<NdjsonFile, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let path = dir.path().join("product.ndjson");
        Ok(NdjsonFile { _dir: dir, path })
    }

    async fn stored(&self, file: &NdjsonFile) -> Vec<String> {
        let text = tokio::fs::read_to_string(&file.path)
            .await
            .unwrap_or_default();
        text.lines()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|event| event["uuid"].as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("<a line with no uuid: {line}>"))
            })
            .collect()
    }

    async fn requests(&self, _file: &NdjsonFile) -> Vec<SeenRequest> {
        // A file has no requests to count; the suite asks only when a limit is declared.
        Vec::new()
    }

    async fn reject(&self, _file: &NdjsonFile, _ids: &[String]) {
        // A file takes every record: the check that needs refusals is declared n/a below.
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        let why = match check {
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS => "a local file takes no credential",
            checks::HONOURS_RETRY_AFTER => "a local file never throttles",
            checks::REJECTS_RECORDS_INDIVIDUALLY => "a local file refuses no record",
            _ => return None,
        };
        Some(why.into())
    }
}
