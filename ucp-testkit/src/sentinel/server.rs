//! The HTTP side of the Sentinel incidents simulator: ARM's `api-version`, bearer tokens for
//! `https://management.azure.com/.default`, Azure RBAC per principal (403
//! `AuthorizationFailed` naming the action), per-principal hourly read and write limits
//! (429 with `Retry-After` and `x-ms-ratelimit-remaining-subscription-*` on every answer),
//! `CloudError` bodies, and the operations on incidents, comments and alert rules.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use ucp_core::Clock;

use super::store::{after, bad, changed, merged, Actor, Comment, Refusal, Workspace};
use super::{Role, SentinelWrite, API_VERSION, ARM_SCOPE, MAX_COMMENTS, MAX_COMMENT_CHARS};
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
struct Answer {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: json!({"error": {"code": code, "message": message}}),
    }
}

fn refused(refusal: Refusal) -> Answer {
    error(
        StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
        refusal.code,
        &refusal.message,
    )
}

fn ok(status: StatusCode, body: Value) -> Answer {
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
enum Op {
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
type Scope = (String, String, String);

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
fn handle(
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

fn not_found(what: &str, name: &str) -> Answer {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("The {what} '{name}' was not found."),
    )
}

/// One clause of the `$filter` subset the simulator understands.
enum Clause {
    Modified(&'static str, DateTime<Utc>),
    Equals(String, String),
}

fn parse_filter(text: &str) -> Result<Vec<Clause>, Refusal> {
    let mut clauses = Vec::new();
    for part in text.split(" and ") {
        let words: Vec<&str> = part.trim().splitn(3, ' ').collect();
        let [path, op, value] = words[..] else {
            return Err(bad(format!("Invalid $filter clause '{part}'.")));
        };
        match (path, op) {
            ("properties/lastModifiedTimeUtc", "ge" | "gt") => {
                let at = DateTime::parse_from_rfc3339(value.trim_matches('\''))
                    .map_err(|_| bad(format!("Invalid date time '{value}' in $filter.")))?
                    .to_utc();
                clauses.push(Clause::Modified(if op == "ge" { "ge" } else { "gt" }, at));
            }
            (
                "properties/providerName" | "properties/providerIncidentId" | "properties/status",
                "eq",
            ) => {
                let value = value
                    .strip_prefix('\'')
                    .and_then(|v| v.strip_suffix('\''))
                    .ok_or_else(|| bad(format!("Invalid literal {value} in $filter.")))?;
                clauses.push(Clause::Equals(
                    path.trim_start_matches("properties/").into(),
                    value.into(),
                ));
            }
            _ => {
                return Err(bad(format!(
                    "The $filter clause '{part}' is not supported."
                )))
            }
        }
    }
    Ok(clauses)
}

async fn list_incidents(
    State(state): State<AppState>,
    Path(scope): Path<Scope>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &scope,
        Op::Read,
        "incidents",
        |sim, _, query| {
            let get = |k: &str| {
                query
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            let clauses = match get("$filter").map(parse_filter).transpose() {
                Ok(c) => c.unwrap_or_default(),
                Err(refusal) => return refused(refusal),
            };
            let top = match get("$top").map(str::parse::<usize>) {
                None => sim.page_size,
                Some(Ok(t)) if (1..=1000).contains(&t) => t,
                Some(_) => return refused(bad("The value of $top must be between 1 and 1000.")),
            };
            let by_modified = match get("$orderby") {
                None | Some("properties/createdTimeUtc desc") => false,
                Some("properties/lastModifiedTimeUtc asc") => true,
                Some(other) => {
                    return refused(bad(format!("The $orderby '{other}' is not supported.")))
                }
            };
            let base = sim.base.clone();
            // Filter and order on the stored incidents; only the page is rendered.
            let mut rows: Vec<(String, String, &super::store::Incident)> = sim
                .workspace
                .incidents
                .values()
                .filter(|i| {
                    clauses.iter().all(|c| match c {
                        Clause::Modified(op, at) => {
                            let m = i.system.modified_at;
                            if *op == "ge" {
                                m >= *at
                            } else {
                                m > *at
                            }
                        }
                        Clause::Equals(field, value) => match field.as_str() {
                            "providerIncidentId" => {
                                i.props
                                    .get(field)
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                                    .unwrap_or_else(|| i.number.to_string())
                                    == *value
                            }
                            "providerName" => {
                                i.props
                                    .get(field)
                                    .and_then(Value::as_str)
                                    .unwrap_or("Azure Sentinel")
                                    == value
                            }
                            _ => i.props.get(field).and_then(Value::as_str) == Some(value.as_str()),
                        },
                    })
                })
                .map(|i| {
                    let key = if by_modified {
                        super::store::time(i.system.modified_at)
                    } else {
                        format!("{:020}", i64::MAX - i.number)
                    };
                    (key, i.name.clone(), i)
                })
                .collect();
            rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            // Keyset paging: the token is the last row's sort key, so rows that change while a
            // client pages move later instead of shifting others past it.
            if let Some(token) = get("$skipToken") {
                let Some((key, name)) = token.split_once('|') else {
                    return refused(bad("Invalid $skipToken."));
                };
                rows.retain(|(k, n, _)| (k.as_str(), n.as_str()) > (key, name));
            }
            let more = rows.len() > top;
            rows.truncate(top);
            let mut body =
                json!({"value": rows.iter().map(|r| r.2.json(&base)).collect::<Vec<_>>()});
            if more {
                if let Some(last) = rows.last() {
                    let mut next = url::form_urlencoded::Serializer::new(String::new());
                    for (k, v) in query.iter().filter(|(k, _)| k != "$skipToken") {
                        next.append_pair(k, v);
                    }
                    next.append_pair("$skipToken", &format!("{}|{}", last.0, last.1));
                    body["nextLink"] = json!(format!(
                        "{}{}/incidents?{}",
                        sim_origin(sim),
                        base,
                        next.finish()
                    ));
                }
            }
            ok(StatusCode::OK, body)
        },
    )
}

/// The simulator's origin, for `nextLink`.
fn sim_origin(sim: &SimState) -> &str {
    &sim.origin
}

async fn get_incident(
    State(state): State<AppState>,
    Path((s, r, w, id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::Read,
        "incidents",
        |sim, _, _| match sim.workspace.incidents.get(&id) {
            Some(incident) => ok(StatusCode::OK, incident.json(&sim.base)),
            None => not_found("incident", &id),
        },
    )
}

async fn put_incident(
    State(state): State<AppState>,
    Path((s, r, w, id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::WriteIncident,
        "incidents",
        |sim, client, _| {
            let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
                return refused(bad("The request body must be a JSON object."));
            };
            if id.is_empty() || id.len() > 256 || id.contains(['/', '?', '#']) {
                return refused(bad(format!("The incident id '{id}' is not valid.")));
            }
            let given = body
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let etag = body.get("etag").and_then(Value::as_str).map(str::to_string);
            let now = sim.now();
            // A person's change landing just before this write, as tests arrange.
            if sim.workspace.incidents.contains_key(&id) {
                if let Some(change) = sim.interfere.pop_front() {
                    change(&mut sim.workspace, now);
                }
                if etag.is_some() && sim.conflict_next > 0 {
                    sim.conflict_next -= 1;
                    sim.workspace
                        .touch(&id, &Actor::app("automation-rule"), now);
                }
            }
            let actor = Actor::app(client);
            let base = sim.base.clone();
            match sim.workspace.incidents.get(&id).cloned() {
                Some(existing) => {
                    if etag.as_deref().is_some_and(|e| e != existing.etag) {
                        return error(
                            StatusCode::CONFLICT,
                            "Conflict",
                            &format!("Newer version of resource '{id}' exists. Data was not saved"),
                        );
                    }
                    let props = match merged(Some(&existing.props), &given) {
                        Ok(p) => p,
                        Err(refusal) => return refused(refusal),
                    };
                    let changed = changed(&existing.props, &props);
                    let new_etag = sim.workspace.etag();
                    if let Some(incident) = sim.workspace.incidents.get_mut(&id) {
                        incident.props = props;
                        incident.etag = new_etag;
                        incident.system.modified_at = after(incident.system.modified_at, now);
                        incident.system.modified_by = actor;
                    }
                    sim.writes.push(SentinelWrite {
                        resource: format!("incidents/{id}"),
                        client: client.to_string(),
                        at: now,
                        created: false,
                        changed,
                    });
                    ok(StatusCode::OK, sim.workspace.incidents[&id].json(&base))
                }
                None => {
                    let props = match merged(None, &given) {
                        Ok(p) => p,
                        Err(refusal) => return refused(refusal),
                    };
                    let changed = changed(&Map::new(), &props);
                    let json = sim.workspace.create(&id, props, &actor, now).json(&base);
                    sim.writes.push(SentinelWrite {
                        resource: format!("incidents/{id}"),
                        client: client.to_string(),
                        at: now,
                        created: true,
                        changed,
                    });
                    ok(StatusCode::CREATED, json)
                }
            }
        },
    )
}

async fn delete_incident(
    State(state): State<AppState>,
    Path((s, r, w, id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::WriteIncident,
        "incidents",
        |sim, _, _| match sim.workspace.incidents.remove(&id) {
            Some(_) => ok(StatusCode::OK, Value::Null),
            None => Answer {
                status: StatusCode::NO_CONTENT,
                headers: Vec::new(),
                body: Value::Null,
            },
        },
    )
}

async fn list_comments(
    State(state): State<AppState>,
    Path((s, r, w, id)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::Read,
        "incidents/comments",
        |sim, _, _| match sim.workspace.incidents.get(&id) {
            Some(incident) => {
                let value: Vec<Value> = incident
                    .comments
                    .iter()
                    .map(|c| c.json(&sim.base, &id))
                    .collect();
                ok(StatusCode::OK, json!({"value": value}))
            }
            None => not_found("incident", &id),
        },
    )
}

async fn get_comment(
    State(state): State<AppState>,
    Path((s, r, w, id, comment)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::Read,
        "incidents/comments",
        |sim, _, _| match sim
            .workspace
            .incidents
            .get(&id)
            .and_then(|i| i.comments.iter().find(|c| c.name == comment))
        {
            Some(c) => ok(StatusCode::OK, c.json(&sim.base, &id)),
            None => not_found("comment", &comment),
        },
    )
}

async fn put_comment(
    State(state): State<AppState>,
    Path((s, r, w, id, comment)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::WriteIncident,
        "incidents/comments",
        |sim, client, _| {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b["properties"]["message"].as_str().map(str::to_string));
            let Some(message) = message.filter(|m| !m.trim().is_empty()) else {
                return refused(bad("The property 'properties.message' is required."));
            };
            if message.chars().count() > MAX_COMMENT_CHARS {
                return refused(bad(format!(
                    "The comment is longer than {MAX_COMMENT_CHARS} characters."
                )));
            }
            let now = sim.now();
            let etag = sim.workspace.etag();
            let base = sim.base.clone();
            let Some(incident) = sim.workspace.incidents.get_mut(&id) else {
                return not_found("incident", &id);
            };
            let actor = Actor::app(client);
            let (status, created) = match incident.comments.iter_mut().find(|c| c.name == comment) {
                Some(existing) => {
                    if existing.author != actor {
                        return error(
                            StatusCode::FORBIDDEN,
                            "Forbidden",
                            "Only the author of a comment can edit it.",
                        );
                    }
                    existing.message = message;
                    existing.etag = etag;
                    existing.modified = now;
                    (StatusCode::OK, false)
                }
                None => {
                    if incident.comments.len() >= MAX_COMMENTS {
                        return refused(bad(format!(
                            "The incident already has the maximum of {MAX_COMMENTS} comments."
                        )));
                    }
                    incident.comments.push(Comment {
                        name: comment.clone(),
                        message,
                        etag,
                        author: actor.clone(),
                        created: now,
                        modified: now,
                    });
                    (StatusCode::CREATED, true)
                }
            };
            let json = incident
                .comments
                .iter()
                .find(|c| c.name == comment)
                .map(|c| c.json(&base, &id))
                .unwrap_or(Value::Null);
            // A comment changes the incident (its commentsCount): a new version of it.
            sim.workspace.touch(&id, &actor, now);
            sim.writes.push(SentinelWrite {
                resource: format!("incidents/{id}/comments/{comment}"),
                client: client.to_string(),
                at: now,
                created,
                changed: vec!["message".into()],
            });
            ok(status, json)
        },
    )
}

async fn list_rules(
    State(state): State<AppState>,
    Path(scope): Path<Scope>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &scope,
        Op::Read,
        "alertRules",
        |sim, _, _| {
            let value: Vec<Value> = sim
                .workspace
                .rules
                .values()
                .map(|r| r.json(&sim.base))
                .collect();
            ok(StatusCode::OK, json!({"value": value}))
        },
    )
}

async fn get_rule(
    State(state): State<AppState>,
    Path((s, r, w, rule)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::Read,
        "alertRules",
        |sim, _, _| match sim.workspace.rules.get(&rule) {
            Some(found) => ok(StatusCode::OK, found.json(&sim.base)),
            None => not_found("alert rule", &rule),
        },
    )
}

async fn put_rule(
    State(state): State<AppState>,
    Path((s, r, w, rule)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    handle(
        &state,
        &headers,
        raw,
        &(s, r, w),
        Op::WriteRule,
        "alertRules",
        |sim, client, _| {
            let Ok(body) = serde_json::from_slice::<Value>(&body) else {
                return refused(bad("The request body must be a JSON object."));
            };
            if body["kind"] != "MicrosoftSecurityIncidentCreation" {
                return refused(bad("This simulator serves alert rules of kind MicrosoftSecurityIncidentCreation only."));
            }
            let props = &body["properties"];
            let (Some(display), Some(product), Some(enabled)) = (
                props["displayName"].as_str(),
                props["productFilter"].as_str(),
                props["enabled"].as_bool(),
            ) else {
                return refused(bad(
                    "The properties displayName, productFilter and enabled are required.",
                ));
            };
            let now = sim.now();
            let new_etag = sim.workspace.etag();
            let base = sim.base.clone();
            let existing = sim.workspace.rules.get(&rule);
            if let (Some(existing), Some(etag)) = (existing, body["etag"].as_str()) {
                if etag != existing.etag {
                    return error(
                        StatusCode::CONFLICT,
                        "Conflict",
                        &format!("Newer version of resource '{rule}' exists. Data was not saved"),
                    );
                }
            }
            let created = existing.is_none();
            let severities = props["severitiesFilter"].as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
            let entry = super::store::Rule {
                name: rule.clone(),
                etag: new_etag,
                display_name: display.to_string(),
                product: product.to_string(),
                enabled,
                severities,
                modified: now,
            };
            sim.workspace.rules.insert(rule.clone(), entry);
            sim.writes.push(SentinelWrite {
                resource: format!("alertRules/{rule}"),
                client: client.to_string(),
                at: now,
                created,
                changed: vec!["enabled".into()],
            });
            ok(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                sim.workspace.rules[&rule].json(&base),
            )
        },
    )
}
