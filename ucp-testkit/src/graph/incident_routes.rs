//! The single-incident endpoints: `GET /security/incidents/{id}`, `PATCH` of the updatable
//! properties, and `POST …/comments`, behind the same auth, roles and throttling as the
//! lists. Every app write is kept with the properties it changed.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::edits::{changed, not_found, Refusal};
use super::server::{admit, lock, start, Answer, AppState, Call};
use super::tenant::comments_json;
use super::{Endpoint, GraphWrite};

fn refused(call: &Call, refusal: Refusal) -> Answer {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    call.error(status, refusal.code, &refusal.message)
}

fn ok(body: Value) -> Answer {
    Answer {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: body.to_string(),
    }
}

pub(crate) async fn get_incident(
    AxumState(state): AxumState<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut sim = lock(&state.shared);
    let call = start(&headers, &sim);
    if let Err(refusal) = admit(&state, &mut sim, &headers, Endpoint::Incidents, &call) {
        return call.respond(refusal);
    }
    sim.catch_up();
    let expand = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "$expand" && v == "alerts");
    let tenant = &sim.tenant;
    let answer = match tenant.incidents.iter().find(|i| i.id == id) {
        Some(incident) => {
            let mut body = tenant.incident_json(incident, expand);
            body["@odata.context"] =
                json!("https://graph.microsoft.com/v1.0/$metadata#security/incidents/$entity");
            ok(body)
        }
        None => refused(&call, not_found(&id)),
    };
    call.respond(answer)
}

/// The request body as a JSON object, or Graph's 400.
fn object(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal {
            status: 400,
            code: "BadRequest",
            message: "The request body must be a JSON object.".into(),
        }),
    }
}

pub(crate) async fn update(
    AxumState(state): AxumState<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut sim = lock(&state.shared);
    let call = start(&headers, &sim);
    let client = match admit(&state, &mut sim, &headers, Endpoint::IncidentUpdate, &call) {
        Ok(client) => client,
        Err(refusal) => return call.respond(refusal),
    };
    sim.catch_up();
    if let Some((incident, person, edit)) = sim.before_update.pop_front() {
        sim.tenant.edit(&incident, &person, edit, call.now);
    }
    let by = format!("API-App:{client}");
    let result = object(&body).and_then(|map| sim.tenant.update(&id, &by, &map, call.now));
    let answer = match result {
        Ok((before, after)) => {
            sim.writes.push(GraphWrite {
                incident: id.clone(),
                client,
                at: call.now,
                changed: changed(&before, &after),
            });
            let mut body = sim.tenant.incident_json(&after, false);
            body["@odata.context"] =
                json!("https://graph.microsoft.com/v1.0/$metadata#security/incidents/$entity");
            ok(body)
        }
        Err(refusal) => {
            sim.counters.bad_requests += u64::from(refusal.status == 400);
            refused(&call, refusal)
        }
    };
    call.respond(answer)
}

pub(crate) async fn comment(
    AxumState(state): AxumState<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut sim = lock(&state.shared);
    let call = start(&headers, &sim);
    let client = match admit(&state, &mut sim, &headers, Endpoint::IncidentComment, &call) {
        Ok(client) => client,
        Err(refusal) => return call.respond(refusal),
    };
    sim.catch_up();
    let by = format!("API-App:{client}");
    let text = object(&body).and_then(|map| {
        map.get("comment")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(Refusal {
                status: 400,
                code: "BadRequest",
                message: "The request body must carry the property 'comment' (a string).".into(),
            })
    });
    let listed = text.and_then(|text| {
        sim.tenant
            .comment(&id, &by, &text, call.now)
            .map(comments_json)
    });
    let answer = match listed {
        Ok(list) => {
            sim.writes.push(GraphWrite {
                incident: id.clone(),
                client,
                at: call.now,
                changed: vec!["comments".into()],
            });
            ok(json!({
                "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#security/incidents('{id}')/comments"),
                "value": list,
            }))
        }
        Err(refusal) => {
            sim.counters.bad_requests += u64::from(refusal.status == 400);
            refused(&call, refusal)
        }
    };
    call.respond(answer)
}
