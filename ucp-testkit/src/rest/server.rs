//! The HTTP side of the simulated REST API: the events' route, and the token and login
//! routes.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use ucp_core::Clock;

use super::{
    lock, RestApiConfig, SimAuth, SimEvent, SimFormat, SimPaging, SimTime, TOKEN_LIFETIME,
};
use crate::faults::Quota;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: u64,
    pub tokens: u64,
    pub logins: u64,
}

struct State_ {
    events: Vec<SimEvent>,
    next_id: u64,
    tokens: HashMap<String, Instant>,
    window_end_ms: i64,
    used: u32,
    counters: Counters,
    seen: Vec<(String, String)>,
    status: String,
}

pub(crate) struct Shared {
    config: RestApiConfig,
    clock: Clock,
    base_url: String,
    state: Mutex<State_>,
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

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"status": "error", "message": message}).to_string(),
    )
        .into_response()
}

/// Every parameter of a request: the query string, then a form or JSON body (JSON objects
/// flattened to dotted names).
fn parameters(query: &str, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
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

fn basic_pair(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(user)?, decode(password)?))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    fn authorized(
        &self,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
        state: &State_,
    ) -> bool {
        let live = |token: &str| {
            state
                .tokens
                .get(token)
                .is_some_and(|until| Instant::now() < *until)
        };
        match &self.config.auth {
            SimAuth::None => true,
            SimAuth::Basic { user, password } => {
                basic_pair(headers).is_some_and(|(u, p)| &u == user && &p == password)
            }
            SimAuth::ApiKeyHeader {
                header,
                prefix,
                key,
            } => {
                let expected = match prefix {
                    Some(prefix) => format!("{prefix} {key}"),
                    None => key.clone(),
                };
                header_text(headers, header) == Some(expected.as_str())
            }
            SimAuth::ApiKeyBody { field, key } => params.get(field) == Some(key),
            SimAuth::OAuth { .. } => header_text(headers, "authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(live),
            SimAuth::Login {
                send_header,
                prepend,
                ..
            } => header_text(headers, send_header)
                .and_then(|v| match prepend {
                    Some(p) => v.strip_prefix(p.as_str()).map(str::trim),
                    None => Some(v),
                })
                .is_some_and(live),
        }
    }

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

#[allow(clippy::too_many_arguments)]
fn render(
    config: &RestApiConfig,
    status: &str,
    page: &[&SimEvent],
    matching: &[SimEvent],
    position: usize,
    size: usize,
    more: bool,
    next_url: Option<&str>,
    token: Option<&str>,
) -> Response {
    match &config.format {
        SimFormat::Csv { gzip, delimiter } => {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(*delimiter)
                .from_writer(Vec::new());
            let _ = writer.write_record([
                config.id_field.as_str(),
                config.time_field.as_str(),
                "actor",
                "action",
            ]);
            for e in page {
                let time = e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let _ = writer.write_record([
                    e.id.as_str(),
                    time.as_str(),
                    e.actor.as_str(),
                    e.action.as_str(),
                ]);
            }
            let text = writer.into_inner().unwrap_or_default();
            if *gzip {
                (
                    [(header::CONTENT_TYPE, "application/gzip")],
                    gzip_bytes(&text),
                )
                    .into_response()
            } else {
                ([(header::CONTENT_TYPE, "text/csv")], text).into_response()
            }
        }
        SimFormat::Json { events_path, gzip } => {
            let items: Vec<Value> = page
                .iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert(config.id_field.clone(), e.id.clone().into());
                    m.insert(
                        config.time_field.clone(),
                        e.time
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                            .into(),
                    );
                    m.insert("actor".into(), e.actor.clone().into());
                    m.insert("action".into(), e.action.clone().into());
                    Value::Object(m)
                })
                .collect();
            let body = if events_path.is_empty() {
                Value::Array(items)
            } else {
                let mut events = Value::Array(items);
                for key in events_path.iter().rev() {
                    events = json!({ key.clone(): events });
                }
                let mut object = events.as_object().cloned().unwrap_or_default();
                object.insert("status".into(), status.into());
                match &config.paging {
                    SimPaging::TokenInBody { .. } => {
                        object.insert(
                            "paging".into(),
                            json!({"nextPageToken": token, "hasMore": more}),
                        );
                    }
                    SimPaging::LinkInBody => {
                        object.insert("links".into(), json!({"next": next_url}));
                    }
                    SimPaging::NextUrlInBody => {
                        object.insert("next".into(), json!(next_url));
                    }
                    SimPaging::PageNumber { zero_based } => {
                        let pages = matching.len().div_ceil(size.max(1));
                        object.insert("total".into(), matching.len().into());
                        object.insert("pageCount".into(), pages.into());
                        object.insert("hasMore".into(), more.into());
                        object.insert(
                            "page".into(),
                            (position / size.max(1) + usize::from(!*zero_based)).into(),
                        );
                    }
                    _ => {}
                }
                Value::Object(object)
            };
            let text = body.to_string();
            if *gzip {
                (
                    [(header::CONTENT_TYPE, "application/gzip")],
                    gzip_bytes(text.as_bytes()),
                )
                    .into_response()
            } else {
                ([(header::CONTENT_TYPE, "application/json")], text).into_response()
            }
        }
    }
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn issue(shared: &Shared) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    lock(&shared.state)
        .tokens
        .insert(token.clone(), Instant::now() + TOKEN_LIFETIME);
    token
}

async fn token(
    State(shared): Shared_,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let SimAuth::OAuth {
        client_id,
        secret,
        basic,
        required_header,
        required_query,
        scope,
    } = &shared.config.auth
    else {
        return error(StatusCode::NOT_FOUND, "no token endpoint");
    };
    let oauth_error = |status: StatusCode, code: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"error": code}).to_string(),
        )
            .into_response()
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let client = if *basic {
        basic_pair(&headers)
    } else {
        form.get("client_id")
            .cloned()
            .zip(form.get("client_secret").cloned())
    };
    if client.as_ref() != Some(&(client_id.clone(), secret.clone())) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if !form
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|s| s == scope))
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    if let Some((name, value)) = required_header {
        if header_text(&headers, name) != Some(value.as_str()) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    if let Some((name, value)) = required_query {
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        if query.get(name) != Some(value) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    lock(&shared.state).counters.tokens += 1;
    let token = issue(&shared);
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME.as_secs()})).into_response()
}

use axum::Json;

async fn login(State(shared): Shared_, headers: HeaderMap, body: Bytes) -> Response {
    let SimAuth::Login {
        user_field,
        password_field,
        user,
        password,
        token_header,
        ..
    } = &shared.config.auth
    else {
        return error(StatusCode::NOT_FOUND, "no login endpoint");
    };
    let params = parameters("", &headers, &body);
    let given = basic_pair(&headers).or_else(|| {
        params
            .get(user_field)
            .cloned()
            .zip(params.get(password_field).cloned())
    });
    if given.as_ref() != Some(&(user.clone(), password.clone())) {
        return error(StatusCode::UNAUTHORIZED, "wrong user or password");
    }
    lock(&shared.state).counters.logins += 1;
    let token = issue(&shared);
    match token_header {
        Some(name) => {
            let mut response = Json(json!({"status": "ok"})).into_response();
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&token),
            ) {
                response.headers_mut().insert(name, value);
            }
            response
        }
        None => Json(json!({"status": "ok", "token": token})).into_response(),
    }
}
