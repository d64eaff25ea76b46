//! A configurable provider API over loopback HTTP, for declarative REST connectors: the
//! events of one stream selected by a time window, behind one of the auth schemes CCF
//! definitions use, paged in one of their paging styles, answered as JSON or (gzip) CSV, with
//! rate-limit headers in one [`RateLimitDialect`].
//!
//! Two presets are real-looking APIs:
//!
//! - [`RestApiConfig::acme_alerts`]: `POST /v2/alerts/search` with a JSON body
//!   (`filter.createdFrom`, `filter.createdTo`, `pageSize`, `pageToken`), answering
//!   `{"status":"ok","data":{"alerts":[…]},"paging":{"nextPageToken":…,"hasMore":…}}`,
//!   authorised by bearer tokens from its own `POST /oauth/token` (client credentials sent
//!   as HTTP Basic, a required `X-Acme-Client` header, scope `alerts.read`), stating its quota
//!   in GitHub's `X-RateLimit-*` headers.
//! - [`RestApiConfig::globex_audit`]: `GET /api/v1/audit/export?start=&end=` (epoch seconds),
//!   `offset`/`limit` paging, answering a gzip CSV file (`event_id,timestamp,actor,action`),
//!   keyed by `X-Api-Key`, stating its quota in the IETF draft's `RateLimit-*` headers and
//!   answering 429 past it.
//!
//! Every other combination ([`SimAuth`], [`SimPaging`], [`SimFormat`]) serves the tests of
//! each auth, paging and response variant. Errors are JSON `{"status":"error","message":…}`
//! with the HTTP status a real API gives (400 for a bad parameter, 401, 429). The router can
//! be wrapped (fault injection); the token and login routes stay outside the wrap.

mod auth;
mod fixture;
mod render;
mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use ucp_core::Clock;

pub use fixture::RestApiFixture;

use crate::faults::RateLimitDialect;

/// How callers authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimAuth {
    /// Anyone may call.
    None,
    /// `Authorization: Basic` with this user and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A key in header `header`, after `prefix` and a space when set.
    ApiKeyHeader {
        /// The header.
        header: String,
        /// e.g. `SSWS`.
        prefix: Option<String>,
        /// The key.
        key: String,
    },
    /// A key in the form or JSON body, under `field`.
    ApiKeyBody {
        /// The field.
        field: String,
        /// The key.
        key: String,
    },
    /// Bearer tokens from `POST /oauth/token` (client credentials).
    OAuth {
        /// The client id.
        client_id: String,
        /// The client secret.
        secret: String,
        /// The client authenticates with HTTP Basic (else in the form).
        basic: bool,
        /// A header the token request must carry.
        required_header: Option<(String, String)>,
        /// A query parameter the token request must carry.
        required_query: Option<(String, String)>,
        /// The scope the request must ask for.
        scope: String,
    },
    /// A login at `POST /login` with user and password fields (form or JSON) whose answer
    /// carries a token, sent back in `send_header` after `prepend`.
    Login {
        /// The user field's name.
        user_field: String,
        /// The password field's name.
        password_field: String,
        /// The user.
        user: String,
        /// The password.
        password: String,
        /// The answer carries the token in this header (else in the body's `token`).
        token_header: Option<String>,
        /// The header API calls carry it in.
        send_header: String,
        /// Before the token in that header (e.g. `Bearer`).
        prepend: Option<String>,
    },
}

/// How pages are chained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimPaging {
    /// One page holds everything.
    None,
    /// `Link: <…>; rel="next"` carrying `cursor=<n>`.
    LinkHeader,
    /// The next URL in the body at `links.next`.
    LinkInBody,
    /// An opaque token in the body at `paging.nextPageToken`, with `paging.hasMore`; sent
    /// back as parameter `token_param` (query or body).
    TokenInBody {
        /// The parameter carrying the token back.
        token_param: String,
    },
    /// The token in response header `X-Next-Page-Token`; sent back in request header
    /// `X-Page-Token`.
    TokenInHeader,
    /// The next page's full URL in the body at `next`.
    NextUrlInBody,
    /// `offset` and `limit` parameters.
    Offset,
    /// `page` numbers (1-based unless `zero_based`), with `total`, `pageCount` and `hasMore`
    /// in the body.
    PageNumber {
        /// Pages count from 0.
        zero_based: bool,
    },
}

/// How answers are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimFormat {
    /// JSON: the events at `events_path` (keys from the root; empty: the body is the array),
    /// inside `{"status":"ok", …}` unless the body is the array.
    Json {
        /// The path of the events array.
        events_path: Vec<String>,
        /// gzip the body (`Content-Encoding` not set: the file is the gzip).
        gzip: bool,
    },
    /// CSV with a header row; gzip when `gzip`.
    Csv {
        /// gzip the body.
        gzip: bool,
        /// The delimiter.
        delimiter: u8,
    },
}

/// How window times are written in requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimTime {
    /// RFC 3339.
    Iso,
    /// Epoch seconds.
    UnixSeconds,
    /// Epoch milliseconds.
    UnixMillis,
}

/// The whole behaviour of a simulated API.
#[derive(Clone, Debug)]
pub struct RestApiConfig {
    /// The events' path (`/api/events`).
    pub path: String,
    /// `GET` or `POST`.
    pub post: bool,
    /// Auth.
    pub auth: SimAuth,
    /// Paging.
    pub paging: SimPaging,
    /// Format.
    pub format: SimFormat,
    /// The window's parameter names (a dotted path inside a JSON body, e.g.
    /// `filter.createdFrom`), or `None` for an API without time filters.
    pub window: Option<(String, String)>,
    /// An interval parameter `name=<prepend><start><delimiter><end>` instead.
    pub interval: Option<(String, String, String)>,
    /// How window times are written.
    pub time: SimTime,
    /// The page size parameter (dotted path in a JSON body).
    pub page_size_param: String,
    /// Page size when the request names none.
    pub default_page_size: usize,
    /// The events' id and time fields.
    pub id_field: String,
    /// The time field.
    pub time_field: String,
    /// Rate-limit headers' dialect.
    pub dialect: RateLimitDialect,
    /// Calls per minute.
    pub limit_per_minute: u32,
    /// `status` in JSON envelopes (`ok`); tests set another to see it refused.
    pub status: String,
}

impl RestApiConfig {
    /// A GET API at `/api/events` with no auth, no paging, a JSON array, ISO `since`/`until`.
    pub fn basic() -> Self {
        RestApiConfig {
            path: "/api/events".into(),
            post: false,
            auth: SimAuth::None,
            paging: SimPaging::None,
            format: SimFormat::Json {
                events_path: Vec::new(),
                gzip: false,
            },
            window: Some(("since".into(), "until".into())),
            interval: None,
            time: SimTime::Iso,
            page_size_param: "limit".into(),
            default_page_size: 50,
            id_field: "id".into(),
            time_field: "time".into(),
            dialect: RateLimitDialect::GitHub,
            limit_per_minute: 10_000,
            status: "ok".into(),
        }
    }

    /// The Acme alerts API (see the module docs).
    pub fn acme_alerts() -> Self {
        RestApiConfig {
            path: "/v2/alerts/search".into(),
            post: true,
            auth: SimAuth::OAuth {
                client_id: "acme-client-7".into(),
                secret: "acme-secret-9f8e7d".into(),
                basic: true,
                required_header: Some(("X-Acme-Client".into(), "ucp".into())),
                required_query: None,
                scope: "alerts.read".into(),
            },
            paging: SimPaging::TokenInBody {
                token_param: "pageToken".into(),
            },
            format: SimFormat::Json {
                events_path: vec!["data".into(), "alerts".into()],
                gzip: false,
            },
            window: Some(("filter.createdFrom".into(), "filter.createdTo".into())),
            interval: None,
            time: SimTime::Iso,
            page_size_param: "pageSize".into(),
            default_page_size: 100,
            id_field: "id".into(),
            time_field: "createdAt".into(),
            dialect: RateLimitDialect::GitHub,
            limit_per_minute: 6_000,
            status: "ok".into(),
        }
    }

    /// The Globex audit export (see the module docs).
    pub fn globex_audit() -> Self {
        RestApiConfig {
            path: "/api/v1/audit/export".into(),
            post: false,
            auth: SimAuth::ApiKeyHeader {
                header: "X-Api-Key".into(),
                prefix: None,
                key: "globex-key-31c4".into(),
            },
            paging: SimPaging::Offset,
            format: SimFormat::Csv {
                gzip: true,
                delimiter: b',',
            },
            window: Some(("start".into(), "end".into())),
            interval: None,
            time: SimTime::UnixSeconds,
            page_size_param: "limit".into(),
            default_page_size: 100,
            id_field: "event_id".into(),
            time_field: "timestamp".into(),
            dialect: RateLimitDialect::IetfDraft,
            limit_per_minute: 6_000,
            status: "ok".into(),
        }
    }
}

/// One event of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    /// Its id.
    pub id: String,
    /// Its time.
    pub time: DateTime<Utc>,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
}

/// A running simulated API; stops when dropped.
pub struct RestApi {
    shared: Arc<server::Shared>,
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for RestApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestApi")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RestApi {
    /// Serve `config` on 127.0.0.1.
    pub async fn start(config: RestApiConfig, clock: Clock) -> std::io::Result<RestApi> {
        Self::start_wrapped(config, clock, |router| router).await
    }

    /// Serve `config`, the events' router passed through `wrap` (e.g. a fault layer); the
    /// token and login routes are not wrapped.
    pub async fn start_wrapped(
        config: RestApiConfig,
        clock: Clock,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> std::io::Result<RestApi> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(server::Shared::new(config, clock, base_url.clone()));
        let app =
            wrap(server::events_router(shared.clone())).merge(server::auth_router(shared.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RestApi {
            shared,
            base_url,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The token URL of OAuth clients, `{base}/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// Add `count` events spread evenly over `[from, to)`; their ids.
    pub fn add_between(&self, count: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
        self.shared.add_between(count, from, to)
    }

    /// Add `count` events at `time`; their ids.
    pub fn add_at(&self, count: usize, time: DateTime<Utc>) -> Vec<String> {
        self.shared.add_between(count, time, time)
    }

    /// Every event, in time order.
    pub fn events(&self) -> Vec<SimEvent> {
        self.shared.events()
    }

    /// Requests to the events' path.
    pub fn requests(&self) -> u64 {
        self.shared.counter(|c| c.requests)
    }

    /// Token requests granted.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.counter(|c| c.tokens)
    }

    /// Logins granted.
    pub fn logins(&self) -> u64 {
        self.shared.counter(|c| c.logins)
    }

    /// Forget every issued token and session (they answer 401 from now on).
    pub fn revoke_tokens(&self) {
        self.shared.revoke();
    }

    /// The query strings and bodies of the events' requests, in order.
    pub fn seen_requests(&self) -> Vec<(String, String)> {
        self.shared.seen()
    }

    /// Change the envelope's `status`.
    pub fn set_status(&self, status: &str) {
        self.shared.set_status(status);
    }
}

impl Drop for RestApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A lock that survives a panicking holder.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long an issued token lives.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
