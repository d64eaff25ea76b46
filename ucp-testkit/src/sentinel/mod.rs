//! A simulated Microsoft Sentinel workspace's incidents API (Azure Resource Manager,
//! `Microsoft.SecurityInsights`, api-version [`API_VERSION`]), over loopback HTTP.
//!
//! Serves under `{url}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights`:
//!
//! - `GET /incidents` with `$filter` (`properties/lastModifiedTimeUtc ge|gt <time>`,
//!   `properties/providerName eq '…'`, `properties/providerIncidentId eq '…'`,
//!   `properties/status eq '…'`, joined by `and`), `$orderby`
//!   (`properties/lastModifiedTimeUtc asc`, `properties/createdTimeUtc desc`), `$top`
//!   (1–1,000) and `nextLink` with a `$skipToken`;
//! - `GET`, `PUT` (200 updated, 201 created) and `DELETE /incidents/{id}`: the `etag` in the
//!   body is the concurrency token: a stale one is `409 Conflict` "Newer version of resource
//!   … exists. Data was not saved", none overwrites; `title`, `severity`, `status` are
//!   required, enums are checked (any case), closing needs a classification;
//! - `GET /incidents/{id}/comments`, `GET`/`PUT /incidents/{id}/comments/{commentId}`: at most
//!   [`MAX_COMMENT_CHARS`] characters and [`MAX_COMMENTS`] comments per incident (400
//!   beyond), only the author edits a comment; a comment is a new version of its incident;
//! - `GET /alertRules`, `GET`/`PUT /alertRules/{ruleId}` of kind
//!   `MicrosoftSecurityIncidentCreation` (with etags): an enabled rule makes an incident of
//!   every alert of its product ingested with [`SentinelSimulator::ingest_alert`], which is
//!   how duplicates of Defender XDR's incidents appear when the rules stay on.
//!
//! It takes Entra bearer tokens for [`ARM_SCOPE`] (from its own token endpoint, or the
//! verifier of another simulator's, e.g. the Graph simulator's tenant), checks the
//! principal's Azure role ([`Role`]: 403 `AuthorizationFailed` naming the action), counts
//! reads and writes per principal per hour (12,000 and 1,200; `speed` compresses the hour)
//! with `x-ms-ratelimit-remaining-subscription-reads|writes` on every answer and 429 +
//! `Retry-After` beyond, and stamps `systemData` with who changed what. Tests inject 429s
//! ([`SentinelSimulator::throttle_next`]), stale etags
//! ([`SentinelSimulator::conflict_next`]) and a person's edit landing just before a client's
//! write ([`SentinelSimulator::edit_before_next_write`]); people's changes come from
//! [`SentinelSimulator::edit_incident`] and [`SentinelSimulator::comment_on_incident`].
//!
//! The incident's `providerName`, `providerIncidentId` and `additionalData` are read-only in
//! the public API; the simulator lets a client write them, as the first-party Defender XDR
//! connector does for the incidents it mirrors.

mod comments;
mod incidents;
mod rules;
mod server;
mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use ucp_core::Clock;

use crate::token_endpoint::{TokenEndpoint, TokenVerifier};
use server::{lock, AppState, Counters, Shared, SimState};
use store::{Actor, Comment, Workspace};

/// The ARM scope a token must be issued for.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The stable api-version served (2024-09-01 is accepted too).
pub const API_VERSION: &str = "2025-09-01";
/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 30_000;
/// The most comments on one incident.
pub const MAX_COMMENTS: usize = 100;

/// The simulated workspace's subscription.
pub const SUBSCRIPTION: &str = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
/// Its resource group.
pub const RESOURCE_GROUP: &str = "soc-rg";
/// Its Log Analytics workspace.
pub const WORKSPACE: &str = "soc-workspace";

/// An Azure role of a principal on the workspace, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Microsoft Sentinel Reader: reads only.
    Reader,
    /// Microsoft Sentinel Responder: reads, and writes incidents and comments.
    Responder,
    /// Microsoft Sentinel Contributor: also writes alert rules.
    Contributor,
}

/// How the simulated workspace behaves.
#[derive(Clone, Debug)]
pub struct SentinelSimConfig {
    /// The clock the workspace's time follows.
    pub clock: Clock,
    /// Reads per principal per hour (ARM's 12,000).
    pub reads_per_hour: u32,
    /// Writes per principal per hour (ARM's 1,200).
    pub writes_per_hour: u32,
    /// Time compression of the hour (1 = real time).
    pub speed: f64,
    /// Incidents per page without `$top`.
    pub page_size: usize,
}

impl Default for SentinelSimConfig {
    fn default() -> Self {
        SentinelSimConfig {
            clock: Clock::new(),
            reads_per_hour: 12_000,
            writes_per_hour: 1_200,
            speed: 1.0,
            page_size: 50,
        }
    }
}

impl SentinelSimConfig {
    /// Follow this clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
    /// Limit each principal to these reads and writes an hour.
    pub fn limits(mut self, reads_per_hour: u32, writes_per_hour: u32) -> Self {
        self.reads_per_hour = reads_per_hour;
        self.writes_per_hour = writes_per_hour;
        self
    }
    /// Compress the hour `speed` times.
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = speed;
        self
    }
}

/// One write a client made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelWrite {
    /// `incidents/{id}`, `incidents/{id}/comments/{commentId}` or `alertRules/{ruleId}`.
    pub resource: String,
    /// The client id of the principal.
    pub client: String,
    /// When.
    pub at: DateTime<Utc>,
    /// It created the resource.
    pub created: bool,
    /// The writable properties whose value it changed (empty: it changed nothing).
    pub changed: Vec<String>,
}

/// What the simulator answered so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SentinelCounts {
    /// Requests received.
    pub requests: u64,
    /// 429 answers.
    pub throttled: u64,
    /// 409 answers.
    pub conflicts: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// 403 answers.
    pub forbidden: u64,
    /// 400 answers.
    pub bad_requests: u64,
}

/// A person's change of an incident in the Sentinel portal; `None` leaves a property as is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentChange {
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `severity`.
    pub severity: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `classification` with its `classificationReason`.
    pub classification: Option<(String, Option<String>)>,
    /// The owner's user principal name; `Some(None)` unassigns.
    pub owner: Option<Option<String>>,
    /// The user labels (auto-assigned ones stay).
    pub labels: Option<Vec<String>>,
}

/// An alert reaching the workspace (the SecurityAlert table), for the creation rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestedAlert {
    /// Its product, as creation rules name products (`Microsoft Cloud App Security`, …).
    pub product: String,
    /// Its id at the product.
    pub alert_id: String,
    /// Its name.
    pub title: String,
    /// `High`, `Medium`, `Low` or `Informational`.
    pub severity: String,
}

/// A running simulated workspace. Dropping it stops the server.
pub struct SentinelSimulator {
    shared: Shared,
    tokens: Option<TokenEndpoint>,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for SentinelSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelSimulator")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SentinelSimulator {
    /// Start on `127.0.0.1` with an Entra token endpoint of its own.
    pub async fn start(config: SentinelSimConfig) -> std::io::Result<SentinelSimulator> {
        let tokens = TokenEndpoint::start().await?;
        let verifier = tokens.verifier();
        let mut sim = Self::start_with(config, verifier, |r| r).await?;
        sim.tokens = Some(tokens);
        Ok(sim)
    }

    /// Start on `127.0.0.1`, accepting the tokens `verifier` knows (another simulator's
    /// Entra tenant), with the router passed through `wrap` first (e.g. a fault layer).
    pub async fn start_with(
        config: SentinelSimConfig,
        verifier: TokenVerifier,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> std::io::Result<SentinelSimulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared: Shared = Arc::new(Mutex::new(SimState {
            clock: config.clock,
            offset: chrono::Duration::zero(),
            workspace: Workspace::default(),
            base: workspace_path(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE),
            roles: HashMap::new(),
            reads: HashMap::new(),
            writes_windows: HashMap::new(),
            read_limit: config.reads_per_hour.max(1),
            write_limit: config.writes_per_hour.max(1),
            speed: config.speed,
            counters: Counters::default(),
            writes: Vec::new(),
            throttle_next: VecDeque::new(),
            conflict_next: 0,
            interfere: VecDeque::new(),
            page_size: config.page_size.clamp(1, 1_000),
            origin: url.clone(),
        }));
        let app = wrap(server::router(AppState {
            shared: shared.clone(),
            verifier,
        }));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "sentinel simulator stopped");
            }
        });
        Ok(SentinelSimulator {
            shared,
            tokens: None,
            url,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:<port>`: the ARM origin.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The workspace's path under the origin (`/subscriptions/…/providers/Microsoft.SecurityInsights`).
    pub fn workspace_path(&self) -> String {
        lock(&self.shared).base.clone()
    }

    /// The simulator's own token endpoint, when it was started with one.
    pub fn tokens(&self) -> Option<&TokenEndpoint> {
        self.tokens.as_ref()
    }

    /// Give principal `client_id` `role` on the workspace (none: every call is 403).
    pub fn grant(&self, client_id: &str, role: Role) {
        lock(&self.shared).roles.insert(client_id.to_string(), role);
    }

    /// Take every role from `client_id`.
    pub fn revoke(&self, client_id: &str) {
        lock(&self.shared).roles.remove(client_id);
    }

    /// The workspace's time.
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.shared).now()
    }

    /// Move the workspace's time forward.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        lock(&self.shared).offset += by;
    }

    /// Answer the next request 429 with `Retry-After: retry_after`.
    pub fn throttle_next(&self, retry_after: Duration) {
        lock(&self.shared).throttle_next.push_back(retry_after);
    }

    /// The next `n` writes of an existing incident that carry an etag find a newer version
    /// (an automation rule touched the incident): 409.
    pub fn conflict_next(&self, n: u32) {
        lock(&self.shared).conflict_next += n;
    }

    /// A person's `change` of incident `id`, signed `user`, lands just before the next
    /// client write of an existing incident (whose etag it makes stale).
    pub fn edit_before_next_write(&self, id: &str, user: &str, change: IncidentChange) {
        let (id, user) = (id.to_string(), user.to_string());
        lock(&self.shared)
            .interfere
            .push_back(Box::new(move |workspace: &mut Workspace, now| {
                apply_change(workspace, &id, &user, change, now);
            }));
    }

    /// A person's change of incident `id` in the portal; false if there is none.
    pub fn edit_incident(&self, id: &str, user: &str, change: IncidentChange) -> bool {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        apply_change(&mut sim.workspace, id, user, change, now)
    }

    /// A person's comment on incident `id`; its name, or `None` if there is no such incident
    /// or it has [`MAX_COMMENTS`] already.
    pub fn comment_on_incident(&self, id: &str, user: &str, text: &str) -> Option<String> {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        let etag = sim.workspace.etag();
        let incident = sim.workspace.incidents.get_mut(id)?;
        if incident.comments.len() >= MAX_COMMENTS {
            return None;
        }
        let name = format!("portal-{}-{}", incident.number, incident.comments.len() + 1);
        incident.comments.push(Comment {
            name: name.clone(),
            message: text.to_string(),
            etag,
            author: Actor::user(user),
            created: now,
            modified: now,
        });
        sim.workspace.touch(id, &Actor::user(user), now);
        Some(name)
    }

    /// Add (or replace) Microsoft incident creation rule `id` for `product`.
    pub fn add_creation_rule(&self, id: &str, product: &str, enabled: bool) {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        let etag = sim.workspace.etag();
        sim.workspace.rules.insert(
            id.to_string(),
            store::Rule {
                name: id.to_string(),
                etag,
                display_name: format!("Create incidents based on {product} alerts"),
                product: product.to_string(),
                enabled,
                severities: None,
                modified: now,
            },
        );
    }

    /// An alert reaching the workspace: each enabled creation rule of its product makes an
    /// incident of it. The incidents made, by name.
    pub fn ingest_alert(&self, alert: &IngestedAlert) -> Vec<String> {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        let base = sim.base.clone();
        let rules: Vec<String> = sim
            .workspace
            .rules
            .values()
            .filter(|r| r.enabled && r.product.eq_ignore_ascii_case(&alert.product))
            .filter(|r| {
                r.severities
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|s| s.eq_ignore_ascii_case(&alert.severity)))
            })
            .map(|r| format!("{base}/alertRules/{}", r.name))
            .collect();
        let mut made = Vec::new();
        for rule in rules {
            let name = format!("rule-{}-{}", made.len(), alert.alert_id);
            let props = json!({
                "title": alert.title,
                "severity": alert.severity,
                "status": "New",
                "owner": {"objectId": null, "email": null, "assignedTo": null, "userPrincipalName": null, "ownerType": "Unknown"},
                "labels": [],
                "relatedAnalyticRuleIds": [rule],
                "additionalData": {"alertProductNames": [alert.product], "alertsCount": 1, "providerAlertIds": [alert.alert_id]},
            });
            if let Value::Object(props) = props {
                sim.workspace
                    .create(&name, props, &Actor::app("Microsoft Sentinel"), now);
                made.push(name);
            }
        }
        made
    }

    /// Every incident as served.
    pub fn incidents(&self) -> Vec<Value> {
        let sim = lock(&self.shared);
        sim.workspace
            .incidents
            .values()
            .map(|i| i.json(&sim.base))
            .collect()
    }

    /// Incident `id` as served.
    pub fn incident(&self, id: &str) -> Option<Value> {
        let sim = lock(&self.shared);
        sim.workspace.incidents.get(id).map(|i| i.json(&sim.base))
    }

    /// The comments of incident `id` as served.
    pub fn comments(&self, id: &str) -> Vec<Value> {
        let sim = lock(&self.shared);
        sim.workspace
            .incidents
            .get(id)
            .map(|i| i.comments.iter().map(|c| c.json(&sim.base, id)).collect())
            .unwrap_or_default()
    }

    /// Every alert rule as served.
    pub fn alert_rules(&self) -> Vec<Value> {
        let sim = lock(&self.shared);
        sim.workspace
            .rules
            .values()
            .map(|r| r.json(&sim.base))
            .collect()
    }

    /// Every client write, in order.
    pub fn writes(&self) -> Vec<SentinelWrite> {
        lock(&self.shared).writes.clone()
    }

    /// What was answered so far.
    pub fn counts(&self) -> SentinelCounts {
        let c = lock(&self.shared).counters.clone();
        SentinelCounts {
            requests: c.requests,
            throttled: c.throttled,
            conflicts: c.conflicts,
            unauthorized: c.unauthorized,
            forbidden: c.forbidden,
            bad_requests: c.bad_requests,
        }
    }
}

impl Drop for SentinelSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The workspace's ARM path.
pub fn workspace_path(subscription: &str, resource_group: &str, workspace: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.OperationalInsights/workspaces/{workspace}/providers/Microsoft.SecurityInsights"
    )
}

fn apply_change(
    workspace: &mut Workspace,
    id: &str,
    user: &str,
    change: IncidentChange,
    now: DateTime<Utc>,
) -> bool {
    let Some(incident) = workspace.incidents.get_mut(id) else {
        return false;
    };
    let props = &mut incident.props;
    if let Some(title) = change.title {
        props.insert("title".into(), json!(title));
    }
    if let Some(description) = change.description {
        props.insert("description".into(), json!(description));
    }
    if let Some(severity) = change.severity {
        props.insert("severity".into(), json!(severity));
    }
    if let Some(status) = change.status {
        props.insert("status".into(), json!(status));
    }
    if let Some((classification, reason)) = change.classification {
        props.insert("classification".into(), json!(classification));
        props.insert("classificationReason".into(), json!(reason));
    }
    if let Some(owner) = change.owner {
        props.insert(
            "owner".into(),
            match owner {
                Some(upn) => json!({"objectId": null, "email": upn, "assignedTo": upn,
                    "userPrincipalName": upn, "ownerType": "User"}),
                None => json!({"objectId": null, "email": null, "assignedTo": null,
                    "userPrincipalName": null, "ownerType": "Unknown"}),
            },
        );
    }
    if let Some(labels) = change.labels {
        let auto: Vec<Value> = props
            .get("labels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|l| l["labelType"] == "AutoAssigned")
            .cloned()
            .collect();
        let mut all = auto;
        all.extend(
            labels
                .into_iter()
                .map(|l| json!({"labelName": l, "labelType": "User"})),
        );
        props.insert("labels".into(), Value::Array(all));
    }
    workspace.touch(id, &Actor::user(user), now);
    true
}
