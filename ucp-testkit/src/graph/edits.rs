//! Changes to incidents other than Defender's own: a person's edit in the Defender portal,
//! and an app's `PATCH /security/incidents/{id}` and `POST …/comments`, validated the way
//! Graph v1.0 documents them (five updatable properties; the update page's values of
//! `status`; `classification` and `determination` among their enums, in any case).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::tenant::{after, Comment, Incident, Tenant};

/// What a person changes on an incident in the Defender portal; `None` leaves a property
/// as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentEdit {
    /// `displayName`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `severity` (`informational`, `low`, `medium`, `high`).
    pub severity: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `classification`.
    pub classification: Option<String>,
    /// `determination`.
    pub determination: Option<String>,
    /// `assignedTo`: `Some(None)` unassigns.
    pub assigned_to: Option<Option<String>>,
    /// `customTags`.
    pub custom_tags: Option<Vec<String>>,
}

/// The properties Graph v1.0 lets an app update.
pub(crate) const UPDATABLE: &[&str] = &[
    "assignedTo",
    "classification",
    "determination",
    "status",
    "customTags",
];

/// `status` values the update page lists (the resource's `inProgress` and `awaitingAction`
/// are not among them).
const UPDATE_STATUSES: &[&str] = &["active", "resolved", "redirected", "unknownFutureValue"];

const CLASSIFICATIONS: &[&str] = &[
    "unknown",
    "falsePositive",
    "truePositive",
    "informationalExpectedActivity",
    "unknownFutureValue",
];

/// The update page's determinations, and the resource page's older names of three of them.
const DETERMINATIONS: &[&str] = &[
    "unknown",
    "apt",
    "malware",
    "securityPersonnel",
    "securityTesting",
    "unwantedSoftware",
    "other",
    "multiStagedAttack",
    "compromisedAccount",
    "phishing",
    "maliciousUserActivity",
    "notMalicious",
    "notEnoughDataToValidate",
    "confirmedUserActivity",
    "lineOfBusinessApplication",
    "unknownFutureValue",
    "clean",
    "insufficientData",
    "compromisedUser",
];

/// Why an app's write was refused: Graph's status code, error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn bad(message: String) -> Refusal {
    Refusal {
        status: 400,
        code: "BadRequest",
        message,
    }
}

pub(crate) fn not_found(id: &str) -> Refusal {
    Refusal {
        status: 404,
        code: "NotFound",
        message: format!("Incident '{id}' was not found."),
    }
}

/// `value` among `allowed` in any case, in Graph's spelling.
fn one_of(property: &str, value: &Value, allowed: &[&str]) -> Result<String, Refusal> {
    let text = value.as_str().ok_or_else(|| {
        bad(format!(
            "Invalid value for property '{property}': expected a string."
        ))
    })?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(text))
        .map(|a| a.to_string())
        .ok_or_else(|| {
            bad(format!(
                "Invalid value '{text}' for property '{property}'. Allowed values: {}.",
                allowed.join(", ")
            ))
        })
}

/// What changed on an incident: the property names whose value differs.
pub(crate) fn changed(before: &Incident, after: &Incident) -> Vec<String> {
    let mut names = Vec::new();
    let pairs: [(&str, bool); 10] = [
        ("displayName", before.title != after.title),
        ("description", before.description != after.description),
        ("severity", before.severity != after.severity),
        ("status", before.status != after.status),
        (
            "classification",
            before.classification != after.classification,
        ),
        ("determination", before.determination != after.determination),
        ("assignedTo", before.assigned_to != after.assigned_to),
        ("customTags", before.custom_tags != after.custom_tags),
        ("comments", before.comments != after.comments),
        ("redirectIncidentId", before.redirect != after.redirect),
    ];
    for (name, differs) in pairs {
        if differs {
            names.push(name.to_string());
        }
    }
    names
}

impl Tenant {
    /// A person's edit in the portal, signed `by`; false if there is no such incident.
    pub fn edit(&mut self, id: &str, by: &str, edit: IncidentEdit, now: DateTime<Utc>) -> bool {
        let Some(incident) = self.incident_mut(id) else {
            return false;
        };
        let IncidentEdit {
            title,
            description,
            severity,
            status,
            classification,
            determination,
            assigned_to,
            custom_tags,
        } = edit;
        macro_rules! set {
            ($field:ident, $value:expr) => {
                if let Some(value) = $value {
                    incident.$field = value;
                }
            };
        }
        set!(title, title);
        set!(description, description);
        set!(severity, severity);
        set!(status, status);
        set!(classification, classification);
        set!(determination, determination);
        set!(assigned_to, assigned_to);
        set!(custom_tags, custom_tags);
        incident.updated = after(incident.updated, now);
        incident.last_modified_by = by.to_string();
        true
    }

    /// A comment written `by` someone in the portal or by an app; the list after it.
    pub fn comment(
        &mut self,
        id: &str,
        by: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<&[Comment], Refusal> {
        if text.trim().is_empty() {
            return Err(bad("The property 'comment' must not be empty.".into()));
        }
        let incident = self.incident_mut(id).ok_or_else(|| not_found(id))?;
        incident.updated = after(incident.updated, now);
        incident.last_modified_by = by.to_string();
        incident.comments.push(Comment {
            text: text.to_string(),
            by: by.to_string(),
            at: incident.updated,
        });
        Ok(&incident.comments)
    }

    /// An app's `PATCH` with `body`, signed `by`: the incident before and after it.
    pub fn update(
        &mut self,
        id: &str,
        by: &str,
        body: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(Incident, Incident), Refusal> {
        let before = self.incident_mut(id).ok_or_else(|| not_found(id))?.clone();
        let mut next = before.clone();
        for (key, value) in body {
            if key.starts_with('@') {
                continue; // @odata annotations
            }
            match key.as_str() {
                "assignedTo" => {
                    next.assigned_to = match value {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        _ => return Err(bad(
                            "Invalid value for property 'assignedTo': expected a string or null."
                                .into(),
                        )),
                    }
                }
                "classification" => next.classification = one_of(key, value, CLASSIFICATIONS)?,
                "determination" => next.determination = one_of(key, value, DETERMINATIONS)?,
                "status" => next.status = one_of(key, value, UPDATE_STATUSES)?,
                "customTags" => {
                    let tags = value.as_array().ok_or_else(|| {
                        bad("Invalid value for property 'customTags': expected an array of strings.".into())
                    })?;
                    next.custom_tags = tags
                        .iter()
                        .map(|t| t.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            bad("Invalid value for property 'customTags': expected an array of strings.".into())
                        })?;
                }
                other => {
                    return Err(bad(format!(
                        "Property '{other}' cannot be updated: the updatable properties are {}.",
                        UPDATABLE.join(", ")
                    )))
                }
            }
        }
        next.updated = after(before.updated, now);
        next.last_modified_by = by.to_string();
        let incident = self.incident_mut(id).ok_or_else(|| not_found(id))?;
        *incident = next.clone();
        Ok((before, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tenant() -> (Tenant, String, DateTime<Utc>) {
        let now = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .to_utc();
        let tenant = Tenant::generate(1, "t", 3, 6, now - chrono::Duration::hours(1), now);
        let id = tenant.incidents[0].id.clone();
        (tenant, id, now)
    }

    #[test]
    fn an_update_takes_the_five_properties_in_any_case_and_refuses_the_rest() {
        let (mut tenant, id, now) = tenant();
        let body = json!({"status": "Resolved", "classification": "truePositive",
            "determination": "Malware", "assignedTo": "ann@contoso.com", "customTags": ["a", "b"]});
        let (before, after) = tenant
            .update(&id, "API-App:x", body.as_object().unwrap(), now)
            .unwrap();
        assert_eq!(after.status, "resolved");
        assert_eq!(after.determination, "malware");
        assert_eq!(after.last_modified_by, "API-App:x");
        assert!(after.updated > before.updated);
        assert_eq!(
            changed(&before, &after),
            [
                "status",
                "classification",
                "determination",
                "assignedTo",
                "customTags"
            ]
        );
        for refused in [
            json!({"severity": "high"}),
            json!({"status": "inProgress"}),
            json!({"classification": "maybe"}),
            json!({"customTags": "one"}),
            json!({"assignedTo": 3}),
        ] {
            let refusal = tenant
                .update(&id, "API-App:x", refused.as_object().unwrap(), now)
                .unwrap_err();
            assert_eq!(refusal.status, 400, "{refused}");
        }
        assert_eq!(
            tenant
                .update("nope", "x", &Map::new(), now)
                .unwrap_err()
                .status,
            404
        );
    }

    #[test]
    fn comments_append_and_stamp_the_incident() {
        let (mut tenant, id, now) = tenant();
        let list = tenant.comment(&id, "ann", "looked at it", now).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].by, "ann");
        assert!(tenant.comment(&id, "ann", "  ", now).is_err());
        assert!(tenant.edit(
            &id,
            "bob@contoso.com",
            IncidentEdit {
                title: Some("Renamed".into()),
                ..IncidentEdit::default()
            },
            now
        ));
        let incident = tenant.incident_mut(&id).unwrap();
        assert_eq!(incident.title, "Renamed");
        assert_eq!(incident.last_modified_by, "bob@contoso.com");
    }
}
