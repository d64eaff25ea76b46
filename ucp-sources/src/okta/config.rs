//! Configuration of an Okta source.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Okta's largest System Log page.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// The scope an OAuth service app needs to read the System Log.
pub const LOGS_SCOPE: &str = "okta.logs.read";

use super::actions::USERS_MANAGE_SCOPE;

/// How the source authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OktaAuth {
    /// `Authorization: SSWS <token>`; the named credential is a `Credential::ApiToken`.
    ApiToken {
        /// The credential's name in the tenant's store.
        credential: String,
    },
    /// `Authorization: Bearer <token>` with an OAuth access token obtained elsewhere; the
    /// named credential is a `Credential::ApiToken` holding the access token.
    AccessToken {
        /// The credential's name in the tenant's store.
        credential: String,
    },
    /// An OAuth 2.0 service app: `client_credentials` with a `private_key_jwt` assertion to
    /// the org authorization server (`{org}/oauth2/v1/token`), then `Authorization: Bearer`.
    /// The named credential is a `Credential::PrivateKeyJwt`; tokens come from the
    /// platform's shared token provider, so one token serves every connector of the org.
    OAuth {
        /// The credential's name in the tenant's store.
        credential: String,
        /// The scopes to ask for, space-separated (default [`LOGS_SCOPE`]).
        scope: String,
    },
}

impl OktaAuth {
    /// An OAuth service app with the credential `credential`, asking for [`LOGS_SCOPE`].
    pub fn oauth(credential: impl Into<String>) -> Self {
        OktaAuth::OAuth {
            credential: credential.into(),
            scope: LOGS_SCOPE.into(),
        }
    }

    /// The credential's name.
    pub fn credential(&self) -> &str {
        match self {
            OktaAuth::ApiToken { credential }
            | OktaAuth::AccessToken { credential }
            | OktaAuth::OAuth { credential, .. } => credential,
        }
    }

    /// What the provider is shown, for messages: "API token", "OAuth access token".
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            OktaAuth::ApiToken { .. } => "API token",
            OktaAuth::AccessToken { .. } | OktaAuth::OAuth { .. } => "OAuth access token",
        }
    }
}

/// Where the first collection starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// Events persisted at or after this time.
    Time(DateTime<Utc>),
    /// Events persisted within this long before the first collection.
    Ago(Duration),
}

/// An Okta org's System Log source. Build with [`OktaConfig::new`] and the setters.
#[derive(Clone, Debug, PartialEq)]
pub struct OktaConfig {
    /// The org URL, e.g. `https://contoso.okta.com`.
    pub org_url: String,
    /// How to authenticate.
    pub auth: OktaAuth,
    /// Events per page, 1..=1000 (default 1000).
    pub page_limit: u32,
    /// Where the first collection starts (default: one hour ago).
    pub start: StartAt,
    /// Share of the org's rate limit this platform may use, in (0, 1] (default 0.5: the rest
    /// is left for the org's other applications).
    pub quota_share: f64,
    /// The org's `/api/v1/logs` limit per minute until a response says otherwise (default 600).
    pub rate_limit_per_minute: u32,
    /// The real length of the org's rate-limit "minute" (default 60 s). Only a simulated org
    /// with compressed time (a demo, a benchmark) has a shorter one.
    pub rate_limit_window: Duration,
    /// Timeout of one HTTP request (default 30 s), set on each request to the platform's
    /// client. `None` leaves the client's own ([`ucp_core::http::REQUEST_TIMEOUT`]).
    pub request_timeout: Option<Duration>,
    /// The scopes an OAuth service app asks for to perform response actions, space-separated
    /// (default [`USERS_MANAGE_SCOPE`]); a token of its own, apart from collection's. Unused
    /// with an API token, which acts with its admin's role.
    pub action_scope: String,
}

impl OktaConfig {
    /// A source for `org_url` authenticating with the SSWS API token in `credential`.
    pub fn new(org_url: impl Into<String>, credential: impl Into<String>) -> Self {
        OktaConfig {
            org_url: org_url.into(),
            auth: OktaAuth::ApiToken {
                credential: credential.into(),
            },
            page_limit: MAX_PAGE_LIMIT,
            start: StartAt::Ago(Duration::from_secs(3600)),
            quota_share: 0.5,
            rate_limit_per_minute: 600,
            rate_limit_window: Duration::from_secs(60),
            request_timeout: Some(Duration::from_secs(30)),
            action_scope: USERS_MANAGE_SCOPE.into(),
        }
    }

    /// A source for `org_url` authenticating as the OAuth service app in `credential` (a
    /// `Credential::PrivateKeyJwt` whose token URL is `{org_url}/oauth2/v1/token`), with
    /// scope [`LOGS_SCOPE`].
    pub fn oauth(org_url: impl Into<String>, credential: impl Into<String>) -> Self {
        Self::new(org_url, "").auth(OktaAuth::oauth(credential))
    }

    /// Authenticate another way.
    pub fn auth(mut self, auth: OktaAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Events per page.
    pub fn page_limit(mut self, limit: u32) -> Self {
        self.page_limit = limit;
        self
    }

    /// Start at a fixed time.
    pub fn start_at(mut self, time: DateTime<Utc>) -> Self {
        self.start = StartAt::Time(time);
        self
    }

    /// Start this long before the first collection.
    pub fn start_ago(mut self, ago: Duration) -> Self {
        self.start = StartAt::Ago(ago);
        self
    }

    /// Use at most this share of the org's rate limit.
    pub fn quota_share(mut self, share: f64) -> Self {
        self.quota_share = share;
        self
    }

    /// The org's rate limit per minute, until learned from responses.
    pub fn rate_limit_per_minute(mut self, calls: u32) -> Self {
        self.rate_limit_per_minute = calls;
        self
    }

    /// The org's rate-limit window lasts `window` of real time instead of a minute (for a
    /// simulated org running `60 s / window` times faster than real time).
    pub fn rate_limit_window(mut self, window: Duration) -> Self {
        self.rate_limit_window = window;
        self
    }

    /// Timeout of one HTTP request.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Ask for `scope` (space-separated scopes) to perform response actions as an OAuth
    /// service app.
    pub fn action_scope(mut self, scope: impl Into<String>) -> Self {
        self.action_scope = scope.into();
        self
    }

    /// No request timeout of the source's own: the platform client's applies.
    pub fn no_request_timeout(mut self) -> Self {
        self.request_timeout = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::OktaSource;
    use ucp_core::Source;

    #[test]
    fn a_compressed_rate_limit_window_becomes_the_budget_window() {
        let config =
            |window| OktaConfig::new("https://contoso.okta.com", "c").rate_limit_window(window);
        let source = OktaSource::new(config(Duration::from_secs(3))).unwrap();
        assert_eq!(source.describe().budget.per, Duration::from_secs(3));
        let default = OktaSource::new(OktaConfig::new("https://contoso.okta.com", "c")).unwrap();
        assert_eq!(default.describe().budget.per, Duration::from_secs(60));
        let err = OktaSource::new(config(Duration::ZERO)).unwrap_err();
        assert!(err.to_string().contains("rate-limit window"), "{err}");
    }
}
