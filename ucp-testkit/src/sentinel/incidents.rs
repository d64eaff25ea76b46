//! The incidents of the simulated workspace: listed by change (`$filter`, `$orderby`, `$top`,
//! keyset `$skipToken`), read, written with the body's etag (409 on a stale one), deleted.

use chrono::{DateTime, Utc};
use serde_json::Map;

use super::store::{after, bad, changed, merged, Actor, Refusal};
use super::SentinelWrite;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::server::{error, handle, not_found, ok, refused, Answer, AppState, Op, Scope, SimState};

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

pub(super) async fn list_incidents(
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

pub(super) async fn get_incident(
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

pub(super) async fn put_incident(
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

pub(super) async fn delete_incident(
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
