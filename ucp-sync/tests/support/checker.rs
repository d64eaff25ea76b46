//! The test's own judge of the end state, written apart from the sync's code: both sides
//! compared field by field by the documented tables, twins counted, comments counted.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use ucp_testkit::graph::GraphSimulator;
use ucp_testkit::sentinel::SentinelSimulator;

/// What the checker found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Field disagreements, `incident: field: xdr vs sentinel`.
    pub disagreements: Vec<String>,
    /// XDR incidents without a twin, or with more than one.
    pub twin_problems: Vec<String>,
    /// Comments missing or doubled on either side.
    pub comment_problems: Vec<String>,
    /// Sentinel incidents not twins of an XDR incident (made by creation rules).
    pub other_incidents: usize,
    /// Incidents compared.
    pub compared: usize,
    /// Comments seen copied, each way.
    pub comments_to_sentinel: usize,
    /// Comments seen copied, each way.
    pub comments_to_xdr: usize,
}

impl Verdict {
    pub fn agree(&self) -> bool {
        self.disagreements.is_empty()
            && self.twin_problems.is_empty()
            && self.comment_problems.is_empty()
    }

    pub fn summary(&self) -> String {
        let first = |v: &Vec<String>| v.iter().take(8).cloned().collect::<Vec<_>>().join("\n  ");
        format!(
            "{} disagreements:\n  {}\n{} twin problems:\n  {}\n{} comment problems:\n  {}",
            self.disagreements.len(),
            first(&self.disagreements),
            self.twin_problems.len(),
            first(&self.twin_problems),
            self.comment_problems.len(),
            first(&self.comment_problems)
        )
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Sentinel's product name of a service source (the Defender XDR connector's names).
fn product(source: &str) -> String {
    match source {
        "microsoftDefenderForEndpoint" => "Microsoft Defender Advanced Threat Protection",
        "microsoftDefenderForIdentity" => "Azure Advanced Threat Protection",
        "microsoftDefenderForOffice365" => "Office 365 Advanced Threat Protection",
        "microsoftDefenderForCloudApps" => "Microsoft Cloud App Security",
        "azureAdIdentityProtection" => "Azure Active Directory Identity Protection",
        other => other,
    }
    .to_string()
}

fn status_ok(xdr: &str, sentinel: &str, labels: &BTreeSet<String>) -> bool {
    match xdr {
        "active" => sentinel == "New" || sentinel == "Active",
        "inProgress" | "awaitingAction" => sentinel == "Active",
        "resolved" => sentinel == "Closed",
        "redirected" => sentinel == "Closed" && labels.contains("redirected"),
        _ => true,
    }
}

fn class_ok(classification: &str, determination: &str, sentinel: &str, reason: &str) -> bool {
    match classification {
        "truePositive" => sentinel == "TruePositive",
        "informationalExpectedActivity" => sentinel == "BenignPositive",
        "falsePositive" => {
            let inaccurate = matches!(
                determination,
                "notEnoughDataToValidate" | "insufficientData"
            );
            sentinel == "FalsePositive" && inaccurate == (reason == "InaccurateData")
        }
        _ => sentinel == "Undetermined" || sentinel.is_empty(),
    }
}

fn severity(xdr: &str) -> &'static str {
    match xdr {
        "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        _ => "Informational",
    }
}

/// Compare the two simulators. `app` is the sync app's client id (its comments are copies).
pub fn check(graph: &GraphSimulator, sentinel: &SentinelSimulator, app: &str) -> Verdict {
    let mut verdict = Verdict::default();
    let app_author = format!("API-App:{app}");
    let mut twins: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for incident in sentinel.incidents() {
        let p = &incident["properties"];
        if p["providerName"] == "Microsoft Defender XDR" {
            twins
                .entry(s(&p["providerIncidentId"]))
                .or_default()
                .push(incident.clone());
        } else {
            verdict.other_incidents += 1;
        }
    }
    for x in graph.incidents() {
        let id = s(&x["id"]);
        let Some(found) = twins.remove(&id) else {
            verdict.twin_problems.push(format!("{id}: no twin"));
            continue;
        };
        if found.len() != 1 {
            verdict
                .twin_problems
                .push(format!("{id}: {} twins", found.len()));
            continue;
        }
        verdict.compared += 1;
        let twin = &found[0];
        let p = &twin["properties"];
        let mut differ = |field: &str, ok: bool, a: String, b: String| {
            if !ok {
                verdict
                    .disagreements
                    .push(format!("{id}: {field}: XDR {a} vs Sentinel {b}"));
            }
        };
        differ(
            "title",
            x["displayName"] == p["title"],
            s(&x["displayName"]),
            s(&p["title"]),
        );
        differ(
            "description",
            s(&x["description"]) == s(&p["description"]),
            s(&x["description"]),
            s(&p["description"]),
        );
        differ(
            "severity",
            severity(&s(&x["severity"])) == s(&p["severity"]),
            s(&x["severity"]),
            s(&p["severity"]),
        );
        let labels: BTreeSet<String> = p["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["labelType"] != "AutoAssigned")
            .map(|l| s(&l["labelName"]))
            .collect();
        differ(
            "status",
            status_ok(&s(&x["status"]), &s(&p["status"]), &labels),
            s(&x["status"]),
            s(&p["status"]),
        );
        differ(
            "classification",
            class_ok(
                &s(&x["classification"]),
                &s(&x["determination"]),
                &s(&p["classification"]),
                &s(&p["classificationReason"]),
            ),
            format!("{}/{}", s(&x["classification"]), s(&x["determination"])),
            format!(
                "{}/{}",
                s(&p["classification"]),
                s(&p["classificationReason"])
            ),
        );
        let owner = [
            &p["owner"]["userPrincipalName"],
            &p["owner"]["email"],
            &p["owner"]["assignedTo"],
        ]
        .into_iter()
        .find_map(|v| v.as_str().filter(|v| !v.is_empty()))
        .map(str::to_lowercase);
        let assigned = x["assignedTo"]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_lowercase);
        differ(
            "owner",
            owner == assigned,
            format!("{assigned:?}"),
            format!("{owner:?}"),
        );
        let tags = set(&x["customTags"]);
        let user_labels: BTreeSet<String> =
            labels.into_iter().filter(|l| l != "redirected").collect();
        differ(
            "tags",
            tags == user_labels,
            format!("{tags:?}"),
            format!("{user_labels:?}"),
        );
        let alerts = x["alerts"].as_array().cloned().unwrap_or_default();
        let products: BTreeSet<String> = alerts
            .iter()
            .map(|a| product(&s(&a["serviceSource"])))
            .collect();
        let data = &p["additionalData"];
        differ(
            "products",
            products == set(&data["alertProductNames"]),
            format!("{products:?}"),
            format!("{:?}", set(&data["alertProductNames"])),
        );
        differ(
            "alerts",
            data["alertsCount"].as_u64() == Some(alerts.len() as u64),
            alerts.len().to_string(),
            data["alertsCount"].to_string(),
        );
        differ(
            "link",
            data["providerIncidentUrl"] == x["incidentWebUrl"],
            s(&x["incidentWebUrl"]),
            s(&data["providerIncidentUrl"]),
        );

        // Comments: each person's comment once on the other side.
        let sentinel_comments = sentinel.comments(&s(&twin["name"]));
        let messages: Vec<String> = sentinel_comments
            .iter()
            .map(|c| s(&c["properties"]["message"]))
            .collect();
        let xdr_comments: Vec<(String, String)> = x["comments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (s(&c["comment"]), s(&c["createdByDisplayName"])))
            .collect();
        for (text, by) in xdr_comments.iter().filter(|(_, by)| *by != app_author) {
            let copies = messages
                .iter()
                .filter(|m| m.starts_with(&format!("{text}\n\n— {by} in Microsoft Defender XDR")))
                .count();
            if copies != 1 && sentinel_comments.len() < 100 {
                verdict
                    .comment_problems
                    .push(format!("{id}: XDR comment by {by} copied {copies} times"));
            }
            verdict.comments_to_sentinel += usize::from(copies == 1);
        }
        for c in &sentinel_comments {
            let author = &c["properties"]["author"];
            if author["name"] == app {
                continue;
            }
            let message = s(&c["properties"]["message"]);
            let by = s(&author["name"]);
            let copies = xdr_comments
                .iter()
                .filter(|(text, who)| {
                    *who == app_author
                        && text.starts_with(&format!("{message}\n\n— {by} in Microsoft Sentinel"))
                })
                .count();
            if copies != 1 {
                verdict.comment_problems.push(format!(
                    "{id}: Sentinel comment by {by} copied {copies} times"
                ));
            }
            verdict.comments_to_xdr += usize::from(copies == 1);
        }
    }
    for (id, left) in twins {
        verdict
            .twin_problems
            .push(format!("{id}: {} twin(s) of no XDR incident", left.len()));
    }
    verdict
}
