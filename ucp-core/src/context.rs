//! What every connector call may use, on either side: the tenant, that tenant's credentials,
//! the platform's one token provider, its clock and its HTTP client.
//!
//! The platform builds one [`Context`] per tenant and hands it to every source and sink of
//! that tenant inside their [`crate::SourceContext`] and [`crate::SinkContext`] (which add
//! what only one side has: the source's instance name and rate budget, the sink's product).
//! Both dereference to [`Context`], so `cx.tenant()`, `cx.credential(name)`, `cx.tokens()`,
//! `cx.clock()` and `cx.http()` read the same on both sides.

use std::sync::Arc;

use crate::clock::Clock;
use crate::credentials::token::{HttpTokenFetcher, TokenProvider};
use crate::credentials::{Credential, CredentialError, CredentialStore, TenantCredentials};
use crate::error::ConfigError;

/// The tenant a source or sink is registered in when none is named.
pub const DEFAULT_TENANT: &str = "default";

/// A tenant's view of the platform's shared services. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    tenant: Arc<str>,
    credentials: TenantCredentials,
    tokens: Arc<TokenProvider>,
    clock: Clock,
    http: reqwest::Client,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The context of `tenant` over the platform's shared services.
    pub fn new(
        tenant: impl AsRef<str>,
        credentials: Arc<dyn CredentialStore>,
        tokens: Arc<TokenProvider>,
        http: reqwest::Client,
        clock: Clock,
    ) -> Self {
        Context {
            tenant: Arc::from(tenant.as_ref()),
            credentials: TenantCredentials::new(tenant.as_ref(), credentials),
            tokens,
            clock,
            http,
        }
    }

    /// A context with services of its own (an HTTP client and a token provider on it), for
    /// tests, conformance suites and tools that call a connector outside a platform.
    pub fn standalone(
        tenant: impl AsRef<str>,
        credentials: Arc<dyn CredentialStore>,
        clock: Clock,
    ) -> Result<Self, ConfigError> {
        let http = http_client()?;
        let tokens = Arc::new(
            TokenProvider::new(Arc::new(HttpTokenFetcher::with_client(token_client()?)))
                .with_clock(clock),
        );
        Ok(Context::new(tenant, credentials, tokens, http, clock))
    }

    /// The same context with another token provider (tests give one on a simulated token
    /// endpoint; the platform gives its one provider to every context).
    pub fn with_tokens(mut self, tokens: Arc<TokenProvider>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The tenant this context belongs to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// This tenant's credentials (other tenants' are refused).
    pub fn credentials(&self) -> &TenantCredentials {
        &self.credentials
    }

    /// Resolve a credential of this tenant by name.
    pub async fn credential(&self, name: &str) -> Result<Credential, CredentialError> {
        self.credentials.get_named(name).await
    }

    /// The platform's one OAuth token provider: a token is minted once per credential and
    /// scope for every connector, cached, refreshed before expiry, single-flight.
    pub fn tokens(&self) -> &Arc<TokenProvider> {
        &self.tokens
    }

    /// The platform's clock: wall time on tokio's clock (paused in tests).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The platform's HTTP client: one connection pool, ucp's `User-Agent`, timeouts.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// The connectors' HTTP client (see [`crate::http::client`]).
pub(crate) fn http_client() -> Result<reqwest::Client, ConfigError> {
    crate::client::client().map_err(|e| ConfigError::HttpClient {
        reason: e.to_string(),
    })
}

/// The token endpoints' client: no redirects, so a client secret is never posted to another
/// host.
pub(crate) fn token_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .user_agent(crate::client::USER_AGENT)
        .connect_timeout(crate::client::CONNECT_TIMEOUT)
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::HttpClient {
            reason: e.to_string(),
        })
}
