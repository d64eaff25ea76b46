//! The HTTP side of the simulated REST API: the events' route, and the token and login
//! routes.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};

use super::auth::{login, token};
use super::render::render;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::time::Instant;
use ucp_core::Clock;

use super::{lock, RestApiConfig, SimEvent, SimPaging, SimTime};
use crate::faults::Quota;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: u64,
    pub tokens: u64,
    pub logins: u64,
}

pub(super) struct State_ {
    pub(super) events: Vec<SimEvent>,
    pub(super) next_id: u64,
    pub(super) tokens: HashMap<String, Instant>,
    pub(super) window_end_ms: i64,
    pub(super) used: u32,
    pub(super) counters: Counters,
    pub(super) seen: Vec<(String, String)>,
    pub(super) status: String,
}

pub(crate) struct Shared {
    pub(super) config: RestApiConfig,
    pub(super) clock: Clock,
    pub(super) base_url: String,
    pub(super) state: Mutex<State_>,
}

const ACTORS: [&str; 4] = [
    "alice@example.com",
    "Doe, Jane",
    "svc-backup",
    "bob \"the admin\"",
];
const ACTIONS: [&str; 4] = ["login", "user.create", "policy.update", "export"];

impl Shared {
    pub fn new(config: RestApiConfig, clock: Clock, base_url: String) -> Self {
        let status = config.status.clone();
        Shared {
            config,
            clock,
            base_url,
            state: Mutex::new(State_ {
                events: Vec::new(),
                next_id: 1,
                tokens: HashMap::new(),
                window_end_ms: i64::MIN,
                used: 0,
                counters: Counters::default(),
                seen: Vec::new(),
                status,
            }),
        }
    }

    pub fn add_between(&self, count: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
        let mut state = lock(&self.state);
        let span = (to - from).num_milliseconds().max(0);
        let mut ids = Vec::new();
        for i in 0..count {
            let offset = span * i as i64 / count.max(1) as i64;
            let n = state.next_id;
            state.next_id += 1;
            let id = format!("evt-{n:06}");
            state.events.push(SimEvent {
                id: id.clone(),
                time: from + chrono::Duration::milliseconds(offset),
                actor: ACTORS[n as usize % ACTORS.len()].into(),
                action: ACTIONS[n as usize % ACTIONS.len()].into(),
            });
            ids.push(id);
        }
        state
            .events
            .sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        ids
    }

    pub fn events(&self) -> Vec<SimEvent> {
        lock(&self.state).events.clone()
    }

    pub fn counter(&self, read: impl Fn(&Counters) -> u64) -> u64 {
        read(&lock(&self.state).counters)
    }

    pub fn revoke(&self) {
        lock(&self.state).tokens.clear();
    }

    pub fn seen(&self) -> Vec<(String, String)> {
        lock(&self.state).seen.clone()
    }

    pub fn set_status(&self, status: &str) {
        lock(&self.state).status = status.to_string();
    }
}

pub(crate) fn events_router(shared: std::sync::Arc<Shared>) -> Router {
    let path = shared.config.path.clone();
    Router::new().route(&path, any(events)).with_state(shared)
}

pub(crate) fn auth_router(shared: std::sync::Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/login", post(login))
        .with_state(shared)
}

type Shared_ = State<std::sync::Arc<Shared>>;

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"status": "error", "message": message}).to_string(),
    )
        .into_response()
}

/// Every parameter of a request: the query string, then a form or JSON body (JSON objects
/// flattened to dotted names).
pub(super) fn parameters(query: &str, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if json_body {
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            flatten("", &value, &mut out);
        }
    } else {
        out.extend(url::form_urlencoded::parse(body).into_owned());
    }
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, inner, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn parse_time(text: &str, format: SimTime) -> Option<DateTime<Utc>> {
    match format {
        SimTime::Iso => DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.to_utc()),
        SimTime::UnixSeconds => DateTime::from_timestamp(text.trim().parse().ok()?, 0),
        SimTime::UnixMillis => DateTime::from_timestamp_millis(text.trim().parse().ok()?),
    }
}

pub(super) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    /// Count a call against the minute's quota: its headers, and whether it is refused.
    fn rate(&self, state: &mut State_) -> (Vec<(HeaderName, HeaderValue)>, bool) {
        let now = self.clock.now_utc();
        let ms = now.timestamp_millis();
        if ms >= state.window_end_ms {
            state.window_end_ms = ms - ms.rem_euclid(60_000) + 60_000;
            state.used = 0;
        }
        state.used = state.used.saturating_add(1);
        let limit = self.config.limit_per_minute;
        let refused = state.used > limit;
        let reset_in = std::time::Duration::from_millis((state.window_end_ms - ms).max(0) as u64);
        let quota = Quota::per_minute(limit, limit.saturating_sub(state.used), reset_in);
        (self.config.dialect.headers(&quota, now, refused), refused)
    }
}

async fn events(
    State(shared): Shared_,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    let config = &shared.config;
    let params = parameters(&query, &headers, &body);
    let mut state = lock(&shared.state);
    state.counters.requests += 1;
    state
        .seen
        .push((query.clone(), String::from_utf8_lossy(&body).into_owned()));
    let (rate_headers, refused) = shared.rate(&mut state);
    let with_rate = |mut response: Response| {
        response.headers_mut().extend(rate_headers.clone());
        response
    };
    if !shared.authorized(&headers, &params, &state) {
        return with_rate(error(
            StatusCode::UNAUTHORIZED,
            "missing, invalid or expired credentials",
        ));
    }
    if refused {
        return with_rate(error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded"));
    }
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
        match params.get(name) {
            None => Ok(None),
            Some(text) => parse_time(text, config.time)
                .map(Some)
                .ok_or_else(|| format!("'{name}' is not a {:?} time", config.time)),
        }
    };
    let (mut from, mut to) = (None, None);
    if let Some((start, end)) = &config.window {
        match (time(start), time(end)) {
            (Ok(a), Ok(b)) => (from, to) = (a, b),
            (Err(e), _) | (_, Err(e)) => return with_rate(error(StatusCode::BAD_REQUEST, &e)),
        }
    }
    if let Some((name, prepend, delimiter)) = &config.interval {
        if let Some(value) = params.get(name) {
            let Some((a, b)) = value
                .strip_prefix(prepend.as_str())
                .and_then(|v| v.split_once(delimiter.as_str()))
            else {
                return with_rate(error(
                    StatusCode::BAD_REQUEST,
                    &format!("'{name}' is not {prepend}<start>{delimiter}<end>"),
                ));
            };
            from = parse_time(a, config.time);
            to = parse_time(b, config.time);
        }
    }
    let size = match params.get(&config.page_size_param) {
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return with_rate(error(
                    StatusCode::BAD_REQUEST,
                    &format!("'{}' must be 1 to 1000", config.page_size_param),
                ))
            }
        },
        None => config.default_page_size,
    };
    let position = match page_position(config, &params, &headers, size) {
        Ok(p) => p,
        Err(e) => return with_rate(error(StatusCode::BAD_REQUEST, &e)),
    };
    let matching: Vec<SimEvent> = state
        .events
        .iter()
        .filter(|e| from.is_none_or(|f| e.time >= f) && to.is_none_or(|t| e.time < t))
        .cloned()
        .collect();
    let status = state.status.clone();
    drop(state);
    let page: Vec<&SimEvent> = matching.iter().skip(position).take(size).collect();
    let next = position + page.len();
    let more = next < matching.len() && !page.is_empty();
    let next_url = more.then(|| next_link(&shared, &query, next));
    let token = more.then(|| token_of(next));
    let mut response = render(
        config,
        &status,
        &page,
        &matching,
        position,
        size,
        more,
        next_url.as_deref(),
        token.as_deref(),
    );
    let out = response.headers_mut();
    match (&config.paging, &next_url) {
        (SimPaging::LinkHeader, Some(url)) => {
            if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
                out.append(header::LINK, v);
            }
        }
        (SimPaging::TokenInHeader, _) => {
            if let Some(Ok(v)) = token.as_deref().map(HeaderValue::from_str) {
                out.insert("x-next-page-token", v);
            }
        }
        _ => {}
    }
    with_rate(response)
}

fn token_of(offset: usize) -> String {
    format!("pg_{:x}", (offset as u64) ^ 0x5eed)
}

fn offset_of(token: &str) -> Option<usize> {
    let n = u64::from_str_radix(token.strip_prefix("pg_")?, 16).ok()? ^ 0x5eed;
    usize::try_from(n).ok()
}

/// Where the page starts, from the request's paging parameters; a refusal says why.
fn page_position(
    config: &RestApiConfig,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    size: usize,
) -> Result<usize, String> {
    let number = |name: &str| -> Result<Option<usize>, String> {
        params
            .get(name)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| format!("'{name}' is not a number"))
            })
            .transpose()
    };
    let token = |t: Option<&str>| -> Result<usize, String> {
        match t {
            Some(t) => offset_of(t).ok_or_else(|| "invalid page token".to_string()),
            None => Ok(0),
        }
    };
    Ok(match &config.paging {
        SimPaging::None => 0,
        SimPaging::LinkHeader | SimPaging::LinkInBody | SimPaging::NextUrlInBody => {
            number("cursor")?.unwrap_or(0)
        }
        SimPaging::TokenInBody { token_param } => {
            token(params.get(token_param).map(String::as_str))?
        }
        SimPaging::TokenInHeader => token(header_text(headers, "x-page-token"))?,
        SimPaging::Offset => number("offset")?.unwrap_or(0),
        SimPaging::PageNumber { zero_based } => {
            let first = usize::from(!*zero_based);
            let page = number("page")?.unwrap_or(first);
            if page < first {
                return Err("'page' starts at 1".into());
            }
            (page - first).saturating_mul(size)
        }
    })
}

fn next_link(shared: &Shared, query: &str, next: usize) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "cursor")
        .collect();
    pairs.push(("cursor".into(), next.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}{}?{query}", shared.base_url, shared.config.path)
}
