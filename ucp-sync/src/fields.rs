//! The fields the sync keeps equal on both sides, each read from either side as a JSON value
//! (what the ledger stores), compared for meaning (the [`mapping`](crate::mapping) tables),
//! and written: into a Sentinel incident's properties, or into a Graph `PATCH` body.
//!
//! | field | Defender XDR | Sentinel | direction |
//! |---|---|---|---|
//! | title | `displayName` | `title` | XDR → Sentinel |
//! | description | `description` | `description` | XDR → Sentinel |
//! | severity | `severity` | `severity` | XDR → Sentinel |
//! | products | the alerts' `serviceSource` | `additionalData.alertProductNames` | XDR → Sentinel |
//! | details | alert count, tactics, techniques, `incidentWebUrl` | `additionalData` (`alertsCount`, `tactics`, `techniques`, `providerIncidentUrl`) | XDR → Sentinel |
//! | status | `status`, `redirectIncidentId` | `status`, label `redirected` | both (XDR → Sentinel once merged) |
//! | classification | `classification`, `determination` | `classification`, `classificationReason` | both |
//! | owner | `assignedTo` | `owner` | both |
//! | tags | `customTags` | user labels | both |
//!
//! Graph v1.0 updates only assignedTo, classification, determination, status and customTags,
//! so the first five fields are one-way by necessity: a Sentinel user's edit of one is put
//! back to Defender XDR's value (and reported once per incident). `lastModifiedBy` travels
//! with every write to Sentinel as `additionalData.lastModifiedBy`; it is not a change by
//! itself (our own writes change it on both sides).

use serde_json::{json, Map, Value};

use crate::mapping::{
    product_name, severity_to_sentinel, status_equivalent, status_to_sentinel, status_to_xdr,
    verdict_equivalent, verdict_to_sentinel, verdict_to_xdr, SentinelVerdict, XdrVerdict,
};
use crate::sentinel::{IncidentProperties, Label, Owner};
use crate::xdr::XdrIncident;

/// The label a merged incident's twin carries.
pub const REDIRECTED_LABEL: &str = "redirected";

/// One synchronized field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Title.
    Title,
    /// Description.
    Description,
    /// Severity.
    Severity,
    /// Product names.
    Products,
    /// Alert count, tactics, techniques, link back to XDR.
    Details,
    /// Status (and merge).
    Status,
    /// Classification and determination.
    Classification,
    /// Owner.
    Owner,
    /// Custom tags ↔ labels.
    Tags,
}

impl Field {
    /// Every field, in the order they are reconciled.
    pub const ALL: [Field; 9] = [
        Field::Title,
        Field::Description,
        Field::Severity,
        Field::Products,
        Field::Details,
        Field::Status,
        Field::Classification,
        Field::Owner,
        Field::Tags,
    ];

    /// Its name in the ledger, the audit and messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::Severity => "severity",
            Field::Products => "products",
            Field::Details => "details",
            Field::Status => "status",
            Field::Classification => "classification",
            Field::Owner => "owner",
            Field::Tags => "tags",
        }
    }

    /// The field named `name`.
    pub fn named(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Graph v1.0 can take it from Sentinel (while the incident is not merged).
    pub fn two_way(self, xdr: &XdrIncident) -> bool {
        matches!(
            self,
            Field::Status | Field::Classification | Field::Owner | Field::Tags
        ) && !xdr.is_redirected()
    }

    /// The field's value in an XDR incident.
    pub fn of_xdr(self, x: &XdrIncident) -> Value {
        match self {
            Field::Title => json!(x.title),
            Field::Description => json!(x.description),
            Field::Severity => json!(x.severity),
            Field::Products => json!(products(x)),
            Field::Details => details(x),
            Field::Status => json!({"status": x.status, "redirect": x.redirect}),
            Field::Classification => {
                json!({"classification": x.classification, "determination": x.determination})
            }
            Field::Owner => json!(x.assigned_to),
            Field::Tags => json!(sorted(x.custom_tags.clone())),
        }
    }

    /// The field's value in a Sentinel incident's properties.
    pub fn of_sentinel(self, s: &IncidentProperties) -> Value {
        let data = s.additional_data.clone().unwrap_or_default();
        match self {
            Field::Title => json!(s.title.clone().unwrap_or_default()),
            Field::Description => json!(s.description.clone().unwrap_or_default()),
            Field::Severity => json!(s.severity.clone().unwrap_or_default()),
            Field::Products => json!(sorted(strings(data.get("alertProductNames")))),
            Field::Details => json!({
                "alertsCount": data.get("alertsCount").and_then(Value::as_u64).unwrap_or(0),
                "tactics": sorted(strings(data.get("tactics"))),
                "techniques": sorted(strings(data.get("techniques"))),
                "providerIncidentUrl": data.get("providerIncidentUrl").and_then(Value::as_str).unwrap_or_default(),
            }),
            Field::Status => json!({
                "status": s.status,
                "redirected": s.labels.iter().any(|l| l.label_name == REDIRECTED_LABEL),
            }),
            Field::Classification => json!({
                "classification": s.classification,
                "reason": s.classification_reason,
            }),
            Field::Owner => json!(s.owner.as_ref().and_then(Owner::handle)),
            Field::Tags => json!(sentinel_tags(s)),
        }
    }

    /// The two values mean the same.
    pub fn equivalent(self, x: &Value, s: &Value) -> bool {
        match self {
            Field::Severity => x.as_str().is_some_and(|x| {
                s.as_str()
                    .is_some_and(|s| severity_to_sentinel(x).eq_ignore_ascii_case(s))
            }),
            Field::Status => {
                let xs = x["status"].as_str().unwrap_or_default();
                let ss = s["status"].as_str().unwrap_or_default();
                if x["redirect"].is_string() || xs.eq_ignore_ascii_case("redirected") {
                    ss.eq_ignore_ascii_case("Closed") && s["redirected"] == true
                } else {
                    status_equivalent(xs, ss)
                }
            }
            Field::Classification => verdict_equivalent(&xdr_verdict(x), &sentinel_verdict(s)),
            Field::Owner => normal(x) == normal(s),
            _ => x == s,
        }
    }

    /// Write `x`'s value of the field into Sentinel properties `props`.
    pub fn write_sentinel(self, x: &XdrIncident, props: &mut IncidentProperties) {
        match self {
            Field::Title => {
                props.title = Some(if x.title.trim().is_empty() {
                    format!("Defender XDR incident {}", x.id)
                } else {
                    x.title.clone()
                })
            }
            Field::Description => props.description = Some(x.description.clone()),
            Field::Severity => props.severity = Some(severity_to_sentinel(&x.severity).into()),
            Field::Products => {
                data(props).insert("alertProductNames".into(), json!(products(x)));
            }
            Field::Details => {
                if let Value::Object(details) = details(x) {
                    data(props).extend(details);
                }
            }
            Field::Status => {
                if let Some(status) = status_to_sentinel(&x.status) {
                    props.status = Some(status.into());
                }
                if x.is_redirected() {
                    if !props
                        .labels
                        .iter()
                        .any(|l| l.label_name == REDIRECTED_LABEL)
                    {
                        props.labels.push(Label::user(REDIRECTED_LABEL));
                    }
                    let survivor = x.redirect.clone().unwrap_or_default();
                    let link = x.url.replace(
                        &format!("/incidents/{}", x.id),
                        &format!("/incidents/{survivor}"),
                    );
                    props.classification_comment = Some(format!(
                        "Merged in Microsoft Defender XDR into incident {survivor}: {link}"
                    ));
                }
            }
            Field::Classification => {
                let verdict = verdict_to_sentinel(&XdrVerdict {
                    classification: x.classification.clone(),
                    determination: x.determination.clone(),
                });
                props.classification = verdict.classification;
                props.classification_reason = verdict.reason;
            }
            Field::Owner => {
                props.owner = Some(match &x.assigned_to {
                    Some(who) => Owner {
                        object_id: None,
                        email: who.contains('@').then(|| who.clone()),
                        assigned_to: Some(who.clone()),
                        user_principal_name: who.contains('@').then(|| who.clone()),
                        owner_type: Some("User".into()),
                    },
                    None => Owner {
                        owner_type: Some("Unknown".into()),
                        ..Owner::default()
                    },
                })
            }
            Field::Tags => {
                let mut labels: Vec<Label> = props
                    .labels
                    .iter()
                    .filter(|l| l.is_auto() || l.label_name == REDIRECTED_LABEL)
                    .cloned()
                    .collect();
                for tag in sorted(x.custom_tags.clone()) {
                    if !labels.iter().any(|l| l.label_name == tag) {
                        labels.push(Label::user(tag));
                    }
                }
                props.labels = labels;
            }
        }
    }

    /// Write Sentinel's value `s` of a two-way field into a Graph `PATCH` body; false for a
    /// one-way field or a value XDR cannot take.
    pub fn write_xdr(self, s: &Value, patch: &mut Map<String, Value>) -> bool {
        match self {
            Field::Status => match s["status"].as_str().and_then(status_to_xdr) {
                Some(status) => {
                    patch.insert("status".into(), json!(status));
                    true
                }
                None => false,
            },
            Field::Classification => {
                let verdict = verdict_to_xdr(&sentinel_verdict(s));
                patch.insert("classification".into(), json!(verdict.classification));
                patch.insert("determination".into(), json!(verdict.determination));
                true
            }
            Field::Owner => {
                patch.insert("assignedTo".into(), s.clone());
                true
            }
            Field::Tags => {
                patch.insert("customTags".into(), s.clone());
                true
            }
            _ => false,
        }
    }

    /// The field's value in a Graph `PATCH` answer (the incident after it), for the ledger.
    pub fn of_patched(self, answer: &Value, before: &Value) -> Value {
        match self {
            Field::Status => json!({"status": answer["status"], "redirect": before["redirect"]}),
            Field::Classification => json!({
                "classification": answer["classification"],
                "determination": answer["determination"],
            }),
            Field::Owner => answer["assignedTo"].clone(),
            Field::Tags => json!(sorted(strings(answer.get("customTags")))),
            _ => before.clone(),
        }
    }
}

/// Sentinel's `additionalData`, made if absent.
pub fn data(props: &mut IncidentProperties) -> &mut Map<String, Value> {
    props.additional_data.get_or_insert_with(Map::new)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

fn products(x: &XdrIncident) -> Vec<String> {
    sorted(x.service_sources.iter().map(|s| product_name(s)).collect())
}

fn details(x: &XdrIncident) -> Value {
    json!({
        "alertsCount": x.alerts,
        "tactics": x.tactics,
        "techniques": x.techniques,
        "providerIncidentUrl": x.url,
    })
}

/// A Sentinel incident's user labels, as XDR custom tags.
pub fn sentinel_tags(s: &IncidentProperties) -> Vec<String> {
    sorted(
        s.labels
            .iter()
            .filter(|l| !l.is_auto() && l.label_name != REDIRECTED_LABEL)
            .map(|l| l.label_name.clone())
            .collect(),
    )
}

fn normal(v: &Value) -> Option<String> {
    v.as_str()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

fn xdr_verdict(v: &Value) -> XdrVerdict {
    XdrVerdict {
        classification: v["classification"].as_str().unwrap_or_default().into(),
        determination: v["determination"].as_str().unwrap_or_default().into(),
    }
}

fn sentinel_verdict(v: &Value) -> SentinelVerdict {
    SentinelVerdict {
        classification: v["classification"].as_str().map(str::to_string),
        reason: v["reason"].as_str().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xdr() -> XdrIncident {
        XdrIncident::parse(&json!({
            "id": "2970001", "displayName": "Ransomware", "description": "d",
            "severity": "high", "status": "inProgress", "classification": "truePositive",
            "determination": "malware", "assignedTo": "ann@contoso.com", "customTags": ["b", "a"],
            "incidentWebUrl": "https://security.microsoft.com/incidents/2970001?tid=t",
            "lastUpdateDateTime": "2026-03-02T09:00:00Z",
            "alerts": [{"serviceSource": "microsoftDefenderForIdentity", "category": "CredentialAccess", "mitreTechniques": ["T1110"]}]
        }))
        .unwrap()
    }

    #[test]
    fn every_field_written_to_sentinel_reads_back_equivalent() {
        let x = xdr();
        let mut props = IncidentProperties {
            labels: vec![Label {
                label_name: "auto".into(),
                label_type: Some("AutoAssigned".into()),
            }],
            ..IncidentProperties::default()
        };
        for field in Field::ALL {
            field.write_sentinel(&x, &mut props);
        }
        for field in Field::ALL {
            assert!(
                field.equivalent(&field.of_xdr(&x), &field.of_sentinel(&props)),
                "{field:?}: {} vs {}",
                field.of_xdr(&x),
                field.of_sentinel(&props)
            );
        }
        assert_eq!(props.status.as_deref(), Some("Active"));
        assert_eq!(props.severity.as_deref(), Some("High"));
        assert!(props.labels[0].is_auto(), "automation's label stays");
        assert_eq!(
            Field::Products.of_sentinel(&props),
            json!(["Azure Advanced Threat Protection"])
        );
    }

    #[test]
    fn a_merged_incident_closes_its_twin_pointing_at_the_survivor() {
        let mut x = xdr();
        x.status = "redirected".into();
        x.redirect = Some("2970009".into());
        let mut props = IncidentProperties::default();
        Field::Status.write_sentinel(&x, &mut props);
        assert_eq!(props.status.as_deref(), Some("Closed"));
        assert!(props
            .labels
            .iter()
            .any(|l| l.label_name == REDIRECTED_LABEL));
        assert!(props
            .classification_comment
            .as_deref()
            .unwrap()
            .contains("https://security.microsoft.com/incidents/2970009?tid=t"));
        assert!(Field::Status.equivalent(
            &Field::Status.of_xdr(&x),
            &Field::Status.of_sentinel(&props)
        ));
        assert!(
            !Field::Status.two_way(&x),
            "a merged incident is XDR's alone"
        );
        // The redirected label is not a tag.
        assert!(sentinel_tags(&props).is_empty());
    }

    #[test]
    fn sentinel_values_become_a_graph_patch_of_what_v1_takes() {
        let mut patch = Map::new();
        assert!(Field::Status.write_xdr(
            &json!({"status": "Closed", "redirected": false}),
            &mut patch
        ));
        assert!(Field::Owner.write_xdr(&json!(null), &mut patch));
        assert!(Field::Tags.write_xdr(&json!(["x"]), &mut patch));
        assert!(Field::Classification.write_xdr(
            &json!({"classification": "FalsePositive", "reason": "InaccurateData"}),
            &mut patch
        ));
        assert!(!Field::Title.write_xdr(&json!("t"), &mut patch));
        assert_eq!(
            Value::Object(patch),
            json!({"status": "resolved", "assignedTo": null, "customTags": ["x"],
                "classification": "falsePositive", "determination": "notEnoughDataToValidate"})
        );
    }
}
