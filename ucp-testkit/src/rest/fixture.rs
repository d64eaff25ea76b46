//! The source fixture of the simulated REST API: the conformance suite's provider.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use ucp_core::credentials::Credential;
use ucp_core::{Clock, Cursor};

use super::{lock, RestApi, RestApiConfig, SimAuth, SimTime};
use crate::conformance::{checks, ProviderSetup, SourceFixture};
use crate::faults::RateLimitDialect;

/// A cursor a declarative source would save for a window starting at a time: the suite's
/// "future cursor" for a source whose cursor format the testkit does not know.
pub type FutureCursor = fn(DateTime<Utc>) -> Cursor;

/// Starts a [`RestApi`] behind the check's fault layer with the check's events spread over
/// the hour before now. The factory builds the source against `api.base_url()` reading
/// credential [`RestApiFixture::credential`], [`RestApiFixture::page_size`] records per page,
/// with request timeout [`RestApiFixture::timeout`].
#[derive(Clone)]
pub struct RestApiFixture {
    /// The API's behaviour.
    pub config: RestApiConfig,
    /// The stream the source offers.
    pub stream: String,
    /// The credential's name.
    pub credential: String,
    /// Records per page the source asks for.
    pub page_size: usize,
    /// The source's request timeout.
    pub timeout: Duration,
    future: Option<FutureCursor>,
    /// The last API started (OAuth credentials name its token URL).
    last: Arc<Mutex<String>>,
}

impl std::fmt::Debug for RestApiFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestApiFixture")
            .field("path", &self.config.path)
            .finish_non_exhaustive()
    }
}

impl RestApiFixture {
    /// A fixture of `config`.
    pub fn new(config: RestApiConfig, page_size: usize) -> Self {
        RestApiFixture {
            config,
            stream: "events".into(),
            credential: "api-credential".into(),
            page_size,
            timeout: Duration::from_secs(2),
            future: None,
            last: Arc::new(Mutex::new(String::new())),
        }
    }

    /// The Acme alerts API, 20 alerts a page.
    pub fn acme_alerts() -> Self {
        RestApiFixture {
            stream: "alerts".into(),
            ..Self::new(RestApiConfig::acme_alerts(), 20)
        }
    }

    /// The Globex audit export, 100 rows a page (its definition's fixed `pageSize`).
    pub fn globex_audit() -> Self {
        RestApiFixture {
            stream: "audit".into(),
            ..Self::new(RestApiConfig::globex_audit(), 100)
        }
    }

    /// Offer `make(now + 1 day)` as the future cursor.
    pub fn with_future_cursor(mut self, make: FutureCursor) -> Self {
        self.future = Some(make);
        self
    }

    fn credential_for(&self, good: bool) -> Credential {
        let secret = |s: &str| {
            SecretString::from(if good {
                s.to_string()
            } else {
                format!("{s}-revoked")
            })
        };
        match &self.config.auth {
            SimAuth::OAuth {
                client_id,
                secret: s,
                ..
            } => Credential::ClientSecret {
                token_url: format!("{}/oauth/token", lock(&self.last)),
                client_id: client_id.clone(),
                secret: secret(s),
            },
            SimAuth::Basic { user, password } | SimAuth::Login { user, password, .. } => {
                Credential::Basic {
                    user: user.clone(),
                    password: secret(password),
                }
            }
            SimAuth::ApiKeyHeader { key, .. } | SimAuth::ApiKeyBody { key, .. } => {
                Credential::ApiToken { token: secret(key) }
            }
            SimAuth::None => Credential::ApiToken {
                token: secret("unused"),
            },
        }
    }

    /// How long until a window query sees an event made now: the next tick of the API's time
    /// resolution (a window ends just before "now").
    fn settle(&self) -> Duration {
        match self.config.time {
            SimTime::UnixSeconds => {
                let ms = Clock::new().now_utc().timestamp_subsec_millis();
                Duration::from_millis(u64::from(1000 - ms.min(999)) + 20)
            }
            SimTime::Iso | SimTime::UnixMillis => Duration::from_millis(5),
        }
    }
}

#[async_trait]
impl SourceFixture for RestApiFixture {
    type Provider = RestApi;

    async fn start(&self, setup: ProviderSetup) -> Result<RestApi, String> {
        let layer = setup.faults.layer();
        let clock = Clock::new();
        let api = RestApi::start_wrapped(self.config.clone(), clock, |router| router.layer(layer))
            .await
            .map_err(|e| format!("the REST API simulator did not start: {e}"))?;
        *lock(&self.last) = api.base_url().to_string();
        let now = clock.now_utc();
        api.add_between(
            setup.events,
            now - chrono::Duration::hours(1),
            now - chrono::Duration::seconds(2),
        );
        Ok(api)
    }

    async fn emit(&self, api: &RestApi, count: usize) -> Result<Vec<String>, String> {
        let ids = api.add_at(count, Clock::new().now_utc());
        tokio::time::sleep(self.settle()).await;
        Ok(ids)
    }

    fn stream(&self) -> String {
        self.stream.clone()
    }

    fn page_size(&self) -> usize {
        self.page_size
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        vec![(self.credential.clone(), self.credential_for(true))]
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        vec![(self.credential.clone(), self.credential_for(false))]
    }

    fn future_cursor(&self, _api: &RestApi) -> Option<Cursor> {
        self.future.map(|make| make(Clock::new().now_utc()))
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        vec![self.config.dialect]
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        (check == checks::AUTH_EXPIRY_IS_AUTH_ERROR && matches!(self.config.auth, SimAuth::OAuth { .. } | SimAuth::Login { .. })).then(|| {
            "the API's tokens are minted by the connector: a 401 drops the token and the call is made once more with a fresh one (a second 401 is SourceError::Auth, pinned by the REST source's own tests)".to_string()
        })
    }
}
