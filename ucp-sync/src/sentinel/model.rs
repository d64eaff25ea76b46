//! The resources of `Microsoft.SecurityInsights` the client reads and writes, as serde
//! types: every property optional, unknown ones kept and sent back, read-only ones never
//! sent, so a `PUT` of what was read changes nothing the sync did not mean to. A list is read
//! item by item: one malformed item is reported on its own, not the whole page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An incident (`Incident`: a resource with an etag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The ARM resource id.
    #[serde(default)]
    pub id: String,
    /// The incident id (the last segment of its path).
    #[serde(default)]
    pub name: String,
    /// The concurrency token: send it back to update only the version read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Who created and last changed it.
    #[serde(
        default,
        rename = "systemData",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_data: Option<SystemData>,
    /// Its properties.
    #[serde(default)]
    pub properties: IncidentProperties,
}

/// ARM's `systemData`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemData {
    /// Who created the resource.
    #[serde(default)]
    pub created_by: Option<String>,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    #[serde(default)]
    pub created_by_type: Option<String>,
    /// Who changed it last.
    #[serde(default)]
    pub last_modified_by: Option<String>,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    #[serde(default)]
    pub last_modified_by_type: Option<String>,
    /// When it was changed last.
    #[serde(default)]
    pub last_modified_at: Option<DateTime<Utc>>,
}

/// An incident's properties: the ones the sync reads or writes, typed; the rest kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentProperties {
    /// Title (required on write).
    #[serde(default)]
    pub title: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// `High`, `Medium`, `Low` or `Informational` (required on write).
    #[serde(default)]
    pub severity: Option<String>,
    /// `New`, `Active` or `Closed` (required on write).
    #[serde(default)]
    pub status: Option<String>,
    /// `Undetermined`, `TruePositive`, `BenignPositive` or `FalsePositive`.
    #[serde(default)]
    pub classification: Option<String>,
    /// `SuspiciousActivity`, `SuspiciousButExpected`, `IncorrectAlertLogic`, `InaccurateData`.
    #[serde(default)]
    pub classification_reason: Option<String>,
    /// Why it was closed, in words.
    #[serde(default)]
    pub classification_comment: Option<String>,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// The provider's data: alert counts, product names, tactics, the provider's link.
    #[serde(default)]
    pub additional_data: Option<Map<String, Value>>,
    /// The provider that made it (`Azure Sentinel`, `Microsoft Defender XDR`).
    #[serde(default)]
    pub provider_name: Option<String>,
    /// The incident's id at its provider.
    #[serde(default)]
    pub provider_incident_id: Option<String>,
    /// When it was last changed (read-only).
    #[serde(default, skip_serializing)]
    pub last_modified_time_utc: Option<DateTime<Utc>>,
    /// When it was made (read-only).
    #[serde(default, skip_serializing)]
    pub created_time_utc: Option<DateTime<Utc>>,
    /// Its sequential number in the workspace (read-only).
    #[serde(default, skip_serializing)]
    pub incident_number: Option<i64>,
    /// Everything else, sent back as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An incident's owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The user's or group's object id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// The name shown.
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// User principal name.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// `Unknown`, `User` or `Group`.
    #[serde(default)]
    pub owner_type: Option<String>,
}

impl Owner {
    /// Who it names, by the most specific handle given (UPN, email, then display name).
    pub fn handle(&self) -> Option<&str> {
        [&self.user_principal_name, &self.email, &self.assigned_to]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }
}

/// A label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    /// Its text.
    pub label_name: String,
    /// `User` or `AutoAssigned` (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_type: Option<String>,
}

impl Label {
    /// A user label.
    pub fn user(name: impl Into<String>) -> Self {
        Label {
            label_name: name.into(),
            label_type: Some("User".into()),
        }
    }

    /// Set by the service or an automation rule, not by a person.
    pub fn is_auto(&self) -> bool {
        self.label_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("AutoAssigned"))
    }
}

/// An incident comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentComment {
    /// The comment id.
    #[serde(default)]
    pub name: String,
    /// Its etag.
    #[serde(default)]
    pub etag: Option<String>,
    /// Its properties.
    #[serde(default)]
    pub properties: CommentProperties,
}

/// A comment's properties.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentProperties {
    /// The text.
    #[serde(default)]
    pub message: String,
    /// When it was written.
    #[serde(default)]
    pub created_time_utc: Option<DateTime<Utc>>,
    /// Who wrote it.
    #[serde(default)]
    pub author: Option<ClientInfo>,
}

/// Sentinel's `ClientInfo`: a comment's author.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Object id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// User principal name.
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl ClientInfo {
    /// The author in a few words: name, else UPN, else email, else "someone".
    pub fn display(&self) -> &str {
        [&self.name, &self.user_principal_name, &self.email]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .unwrap_or("someone")
    }
}

/// An alert rule (any kind; the sync changes `MicrosoftSecurityIncidentCreation` ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// The rule id.
    #[serde(default)]
    pub name: String,
    /// Its etag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `MicrosoftSecurityIncidentCreation`, `Scheduled`, `Fusion`, …
    #[serde(default)]
    pub kind: String,
    /// Its properties as read (sent back with `enabled` changed).
    #[serde(default)]
    pub properties: Map<String, Value>,
}

/// The kind of Microsoft incident creation rules.
pub const INCIDENT_CREATION_RULE: &str = "MicrosoftSecurityIncidentCreation";

impl AlertRule {
    /// A Microsoft incident creation rule.
    pub fn is_incident_creation(&self) -> bool {
        self.kind.eq_ignore_ascii_case(INCIDENT_CREATION_RULE)
    }

    /// Its `productFilter`.
    pub fn product(&self) -> Option<&str> {
        self.properties.get("productFilter").and_then(Value::as_str)
    }

    /// Its `enabled`.
    pub fn enabled(&self) -> bool {
        self.properties
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Its `displayName`.
    pub fn display_name(&self) -> &str {
        self.properties
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_read_incident_goes_back_with_what_the_sync_does_not_know() {
        let served = json!({"id": "/x/incidents/a", "name": "a", "etag": "\"1\"",
            "properties": {"title": "t", "severity": "High", "status": "New",
                "incidentNumber": 7, "lastModifiedTimeUtc": "2026-03-02T09:00:00Z",
                "labels": [{"labelName": "vip", "labelType": "AutoAssigned"}],
                "futureProperty": {"x": 1}}});
        let incident: Incident = serde_json::from_value(served).unwrap();
        assert_eq!(incident.properties.incident_number, Some(7));
        assert!(incident.properties.labels[0].is_auto());
        let sent = serde_json::to_value(&incident.properties).unwrap();
        assert_eq!(sent["futureProperty"], json!({"x": 1}));
        assert!(sent.get("incidentNumber").is_none(), "read-only stays home");
        assert!(sent.get("lastModifiedTimeUtc").is_none());
    }

    proptest! {
        // Whatever the service sends as an incident, reading it gives a value or an error,
        // never a panic.
        #[test]
        fn any_json_reads_or_fails_cleanly(text in ".{0,200}") {
            let _ = serde_json::from_str::<Incident>(&text);
            let _ = serde_json::from_str::<IncidentComment>(&text);
            let _ = serde_json::from_str::<AlertRule>(&text);
        }

        #[test]
        fn odd_property_types_never_panic(v in prop_oneof![Just(json!(null)), Just(json!(1)), Just(json!("s")), Just(json!([1])), Just(json!({"a": 1}))]) {
            for key in ["title", "severity", "owner", "labels", "additionalData", "lastModifiedTimeUtc"] {
                let _ = serde_json::from_value::<Incident>(json!({"name": "a", "properties": {key: v.clone()}}));
            }
        }
    }
}
