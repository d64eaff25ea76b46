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

mod config;
mod cursor;
mod response;
mod scim;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use tracing::{debug, warn};
use ucp_core::{
    BudgetKey, BudgetSpec, CollectRequest, Credential, CredentialError, CredentialRef, Cursor,
    Page, RateLimitHint, Source, SourceCapabilities, SourceContext, SourceError, SourceInfo,
    StreamInfo,
};

pub use config::{OktaAuth, OktaConfig, StartAt, MAX_PAGE_LIMIT};
pub use cursor::LOGS_PATH;
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

    /// The `Authorization` header value, marked sensitive so it never reaches logs.
    async fn authorization(&self, cx: &SourceContext) -> Result<HeaderValue, SourceError> {
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
            OktaAuth::AccessToken { .. } => "Bearer",
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {}", token.expose_secret()))
            .map_err(|_| SourceError::Config {
                message: format!(
                    "credential '{name}' for Okta org {} contains characters not allowed in an HTTP header",
                    self.org_name
                ),
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// One GET, with every non-success status mapped to the error it means.
    async fn get(&self, cx: &SourceContext, url: &Url) -> Result<Exchange, SourceError> {
        let authorization = self.authorization(cx).await?;
        debug!(org = %self.org_name, url = %url, "okta request");
        let response = self
            .client
            .get(url.clone())
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| SourceError::Retryable {
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
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let now = cx.clock().now_utc();
        let hint = response::rate_limit_hint(&headers, now);
        let body = response.bytes().await.map_err(|e| SourceError::Retryable {
            message: format!(
                "reading the response of Okta org {} for {url} failed: {}",
                self.org_name,
                e.without_url()
            ),
            retry_after: None,
        })?;
        if status.is_success() {
            return Ok(Exchange {
                headers,
                body,
                hint,
            });
        }
        Err(self.status_error(status, &headers, &body, hint, url, now))
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
                let hint = RateLimitHint {
                    throttled: true,
                    ..hint.unwrap_or_default()
                };
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
                let what = match self.config.auth {
                    OktaAuth::ApiToken { .. } => "API token",
                    OktaAuth::AccessToken { .. } => "OAuth access token",
                };
                let check = if status == StatusCode::UNAUTHORIZED {
                    format!("check that credential '{credential}' holds a current, unrevoked {what} of this org")
                } else {
                    format!("check that the admin or service app behind credential '{credential}' may read the System Log (okta.logs.read)")
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
                Duration::from_secs(60),
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
