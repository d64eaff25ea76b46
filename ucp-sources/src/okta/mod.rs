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
//! ([`to_scim`]). Every response's rate-limit headers become the page's hint (read by the HTTP
//! kit, [`ucp_core::http`], in any dialect; Okta sends `X-Rate-Limit-*`); a 429 is
//! [`SourceError::RateLimited`] with the reset, so the org's whole budget waits. Requests go
//! through the platform's HTTP client ([`SourceContext::http`](ucp_core::Context::http)), and
//! every error names Okta's `X-Okta-Request-Id`, which Okta support asks for.
//!
//! Auth ([`OktaAuth`]): an SSWS API token, a static bearer token, or an OAuth 2.0 service
//! app. A service app's access token comes from the platform's shared token provider
//! ([`cx.tokens()`](ucp_core::Context::tokens)), so every connector of the org uses one token per credential
//! and scope; the token request is a call to the org and draws from the org's budget; a 401
//! drops the token and the call is made once more with a fresh one.
//!
//! Response actions (`actions.rs`, performed in `act.rs`): [`SUSPEND_USER`], [`UNSUSPEND_USER`],
//! [`CLEAR_USER_SESSIONS`] and [`RESET_FACTORS`], through the same credential and the org's
//! budget; a service app asks for a token of the action scope
//! ([`OktaConfig::action_scope`], default [`USERS_MANAGE_SCOPE`]).

mod act;
mod actions;
mod config;
mod cursor;
#[cfg(test)]
mod cursor_proptests;
pub mod definition;
mod failure;
#[cfg(test)]
mod page_proptests;
mod request;
mod response;
mod scim;
#[cfg(test)]
mod start_proptests;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use tracing::warn;
use ucp_core::http;
use ucp_core::{
    ActionInfo, ActionOutcome, ActionPlan, ActionRequest, BudgetKey, BudgetSpec, CollectRequest,
    Cursor, Page, Source, SourceCapabilities, SourceContext, SourceError, SourceInfo, StreamInfo,
};

use failure::Org;
use request::{CallError, Exchange, Purpose};

pub use actions::{
    CLEAR_USER_SESSIONS, RESET_FACTORS, SUSPEND_USER, UNSUSPEND_USER, USERS_MANAGE_SCOPE,
};
pub use config::{OktaAuth, OktaConfig, StartAt, LOGS_SCOPE, MAX_PAGE_LIMIT};
pub use cursor::LOGS_PATH;
pub use definition::definition;
pub use scim::to_scim;

/// The one stream an Okta source offers.
pub const SYSTEM_LOG: &str = "system_log";

/// An Okta org's System Log, and the response actions on its users. See the module docs.
#[derive(Debug)]
pub struct OktaSource {
    config: OktaConfig,
    /// The org's origin (`https://contoso.okta.com`).
    org: Url,
    /// `host[:port]`, for messages and the budget key.
    org_name: String,
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
        if config.action_scope.trim().is_empty() {
            return Err(config_error(format!(
                "Okta org {org_name}: the action scope is empty: use e.g. {USERS_MANAGE_SCOPE}"
            )));
        }
        if config.rate_limit_window < Duration::from_millis(1) {
            return Err(config_error(format!(
                "Okta org {org_name}: the rate-limit window must be at least 1 ms (default 60 s)"
            )));
        }
        Ok(OktaSource {
            config,
            org,
            org_name,
        })
    }

    /// The org's `host[:port]`, as used in messages and the budget key.
    pub fn org_name(&self) -> &str {
        &self.org_name
    }

    /// The facts error messages name.
    fn org(&self) -> Org<'_> {
        Org {
            name: &self.org_name,
            auth: &self.config.auth,
            timeout: self.config.request_timeout,
        }
    }

    /// One System Log GET, with every error answer mapped to the error it means.
    async fn get(&self, cx: &SourceContext, url: &Url) -> Result<Exchange, SourceError> {
        match self.call(cx, Method::GET, url, Purpose::Collect).await {
            Ok(exchange) => Ok(exchange),
            Err(CallError::Refused(refusal)) => Err(self.org().status_error(&refusal.failure, url)),
            Err(CallError::Failed(error)) => Err(error),
        }
    }

    fn start(&self, cx: &SourceContext) -> DateTime<Utc> {
        match &self.config.start {
            StartAt::Time(t) => *t,
            StartAt::Ago(ago) => before(cx.clock().now_utc(), *ago),
        }
    }

    /// Refuses a stream other than [`SYSTEM_LOG`].
    fn stream(&self, stream: &str) -> Result<(), SourceError> {
        if stream == SYSTEM_LOG {
            return Ok(());
        }
        Err(SourceError::Config {
            message: format!(
                "Okta org {} has no stream '{stream}' (it offers: {SYSTEM_LOG})",
                self.org_name
            ),
        })
    }
}

/// `ago` before `now`, but never before the Unix epoch (Okta keeps nothing older, and a
/// configured duration of centuries must not overflow the date arithmetic).
fn before(now: DateTime<Utc>, ago: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| now.checked_sub_signed(ago))
        .filter(|start| *start >= DateTime::UNIX_EPOCH)
        .unwrap_or(DateTime::UNIX_EPOCH)
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
            message: format!(
                "Okta org {}, check request {url}{}: {why}",
                self.org_name,
                exchange.request_id_text()
            ),
        })?;
        Ok(())
    }

    /// The first request of a poll from `time`: `since=<time>`, ascending, the configured
    /// page size, no filter (the job's filter is added when the cursor is collected).
    fn cursor_at(&self, stream: &str, time: DateTime<Utc>) -> Result<Cursor, SourceError> {
        self.stream(stream)?;
        let url = cursor::first_url(&self.org, time, self.config.page_limit, None);
        Ok(Cursor::new(url.to_string()))
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        self.stream(&req.stream)?;
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
            message: format!(
                "Okta org {}, page {url}{}: {why}",
                self.org_name,
                exchange.request_id_text()
            ),
        })?;
        let next = match http::next_link(&exchange.headers) {
            // A relative link is resolved; one to another origin would carry the credential
            // there, so the page is refused before its cursor could be saved.
            Some(link) => http::resolve_link(&url, &link)
                .map_err(|why| SourceError::Malformed {
                    message: format!(
                        "Okta org {}, page {url}{}: the next link cannot be followed: {why}",
                        self.org_name,
                        exchange.request_id_text()
                    ),
                })?
                .to_string(),
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

    fn actions(&self) -> Vec<ActionInfo> {
        actions::catalogue(&self.config.action_scope)
    }

    fn plan_action(&self, request: &ActionRequest) -> Result<ActionPlan, SourceError> {
        Ok(self.user_action(request)?.plan(&self.org, &self.org_name))
    }

    async fn act(
        &self,
        cx: &SourceContext,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, SourceError> {
        let action = self.user_action(request)?;
        self.perform(cx, &action).await
    }
}
