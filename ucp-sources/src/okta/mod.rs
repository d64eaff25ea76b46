//! Okta System Log source: stream `system_log` from `GET /api/v1/logs`.
//!
//! It uses Okta's **polling mode**: the first request asks for `since=<start>` in ascending
//! order with no `until`, then every request follows the `Link: <…>; rel="next"` URL exactly
//! as given, and that URL is the cursor. Bounded `since`/`until` windows filter on
//! `published` and miss events Okta persists late; polling follows persistence order and
//! does not. A page shorter than the requested limit (or empty: in polling mode `next` is
//! present even then) ends the round, so the scheduler does not spin.
//!
//! Records: id = `uuid`, time = `published`, payload = the event's bytes as Okta sent them.
//! The job's [`Filter`](ucp_core::Filter) becomes Okta's SCIM `filter` where it can
//! ([`to_scim`]). Every response's `X-Rate-Limit-*` headers become the page's hint; a 429 is
//! [`SourceError::RateLimited`] with the reset, so the org's whole budget waits.
//!
//! Auth ([`OktaAuth`]): an SSWS API token, a static bearer token, or an OAuth 2.0 service
//! app. A service app's access token comes from the platform's shared token provider
//! ([`Context::tokens`](ucp_core::Context::tokens)), so every connector of the org uses one token per credential
//! and scope; the token request is a call to the org and draws from the org's budget; a 401
//! drops the token and the call is made once more with a fresh one.

mod config;
mod cursor;
pub mod definition;
mod response;
mod scim;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use tracing::{debug, warn};
use ucp_core::credentials::token::{AccessToken, Attempt, TokenError, TokenRequest};
use ucp_core::credentials::{Credential, CredentialError, CredentialRef};
use ucp_core::{
    BudgetKey, BudgetSpec, CollectRequest, Cursor, Page, RateLimitHint, Source, SourceCapabilities,
    SourceContext, SourceError, SourceInfo, StreamInfo,
};

pub use config::{OktaAuth, OktaConfig, StartAt, LOGS_SCOPE, MAX_PAGE_LIMIT};
pub use cursor::LOGS_PATH;
pub use definition::definition;
pub use scim::to_scim;

/// The one stream an Okta source offers.
pub const SYSTEM_LOG: &str = "system_log";

/// An Okta org's System Log. See the module docs.
#[derive(Debug)]
pub struct OktaSource {
    config: OktaConfig,
    /// The org's origin (`https://contoso.okta.com`).
    org: Url,
    /// `host[:port]`, for messages and the budget key.
    org_name: String,
    client: reqwest::Client,
}

/// A successful HTTP exchange.
struct Exchange {
    headers: HeaderMap,
    body: Bytes,
    hint: Option<RateLimitHint>,
}

/// What one request came to. A 401 stays apart so an OAuth token can be refreshed once.
enum Sent {
    Done(Result<Exchange, SourceError>),
    Unauthorized(SourceError),
}

impl OktaSource {
    /// A source for `config`; refuses an unusable configuration, naming what is wrong.
    pub fn new(config: OktaConfig) -> Result<Self, SourceError> {
        let config_error = |message: String| SourceError::Config { message };
        let mut org = Url::parse(config.org_url.trim_end_matches('/')).map_err(|e| {
            config_error(format!(
                "Okta org URL '{}' is not a URL ({e}): use e.g. https://contoso.okta.com",
                config.org_url
            ))
        })?;
        let host = match (org.scheme(), org.host_str()) {
            ("https" | "http", Some(host)) => host.to_string(),
            _ => {
                return Err(config_error(format!(
                    "Okta org URL '{}' must be an http(s) URL with a host, e.g. https://contoso.okta.com",
                    config.org_url
                )))
            }
        };
        let org_name = match org.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        org.set_path("");
        org.set_query(None);
        org.set_fragment(None);
        if !(1..=MAX_PAGE_LIMIT).contains(&config.page_limit) {
            return Err(config_error(format!(
                "Okta org {org_name}: page limit {} must be between 1 and {MAX_PAGE_LIMIT}",
                config.page_limit
            )));
        }
        if !(config.quota_share > 0.0 && config.quota_share <= 1.0) {
            return Err(config_error(format!(
                "Okta org {org_name}: quota share {} must be in (0, 1]",
                config.quota_share
            )));
        }
        if config.rate_limit_per_minute == 0 {
            return Err(config_error(format!(
                "Okta org {org_name}: the rate limit must be at least 1 call per minute"
            )));
        }
        if config.rate_limit_window < Duration::from_millis(1) {
            return Err(config_error(format!(
                "Okta org {org_name}: the rate-limit window must be at least 1 ms (default 60 s)"
            )));
        }
        let mut builder = reqwest::Client::builder();
        if let Some(timeout) = config.request_timeout {
            builder = builder.timeout(timeout);
        }
        let client = builder
            .user_agent(concat!("ucp-okta/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(format!("Okta org {org_name}: HTTP client: {e}")))?;
        Ok(OktaSource {
            config,
            org,
            org_name,
            client,
        })
    }

    /// The org's `host[:port]`, as used in messages and the budget key.
    pub fn org_name(&self) -> &str {
        &self.org_name
    }

    /// The `Authorization` header of an API token or a static access token, marked
    /// sensitive so it never reaches logs.
    async fn static_authorization(&self, cx: &SourceContext) -> Result<HeaderValue, SourceError> {
        let name = self.config.auth.credential();
        let credential = cx.credential(name).await?;
        let token = match credential {
            Credential::ApiToken { token } => token,
            other => {
                return Err(CredentialError::WrongKind {
                    reference: CredentialRef::new(cx.tenant(), name),
                    expected: "api token",
                    found: other.kind(),
                }
                .into())
            }
        };
        let scheme = match self.config.auth {
            OktaAuth::ApiToken { .. } => "SSWS",
            _ => "Bearer",
        };
        self.header(scheme, token.expose_secret()).ok_or_else(|| SourceError::Config {
            message: format!(
                "credential '{name}' for Okta org {} contains characters not allowed in an HTTP header",
                self.org_name
            ),
        })
    }

    /// `<scheme> <token>` as a sensitive header value (never shown by `Debug` or logs).
    fn header(&self, scheme: &str, token: &str) -> Option<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("{scheme} {token}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// One authenticated GET, with every non-success status mapped to the error it means.
    async fn get(&self, cx: &SourceContext, url: &Url) -> Result<Exchange, SourceError> {
        match &self.config.auth {
            OktaAuth::OAuth { credential, scope } => {
                self.get_with_oauth(cx, url, credential, scope).await
            }
            _ => {
                let authorization = self.static_authorization(cx).await?;
                match self.send(cx, url, authorization).await {
                    Sent::Done(result) => result,
                    Sent::Unauthorized(error) => Err(error),
                }
            }
        }
    }

    /// A GET with the service app's access token from the platform's token provider; after
    /// a 401 the token is dropped and the GET made once more with a fresh one.
    async fn get_with_oauth(
        &self,
        cx: &SourceContext,
        url: &Url,
        credential: &str,
        scope: &str,
    ) -> Result<Exchange, SourceError> {
        let tokens = cx.tokens();
        // The token endpoint is the org's own: its requests count against the org's budget.
        let request = TokenRequest::named(cx.credentials(), credential, scope)
            .with_budget(cx.budget().clone());
        let mut calls = 0u32;
        let outcome = tokens
            .with_token(&request, |token: AccessToken| {
                calls += 1;
                let again = calls > 1;
                async move {
                    if again {
                        // The scheduler paid for the first request only.
                        cx.budget().acquire().await;
                    }
                    let Some(authorization) = self.header("Bearer", token.secret().expose_secret())
                    else {
                        return Attempt::Done(Err(SourceError::Auth {
                            message: format!(
                                "Okta org {}: the access token minted for credential '{credential}' is not a valid HTTP header value",
                                self.org_name
                            ),
                        }));
                    };
                    match self.send(cx, url, authorization).await {
                        Sent::Done(result) => Attempt::Done(result),
                        Sent::Unauthorized(_) => Attempt::Unauthorized,
                    }
                }
            })
            .await;
        outcome.unwrap_or_else(|error| Err(self.token_error(credential, scope, error)))
    }

    /// A failure to get (or use) a token, as the error it means for the scheduler.
    fn token_error(&self, credential: &str, scope: &str, error: TokenError) -> SourceError {
        let org = &self.org_name;
        let message = match &error {
            TokenError::Rejected { .. } => format!(
                "Okta org {org} rejected a freshly minted OAuth access token of credential '{credential}' (HTTP 401): {error}; check that the service app is active and granted {scope}"
            ),
            _ => format!(
                "Okta org {org}: no OAuth access token for credential '{credential}' (scope {scope}): {error}"
            ),
        };
        match error {
            TokenError::Unavailable { .. } | TokenError::InvalidResponse { .. } => {
                SourceError::Retryable {
                    message,
                    retry_after: None,
                }
            }
            TokenError::BackingOff {
                retry_in,
                cause_retryable: true,
                ..
            } => SourceError::Retryable {
                message,
                retry_after: Some(retry_in),
            },
            TokenError::Credential(_)
            | TokenError::Unsupported { .. }
            | TokenError::InsecureUrl { .. }
            | TokenError::Client { .. } => SourceError::Config { message },
            _ => SourceError::Auth { message },
        }
    }

    /// One GET with `authorization`.
    async fn send(&self, cx: &SourceContext, url: &Url, authorization: HeaderValue) -> Sent {
        match self.exchange(cx, url, authorization).await {
            Ok(exchange) => Sent::Done(Ok(exchange)),
            Err((Some(StatusCode::UNAUTHORIZED), error)) => Sent::Unauthorized(error),
            Err((_, error)) => Sent::Done(Err(error)),
        }
    }

    /// One GET; a failure comes with the HTTP status, if there was a response.
    async fn exchange(
        &self,
        cx: &SourceContext,
        url: &Url,
        authorization: HeaderValue,
    ) -> Result<Exchange, (Option<StatusCode>, SourceError)> {
        debug!(org = %self.org_name, url = %url, "okta request");
        let response = self
            .client
            .get(url.clone())
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                let error = SourceError::Retryable {
                    message: format!(
                        "request to Okta org {} failed ({}): {}",
                        self.org_name,
                        if e.is_timeout() {
                            "timeout"
                        } else {
                            "connection"
                        },
                        e.without_url()
                    ),
                    retry_after: None,
                };
                (None, error)
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let now = cx.clock().now_utc();
        let hint = response::rate_limit_hint(&headers, now);
        let body = response.bytes().await.map_err(|e| {
            let error = SourceError::Retryable {
                message: format!(
                    "reading the response of Okta org {} for {url} failed: {}",
                    self.org_name,
                    e.without_url()
                ),
                retry_after: None,
            };
            (Some(status), error)
        })?;
        if status.is_success() {
            return Ok(Exchange {
                headers,
                body,
                hint,
            });
        }
        Err((
            Some(status),
            self.status_error(status, &headers, &body, hint, url, now),
        ))
    }

    fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        hint: Option<RateLimitHint>,
        url: &Url,
        now: chrono::DateTime<chrono::Utc>,
    ) -> SourceError {
        let org = &self.org_name;
        let said = match response::okta_error(body) {
            Some((code, summary)) => format!("HTTP {}, {code}: {summary}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
        let credential = self.config.auth.credential();
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                let hint = hint.unwrap_or_default();
                let until = hint
                    .reset
                    .map_or_else(|| "its reset".to_string(), |r| r.to_rfc3339());
                SourceError::RateLimited {
                    message: format!(
                        "Okta org {org} throttled the System Log request ({said}); calls to the org wait until {until}"
                    ),
                    hint,
                }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let what = self.config.auth.describe();
                let check = match (&self.config.auth, status) {
                    (OktaAuth::OAuth { scope, .. }, StatusCode::FORBIDDEN) => format!(
                        "check that the service app behind credential '{credential}' is granted the {LOGS_SCOPE} scope (asked for: {scope}) and an admin role that may read the System Log"
                    ),
                    (OktaAuth::OAuth { .. }, _) => format!(
                        "check that the service app behind credential '{credential}' is active in this org"
                    ),
                    (_, StatusCode::UNAUTHORIZED) => format!(
                        "check that credential '{credential}' holds a current, unrevoked {what} of this org"
                    ),
                    _ => format!(
                        "check that the admin or service app behind credential '{credential}' may read the System Log ({LOGS_SCOPE})"
                    ),
                };
                SourceError::Auth {
                    message: format!("Okta rejected the {what} for org {org} ({said}): {check}"),
                }
            }
            StatusCode::BAD_REQUEST => SourceError::Config {
                message: match cursor::filter_of(url) {
                    Some(filter) => format!(
                        "Okta org {org} refused the System Log filter `{filter}` ({said}): fix the subscriptions' filters"
                    ),
                    None => format!(
                        "Okta org {org} refused the System Log query {url} ({said}): check the source's start time and page limit"
                    ),
                },
            },
            StatusCode::NOT_FOUND => SourceError::Config {
                message: format!(
                    "Okta org {org} has no System Log API at {LOGS_PATH} ({said}): check the org URL"
                ),
            },
            s if s.is_server_error() => SourceError::Retryable {
                message: format!("Okta org {org} failed the System Log request ({said})"),
                retry_after: response::retry_after(headers, now),
            },
            _ => SourceError::Permanent {
                message: format!("Okta org {org} answered the System Log request with {said}"),
            },
        }
    }

    fn start(&self, cx: &SourceContext) -> chrono::DateTime<chrono::Utc> {
        match &self.config.start {
            StartAt::Time(t) => *t,
            StartAt::Ago(ago) => {
                cx.clock().now_utc()
                    - chrono::Duration::from_std(*ago).unwrap_or(chrono::Duration::zero())
            }
        }
    }
}

#[async_trait]
impl Source for OktaSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "okta".into(),
            streams: vec![StreamInfo::new(
                SYSTEM_LOG,
                "Okta System Log events, polled in the order Okta persisted them",
            )],
            capabilities: SourceCapabilities::default().with_server_side_filter(true),
            budget: BudgetSpec::new(
                BudgetKey::new("okta", self.org_name.clone()),
                self.config.rate_limit_per_minute,
                self.config.rate_limit_window,
            )
            .share(self.config.quota_share),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        // One cheap call: at most one event, persisted from now on.
        let mut url = self.org.clone();
        url.set_path(LOGS_PATH);
        let now = cx.clock().now_utc();
        url.query_pairs_mut()
            .append_pair(
                "since",
                &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
            .append_pair("limit", "1");
        let exchange = self.get(cx, &url).await?;
        response::records(&exchange.body).map_err(|why| SourceError::Malformed {
            message: format!("Okta org {}, check request {url}: {why}", self.org_name),
        })?;
        Ok(())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        if req.stream != SYSTEM_LOG {
            return Err(SourceError::Config {
                message: format!(
                    "Okta org {} has no stream '{}' (it offers: {SYSTEM_LOG})",
                    self.org_name, req.stream
                ),
            });
        }
        let filter = req.filter.as_ref().and_then(to_scim);
        let url = match req.cursor.as_str() {
            None => cursor::first_url(
                &self.org,
                self.start(cx),
                self.config.page_limit,
                filter.as_deref(),
            ),
            Some(saved) => cursor::resume_url(&self.org, &self.org_name, saved, filter.as_deref())?,
        };
        let exchange = self.get(cx, &url).await?;
        let records = response::records(&exchange.body).map_err(|why| SourceError::Malformed {
            message: format!("Okta org {}, page {url}: {why}", self.org_name),
        })?;
        let next = match response::next_link(&exchange.headers) {
            Some(link) => link,
            None => {
                // Polling responses always carry `next`; without one, ask for this page again.
                warn!(org = %self.org_name, url = %url, "okta response without a next link");
                url.to_string()
            }
        };
        let more = !records.is_empty() && records.len() >= cursor::limit_of(&url);
        Ok(Page {
            records,
            next: Cursor::new(next),
            more,
            hint: exchange.hint,
        })
    }
}
