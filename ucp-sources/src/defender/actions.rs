//! Defender XDR response actions on incidents, over Graph security v1.0:
//!
//! | action | request | parameters |
//! |---|---|---|
//! | [`UPDATE_INCIDENT`] | `PATCH /security/incidents/{id}` | `incident_id`, and at least one of `assignedTo` (string or null), `classification`, `determination`, `status`, `customTags` (strings) |
//! | [`ADD_COMMENT`] | `POST /security/incidents/{id}/comments` | `incident_id`, `comment` |
//!
//! Both need the application permission `SecurityIncident.ReadWrite.All`. Only the five
//! properties Graph v1.0 documents as updatable are accepted; `status` takes the update
//! page's values (`active`, `resolved`, `redirected`: the resource's `inProgress` and
//! `awaitingAction` cannot be set), `classification` its enum, both in any case and sent in
//! Graph's camelCase; `determination` is an evolvable enum whose documented names disagree
//! between pages, so any camelCase name is passed on and Graph decides. An update is
//! idempotent (the same body twice leaves the incident as once); a comment is not (each
//! `POST` adds one), so the platform runs a comment once per idempotency key. An incident
//! that does not exist is [`ActionOutcome::Refused`], not an error.

use bytes::Bytes;
use reqwest::{Method, Url};
use serde_json::{json, Map, Value};
use ucp_core::{
    ActionInfo, ActionOutcome, ActionPlan, ActionRequest, PlannedRequest, SourceContext,
    SourceError,
};

use super::enums::{Classification, IncidentStatus};
use super::graph::{Call, Graph};

/// `PATCH /security/incidents/{id}`: assignedTo, classification, determination, status,
/// customTags.
pub const UPDATE_INCIDENT: &str = "update_incident";
/// `POST /security/incidents/{id}/comments`.
pub const ADD_COMMENT: &str = "add_comment";

/// The permission both actions need.
const PERMISSION: &str = "SecurityIncident.ReadWrite.All";

/// The longest comment sent, in characters (Graph documents none; Sentinel's is 30,000).
pub const MAX_COMMENT_CHARS: usize = 30_000;

/// The most custom tags in one update, and the longest tag (bounds on what we send).
const MAX_TAGS: usize = 100;
const MAX_TAG_CHARS: usize = 500;

/// The actions the Defender source offers.
pub(crate) fn infos() -> Vec<ActionInfo> {
    vec![
        ActionInfo::new(
            UPDATE_INCIDENT,
            "Update a Defender XDR incident's assignedTo, classification, determination, status or customTags (PATCH /security/incidents/{id})",
            json!({
                "type": "object",
                "required": ["incident_id"],
                "minProperties": 2,
                "additionalProperties": false,
                "properties": {
                    "incident_id": {"type": "string", "minLength": 1},
                    "assignedTo": {"type": ["string", "null"]},
                    "classification": {"enum": ["unknown", "falsePositive", "truePositive", "informationalExpectedActivity"]},
                    "determination": {"type": "string", "pattern": "^[A-Za-z]+$"},
                    "status": {"enum": ["active", "resolved", "redirected"]},
                    "customTags": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TAGS}
                }
            }),
        )
        .idempotent()
        .permission(PERMISSION),
        ActionInfo::new(
            ADD_COMMENT,
            "Add a comment to a Defender XDR incident (POST /security/incidents/{id}/comments)",
            json!({
                "type": "object",
                "required": ["incident_id", "comment"],
                "additionalProperties": false,
                "properties": {
                    "incident_id": {"type": "string", "minLength": 1},
                    "comment": {"type": "string", "minLength": 1, "maxLength": MAX_COMMENT_CHARS}
                }
            }),
        )
        .permission(PERMISSION),
    ]
}

/// A checked request: the call, its URL and body.
pub(crate) struct Prepared {
    pub call: Call,
    pub method: Method,
    pub url: Url,
    pub body: Value,
    pub incident: String,
}

fn invalid(action: &str, why: impl std::fmt::Display) -> SourceError {
    SourceError::Config {
        message: format!("Defender XDR action '{action}': {why}"),
    }
}

/// The incident's URL: the id is one path segment, escaped.
fn incident_url(origin: &Url, id: &str, comments: bool) -> Url {
    let mut url = origin.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .clear()
            .extend(["v1.0", "security", "incidents", id]);
        if comments {
            segments.push("comments");
        }
    }
    url
}

/// The parameters of `request`, checked; what would be sent.
pub(crate) fn prepare(origin: &Url, request: &ActionRequest) -> Result<Prepared, SourceError> {
    let action = request.action.as_str();
    let params = request
        .parameters
        .as_object()
        .ok_or_else(|| invalid(action, "the parameters must be a JSON object"))?;
    let incident = params
        .get("incident_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 100
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| {
            invalid(
                action,
                "'incident_id' must be the incident's id (letters, digits, '-' or '_', at most 100)",
            )
        })?
        .to_string();
    match action {
        UPDATE_INCIDENT => {
            let body = update_body(params)?;
            Ok(Prepared {
                call: Call::UpdateIncident,
                method: Method::PATCH,
                url: incident_url(origin, &incident, false),
                body: Value::Object(body),
                incident,
            })
        }
        ADD_COMMENT => {
            let comment = params
                .get("comment")
                .and_then(Value::as_str)
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| invalid(action, "'comment' must be a non-empty string"))?;
            if comment.chars().count() > MAX_COMMENT_CHARS {
                return Err(invalid(
                    action,
                    format!("'comment' is longer than {MAX_COMMENT_CHARS} characters"),
                ));
            }
            if let Some(other) = params
                .keys()
                .find(|k| !matches!(k.as_str(), "incident_id" | "comment"))
            {
                return Err(invalid(
                    action,
                    format!("unknown parameter '{other}' (it takes incident_id and comment)"),
                ));
            }
            Ok(Prepared {
                call: Call::CommentIncident,
                method: Method::POST,
                url: incident_url(origin, &incident, true),
                body: json!({
                    "@odata.type": "microsoft.graph.security.alertComment",
                    "comment": comment,
                }),
                incident,
            })
        }
        other => Err(SourceError::Config {
            message: format!(
                "the Defender XDR source offers no action '{other}' (it offers {UPDATE_INCIDENT} and {ADD_COMMENT})"
            ),
        }),
    }
}

/// The `PATCH` body of an update: the five properties, checked and in Graph's spelling.
fn update_body(params: &Map<String, Value>) -> Result<Map<String, Value>, SourceError> {
    let bad = |why: String| invalid(UPDATE_INCIDENT, why);
    let mut body = Map::new();
    for (key, value) in params {
        match key.as_str() {
            "incident_id" => {}
            "assignedTo" => {
                if !(value.is_null() || value.is_string()) {
                    return Err(bad("'assignedTo' must be a string or null".into()));
                }
                body.insert(key.clone(), value.clone());
            }
            "classification" => {
                let text = value.as_str().unwrap_or_default();
                let parsed = Classification::parse(text);
                if matches!(
                    parsed,
                    Classification::Other(_) | Classification::UnknownFutureValue
                ) {
                    return Err(bad(format!(
                        "'classification' {value} is not one of unknown, falsePositive, truePositive, informationalExpectedActivity"
                    )));
                }
                body.insert(key.clone(), json!(parsed.as_str()));
            }
            "determination" => {
                let text = value.as_str().unwrap_or_default();
                if text.is_empty() || !text.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(bad(format!(
                        "'determination' {value} must be a determination's name, e.g. malware, phishing, other"
                    )));
                }
                body.insert(key.clone(), json!(text));
            }
            "status" => {
                let text = value.as_str().unwrap_or_default();
                let parsed = IncidentStatus::parse(text);
                if !matches!(
                    parsed,
                    IncidentStatus::Active | IncidentStatus::Resolved | IncidentStatus::Redirected
                ) {
                    return Err(bad(format!(
                        "'status' {value} cannot be set through Graph v1.0: use active, resolved or redirected"
                    )));
                }
                body.insert(key.clone(), json!(parsed.as_str()));
            }
            "customTags" => {
                let tags = value
                    .as_array()
                    .filter(|tags| tags.len() <= MAX_TAGS)
                    .and_then(|tags| {
                        tags.iter()
                            .map(|t| t.as_str().filter(|t| t.chars().count() <= MAX_TAG_CHARS))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "'customTags' must be at most {MAX_TAGS} strings of at most {MAX_TAG_CHARS} characters"
                        ))
                    })?;
                body.insert(key.clone(), json!(tags));
            }
            other => {
                return Err(bad(format!(
                    "'{other}' cannot be updated through Graph v1.0 (updatable: assignedTo, classification, determination, status, customTags)"
                )))
            }
        }
    }
    if body.is_empty() {
        return Err(bad(
            "nothing to update: give at least one of assignedTo, classification, determination, status, customTags".into(),
        ));
    }
    Ok(body)
}

/// The dry run of `request`.
pub(crate) fn plan(origin: &Url, request: &ActionRequest) -> Result<ActionPlan, SourceError> {
    let prepared = prepare(origin, request)?;
    let summary = match request.action.as_str() {
        UPDATE_INCIDENT => format!(
            "update Defender XDR incident {} ({})",
            prepared.incident,
            prepared
                .body
                .as_object()
                .map(|b| b.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        ),
        _ => format!("comment on Defender XDR incident {}", prepared.incident),
    };
    Ok(ActionPlan {
        summary,
        requests: vec![PlannedRequest {
            method: prepared.method.to_string(),
            url: prepared.url.to_string(),
            body: Some(prepared.body),
        }],
    })
}

/// Perform `request`: one call.
pub(crate) async fn act(
    graph: &Graph,
    origin: &Url,
    cx: &SourceContext,
    request: &ActionRequest,
) -> Result<ActionOutcome, SourceError> {
    let prepared = prepare(origin, request)?;
    let body = Bytes::from(prepared.body.to_string());
    let answer = graph
        .send_or_missing(
            cx,
            &prepared.call,
            prepared.method.clone(),
            &prepared.url,
            Some(body),
        )
        .await?;
    let Some(answer) = answer else {
        return Ok(ActionOutcome::Refused {
            reason: format!(
                "{} has no incident '{}' (deleted, or another tenant's id)",
                graph.what(),
                prepared.incident
            ),
        });
    };
    let value: Value = serde_json::from_slice(&answer).map_err(|e| SourceError::Malformed {
        message: format!(
            "{}, {}: the answer is not JSON ({e})",
            graph.what(),
            request.action
        ),
    })?;
    let detail = match request.action.as_str() {
        UPDATE_INCIDENT => {
            let mut detail = Map::new();
            for key in [
                "id",
                "status",
                "classification",
                "determination",
                "assignedTo",
                "customTags",
                "lastUpdateDateTime",
                "lastModifiedBy",
            ] {
                if let Some(v) = value.get(key) {
                    detail.insert(key.to_string(), v.clone());
                }
            }
            Value::Object(detail)
        }
        _ => {
            let comments = value
                .get("value")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            json!({
                "id": prepared.incident,
                "comments": comments.len(),
                "added": comments.last().cloned().unwrap_or(Value::Null),
            })
        }
    };
    Ok(ActionOutcome::Done { detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn origin() -> Url {
        Url::parse("https://graph.microsoft.com").unwrap()
    }

    fn plan_of(action: &str, parameters: Value) -> Result<ActionPlan, SourceError> {
        plan(&origin(), &ActionRequest::new(action, parameters))
    }

    #[test]
    fn an_update_sends_the_five_properties_in_graphs_spelling() {
        let plan = plan_of(
            UPDATE_INCIDENT,
            json!({"incident_id": "2970001", "status": "Resolved", "classification": "TRUEPOSITIVE",
                   "determination": "malware", "assignedTo": null, "customTags": ["ransomware"]}),
        )
        .unwrap();
        let request = &plan.requests[0];
        assert_eq!(request.method, "PATCH");
        assert_eq!(
            request.url,
            "https://graph.microsoft.com/v1.0/security/incidents/2970001"
        );
        assert_eq!(
            request.body,
            Some(
                json!({"status": "resolved", "classification": "truePositive",
                "determination": "malware", "assignedTo": null, "customTags": ["ransomware"]})
            )
        );
    }

    #[test]
    fn what_graph_v1_cannot_take_is_refused_with_the_reason() {
        for (params, words) in [
            (
                json!({"incident_id": "1", "severity": "high"}),
                "cannot be updated",
            ),
            (
                json!({"incident_id": "1", "status": "inProgress"}),
                "cannot be set",
            ),
            (
                json!({"incident_id": "1", "classification": "maybe"}),
                "is not one of",
            ),
            (json!({"incident_id": "1"}), "nothing to update"),
            (
                json!({"incident_id": "", "status": "active"}),
                "incident_id",
            ),
            (json!({"incident_id": "1", "customTags": [1]}), "customTags"),
            (json!("not an object"), "JSON object"),
        ] {
            match plan_of(UPDATE_INCIDENT, params.clone()) {
                Err(SourceError::Config { message }) => {
                    assert!(message.contains(words), "{params}: {message}")
                }
                other => panic!("{params}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_comment_goes_to_the_comments_of_the_incident() {
        let plan = plan_of(
            ADD_COMMENT,
            json!({"incident_id": "2970001", "comment": "contained"}),
        )
        .unwrap();
        assert_eq!(plan.requests[0].method, "POST");
        assert_eq!(
            plan.requests[0].url,
            "https://graph.microsoft.com/v1.0/security/incidents/2970001/comments"
        );
        assert!(plan_of(
            ADD_COMMENT,
            json!({"incident_id": "12/../34", "comment": "x"})
        )
        .is_err());
        assert!(plan_of(ADD_COMMENT, json!({"incident_id": "1", "comment": " "})).is_err());
        assert!(plan_of(
            ADD_COMMENT,
            json!({"incident_id": "1", "comment": "x".repeat(MAX_COMMENT_CHARS + 1)})
        )
        .is_err());
    }

    proptest! {
        // Any parameters: a plan or a configuration error, never a panic; a plan's URL stays
        // on Graph's origin.
        #[test]
        fn any_parameters_plan_or_are_refused(
            id in ".{0,40}",
            status in prop::option::of(".{0,20}"),
            tags in prop::option::of(prop::collection::vec(".{0,8}", 0..4)),
            comment in prop::option::of(".{0,40}"),
        ) {
            let mut params = json!({"incident_id": id});
            if let Some(s) = status { params["status"] = json!(s); }
            if let Some(t) = tags { params["customTags"] = json!(t); }
            for action in [UPDATE_INCIDENT, ADD_COMMENT] {
                let mut params = params.clone();
                if let (ADD_COMMENT, Some(c)) = (action, &comment) { params["comment"] = json!(c); }
                match plan_of(action, params) {
                    Ok(plan) => {
                        let url = Url::parse(&plan.requests[0].url).unwrap();
                        prop_assert_eq!(url.host_str(), Some("graph.microsoft.com"));
                        prop_assert!(url.path().starts_with("/v1.0/security/incidents/"));
                    }
                    Err(SourceError::Config { .. }) => {}
                    Err(other) => prop_assert!(false, "{other:?}"),
                }
            }
        }
    }
}
