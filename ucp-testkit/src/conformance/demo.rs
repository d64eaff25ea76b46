//! The source fixture of the demo events API ([`crate::demo_api`]), for partner examples.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::SecretString;
use ucp_core::credentials::Credential;
use ucp_core::Cursor;

use super::source::{ProviderSetup, SourceFixture};
use crate::demo_api::DemoApi;
use crate::event_log::EventLog;
use crate::faults::RateLimitDialect;

/// Starts a [`DemoApi`] behind the check's fault layer, with a rate limit high enough never
/// to throttle the suite. The factory builds the source against `api.base_url()` reading an
/// API token from credential [`DemoApiFixture::credential`], asking for
/// [`DemoApiFixture::page_size`] events per page, with request timeout
/// [`DemoApiFixture::timeout`]. Cursors are positions in the log, so a far position is a
/// cursor "in the future". The demo API states its quota in GitHub's dialect
/// (`X-RateLimit-*`), the one checked by default.
#[derive(Clone, Debug)]
pub struct DemoApiFixture {
    /// The credential's name.
    pub credential: String,
    /// Events per page the source asks for.
    pub page_size: usize,
    /// The source's request timeout.
    pub timeout: Duration,
    /// The rate-limit dialects the suite checks the source in (default: the provider's own,
    /// [`RateLimitDialect::GitHub`]).
    pub rate_limit_dialects: Vec<RateLimitDialect>,
}

impl Default for DemoApiFixture {
    fn default() -> Self {
        DemoApiFixture {
            credential: "acme".into(),
            page_size: 20,
            timeout: Duration::from_secs(2),
            rate_limit_dialects: vec![RateLimitDialect::GitHub],
        }
    }
}

const GOOD: &str = "conformance-demo-token-3c9d81";
const BAD: &str = "conformance-revoked-token-5a0e27";

/// Requests per minute the API allows: far above what the suite makes.
const LIMIT: u32 = 1_000_000;

fn token(value: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(value.to_string()),
    }
}

#[async_trait]
impl SourceFixture for DemoApiFixture {
    type Provider = DemoApi;

    async fn start(&self, setup: ProviderSetup) -> Result<DemoApi, String> {
        let log = EventLog::new();
        log.generate(setup.events, Utc::now() - chrono::Duration::hours(1));
        let layer = setup.faults.layer();
        DemoApi::start_wrapped(log, GOOD, LIMIT, |router| router.layer(layer))
            .await
            .map_err(|e| format!("the demo API did not start: {e}"))
    }

    async fn emit(&self, api: &DemoApi, count: usize) -> Result<Vec<String>, String> {
        let log = api.log();
        let before = log.len();
        // Event n is stamped `start + n` seconds: start so the new ones are about now.
        let start = Utc::now() - chrono::Duration::seconds(before as i64 + count as i64);
        log.generate(count, start);
        let ids = log
            .records()
            .iter()
            .skip(before)
            .map(|r| r.id.to_string())
            .collect();
        Ok(ids)
    }

    fn stream(&self) -> String {
        "events".into()
    }

    fn page_size(&self) -> usize {
        self.page_size
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        vec![(self.credential.clone(), token(GOOD))]
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        vec![(self.credential.clone(), token(BAD))]
    }

    fn future_cursor(&self, _api: &DemoApi) -> Option<Cursor> {
        Some(Cursor::new(u32::MAX.to_string()))
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        self.rate_limit_dialects.clone()
    }
}
