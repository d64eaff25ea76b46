//! The HTTP side of the Sentinel incidents simulator: ARM's `api-version`, bearer tokens for
//! `https://management.azure.com/.default`, Azure RBAC per principal (403
//! `AuthorizationFailed` naming the action), per-principal hourly read and write limits
//! (429 with `Retry-After` and `x-ms-ratelimit-remaining-subscription-*` on every answer),
//! `CloudError` bodies, and the operations on incidents, comments and alert rules.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use ucp_core::Clock;

use super::store::{Refusal, Workspace};
use super::{Role, SentinelWrite, API_VERSION, ARM_SCOPE};
use crate::graph::limits::Windows;
use crate::graph::Limits;
use crate::token_endpoint::TokenVerifier;

/// Counters tests read.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub requests: u64,
    pub throttled: u64,
    pub conflicts: u64,
    pub unauthorized: u64,
    pub forbidden: u64,
    pub bad_requests: u64,
}

/// A person's change waiting for the next client write of an incident.
pub(crate) type Interference = Box<dyn FnOnce(&mut Workspace, DateTime<Utc>) + Send>;

/// Everything behind one lock.
pub(crate) struct SimState {
    pub clock: Clock,
    pub offset: chrono::Duration,
    pub workspace: Workspace,
    pub base: String,
    pub roles: HashMap<String, Role>,
    pub reads: HashMap<String, Windows>,
    pub writes_windows: HashMap<String, Windows>,
    pub read_limit: u32,
    pub write_limit: u32,
    pub speed: f64,
    pub counters: Counters,
    pub writes: Vec<SentinelWrite>,
    pub throttle_next: VecDeque<Duration>,
    pub conflict_next: u32,
    pub interfere: VecDeque<Interference>,
    pub page_size: usize,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
}

impl SimState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now_utc() + self.offset
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

const PREFIX: &str = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights";

pub(crate) fn router(state: AppState) -> axum::Router {
    use super::{comments::*, incidents::*, rules::*};
    axum::Router::new()
        .route(&format!("{PREFIX}/incidents"), get(list_incidents))
        .route(
            &format!("{PREFIX}/incidents/{{id}}"),
            get(get_incident).put(put_incident).delete(delete_incident),
        )
        .route(
            &format!("{PREFIX}/incidents/{{id}}/comments"),
            get(list_comments),
        )
        .route(
            &format!("{PREFIX}/incidents/{{id}}/comments/{{comment}}"),
            get(get_comment).put(put_comment),
        )
        .route(&format!("{PREFIX}/alertRules"), get(list_rules))
        .route(
            &format!("{PREFIX}/alertRules/{{rule}}"),
            get(get_rule).put(put_rule),
        )
        .with_state(state)
}

/// One request's answer under construction.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: json!({"error": {"code": code, "message": message}}),
    }
}

pub(super) fn refused(refusal: Refusal) -> Answer {
    error(
        StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
        refusal.code,
        &refusal.message,
    )
}

pub(super) fn ok(status: StatusCode, body: Value) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body,
    }
}

fn respond(answer: Answer, headers: &HeaderMap, now: DateTime<Utc>) -> Response {
    let mut response = (answer.status, answer.body.to_string()).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let request_id = crate::graph::request_id();
    for name in ["x-ms-request-id", "x-ms-correlation-request-id"] {
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            out.insert(name, v);
        }
    }
    if let Some(id) = headers.get("x-ms-client-request-id") {
        out.insert("x-ms-client-request-id", id.clone());
    }
    if let Ok(date) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        out.insert(header::DATE, date);
    }
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(name, value);
        }
    }
    response
}

/// What a request does, for RBAC and throttling.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Read,
    WriteIncident,
    WriteRule,
}

impl Op {
    fn action(self, resource: &str) -> String {
        match self {
            Op::Read => format!("Microsoft.SecurityInsights/{resource}/read"),
            Op::WriteIncident | Op::WriteRule => {
                format!("Microsoft.SecurityInsights/{resource}/write")
            }
        }
    }
}

/// The request's path parameters: subscription, resource group, workspace.
pub(super) type Scope = (String, String, String);

/// api-version, workspace, token, role and throttling, in ARM's order: the caller's client id.
fn admit(
    state: &AppState,
    sim: &mut SimState,
    headers: &HeaderMap,
    query: &[(String, String)],
    scope: &Scope,
    op: Op,
    resource: &str,
) -> Result<String, Answer> {
    sim.counters.requests += 1;
    match query.iter().find(|(k, _)| k == "api-version") {
        None => {
            sim.counters.bad_requests += 1;
            return Err(error(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            ));
        }
        Some((_, v)) if v != API_VERSION && v != "2024-09-01" => {
            sim.counters.bad_requests += 1;
            return Err(error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                &format!("The api-version '{v}' is invalid. The supported versions are '{API_VERSION}, 2024-09-01'."),
            ));
        }
        _ => {}
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bearer.is_empty() {
        sim.counters.unauthorized += 1;
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    }
    let client = state.verifier.verify(bearer, ARM_SCOPE).map_err(|why| {
        sim.counters.unauthorized += 1;
        error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            &format!("The access token is invalid: {why}."),
        )
    })?;
    let path_base = &sim.base;
    let wanted = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/providers/Microsoft.SecurityInsights",
        scope.0, scope.1, scope.2
    );
    if !wanted.eq_ignore_ascii_case(path_base) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!(
                "The workspace '{}' under resource group '{}' was not found.",
                scope.2, scope.1
            ),
        ));
    }
    let role = sim.roles.get(&client).copied();
    let allowed = match (op, role) {
        (_, None) => false,
        (Op::Read, Some(_)) => true,
        (Op::WriteIncident, Some(r)) => r >= Role::Responder,
        (Op::WriteRule, Some(r)) => r >= Role::Contributor,
    };
    if !allowed {
        sim.counters.forbidden += 1;
        return Err(error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            &format!(
                "The client '{client}' with object id '{client}' does not have authorization to perform action '{}' over scope '{}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                op.action(resource),
                sim.base
            ),
        ));
    }
    let now = sim.now();
    let (limit, header_name) = if op == Op::Read {
        (
            sim.read_limit,
            "x-ms-ratelimit-remaining-subscription-reads",
        )
    } else {
        (
            sim.write_limit,
            "x-ms-ratelimit-remaining-subscription-writes",
        )
    };
    let speed = sim.speed;
    let windows = if op == Op::Read {
        &mut sim.reads
    } else {
        &mut sim.writes_windows
    };
    let window = windows.entry(client.clone()).or_insert_with(|| {
        Windows::new(
            Limits {
                per_minute: limit,
                per_hour: limit,
            },
            speed,
        )
    });
    let injected = sim.throttle_next.pop_front();
    let admitted = match injected {
        Some(wait) => Err(wait),
        None => window.admit(now),
    };
    if let Err(wait) = admitted {
        sim.counters.throttled += 1;
        let mut answer = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_01:00:00. For more information, see - https://aka.ms/armthrottling",
        );
        answer
            .headers
            .push(("retry-after", wait.as_secs().max(1).to_string()));
        answer.headers.push((header_name, "0".into()));
        return Err(answer);
    }
    Ok(client)
}

fn params(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn remaining(sim: &SimState, client: &str, op: Op) -> (&'static str, String) {
    let (windows, limit, name) = if op == Op::Read {
        (
            &sim.reads,
            sim.read_limit,
            "x-ms-ratelimit-remaining-subscription-reads",
        )
    } else {
        (
            &sim.writes_windows,
            sim.write_limit,
            "x-ms-ratelimit-remaining-subscription-writes",
        )
    };
    let used = windows.get(client).map(|w| w.in_hour()).unwrap_or(0);
    (name, limit.saturating_sub(used).to_string())
}

/// Runs `f` after admission, and answers with ARM's headers.
pub(super) fn handle(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<String>,
    scope: &Scope,
    op: Op,
    resource: &str,
    f: impl FnOnce(&mut SimState, &str, &[(String, String)]) -> Answer,
) -> Response {
    let mut sim = lock(&state.shared);
    let query = params(raw);
    let now = sim.now();
    let mut answer = match admit(state, &mut sim, headers, &query, scope, op, resource) {
        Ok(client) => {
            let mut answer = f(&mut sim, &client, &query);
            answer.headers.push(remaining(&sim, &client, op));
            answer
        }
        Err(answer) => answer,
    };
    if answer.status == StatusCode::BAD_REQUEST {
        sim.counters.bad_requests += 1;
    }
    if answer.status == StatusCode::CONFLICT {
        sim.counters.conflicts += 1;
    }
    answer.headers.dedup_by(|a, b| a.0 == b.0);
    respond(answer, headers, now)
}

pub(super) fn not_found(what: &str, name: &str) -> Answer {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("The {what} '{name}' was not found."),
    )
}
