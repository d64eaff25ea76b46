//! The source fixture of the Okta simulator ([`crate::okta`]).

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use ucp_core::credentials::Credential;
use ucp_core::Cursor;

use super::source::{ProviderSetup, SourceFixture};
use crate::faults::RateLimitDialect;
use crate::okta::{OktaSimConfig, OktaSimulator};

/// Starts an [`OktaSimulator`] behind the check's fault layer. The factory builds the
/// source against `sim.base_url()` reading credential [`OktaFixture::credential`], asking
/// for [`OktaFixture::page_size`] events per page from at least two hours back, with
/// request timeout [`OktaFixture::timeout`].
#[derive(Clone, Debug)]
pub struct OktaFixture {
    /// The credential's name.
    pub credential: String,
    /// Events per page the source asks for.
    pub page_size: usize,
    /// The source's request timeout.
    pub timeout: Duration,
    /// The rate-limit dialects the suite checks the source in (default: the provider's own,
    /// [`RateLimitDialect::Okta`]).
    pub rate_limit_dialects: Vec<RateLimitDialect>,
}

impl Default for OktaFixture {
    fn default() -> Self {
        OktaFixture {
            credential: "okta-token".into(),
            page_size: 20,
            timeout: Duration::from_secs(2),
            rate_limit_dialects: vec![RateLimitDialect::Okta],
        }
    }
}

const GOOD: &str = "conformance-good-ssws-00d1e2f3";
const BAD: &str = "conformance-revoked-ssws-99a8b7";

fn token(value: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(value.to_string()),
    }
}

#[async_trait]
impl SourceFixture for OktaFixture {
    type Provider = OktaSimulator;

    async fn start(&self, setup: ProviderSetup) -> Result<OktaSimulator, String> {
        let config = OktaSimConfig::default()
            .token(GOOD)
            .backlog(setup.events)
            .backlog_span(Duration::from_secs(3600));
        let layer = setup.faults.layer();
        OktaSimulator::start_wrapped(config, |router| router.layer(layer))
            .await
            .map_err(|e| format!("the Okta simulator did not start: {e}"))
    }

    async fn emit(&self, sim: &OktaSimulator, count: usize) -> Result<Vec<String>, String> {
        Ok(sim.emit(None, count))
    }

    fn stream(&self) -> String {
        "system_log".into()
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

    fn future_cursor(&self, sim: &OktaSimulator) -> Option<Cursor> {
        let since = (sim.now() + chrono::Duration::days(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Some(Cursor::new(format!(
            "{}/api/v1/logs?since={since}&sortOrder=ASCENDING&limit={}",
            sim.base_url(),
            self.page_size
        )))
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        self.rate_limit_dialects.clone()
    }
}
