//! Incident comments: listed, read, written by id within Sentinel's limits (only the author
//! edits a comment; a new comment is a new version of its incident).

use super::store::{bad, Actor, Comment};
use super::{SentinelWrite, MAX_COMMENTS, MAX_COMMENT_CHARS};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::server::{error, handle, not_found, ok, refused, AppState, Op};

pub(super) async fn list_comments(
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

pub(super) async fn get_comment(
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

pub(super) async fn put_comment(
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
