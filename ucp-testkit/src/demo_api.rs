//! A small provider API over loopback HTTP, for examples of partner-written connectors.
//!
//! `GET /v1/events?after=<position>&limit=<n>` with `Authorization: Bearer <token>` answers
//! `{"events": [...], "next": "<position>", "has_more": bool}` and the rate-limit headers
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds);
//! over the limit it answers 429 with `Retry-After`. Bad tokens get 401.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::time::Instant;
use ucp_core::Clock;

use crate::event_log::EventLog;

struct Api {
    log: EventLog,
    token: String,
    limit: u32,
    window: Duration,
    clock: Clock,
    rate: Mutex<(Instant, u32)>,
    requests: Mutex<u64>,
}

/// A running demo API; stops when dropped.
pub struct DemoApi {
    addr: SocketAddr,
    api: Arc<Api>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DemoApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Deserialize)]
struct Params {
    after: Option<usize>,
    limit: Option<usize>,
}

impl DemoApi {
    /// Serve `log` on 127.0.0.1, accepting `token`, allowing `limit` requests per minute.
    pub async fn start(
        log: EventLog,
        token: impl Into<String>,
        limit: u32,
    ) -> std::io::Result<Self> {
        Self::start_wrapped(log, token, limit, |router| router).await
    }

    /// Like [`DemoApi::start`], with the API's router passed through `wrap` first, e.g.
    /// `|router| router.layer(faults.layer())` to inject [`crate::faults`] in front of it.
    /// Any other token than `token` is refused with 401 (a revoked or wrong credential).
    pub async fn start_wrapped(
        log: EventLog,
        token: impl Into<String>,
        limit: u32,
        wrap: impl FnOnce(Router) -> Router,
    ) -> std::io::Result<Self> {
        let clock = Clock::new();
        let api = Arc::new(Api {
            log,
            token: token.into(),
            limit,
            window: Duration::from_secs(60),
            clock,
            rate: Mutex::new((Instant::now(), 0)),
            requests: Mutex::new(0),
        });
        let app = wrap(
            Router::new()
                .route("/v1/events", get(events))
                .with_state(api.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "demo API stopped");
            }
        });
        Ok(DemoApi { addr, api, server })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The event log it serves (shared: events added to it are visible at once).
    pub fn log(&self) -> &EventLog {
        &self.api.log
    }

    /// Requests served so far (those a wrapping layer answered itself are not counted).
    pub fn requests(&self) -> u64 {
        *lock(&self.api.requests)
    }
}

async fn events(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    *lock(&api.requests) += 1;
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == api.token);
    if !authorized {
        return (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_token"}"#).into_response();
    }
    let now = Instant::now();
    let (window_end, remaining, over) = {
        let mut rate = lock(&api.rate);
        while now >= rate.0 + api.window {
            rate.0 += api.window;
            rate.1 = 0;
        }
        rate.1 += 1;
        (
            rate.0 + api.window,
            api.limit.saturating_sub(rate.1),
            rate.1 > api.limit,
        )
    };
    let mut out = HeaderMap::new();
    let reset = api.clock.utc_at(window_end).timestamp();
    for (name, value) in [
        ("x-ratelimit-limit", api.limit as i64),
        ("x-ratelimit-remaining", remaining as i64),
        ("x-ratelimit-reset", reset),
    ] {
        out.insert(name, HeaderValue::from(value));
    }
    if over {
        let wait = window_end.saturating_duration_since(now).as_secs().max(1);
        out.insert("retry-after", HeaderValue::from(wait));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            out,
            r#"{"error":"rate_limited"}"#,
        )
            .into_response();
    }
    let records = api.log.records();
    let start = params.after.unwrap_or(0).min(records.len());
    let end = (start + params.limit.unwrap_or(100).clamp(1, 1000)).min(records.len());
    let mut body = String::from("{\"events\":[");
    for (i, record) in records[start..end].iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&String::from_utf8_lossy(&record.payload));
    }
    body.push_str(&format!(
        "],\"next\":\"{end}\",\"has_more\":{}}}",
        end < records.len()
    ));
    out.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, out, body).into_response()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
