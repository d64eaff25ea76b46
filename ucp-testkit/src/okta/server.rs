//! The HTTP side of the simulator: `GET /api/v1/logs` with Okta's auth, rate-limit headers,
//! `Link` headers and error bodies.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ucp_core::Clock;

use super::errors::error_body;
use super::faults::{Fault, FaultPlan};
use super::log::EventLog;
use super::query::{LogQuery, QueryError};
use crate::token_endpoint::TokenEndpoint;

/// The scope an OAuth access token needs for `GET /api/v1/logs`.
pub(crate) const LOGS_SCOPE: &str = "okta.logs.read";

/// The org's per-minute rate-limit window (shared by every token). With a speed above 1 the
/// org's "minute" lasts `60 s / speed` of real time.
#[derive(Debug)]
pub(crate) struct RateWindow {
    pub limit: u32,
    /// Length of the window in milliseconds (60 000 at speed 1).
    pub length_ms: i64,
    /// End of the current window, epoch milliseconds.
    pub window_end_ms: i64,
    pub used: u32,
}

impl RateWindow {
    /// Roll the window if it ended; windows align to the epoch (minute windows to the wall
    /// clock's minutes, like Okta's).
    pub(crate) fn roll_at(&mut self, now: DateTime<Utc>) {
        let ms = now.timestamp_millis();
        if ms >= self.window_end_ms {
            self.window_end_ms = ms - ms.rem_euclid(self.length_ms) + self.length_ms;
            self.used = 0;
        }
    }

    /// `X-Rate-Limit-Reset`: the window's end in epoch seconds, rounded up.
    pub(crate) fn reset_secs(&self) -> i64 {
        self.window_end_ms.div_euclid(1000) + i64::from(self.window_end_ms.rem_euclid(1000) > 0)
    }

    fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// What tests count.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub per_token: HashMap<String, u64>,
    pub log_requests: u64,
    pub throttled: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
}

/// Everything the simulator knows, behind one lock.
#[derive(Debug)]
pub(crate) struct SimState {
    pub clock: Clock,
    pub offset: chrono::Duration,
    pub log: EventLog,
    pub ssws: HashSet<String>,
    pub bearer: HashSet<String>,
    pub rate: RateWindow,
    pub faults: FaultPlan,
    pub counters: Counters,
    pub authorized_requests: u64,
    pub base_url: String,
    /// The org authorization server whose access tokens are accepted as bearer tokens.
    pub oauth: Arc<TokenEndpoint>,
}

impl SimState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now_utc() + self.offset
    }
}

pub(crate) type Shared = Arc<Mutex<SimState>>;

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, SimState> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the `Authorization` header allows.
enum Access {
    Granted,
    /// No credential, or an unknown, revoked or expired one.
    Denied,
    /// A live access token without [`LOGS_SCOPE`].
    MissingScope,
}

/// A response decided under the lock, sent after any injected latency.
struct Prepared {
    status: StatusCode,
    headers: Vec<(HeaderName, String)>,
    body: String,
    latency: Duration,
}

/// The org's routes. Okta serves the System Log with and without a trailing slash (the
/// 2.x management SDKs ask for `/api/v1/logs/`).
pub(crate) fn router(shared: Shared) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/logs", axum::routing::get(logs))
        .route("/api/v1/logs/", axum::routing::get(logs))
        .with_state(shared)
}

async fn logs(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = prepare(&shared, &headers, raw.unwrap_or_default());
    if !prepared.latency.is_zero() {
        tokio::time::sleep(prepared.latency).await;
    }
    let mut response = (prepared.status, prepared.body).into_response();
    let out = response.headers_mut();
    out.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in prepared.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.append(name, value);
        }
    }
    response
}

fn prepare(shared: &Shared, headers: &HeaderMap, raw: String) -> Prepared {
    let mut state = lock(shared);
    let now = state.now();
    state.log.advance(now);
    state.counters.log_requests += 1;

    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (scheme, token) = presented.split_once(' ').unwrap_or(("", ""));
    *state
        .counters
        .per_token
        .entry(token.to_string())
        .or_default() += 1;
    let access = match scheme {
        "SSWS" if state.ssws.contains(token) => Access::Granted,
        "Bearer" if state.bearer.contains(token) => Access::Granted,
        "Bearer" => match state.oauth.introspect(token) {
            Some(issued) if issued.scopes.iter().any(|s| s == LOGS_SCOPE) => Access::Granted,
            Some(_) => Access::MissingScope,
            None => Access::Denied,
        },
        _ => Access::Denied,
    };

    state.rate.roll_at(now);
    let mut out = Prepared {
        status: StatusCode::OK,
        // The org's own clock, as Okta sends it (hyper would send the host's).
        headers: vec![(
            axum::http::header::DATE,
            now.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )],
        body: String::new(),
        latency: Duration::ZERO,
    };
    match access {
        Access::Granted => {}
        Access::Denied => {
            state.counters.unauthorized += 1;
            rate_headers(&state, &mut out);
            return error(
                out,
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
            );
        }
        Access::MissingScope => {
            state.counters.forbidden += 1;
            rate_headers(&state, &mut out);
            out.headers.push((
                axum::http::header::WWW_AUTHENTICATE,
                format!(
                    "Bearer error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", scope=\"{LOGS_SCOPE}\""
                ),
            ));
            return error(
                out,
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action",
            );
        }
    }
    state.rate.used += 1;
    rate_headers(&state, &mut out);
    if state.rate.used > state.rate.limit {
        state.counters.throttled += 1;
        return error(
            out,
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        );
    }

    state.authorized_requests += 1;
    let request = state.authorized_requests;
    let faults = state.faults.take(request);
    let mut body_fault = None;
    for fault in faults {
        match fault {
            Fault::Latency(d) => out.latency += d,
            Fault::ServerError {
                status,
                retry_after,
            } => {
                if let Some(secs) = retry_after {
                    out.headers
                        .push((axum::http::header::RETRY_AFTER, secs.to_string()));
                }
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return error(out, status, "E0000009", "Internal Server Error");
            }
            other => body_fault = Some(other),
        }
    }

    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let query = match LogQuery::parse(params) {
        Ok(q) => q,
        Err(e) => return query_error(out, e),
    };
    let (page, next) = match query.select(state.log.visible(), now) {
        Ok(selected) => selected,
        Err(e) => return query_error(out, e),
    };

    let endpoint = format!("{}/api/v1/logs", state.base_url);
    out.headers.push((
        axum::http::header::LINK,
        format!("<{endpoint}?{raw}>; rel=\"self\""),
    ));
    if let Some(after) = next {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in query.params.iter().filter(|(k, _)| k != "after") {
            serializer.append_pair(key, value);
        }
        serializer.append_pair("after", &after);
        out.headers.push((
            axum::http::header::LINK,
            format!("<{endpoint}?{}>; rel=\"next\"", serializer.finish()),
        ));
    }

    let visible = state.log.visible();
    let mut body = String::from("[");
    for (n, index) in page.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&visible[*index].text);
    }
    body.push(']');
    out.body = match body_fault {
        Some(Fault::Malformed) => "{\"unexpected\": [\"this is not a list of events\"".into(),
        Some(Fault::Truncated) => {
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body
        }
        _ => body,
    };
    out
}

fn rate_headers(state: &SimState, out: &mut Prepared) {
    out.headers.push((
        HeaderName::from_static("x-rate-limit-limit"),
        state.rate.limit.to_string(),
    ));
    out.headers.push((
        HeaderName::from_static("x-rate-limit-remaining"),
        state.rate.remaining().to_string(),
    ));
    out.headers.push((
        HeaderName::from_static("x-rate-limit-reset"),
        state.rate.reset_secs().to_string(),
    ));
}

/// A refused query as Okta's System Log answers it: `E0000001` listing the invalid parameter
/// in `errorCauses`, or `E0000053` for a filter it cannot parse.
fn query_error(mut out: Prepared, e: QueryError) -> Prepared {
    out.status = StatusCode::BAD_REQUEST;
    out.body = match e {
        QueryError::Validation { param, problem } => error_body(
            "E0000001",
            &format!("Api validation failed: '{param}': {problem}"),
            &[format!("{param}: {problem}")],
        ),
        QueryError::Filter { filter, problem } => error_body(
            "E0000053",
            &format!("Invalid filter '{filter}': {problem}"),
            &[],
        ),
    };
    out
}

/// An Okta error body without causes.
fn error(mut out: Prepared, status: StatusCode, code: &str, summary: &str) -> Prepared {
    out.status = status;
    out.body = error_body(code, summary, &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn a_compressed_window_rolls_on_its_own_length_and_rounds_the_reset_up() {
        // speed 60 → one-second windows; speed 40 → 1.5 s windows.
        let mut window = RateWindow {
            limit: 20,
            length_ms: 1_000,
            window_end_ms: i64::MIN,
            used: 0,
        };
        window.roll_at(at_ms(1_700_000_000_250));
        window.used = 20;
        assert_eq!(window.window_end_ms, 1_700_000_001_000);
        assert_eq!(window.reset_secs(), 1_700_000_001);
        window.roll_at(at_ms(1_700_000_000_999));
        assert_eq!(window.remaining(), 0);
        window.roll_at(at_ms(1_700_000_001_000));
        assert_eq!(window.remaining(), 20);

        let mut slow = RateWindow {
            limit: 20,
            length_ms: 1_500,
            window_end_ms: i64::MIN,
            used: 0,
        };
        slow.roll_at(at_ms(1_700_000_001_100));
        assert_eq!(slow.window_end_ms, 1_700_000_002_500);
        assert_eq!(slow.reset_secs(), 1_700_000_003);
    }
}
