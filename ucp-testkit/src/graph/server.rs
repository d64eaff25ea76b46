//! The HTTP side of the Graph security simulator: auth, application roles, throttling, OData
//! lists and the hunting action, with Graph's headers and error bodies.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::Value;
use ucp_core::Clock;

use super::errors::{error_body, request_id};
use super::hunting::Hunting;
use super::limits::Windows;
use super::odata::Filter;
use super::tenant::Tenant;
use super::{Endpoint, GRAPH_SCOPE};
use crate::token_endpoint::TokenVerifier;

/// Roles that allow listing incidents (any one of them).
pub const INCIDENT_ROLES: &[&str] = &[
    "SecurityIncident.Read.All",
    "SecurityIncident.ReadWrite.All",
];
/// Roles that allow listing alerts_v2 (any one of them).
pub const ALERT_ROLES: &[&str] = &[
    "SecurityAlert.Read.All",
    "SecurityAlert.ReadWrite.All",
    "SecurityIncident.Read.All",
    "SecurityIncident.ReadWrite.All",
];
/// Roles that allow hunting queries.
pub const HUNTING_ROLES: &[&str] = &["ThreatHunting.Read.All"];
/// Roles that allow updating incidents and commenting on them.
pub const INCIDENT_WRITE_ROLES: &[&str] = &["SecurityIncident.ReadWrite.All"];

const INCIDENT_FILTERABLE: &[&str] = &[
    "assignedTo",
    "classification",
    "createdDateTime",
    "determination",
    "lastUpdateDateTime",
    "severity",
    "status",
];
const ALERT_FILTERABLE: &[&str] = &[
    "assignedTo",
    "classification",
    "determination",
    "createdDateTime",
    "lastUpdateDateTime",
    "severity",
    "serviceSource",
    "status",
];

/// What tests count.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: HashMap<Endpoint, u64>,
    pub throttled: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
    pub bad_requests: u64,
    /// `(table, rows returned)` of every hunting query answered.
    pub hunting: Vec<(String, usize)>,
}

/// Changes applied as time passes.
#[derive(Debug)]
pub(crate) struct Churn {
    pub per_minute: f64,
    pub last: DateTime<Utc>,
    pub carry: f64,
}

/// Everything the simulator knows, behind one lock.
#[derive(Debug)]
pub(crate) struct SimState {
    pub clock: Clock,
    pub offset: chrono::Duration,
    pub tenant: Tenant,
    pub hunting: Hunting,
    pub roles: HashMap<String, HashSet<String>>,
    pub security: HashMap<String, Windows>,
    pub hunting_windows: HashMap<String, Windows>,
    pub security_limits: super::Limits,
    pub hunting_limits: super::Limits,
    pub speed: f64,
    pub counters: Counters,
    pub churn: Option<Churn>,
    pub default_top: usize,
    pub max_top: usize,
    pub base_url: String,
    /// Every app write, in order.
    pub writes: Vec<super::GraphWrite>,
    /// People's edits that land just before the next app update: `(incident, by, edit)`.
    pub before_update: std::collections::VecDeque<(String, String, super::IncidentEdit)>,
}

impl SimState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now_utc() + self.offset
    }

    /// Apply the changes due since the last request.
    pub fn catch_up(&mut self) {
        let now = self.now();
        let Some(churn) = &mut self.churn else {
            return;
        };
        let minutes = (now - churn.last).num_milliseconds() as f64 / 60_000.0;
        churn.last = now;
        churn.carry += minutes.max(0.0) * churn.per_minute;
        let due = churn.carry.floor();
        churn.carry -= due;
        for _ in 0..due as u64 {
            self.tenant.churn(now);
        }
    }
}

pub(crate) type Shared = Arc<Mutex<SimState>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, SimState> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub shared: Shared,
    pub verifier: TokenVerifier,
}

pub(crate) fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/v1.0/security/incidents", get(incidents))
        .route("/v1.0/security/alerts_v2", get(alerts))
        .route("/v1.0/security/runHuntingQuery", post(hunting))
        .route(
            "/v1.0/security/incidents/{id}",
            get(super::incident_routes::get_incident).patch(super::incident_routes::update),
        )
        .route(
            "/v1.0/security/incidents/{id}/comments",
            post(super::incident_routes::comment),
        )
        .with_state(state)
}

/// The answer being built: status, extra headers, body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(header::HeaderName, String)>,
    pub body: String,
}

/// Ids and time of one request, for every answer's headers and error bodies.
pub(crate) struct Call {
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub now: DateTime<Utc>,
}

impl Call {
    pub(crate) fn error(&self, status: StatusCode, code: &str, message: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: error_body(
                code,
                message,
                self.now,
                &self.request_id,
                self.client_request_id.as_deref(),
            ),
        }
    }

    pub(crate) fn respond(&self, answer: Answer) -> Response {
        let mut response = (answer.status, answer.body).into_response();
        let out = response.headers_mut();
        out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"));
        for (name, value) in [
            ("request-id", Some(&self.request_id)),
            ("client-request-id", self.client_request_id.as_ref()),
        ] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                out.insert(name, value);
            }
        }
        if let Ok(date) =
            HeaderValue::from_str(&self.now.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        {
            out.insert(header::DATE, date);
        }
        for (name, value) in answer.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                out.insert(name, value);
            }
        }
        response
    }
}

/// Auth, roles and throttling, in Graph's order: the calling app's client id, or the
/// refusal.
pub(crate) fn admit(
    state: &AppState,
    sim: &mut SimState,
    headers: &HeaderMap,
    endpoint: Endpoint,
    call: &Call,
) -> Result<String, Answer> {
    *sim.counters.requests.entry(endpoint).or_default() += 1;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bearer.is_empty() {
        sim.counters.unauthorized += 1;
        return Err(call.error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        ));
    }
    let client = match state.verifier.verify(bearer, GRAPH_SCOPE) {
        Ok(client) => client,
        Err(why) => {
            sim.counters.unauthorized += 1;
            let message = format!("Access token validation failure: {why}.");
            return Err(call.error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                &message,
            ));
        }
    };
    let required = match endpoint {
        Endpoint::Incidents => INCIDENT_ROLES,
        Endpoint::Alerts => ALERT_ROLES,
        Endpoint::Hunting => HUNTING_ROLES,
        Endpoint::IncidentUpdate | Endpoint::IncidentComment => INCIDENT_WRITE_ROLES,
    };
    let granted = sim.roles.get(&client).cloned().unwrap_or_default();
    if !required.iter().any(|r| granted.contains(*r)) {
        sim.counters.forbidden += 1;
        let mut held: Vec<&str> = granted.iter().map(String::as_str).collect();
        held.sort_unstable();
        let message = format!(
            "Missing application roles. API required roles: {}, application roles: {}.",
            required.join(","),
            held.join(",")
        );
        return Err(call.error(StatusCode::FORBIDDEN, "Forbidden", &message));
    }
    let (limits, speed) = match endpoint {
        Endpoint::Hunting => (sim.hunting_limits, sim.speed),
        _ => (sim.security_limits, sim.speed),
    };
    let windows = match endpoint {
        Endpoint::Hunting => &mut sim.hunting_windows,
        _ => &mut sim.security,
    };
    let window = windows
        .entry(client.clone())
        .or_insert_with(|| Windows::new(limits, speed));
    if let Err(wait) = window.admit(call.now) {
        sim.counters.throttled += 1;
        let mut answer = call.error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Please retry again later.",
        );
        answer
            .headers
            .push((header::RETRY_AFTER, retry_after_text(wait)));
        return Err(answer);
    }
    Ok(client)
}

/// `Retry-After` as Graph writes it: seconds, with a fraction when not whole (`2.128`).
fn retry_after_text(wait: Duration) -> String {
    let millis = wait.as_millis().max(1);
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{}.{:03}", millis / 1000, millis % 1000)
    }
}

pub(crate) fn start(headers: &HeaderMap, sim: &SimState) -> Call {
    Call {
        request_id: request_id(),
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        now: sim.now(),
    }
}

async fn incidents(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    list(
        &state,
        &headers,
        raw.unwrap_or_default(),
        Endpoint::Incidents,
    )
}

async fn alerts(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    list(&state, &headers, raw.unwrap_or_default(), Endpoint::Alerts)
}

fn list(state: &AppState, headers: &HeaderMap, raw: String, endpoint: Endpoint) -> Response {
    let mut sim = lock(&state.shared);
    let call = start(headers, &sim);
    if let Err(refusal) = admit(state, &mut sim, headers, endpoint, &call) {
        return call.respond(refusal);
    }
    sim.catch_up();
    let answer = match list_page(&sim, &raw, endpoint, &call) {
        Ok(answer) => answer,
        Err(answer) => {
            sim.counters.bad_requests += 1;
            answer
        }
    };
    call.respond(answer)
}

fn list_page(sim: &SimState, raw: &str, endpoint: Endpoint, call: &Call) -> Result<Answer, Answer> {
    let bad = |message: String| call.error(StatusCode::BAD_REQUEST, "BadRequest", &message);
    let params: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let mut filter = None;
    let mut top = sim.default_top;
    let mut skip = 0usize;
    let mut expand = false;
    let mut count = false;
    for (key, value) in &params {
        match key.as_str() {
            "$filter" => {
                let filterable = if endpoint == Endpoint::Incidents {
                    INCIDENT_FILTERABLE
                } else {
                    ALERT_FILTERABLE
                };
                filter = Some(Filter::parse(value, filterable).map_err(|e| bad(e.to_string()))?);
            }
            "$top" => {
                top = value
                    .parse::<usize>()
                    .ok()
                    .filter(|t| (1..=sim.max_top).contains(t))
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid value '{value}' for $top: use 1 to {}.",
                            sim.max_top
                        ))
                    })?;
            }
            "$skip" => {
                skip = value
                    .parse()
                    .map_err(|_| bad(format!("Invalid value '{value}' for $skip.")))?
            }
            "$expand" if endpoint == Endpoint::Incidents && value == "alerts" => expand = true,
            "$count" => count = value == "true",
            k if k.starts_with('$') => {
                return Err(bad(format!(
                    "Query option '{k}' is not allowed on this resource."
                )));
            }
            _ => {}
        }
    }
    let tenant = &sim.tenant;
    // Filter on the filterable properties only; the page alone is rendered whole.
    let mut items: Vec<(DateTime<Utc>, &str, usize)> = match endpoint {
        Endpoint::Incidents => tenant
            .incidents
            .iter()
            .enumerate()
            .map(|(n, i)| (i.created, i.id.as_str(), n))
            .collect(),
        _ => tenant
            .alerts
            .iter()
            .enumerate()
            .map(|(n, a)| (a.created, a.id.as_str(), n))
            .collect(),
    };
    if let Some(filter) = &filter {
        items.retain(|(_, _, n)| {
            let view = match endpoint {
                Endpoint::Incidents => tenant.incident_filter_view(&tenant.incidents[*n]),
                _ => tenant.alert_filter_view(&tenant.alerts[*n]),
            };
            filter.matches(&view)
        });
    }
    // Newest first, as the portal lists them.
    items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(skip)
        .take(top)
        .map(|(_, _, n)| match endpoint {
            Endpoint::Incidents => tenant.incident_json(&tenant.incidents[n], expand),
            _ => tenant.alert_json(&tenant.alerts[n]),
        })
        .collect();
    let resource = if endpoint == Endpoint::Incidents {
        "incidents"
    } else {
        "alerts_v2"
    };
    let mut body = serde_json::json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#security/{resource}{}", if expand { "(alerts())" } else { "" }),
    });
    if count {
        body["@odata.count"] = serde_json::json!(total);
    }
    body["value"] = Value::Array(page);
    if skip.saturating_add(top) < total {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in params.iter().filter(|(k, _)| k != "$skip") {
            next.append_pair(key, value);
        }
        next.append_pair("$skip", &(skip + top).to_string());
        body["@odata.nextLink"] = Value::String(format!(
            "{}/v1.0/security/{resource}?{}",
            sim.base_url,
            next.finish()
        ));
    }
    Ok(Answer {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: body.to_string(),
    })
}

async fn hunting(
    AxumState(state): AxumState<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut sim = lock(&state.shared);
    let call = start(&headers, &sim);
    if let Err(refusal) = admit(&state, &mut sim, &headers, Endpoint::Hunting, &call) {
        return call.respond(refusal);
    }
    let bad = |message: &str| call.error(StatusCode::BAD_REQUEST, "BadRequest", message);
    let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(&body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    };
    let (Some(query), timespan) = (field("Query"), field("Timespan")) else {
        sim.counters.bad_requests += 1;
        return call.respond(bad(
            "The request body must be a JSON object with a 'Query' string.",
        ));
    };
    match sim.hunting.run(&query, timespan.as_deref(), call.now) {
        Ok(answer) => {
            sim.counters
                .hunting
                .push((answer.table.to_string(), answer.rows));
            call.respond(Answer {
                status: StatusCode::OK,
                headers: Vec::new(),
                body: answer.body,
            })
        }
        Err(error) => {
            sim.counters.bad_requests += 1;
            call.respond(bad(&error.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_keeps_fractions_like_graph() {
        assert_eq!(retry_after_text(Duration::from_millis(2_128)), "2.128");
        assert_eq!(retry_after_text(Duration::from_secs(10)), "10");
        assert_eq!(retry_after_text(Duration::ZERO), "0.001");
    }
}
