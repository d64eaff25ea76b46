//! What the simulated workspace holds: incidents (with their comments), Microsoft incident
//! creation rules, and how a `PUT` changes them. Every change stamps a new `etag` and a
//! `lastModifiedTimeUtc` strictly later than the one it replaces, and says who made it in
//! `systemData`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Who changed a resource, as ARM's `systemData` records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Actor {
    pub name: String,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    pub kind: &'static str,
}

impl Actor {
    pub fn user(name: &str) -> Actor {
        Actor {
            name: name.to_string(),
            kind: "User",
        }
    }

    pub fn app(client: &str) -> Actor {
        Actor {
            name: client.to_string(),
            kind: "Application",
        }
    }
}

/// ARM's `systemData`.
#[derive(Clone, Debug)]
pub(crate) struct SystemData {
    pub created_by: Actor,
    pub created_at: DateTime<Utc>,
    pub modified_by: Actor,
    pub modified_at: DateTime<Utc>,
}

impl SystemData {
    fn new(by: &Actor, at: DateTime<Utc>) -> Self {
        SystemData {
            created_by: by.clone(),
            created_at: at,
            modified_by: by.clone(),
            modified_at: at,
        }
    }

    fn json(&self) -> Value {
        json!({
            "createdBy": self.created_by.name,
            "createdByType": self.created_by.kind,
            "createdAt": time(self.created_at),
            "lastModifiedBy": self.modified_by.name,
            "lastModifiedByType": self.modified_by.kind,
            "lastModifiedAt": time(self.modified_at),
        })
    }
}

/// A time as ARM writes it.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One incident comment.
#[derive(Clone, Debug)]
pub(crate) struct Comment {
    pub name: String,
    pub message: String,
    pub etag: String,
    pub author: Actor,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// One incident.
#[derive(Clone, Debug)]
pub(crate) struct Incident {
    pub name: String,
    pub number: i64,
    pub etag: String,
    pub props: Map<String, Value>,
    pub comments: Vec<Comment>,
    pub system: SystemData,
}

/// One Microsoft incident creation rule.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub name: String,
    pub etag: String,
    pub display_name: String,
    pub product: String,
    pub enabled: bool,
    pub severities: Option<Vec<String>>,
    pub modified: DateTime<Utc>,
}

/// The properties a client may write (`labels` and `owner` included); everything else in
/// `properties` is the service's — except what a first-party provider (the Defender XDR
/// connector) writes about itself: `providerName`, `providerIncidentId` and its keys of
/// `additionalData`.
const WRITABLE: &[&str] = &[
    "title",
    "description",
    "severity",
    "status",
    "classification",
    "classificationComment",
    "classificationReason",
    "owner",
    "labels",
    "firstActivityTimeUtc",
    "lastActivityTimeUtc",
    "providerName",
    "providerIncidentId",
];

const SEVERITIES: &[&str] = &["High", "Medium", "Low", "Informational"];
const STATUSES: &[&str] = &["New", "Active", "Closed"];
const CLASSIFICATIONS: &[&str] = &[
    "Undetermined",
    "TruePositive",
    "BenignPositive",
    "FalsePositive",
];
const REASONS: &[&str] = &[
    "SuspiciousActivity",
    "SuspiciousButExpected",
    "IncorrectAlertLogic",
    "InaccurateData",
];
const OWNER_TYPES: &[&str] = &["Unknown", "User", "Group"];
/// `additionalData` keys the service keeps itself.
const SERVICE_DATA: &[&str] = &["bookmarksCount", "commentsCount"];

/// Why a write was refused: ARM's status, error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

pub(crate) fn bad(message: impl Into<String>) -> Refusal {
    Refusal {
        status: 400,
        code: "BadRequest",
        message: message.into(),
    }
}

fn canonical(property: &str, value: &Value, allowed: &[&str]) -> Result<Value, Refusal> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let text = value
        .as_str()
        .ok_or_else(|| bad(format!("The value of '{property}' must be a string.")))?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(text))
        .map(|a| json!(a))
        .ok_or_else(|| {
            bad(format!(
                "The value '{text}' of '{property}' is not valid. Valid values: {}.",
                allowed.join(", ")
            ))
        })
}

fn owner(value: &Value) -> Result<Value, Refusal> {
    let empty = json!({"objectId": null, "email": null, "assignedTo": null,
        "userPrincipalName": null, "ownerType": "Unknown"});
    let Some(map) = value.as_object() else {
        return if value.is_null() {
            Ok(empty)
        } else {
            Err(bad("The value of 'owner' must be an object."))
        };
    };
    let mut out = empty;
    for (key, v) in map {
        match key.as_str() {
            "objectId" | "email" | "assignedTo" | "userPrincipalName" => {
                if !(v.is_null() || v.is_string()) {
                    return Err(bad(format!("The value of 'owner.{key}' must be a string.")));
                }
                out[key] = v.clone();
            }
            "ownerType" => out[key] = canonical("owner.ownerType", v, OWNER_TYPES)?,
            _ => {}
        }
    }
    if out["ownerType"].is_null() {
        out["ownerType"] = json!("Unknown");
    }
    Ok(out)
}

fn labels(value: &Value, before: Option<&Value>) -> Result<Value, Refusal> {
    let list = value
        .as_array()
        .ok_or_else(|| bad("The value of 'labels' must be an array."))?;
    let auto: Vec<&str> = before
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| l["labelType"] == "AutoAssigned")
        .filter_map(|l| l["labelName"].as_str())
        .collect();
    let mut out = Vec::new();
    for label in list {
        let name = label["labelName"]
            .as_str()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| bad("Every label needs a 'labelName'."))?;
        // labelType is read-only: a label the service assigned stays AutoAssigned.
        let kind = if auto.contains(&name) {
            "AutoAssigned"
        } else {
            "User"
        };
        if !out.iter().any(|l: &Value| l["labelName"] == name) {
            out.push(json!({"labelName": name, "labelType": kind}));
        }
    }
    Ok(Value::Array(out))
}

/// `props` after a client's write of `given` (the body's `properties`), checked.
pub(crate) fn merged(
    before: Option<&Map<String, Value>>,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Refusal> {
    let mut props = before.cloned().unwrap_or_default();
    for key in WRITABLE {
        let Some(value) = given.get(*key) else {
            continue;
        };
        let value = match *key {
            "severity" => canonical(key, value, SEVERITIES)?,
            "status" => canonical(key, value, STATUSES)?,
            "classification" => canonical(key, value, CLASSIFICATIONS)?,
            "classificationReason" => canonical(key, value, REASONS)?,
            "owner" => owner(value)?,
            "labels" => labels(value, before.and_then(|b| b.get("labels")))?,
            _ => {
                if !(value.is_null() || value.is_string()) {
                    return Err(bad(format!("The value of '{key}' must be a string.")));
                }
                value.clone()
            }
        };
        props.insert(key.to_string(), value);
    }
    if let Some(Value::Object(data)) = given.get("additionalData") {
        let mut kept = props
            .get("additionalData")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in data {
            if !SERVICE_DATA.contains(&key.as_str()) {
                kept.insert(key.clone(), value.clone());
            }
        }
        props.insert("additionalData".into(), Value::Object(kept));
    }
    for required in ["title", "severity", "status"] {
        if props.get(required).is_none_or(|v| v.is_null() || v == "") {
            return Err(bad(format!("The property '{required}' is required.")));
        }
    }
    if props["status"] == "Closed" && props.get("classification").is_none_or(Value::is_null) {
        return Err(bad(
            "A classification is required to close an incident (set properties.classification).",
        ));
    }
    if props.get("owner").is_none() {
        props.insert("owner".into(), owner(&Value::Null)?);
    }
    if props.get("labels").is_none() {
        props.insert("labels".into(), json!([]));
    }
    Ok(props)
}

/// The writable properties whose value differs between two versions.
pub(crate) fn changed(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = WRITABLE
        .iter()
        .filter(|k| before.get(**k) != after.get(**k))
        .map(|k| k.to_string())
        .collect();
    let data = |m: &Map<String, Value>| {
        m.get("additionalData")
            .and_then(Value::as_object)
            .map(|d| {
                d.iter()
                    .filter(|(k, _)| !SERVICE_DATA.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default()
    };
    if data(before) != data(after) {
        names.push("additionalData".into());
    }
    names
}

impl Incident {
    /// The incident as ARM serves it.
    pub fn json(&self, base: &str) -> Value {
        let mut props = self.props.clone();
        let mut data = props
            .get("additionalData")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        data.insert("commentsCount".into(), json!(self.comments.len()));
        data.entry("alertsCount").or_insert(json!(0));
        data.entry("bookmarksCount").or_insert(json!(0));
        data.entry("alertProductNames").or_insert(json!([]));
        data.entry("tactics").or_insert(json!([]));
        data.entry("techniques").or_insert(json!([]));
        props.insert("additionalData".into(), Value::Object(data));
        props.insert("incidentNumber".into(), json!(self.number));
        props.insert("createdTimeUtc".into(), json!(time(self.system.created_at)));
        props.insert(
            "lastModifiedTimeUtc".into(),
            json!(time(self.system.modified_at)),
        );
        props.insert(
            "incidentUrl".into(),
            json!(format!(
                "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident{base}/incidents/{}",
                self.name
            )),
        );
        props
            .entry("providerName")
            .or_insert(json!("Azure Sentinel"));
        props
            .entry("providerIncidentId")
            .or_insert(json!(self.number.to_string()));
        props.entry("relatedAnalyticRuleIds").or_insert(json!([]));
        for key in [
            "description",
            "classification",
            "classificationReason",
            "classificationComment",
            "firstActivityTimeUtc",
            "lastActivityTimeUtc",
        ] {
            props.entry(key).or_insert(Value::Null);
        }
        json!({
            "id": format!("{base}/incidents/{}", self.name),
            "name": self.name,
            "etag": self.etag,
            "type": "Microsoft.SecurityInsights/Incidents",
            "systemData": self.system.json(),
            "properties": props,
        })
    }
}

impl Comment {
    /// The comment as ARM serves it.
    pub fn json(&self, base: &str, incident: &str) -> Value {
        json!({
            "id": format!("{base}/incidents/{incident}/comments/{}", self.name),
            "name": self.name,
            "etag": self.etag,
            "type": "Microsoft.SecurityInsights/Incidents/Comments",
            "properties": {
                "message": self.message,
                "createdTimeUtc": time(self.created),
                "lastModifiedTimeUtc": time(self.modified),
                "author": {
                    "objectId": null,
                    "email": if self.author.kind == "User" { json!(self.author.name) } else { Value::Null },
                    "userPrincipalName": if self.author.kind == "User" { json!(self.author.name) } else { Value::Null },
                    "name": self.author.name,
                }
            }
        })
    }
}

impl Rule {
    /// The rule as ARM serves it.
    pub fn json(&self, base: &str) -> Value {
        json!({
            "id": format!("{base}/alertRules/{}", self.name),
            "name": self.name,
            "etag": self.etag,
            "type": "Microsoft.SecurityInsights/alertRules",
            "kind": "MicrosoftSecurityIncidentCreation",
            "properties": {
                "productFilter": self.product,
                "displayName": self.display_name,
                "enabled": self.enabled,
                "severitiesFilter": self.severities,
                "displayNamesFilter": null,
                "displayNamesExcludeFilter": null,
                "description": null,
                "alertRuleTemplateName": null,
                "lastModifiedUtc": time(self.modified),
            }
        })
    }
}

/// Everything the workspace holds.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    pub incidents: BTreeMap<String, Incident>,
    pub rules: BTreeMap<String, Rule>,
    next_number: i64,
    next_etag: u64,
}

/// A time after `previous`: `now`, or a microsecond past `previous`.
pub(crate) fn after(previous: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    now.max(previous + chrono::Duration::microseconds(1))
}

impl Workspace {
    pub fn etag(&mut self) -> String {
        self.next_etag += 1;
        format!(
            "\"{:08x}-0000-0000-0000-{:012x}\"",
            self.next_etag, self.next_etag
        )
    }

    /// A new incident `name` with `props` (already checked), made `by`.
    pub fn create(
        &mut self,
        name: &str,
        props: Map<String, Value>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> &Incident {
        self.next_number += 1;
        let incident = Incident {
            name: name.to_string(),
            number: self.next_number,
            etag: self.etag(),
            props,
            comments: Vec::new(),
            system: SystemData::new(by, now),
        };
        self.incidents.insert(name.to_string(), incident);
        &self.incidents[name]
    }

    /// Mark incident `name` changed `by` at `now`: a new etag and modification time.
    pub fn touch(&mut self, name: &str, by: &Actor, now: DateTime<Utc>) {
        let etag = self.etag();
        if let Some(incident) = self.incidents.get_mut(name) {
            incident.etag = etag;
            incident.system.modified_at = after(incident.system.modified_at, now);
            incident.system.modified_by = by.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_keeps_what_it_does_not_name_and_checks_what_it_does() {
        let first = json!({"title": "t", "severity": "high", "status": "new",
            "labels": [{"labelName": "a"}], "providerName": "Microsoft Defender XDR",
            "additionalData": {"providerIncidentUrl": "https://x", "alertsCount": 99}});
        let props = merged(None, first.as_object().unwrap()).unwrap();
        assert_eq!(props["severity"], "High");
        assert_eq!(
            props["labels"],
            json!([{"labelName": "a", "labelType": "User"}])
        );
        assert_eq!(
            props["additionalData"],
            json!({"providerIncidentUrl": "https://x", "alertsCount": 99})
        );
        assert_eq!(props["owner"]["ownerType"], "Unknown");
        let next = merged(
            Some(&props),
            json!({"status": "Active"}).as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(next["title"], "t");
        assert_eq!(changed(&props, &next), ["status"]);
        for refused in [
            json!({"status": "Closed"}),
            json!({"severity": "Severe"}),
            json!({"labels": [{"labelType": "User"}]}),
            json!({"owner": 3}),
        ] {
            assert_eq!(
                merged(Some(&props), refused.as_object().unwrap())
                    .unwrap_err()
                    .status,
                400,
                "{refused}"
            );
        }
        assert!(merged(None, json!({"title": "t"}).as_object().unwrap()).is_err());
    }
}
