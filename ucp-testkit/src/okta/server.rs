//! The HTTP side of the simulator: `GET /api/v1/logs` with Okta's auth, rate-limit headers,
//! `Link` headers and error bodies, and what every endpoint of the org shares (credentials
//! and scopes, rate-limit buckets, request ids, the response).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ucp_core::Clock;

use super::errors::error_body;
use super::faults::{Fault, FaultPlan};
use super::log::EventLog;
use super::query::{LogQuery, QueryError};
use super::users::Users;
use super::{RateBucket, UserCall};
use crate::faults::http_date;
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

    pub(crate) fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// What tests count.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub per_token: HashMap<String, u64>,
    /// Every distinct `User-Agent` seen.
    pub user_agents: HashSet<String>,
    /// The `X-Okta-Request-Id` of the latest response.
    pub last_request_id: Option<String>,
    pub log_requests: u64,
    /// Requests to the users endpoints, by call (whatever the answer).
    pub user_calls: HashMap<UserCall, u64>,
    /// Requests counted against each rate-limit bucket (429s included).
    pub bucket_calls: HashMap<RateBucket, u64>,
    /// `429` responses, all buckets.
    pub throttled: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
    /// `/api/v1/logs` requests being answered now, and the most ever at once: two at once
    /// means two collectors read the org's log concurrently.
    pub log_in_flight: u64,
    pub max_log_in_flight: u64,
    /// When the latest `/api/v1/logs` request arrived (host time).
    pub last_log_request: Option<DateTime<Utc>>,
}

/// Everything the simulator knows, behind one lock.
#[derive(Debug)]
pub(crate) struct SimState {
    pub clock: Clock,
    pub offset: chrono::Duration,
    pub log: EventLog,
    pub ssws: HashSet<String>,
    pub bearer: HashSet<String>,
    /// The `/api/v1/logs` bucket.
    pub rate: RateWindow,
    /// The "get a user by id or login" bucket (`GET /api/v1/users/{idOrLogin}`).
    pub user_read_rate: RateWindow,
    /// The "most other API actions" bucket (`/api/v1`): the lifecycle and session calls.
    pub other_rate: RateWindow,
    pub faults: FaultPlan,
    pub counters: Counters,
    /// Added to every `/api/v1/logs` answer.
    pub log_latency: Duration,
    pub authorized_requests: u64,
    pub base_url: String,
    /// The org authorization server whose access tokens are accepted as bearer tokens.
    pub oauth: Arc<TokenEndpoint>,
    /// The org's users, for the response-action endpoints.
    pub users: Users,
    /// `SSWS` tokens of a read-only administrator: they read, and any write is refused.
    pub read_only_ssws: HashSet<String>,
}

impl SimState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now_utc() + self.offset
    }

    /// The window of `bucket`.
    pub fn window(&mut self, bucket: RateBucket) -> &mut RateWindow {
        match bucket {
            RateBucket::Logs => &mut self.rate,
            RateBucket::UserRead => &mut self.user_read_rate,
            RateBucket::Other => &mut self.other_rate,
        }
    }
}

pub(crate) type Shared = Arc<Mutex<SimState>>;

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, SimState> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a request needs of its credential.
pub(crate) struct Need {
    /// An OAuth access token needs one of these scopes (the first is named in a refusal).
    pub scopes: &'static [&'static str],
    /// It changes something: a read-only administrator's token is refused.
    pub write: bool,
}

/// What the `Authorization` header allows.
pub(crate) enum Access {
    Granted,
    /// No credential, or an unknown, revoked or expired one.
    Denied,
    /// A live access token without the scope, or a read-only administrator's token asked to
    /// write.
    Forbidden,
}

/// What `Authorization` allows for a request needing `need`.
pub(crate) fn access(state: &SimState, presented: &str, need: &Need) -> Access {
    let (scheme, token) = presented.split_once(' ').unwrap_or(("", ""));
    match scheme {
        "SSWS" if state.ssws.contains(token) => Access::Granted,
        "SSWS" if state.read_only_ssws.contains(token) => {
            if need.write {
                Access::Forbidden
            } else {
                Access::Granted
            }
        }
        "Bearer" if state.bearer.contains(token) => Access::Granted,
        "Bearer" => match state.oauth.introspect(token) {
            Some(issued)
                if issued
                    .scopes
                    .iter()
                    .any(|s| need.scopes.contains(&s.as_str())) =>
            {
                Access::Granted
            }
            Some(_) => Access::Forbidden,
            None => Access::Denied,
        },
        _ => Access::Denied,
    }
}

/// The presented `Authorization` header, or nothing.
pub(crate) fn authorization(headers: &HeaderMap) -> &str {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A response decided under the lock, sent after any injected latency.
pub(crate) struct Prepared {
    /// Its `X-Okta-Request-Id`.
    pub request_id: String,
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, String)>,
    pub body: String,
    pub latency: Duration,
}

impl Prepared {
    /// A `200` with the org's `Date` and a fresh request id, noting the request's
    /// `User-Agent` and the id for the counters.
    pub fn begin(state: &mut SimState, headers: &HeaderMap, now: DateTime<Utc>) -> Prepared {
        let request_id = request_id();
        state.counters.last_request_id = Some(request_id.clone());
        if let Some(agent) = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            if !state.counters.user_agents.contains(agent) {
                state.counters.user_agents.insert(agent.to_string());
            }
        }
        Prepared {
            request_id,
            status: StatusCode::OK,
            // The org's own time, which its rate-limit resets are counted on (hyper would
            // send the host's).
            headers: vec![(axum::http::header::DATE, http_date(now))],
            body: String::new(),
            latency: Duration::ZERO,
        }
    }

    /// Send it, after its latency.
    pub async fn send(self) -> Response {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let empty = self.status == StatusCode::NO_CONTENT;
        let mut response = (self.status, self.body).into_response();
        let out = response.headers_mut();
        if !empty {
            out.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Ok(id) = HeaderValue::from_str(&self.request_id) {
            out.insert(HeaderName::from_static("x-okta-request-id"), id);
        }
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                out.append(name, value);
            }
        }
        response
    }

    /// Refuse a request whose credential is denied or lacks `scope`, as Okta does: 401
    /// `E0000011`, or 403 `E0000006` (with `WWW-Authenticate: Bearer
    /// error="insufficient_scope"` for an access token); `Ok` when access is granted.
    pub fn refuse(
        self,
        state: &mut SimState,
        access: Access,
        presented: &str,
        scope: &str,
    ) -> Result<Prepared, Prepared> {
        let mut out = self;
        match access {
            Access::Granted => Ok(out),
            Access::Denied => {
                state.counters.unauthorized += 1;
                Err(error(
                    out,
                    StatusCode::UNAUTHORIZED,
                    "E0000011",
                    "Invalid token provided",
                ))
            }
            Access::Forbidden => {
                state.counters.forbidden += 1;
                if presented.starts_with("Bearer ") {
                    out.headers.push((
                        axum::http::header::WWW_AUTHENTICATE,
                        format!(
                            "Bearer error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", scope=\"{scope}\""
                        ),
                    ));
                }
                Err(error(
                    out,
                    StatusCode::FORBIDDEN,
                    "E0000006",
                    "You do not have permission to perform the requested action",
                ))
            }
        }
    }

    /// Count the call against `bucket` and state the bucket's headers; a call past the
    /// bucket's limit is answered `429`/`E0000047`.
    pub fn count(
        self,
        state: &mut SimState,
        bucket: RateBucket,
        now: DateTime<Utc>,
    ) -> Result<Prepared, Prepared> {
        let mut out = self;
        *state.counters.bucket_calls.entry(bucket).or_default() += 1;
        let window = state.window(bucket);
        window.roll_at(now);
        window.used = window.used.saturating_add(1);
        let over = window.used > window.limit;
        rate_headers(window, &mut out);
        if over {
            state.counters.throttled += 1;
            return Err(error(
                out,
                StatusCode::TOO_MANY_REQUESTS,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            ));
        }
        Ok(out)
    }
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
    let _flight = InFlight::enter(&shared);
    prepare(&shared, &headers, raw.unwrap_or_default())
        .send()
        .await
}

/// One `/api/v1/logs` request being answered: counted from its arrival until its answer is
/// sent (or the client went away).
struct InFlight(Shared);

impl InFlight {
    fn enter(shared: &Shared) -> InFlight {
        let mut state = lock(shared);
        let counters = &mut state.counters;
        counters.log_in_flight = counters.log_in_flight.saturating_add(1);
        counters.max_log_in_flight = counters.max_log_in_flight.max(counters.log_in_flight);
        counters.last_log_request = Some(Utc::now());
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        state.counters.log_in_flight = state.counters.log_in_flight.saturating_sub(1);
    }
}

fn prepare(shared: &Shared, headers: &HeaderMap, raw: String) -> Prepared {
    let mut state = lock(shared);
    let now = state.now();
    state.log.advance(now);
    state.counters.log_requests += 1;
    let mut out = Prepared::begin(&mut state, headers, now);
    out.latency = state.log_latency;
    let presented = authorization(headers);
    let token = presented.split_once(' ').map_or("", |(_, token)| token);
    *state
        .counters
        .per_token
        .entry(token.to_string())
        .or_default() += 1;
    let need = Need {
        scopes: &[LOGS_SCOPE],
        write: false,
    };
    let access = access(&state, presented, &need);
    state.rate.roll_at(now);
    let out = match out.refuse(&mut state, access, presented, LOGS_SCOPE) {
        Ok(out) => out,
        Err(mut refused) => {
            rate_headers(&state.rate, &mut refused);
            return refused;
        }
    };
    let mut out = match out.count(&mut state, RateBucket::Logs, now) {
        Ok(out) => out,
        Err(throttled) => return throttled,
    };

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

/// A fresh id shaped like Okta's `X-Okta-Request-Id` (27 URL-safe characters), sent on every
/// response so an error can be traced, as Okta support asks.
fn request_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 20]>())
}

/// The three `X-Rate-Limit-*` headers of `window`.
pub(crate) fn rate_headers(window: &RateWindow, out: &mut Prepared) {
    out.headers.push((
        HeaderName::from_static("x-rate-limit-limit"),
        window.limit.to_string(),
    ));
    out.headers.push((
        HeaderName::from_static("x-rate-limit-remaining"),
        window.remaining().to_string(),
    ));
    out.headers.push((
        HeaderName::from_static("x-rate-limit-reset"),
        window.reset_secs().to_string(),
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
pub(crate) fn error(mut out: Prepared, status: StatusCode, code: &str, summary: &str) -> Prepared {
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
