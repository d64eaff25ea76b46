//! Alert rules of kind `MicrosoftSecurityIncidentCreation`: listed, read, written with their
//! etag.

use super::store::bad;
use super::SentinelWrite;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::server::{error, handle, not_found, ok, refused, AppState, Op, Scope};

pub(super) async fn list_rules(
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

pub(super) async fn get_rule(
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

pub(super) async fn put_rule(
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
