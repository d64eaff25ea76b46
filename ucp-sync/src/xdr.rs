//! A Defender XDR incident as Graph serves it (`microsoft.graph.security.incident`, alerts
//! expanded), read leniently: a missing or odd property is empty, never an error, except the
//! id and the modification time the sync cannot do without.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One comment of an XDR incident (`alertComment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdrComment {
    /// The text.
    pub comment: String,
    /// Who wrote it.
    pub by: String,
    /// When, as Graph wrote it.
    pub at: String,
}

/// An XDR incident, as much as the sync uses of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct XdrIncident {
    /// `id`.
    pub id: String,
    /// `displayName`.
    pub title: String,
    /// `description`.
    pub description: String,
    /// `severity`.
    pub severity: String,
    /// `status`.
    pub status: String,
    /// `classification`.
    pub classification: String,
    /// `determination`.
    pub determination: String,
    /// `assignedTo`.
    pub assigned_to: Option<String>,
    /// `customTags`.
    pub custom_tags: Vec<String>,
    /// `comments`.
    pub comments: Vec<XdrComment>,
    /// `redirectIncidentId`.
    pub redirect: Option<String>,
    /// `incidentWebUrl`.
    pub url: String,
    /// `lastModifiedBy`.
    pub last_modified_by: String,
    /// `createdDateTime`.
    pub created: Option<DateTime<Utc>>,
    /// `lastUpdateDateTime`.
    pub updated: DateTime<Utc>,
    /// `lastUpdateDateTime` as Graph wrote it (the version).
    pub version: String,
    /// The alerts' `serviceSource`s.
    pub service_sources: Vec<String>,
    /// The alerts' `category`s (MITRE tactics).
    pub tactics: Vec<String>,
    /// The alerts' `mitreTechniques`.
    pub techniques: Vec<String>,
    /// How many alerts it has.
    pub alerts: usize,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn sorted_unique(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

impl XdrIncident {
    /// The incident in `value`, or why it cannot be used.
    pub fn parse(value: &Value) -> Result<XdrIncident, String> {
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or("an incident without an id")?
            .to_string();
        let version = text(value, "lastUpdateDateTime");
        let updated = DateTime::parse_from_rfc3339(&version)
            .map_err(|e| format!("incident {id}: lastUpdateDateTime '{version}' ({e})"))?
            .to_utc();
        let alerts = value.get("alerts").and_then(Value::as_array);
        let from_alerts = |key: &str| {
            sorted_unique(
                alerts
                    .into_iter()
                    .flatten()
                    .flat_map(|a| match a.get(key) {
                        Some(Value::Array(_)) => strings(&a[key]),
                        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
                        _ => Vec::new(),
                    })
                    .collect(),
            )
        };
        let comments = value
            .get("comments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(XdrComment {
                    comment: c.get("comment")?.as_str()?.to_string(),
                    by: text(c, "createdByDisplayName"),
                    at: text(c, "createdDateTime"),
                })
            })
            .collect();
        Ok(XdrIncident {
            title: text(value, "displayName"),
            description: text(value, "description"),
            severity: text(value, "severity"),
            status: text(value, "status"),
            classification: text(value, "classification"),
            determination: text(value, "determination"),
            assigned_to: value
                .get("assignedTo")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string),
            custom_tags: strings(value.get("customTags").unwrap_or(&Value::Null)),
            comments,
            redirect: value
                .get("redirectIncidentId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            url: text(value, "incidentWebUrl"),
            last_modified_by: text(value, "lastModifiedBy"),
            created: value
                .get("createdDateTime")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.to_utc()),
            updated,
            version,
            service_sources: from_alerts("serviceSource"),
            tactics: from_alerts("category"),
            techniques: from_alerts("mitreTechniques"),
            alerts: alerts.map(Vec::len).unwrap_or(0),
            id,
        })
    }

    /// Merged into another incident.
    pub fn is_redirected(&self) -> bool {
        self.status.eq_ignore_ascii_case("redirected")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn an_incident_with_alerts_reads_its_products_and_tactics() {
        let incident = XdrIncident::parse(&json!({
            "id": "29", "displayName": "t", "status": "active", "severity": "high",
            "lastUpdateDateTime": "2026-03-02T09:00:00.1234567Z",
            "customTags": ["a", 3], "assignedTo": "  ",
            "comments": [{"comment": "c", "createdByDisplayName": "ann", "createdDateTime": "2026-03-02T08:00:00Z"}, {"x": 1}],
            "alerts": [
                {"serviceSource": "microsoftDefenderForEndpoint", "category": "Execution", "mitreTechniques": ["T1059"]},
                {"serviceSource": "microsoftDefenderForEndpoint", "category": "Impact", "mitreTechniques": ["T1486", "T1059"]}
            ]
        }))
        .unwrap();
        assert_eq!(incident.service_sources, ["microsoftDefenderForEndpoint"]);
        assert_eq!(incident.tactics, ["Execution", "Impact"]);
        assert_eq!(incident.techniques, ["T1059", "T1486"]);
        assert_eq!(incident.custom_tags, ["a"]);
        assert_eq!(incident.assigned_to, None);
        assert_eq!(incident.comments.len(), 1);
        assert_eq!(incident.alerts, 2);
        assert!(XdrIncident::parse(&json!({"id": "1"})).is_err());
        assert!(
            XdrIncident::parse(&json!({"lastUpdateDateTime": "2026-03-02T09:00:00Z"})).is_err()
        );
    }

    proptest! {
        #[test]
        fn any_json_parses_or_is_refused_without_panic(text in ".{0,200}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = XdrIncident::parse(&value);
            }
        }
    }
}
