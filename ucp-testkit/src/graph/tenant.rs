//! The tenant's incidents and alerts: generated, kept, changed over time, and served as Graph
//! security's `incident` and `alert` resources.
//!
//! Every change stamps a new `lastUpdateDateTime` (strictly later than the one it replaces),
//! so each version of an item is `(id, lastUpdateDateTime)`. Changes follow what Defender
//! does: an incident moves from `active` to `inProgress` to `resolved` (with a
//! classification and determination), gets new alerts, or is merged into another one (its
//! status becomes `redirected`, `redirectIncidentId` names the survivor, its alerts move).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::hunting::kusto_time;

/// Where alerts come from, with how often (out of 20).
const SERVICE_SOURCES: &[(&str, &str, u32)] = &[
    ("microsoftDefenderForEndpoint", "antivirus", 10),
    (
        "microsoftDefenderForOffice365",
        "microsoftDefenderForOffice365",
        4,
    ),
    (
        "microsoftDefenderForIdentity",
        "microsoftDefenderForIdentity",
        3,
    ),
    (
        "microsoftDefenderForCloudApps",
        "microsoftDefenderForCloudApps",
        2,
    ),
    ("azureAdIdentityProtection", "azureAdIdentityProtection", 1),
];

const TITLES: &[(&str, &str, &str)] = &[
    (
        "Suspicious PowerShell command line",
        "Execution",
        "T1059.001",
    ),
    (
        "Email messages containing malicious URL removed after delivery",
        "InitialAccess",
        "T1566.002",
    ),
    (
        "Suspected brute-force attack (LDAP)",
        "CredentialAccess",
        "T1110",
    ),
    ("Impossible travel activity", "InitialAccess", "T1078"),
    (
        "Ransomware behavior detected in the file system",
        "Impact",
        "T1486",
    ),
    (
        "Unfamiliar sign-in properties",
        "InitialAccess",
        "T1078.004",
    ),
    (
        "Suspicious connection to a remote IP address",
        "CommandAndControl",
        "T1071",
    ),
];

const USERS: &[&str] = &[
    "alex.wilber",
    "megan.bowen",
    "lee.gu",
    "nestor.wilke",
    "patti.fernandez",
];
const HOSTS: &[&str] = &[
    "wks-0142",
    "wks-0277",
    "srv-sql01",
    "srv-dc02",
    "lap-fin-12",
];

/// One alert.
#[derive(Clone, Debug)]
pub(crate) struct Alert {
    pub id: String,
    pub incident_id: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub status: &'static str,
    pub severity: &'static str,
    pub service_source: &'static str,
    pub detection_source: &'static str,
    pub title: usize,
    pub user: usize,
    pub host: usize,
}

/// One comment on an incident (Graph's `alertComment`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Comment {
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One incident; its alerts are found by their `incident_id`.
#[derive(Clone, Debug)]
pub(crate) struct Incident {
    pub id: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub title: String,
    pub description: String,
    pub status: String,
    pub severity: String,
    pub classification: String,
    pub determination: String,
    pub redirect: Option<String>,
    pub assigned_to: Option<String>,
    pub custom_tags: Vec<String>,
    pub comments: Vec<Comment>,
    pub last_modified_by: String,
}

/// Everything the tenant holds.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub tenant_id: String,
    pub incidents: Vec<Incident>,
    pub alerts: Vec<Alert>,
    index: HashMap<String, usize>,
    rng: StdRng,
    next_incident: u64,
    next_alert: u64,
}

/// A time stamp after `previous`: `now`, or a microsecond past `previous` if `now` is not later.
pub(crate) fn after(previous: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    now.max(previous + chrono::Duration::microseconds(1))
}

/// Who Defender names as the last modifier of what it changes itself.
pub(crate) const DEFENDER: &str = "Microsoft Defender XDR";

fn severity_of(rng: &mut StdRng) -> &'static str {
    ["informational", "low", "medium", "medium", "high"][rng.random_range(0..5)]
}

impl Tenant {
    /// `incidents` incidents created over `[from, to)` holding `alerts` alerts in all.
    pub fn generate(
        seed: u64,
        tenant_id: &str,
        incidents: usize,
        alerts: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Tenant {
        let mut tenant = Tenant {
            tenant_id: tenant_id.to_string(),
            incidents: Vec::with_capacity(incidents),
            alerts: Vec::with_capacity(alerts),
            index: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            next_incident: 2_970_000,
            next_alert: 0,
        };
        let span = (to - from).num_milliseconds().max(1);
        for n in 0..incidents {
            let offset = span * n as i64 / incidents.max(1) as i64;
            let created = from + chrono::Duration::milliseconds(offset);
            tenant.new_incident(created);
        }
        for n in 0..alerts {
            let Some(incident) = (!tenant.incidents.is_empty()).then(|| n % tenant.incidents.len())
            else {
                break;
            };
            let id = tenant.incidents[incident].id.clone();
            let created = (tenant.incidents[incident].created
                + chrono::Duration::seconds(n as i64 % 600))
            .min(to);
            tenant.new_alert(&id, created);
            // An incident was last updated when its latest alert arrived.
            let incident = &mut tenant.incidents[incident];
            incident.updated = incident.updated.max(created);
        }
        tenant
    }

    fn new_incident(&mut self, created: DateTime<Utc>) -> String {
        self.next_incident += 1;
        let id = self.next_incident.to_string();
        let severity = severity_of(&mut self.rng).to_string();
        self.index.insert(id.clone(), self.incidents.len());
        self.incidents.push(Incident {
            title: format!(
                "Multi-stage incident involving {} on one endpoint",
                TITLES[id.len() % TITLES.len()].1
            ),
            description: "Microsoft observed activity correlated across several products.".into(),
            id: id.clone(),
            created,
            updated: created,
            status: "active".into(),
            severity,
            classification: "unknown".into(),
            determination: "unknown".into(),
            redirect: None,
            assigned_to: None,
            custom_tags: Vec::new(),
            comments: Vec::new(),
            last_modified_by: DEFENDER.into(),
        });
        id
    }

    fn new_alert(&mut self, incident_id: &str, created: DateTime<Utc>) -> String {
        self.next_alert += 1;
        let rng = &mut self.rng;
        let id = format!(
            "da{:018}_{}",
            637_500_000_000_000_000u64 + self.next_alert,
            rng.random_range(-2_000_000_000i64..2_000_000_000)
        );
        let mut pick = rng.random_range(0..20u32);
        let (service_source, detection_source) = SERVICE_SOURCES
            .iter()
            .find(|(_, _, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .map(|(s, d, _)| (*s, *d))
            .unwrap_or(("microsoftDefenderForEndpoint", "antivirus"));
        let alert = Alert {
            id: id.clone(),
            incident_id: incident_id.to_string(),
            created,
            updated: created,
            status: "new",
            severity: severity_of(rng),
            service_source,
            detection_source,
            title: rng.random_range(0..TITLES.len()),
            user: rng.random_range(0..USERS.len()),
            host: rng.random_range(0..HOSTS.len()),
        };
        self.alerts.push(alert);
        id
    }

    pub fn incident_mut(&mut self, id: &str) -> Option<&mut Incident> {
        let at = *self.index.get(id)?;
        self.incidents.get_mut(at)
    }

    /// Move incident `id` one step along its life (`active` → `inProgress` → `resolved`).
    pub fn advance_status(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let Some(incident) = self.incident_mut(id) else {
            return false;
        };
        match incident.status.as_str() {
            "active" => {
                incident.status = "inProgress".into();
                incident.assigned_to = Some("secops@contoso.com".into());
            }
            "inProgress" => {
                incident.status = "resolved".into();
                incident.classification = "truePositive".into();
                incident.determination = "malware".into();
            }
            _ => return false,
        }
        incident.updated = after(incident.updated, now);
        incident.last_modified_by = DEFENDER.into();
        let updated = incident.updated;
        for alert in self.alerts.iter_mut().filter(|a| a.incident_id == id) {
            if incident_status_moves_alert(alert) {
                alert.updated = after(alert.updated, updated);
            }
        }
        true
    }

    /// A new alert in incident `id`; the incident is updated too.
    pub fn add_alert(&mut self, id: &str, now: DateTime<Utc>) -> Option<String> {
        self.incident_mut(id)?;
        let alert = self.new_alert(id, now);
        let incident = self.incident_mut(id)?;
        incident.updated = after(incident.updated, now);
        Some(alert)
    }

    /// Merge incident `from` into `into`: `from` becomes `redirected` and its alerts move.
    pub fn merge(&mut self, from: &str, into: &str, now: DateTime<Utc>) -> bool {
        let usable = |t: &Tenant, id: &str| {
            t.index
                .get(id)
                .is_some_and(|i| t.incidents[*i].status != "redirected")
        };
        if from == into || !usable(self, from) || !usable(self, into) {
            return false;
        }
        if let Some(source) = self.incident_mut(from) {
            source.status = "redirected".into();
            source.redirect = Some(into.to_string());
            source.updated = after(source.updated, now);
            source.last_modified_by = DEFENDER.into();
        }
        if let Some(target) = self.incident_mut(into) {
            target.updated = after(target.updated, now);
        }
        for alert in self.alerts.iter_mut().filter(|a| a.incident_id == from) {
            alert.incident_id = into.to_string();
            alert.updated = after(alert.updated, now);
        }
        true
    }

    /// A new incident with `alerts` alerts, created now.
    pub fn open(&mut self, alerts: usize, now: DateTime<Utc>) -> String {
        let id = self.new_incident(now);
        for _ in 0..alerts {
            self.new_alert(&id, now);
        }
        id
    }

    /// One random change of the kinds Defender makes; `None` when nothing could change.
    pub fn churn(&mut self, now: DateTime<Utc>) -> Option<String> {
        if self.incidents.is_empty() {
            return Some(self.open(2, now));
        }
        let pick = self.rng.random_range(0..self.incidents.len());
        let id = self.incidents[pick].id.clone();
        match self.rng.random_range(0..10) {
            0..=4 => self.advance_status(&id, now).then_some(id),
            5..=6 => self.add_alert(&id, now).map(|_| id),
            7 => {
                let other = self.incidents[self.rng.random_range(0..self.incidents.len())]
                    .id
                    .clone();
                self.merge(&id, &other, now).then_some(id)
            }
            _ => {
                let alerts = self.rng.random_range(1..4);
                Some(self.open(alerts, now))
            }
        }
    }

    /// The filterable properties of `incident`, for `$filter`.
    pub fn incident_filter_view(&self, incident: &Incident) -> Value {
        json!({
            "assignedTo": incident.assigned_to,
            "classification": incident.classification,
            "createdDateTime": kusto_time(incident.created),
            "determination": incident.determination,
            "lastUpdateDateTime": kusto_time(incident.updated),
            "severity": incident.severity,
            "status": incident.status,
        })
    }

    /// The filterable properties of `alert`, for `$filter`.
    pub fn alert_filter_view(&self, alert: &Alert) -> Value {
        let resolved = alert.status == "resolved";
        json!({
            "assignedTo": Value::Null,
            "classification": if resolved { json!("truePositive") } else { Value::Null },
            "determination": if resolved { json!("malware") } else { Value::Null },
            "createdDateTime": kusto_time(alert.created),
            "lastUpdateDateTime": kusto_time(alert.updated),
            "severity": alert.severity,
            "serviceSource": alert.service_source,
            "status": alert.status,
        })
    }

    /// The JSON of alert `alert`.
    pub fn alert_json(&self, alert: &Alert) -> Value {
        let (title, category, technique) = TITLES[alert.title % TITLES.len()];
        let user = USERS[alert.user % USERS.len()];
        let host = HOSTS[alert.host % HOSTS.len()];
        let resolved = alert.status == "resolved";
        json!({
            "@odata.type": "#microsoft.graph.security.alert",
            "id": alert.id,
            "providerAlertId": alert.id.trim_start_matches("da"),
            "incidentId": alert.incident_id,
            "status": alert.status,
            "severity": alert.severity,
            "classification": if resolved { json!("truePositive") } else { Value::Null },
            "determination": if resolved { json!("malware") } else { Value::Null },
            "serviceSource": alert.service_source,
            "detectionSource": alert.detection_source,
            "detectorId": format!("{:08x}-0000-4000-8000-{:012x}", alert.title, alert.title),
            "tenantId": self.tenant_id,
            "title": title,
            "description": format!("{title} was observed on {host}.corp.contoso.com for {user}."),
            "recommendedActions": "Review the process tree and isolate the device if the activity is not expected.",
            "category": category,
            "assignedTo": Value::Null,
            "alertWebUrl": format!("https://security.microsoft.com/alerts/{}?tid={}", alert.id, self.tenant_id),
            "incidentWebUrl": format!("https://security.microsoft.com/incidents/{}?tid={}", alert.incident_id, self.tenant_id),
            "actorDisplayName": Value::Null,
            "threatDisplayName": Value::Null,
            "threatFamilyName": Value::Null,
            "mitreTechniques": [technique],
            "createdDateTime": kusto_time(alert.created),
            "lastUpdateDateTime": kusto_time(alert.updated),
            "resolvedDateTime": if resolved { json!(kusto_time(alert.updated)) } else { Value::Null },
            "firstActivityDateTime": kusto_time(alert.created - chrono::Duration::minutes(3)),
            "lastActivityDateTime": kusto_time(alert.created),
            "comments": [],
            "evidence": evidence(alert, host, user),
            "systemTags": []
        })
    }

    /// The JSON of incident `incident`, with its alerts when `expand`.
    pub fn incident_json(&self, incident: &Incident, expand: bool) -> Value {
        let mut value = json!({
            "@odata.type": "#microsoft.graph.security.incident",
            "id": incident.id,
            "incidentWebUrl": format!("https://security.microsoft.com/incidents/{}?tid={}", incident.id, self.tenant_id),
            "redirectIncidentId": incident.redirect,
            "displayName": incident.title,
            "tenantId": self.tenant_id,
            "createdDateTime": kusto_time(incident.created),
            "lastUpdateDateTime": kusto_time(incident.updated),
            "assignedTo": incident.assigned_to,
            "classification": incident.classification,
            "determination": incident.determination,
            "status": incident.status,
            "severity": incident.severity,
            "customTags": incident.custom_tags,
            "systemTags": [],
            "description": incident.description,
            "comments": comments_json(&incident.comments),
            "lastModifiedBy": incident.last_modified_by,
            "resolvingComment": Value::Null,
            "summary": Value::Null
        });
        if expand {
            let alerts: Vec<Value> = self
                .alerts
                .iter()
                .filter(|a| a.incident_id == incident.id)
                .map(|a| self.alert_json(a))
                .collect();
            value["alerts"] = Value::Array(alerts);
        }
        value
    }
}

/// Comments as Graph lists them (`alertComment`).
pub(crate) fn comments_json(comments: &[Comment]) -> Value {
    Value::Array(
        comments
            .iter()
            .map(|c| {
                json!({
                    "comment": c.text,
                    "createdByDisplayName": c.by,
                    "createdDateTime": kusto_time(c.at),
                })
            })
            .collect(),
    )
}

/// The evidence of an alert: the device it fired on and the user involved.
fn evidence(alert: &Alert, host: &str, user: &str) -> Value {
    json!([
        {
            "@odata.type": "#microsoft.graph.security.deviceEvidence",
            "createdDateTime": kusto_time(alert.created),
            "verdict": "suspicious",
            "remediationStatus": "none",
            "roles": [],
            "tags": [],
            "deviceDnsName": format!("{host}.corp.contoso.com"),
            "osPlatform": "Windows11",
            "healthStatus": "active",
            "riskScore": "medium"
        },
        {
            "@odata.type": "#microsoft.graph.security.userEvidence",
            "createdDateTime": kusto_time(alert.created),
            "verdict": "suspicious",
            "remediationStatus": "none",
            "roles": ["compromised"],
            "tags": [],
            "userAccount": {
                "accountName": user,
                "domainName": "CONTOSO",
                "userPrincipalName": format!("{user}@contoso.com"),
                "displayName": user.replace('.', " ")
            }
        }
    ])
}

/// Resolving an incident resolves its open alerts.
fn incident_status_moves_alert(alert: &mut Alert) -> bool {
    match alert.status {
        "new" => {
            alert.status = "inProgress";
            true
        }
        "inProgress" => {
            alert.status = "resolved";
            true
        }
        _ => false,
    }
}
