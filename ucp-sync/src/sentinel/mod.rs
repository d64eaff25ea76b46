//! A Microsoft Sentinel incidents client over Azure Resource Manager
//! (`Microsoft.SecurityInsights`, api-version [`API_VERSION`]): incidents, their comments,
//! and the workspace's alert rules.
//!
//! **Concurrency.** An incident's `etag` (in the body) is its version. [`SentinelIncidents::update`]
//! reads the incident, lets the caller merge its change into what it read, and writes it
//! with that etag; a `409 Conflict` (someone wrote in between) means read again, merge again,
//! write again, a bounded number of times: never a write over a version the caller did not
//! see. Alert rules are changed the same way.
//!
//! **Auth and budgets.** Tokens for [`ARM_SCOPE`] come from the platform's token provider
//! (the credential is named in the configuration). ARM counts each principal's reads and
//! writes per subscription per hour (12,000 and 1,200): the client keeps a budget for each,
//! at 90 %, and a 429 pauses the budget until ARM's `Retry-After`. A 403 names the Azure role
//! to assign (Responder for incidents and comments, Contributor for alert rules).
//!
//! **Why here.** The client lives in `ucp-sync`, beside its one user, not in `ucp-sinks`:
//! sinks deliver batches of records, while this reads and writes resources with versions.
//! It depends on nothing of the sync and can move to a crate of its own when a second user
//! comes.

mod arm;
mod config;
mod model;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use ucp_core::{BudgetKey, BudgetSpec, Clock, Context, RateBudget, SourceError};

use arm::{Answer, Arm, Op};
pub use config::{
    ArmLimits, SentinelConfig, API_VERSION, ARM_PROVIDER, ARM_SCOPE, ARM_URL, MAX_TOP,
};
pub use model::{
    AlertRule, ClientInfo, CommentProperties, Incident, IncidentComment, IncidentProperties, Label,
    Owner, SystemData, INCIDENT_CREATION_RULE,
};

/// One page of incidents changed since a time.
#[derive(Clone, Debug, Default)]
pub struct IncidentPage {
    /// The incidents read.
    pub incidents: Vec<Incident>,
    /// Items the service sent that are not incidents the client can read: why, per item.
    pub unreadable: Vec<String>,
    /// The next page's link, if any.
    pub next: Option<String>,
}

/// What [`SentinelIncidents::update`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Updated {
    /// Written: the incident as saved, after this many attempts.
    Written(Incident, u32),
    /// The merge found nothing to change in the version read.
    Unchanged(Incident),
    /// There is no such incident.
    Missing,
    /// Every attempt met a newer version (409): nothing was written.
    Contended(u32),
}

/// A Sentinel workspace's incidents, comments and alert rules. See the [module docs](self).
#[derive(Debug)]
pub struct SentinelIncidents {
    config: SentinelConfig,
    base: Url,
    arm: Arm,
    reads: Arc<RateBudget>,
    writes: Arc<RateBudget>,
}

fn config_error(what: &str, why: impl std::fmt::Display) -> SourceError {
    SourceError::Config {
        message: format!("{what}: {why}"),
    }
}

/// A name ARM takes as one path segment (subscription, group, workspace).
fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 90
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

/// An id the client puts in a path: letters, digits, `-` and `_`.
fn id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl SentinelIncidents {
    /// A client for `config`, its budgets on `clock`; refuses an unusable configuration.
    pub fn new(config: SentinelConfig, clock: Clock) -> Result<Self, SourceError> {
        let what = format!(
            "Microsoft Sentinel workspace {} (resource group {}, subscription {})",
            config.workspace, config.resource_group, config.subscription
        );
        for (name, value) in [
            ("subscription", &config.subscription),
            ("resource group", &config.resource_group),
            ("workspace", &config.workspace),
        ] {
            if !segment_ok(value) {
                return Err(config_error(
                    &what,
                    format!("the {name} '{value}' is not a valid Azure name"),
                ));
            }
        }
        if !(1..=MAX_TOP).contains(&config.page_size) {
            return Err(config_error(
                &what,
                format!("the page size {} must be 1 to {MAX_TOP}", config.page_size),
            ));
        }
        let limits = config.limits;
        if limits.reads_per_hour == 0
            || limits.writes_per_hour == 0
            || limits.hour.is_zero()
            || !(limits.share > 0.0 && limits.share <= 1.0)
        {
            return Err(config_error(
                &what,
                "the ARM limits must allow calls, over a window longer than zero, at a share in (0, 1]",
            ));
        }
        let mut base = Url::parse(config.arm_url.trim_end_matches('/'))
            .map_err(|e| config_error(&what, format!("ARM URL '{}' ({e})", config.arm_url)))?;
        if !matches!(base.scheme(), "https" | "http") || base.host_str().is_none() {
            return Err(config_error(
                &what,
                format!(
                    "ARM URL '{}' must be an https URL with a host",
                    config.arm_url
                ),
            ));
        }
        base.set_path(&format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/providers/Microsoft.SecurityInsights",
            config.subscription, config.resource_group, config.workspace
        ));
        base.set_query(None);
        let budget = |kind: &str, per_hour: u32| {
            // ARM counts an hour only: calls may come quickly (a quarter of the hour's in
            // a minute, evenly spaced) until the hour's share is used.
            let minute = limits.hour / 60;
            BudgetSpec::new(
                BudgetKey::new(format!("{ARM_PROVIDER}-{kind}"), &config.subscription),
                per_hour.div_ceil(4).max(1),
                minute.max(Duration::from_millis(1)),
            )
            .and_window(per_hour, limits.hour)
            .share(limits.share)
        };
        let reads = Arc::new(RateBudget::new(
            budget("reads", limits.reads_per_hour),
            clock,
        ));
        let writes = Arc::new(RateBudget::new(
            budget("writes", limits.writes_per_hour),
            clock,
        ));
        let arm = Arm {
            what,
            credential: config.credential.clone(),
            timeout: config.request_timeout,
        };
        Ok(SentinelIncidents {
            config,
            base,
            arm,
            reads,
            writes,
        })
    }

    /// `Microsoft Sentinel workspace … (resource group …, subscription …)`.
    pub fn what(&self) -> &str {
        &self.arm.what
    }

    /// The configuration.
    pub fn config(&self) -> &SentinelConfig {
        &self.config
    }

    /// The budget of writes (to share, or to watch).
    pub fn write_budget(&self) -> &Arc<RateBudget> {
        &self.writes
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        url
    }

    fn parse<T: DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, SourceError> {
        serde_json::from_slice(body).map_err(|e| SourceError::Malformed {
            message: format!(
                "{}, {what}: the answer is not what ARM documents ({e})",
                self.arm.what
            ),
        })
    }

    fn check_id(&self, kind: &str, id: &str) -> Result<(), SourceError> {
        if id_ok(id) {
            Ok(())
        } else {
            Err(config_error(
                &self.arm.what,
                format!("the {kind} id '{id}' must be letters, digits, '-' or '_'"),
            ))
        }
    }

    fn unexpected(&self, op: &str, answer: Answer) -> SourceError {
        match answer {
            Answer::NotFound => config_error(
                &self.arm.what,
                format!("{op}: not found (404); check the subscription, resource group and workspace names, and that Microsoft Sentinel is enabled on the workspace"),
            ),
            Answer::Rejected(why) => config_error(&self.arm.what, format!("{op} was refused (400): {why}")),
            Answer::Conflict => SourceError::Retryable {
                message: format!("{}: {op} met a newer version (409)", self.arm.what),
                retry_after: None,
            },
            Answer::Ok(status, _) => SourceError::Malformed {
                message: format!("{}: {op} answered {status} unexpectedly", self.arm.what),
            },
        }
    }

    /// Incidents changed at or after `since`, oldest change first (`$filter` on
    /// `properties/lastModifiedTimeUtc`, `$orderby` it ascending); `next` continues a listing
    /// from its `nextLink` (which must stay on ARM's origin).
    pub async fn changed_since(
        &self,
        cx: &Context,
        since: DateTime<Utc>,
        next: Option<&str>,
    ) -> Result<IncidentPage, SourceError> {
        let url = match next {
            Some(link) => {
                http::resolve(&self.base, link).map_err(|why| SourceError::Malformed {
                    message: format!("{}: nextLink {why}", self.arm.what),
                })?
            }
            None => {
                let mut url = self.url(&["incidents"]);
                url.query_pairs_mut()
                    .append_pair(
                        "$filter",
                        &format!(
                            "properties/lastModifiedTimeUtc ge {}",
                            since.to_rfc3339_opts(SecondsFormat::Micros, true)
                        ),
                    )
                    .append_pair("$orderby", "properties/lastModifiedTimeUtc asc")
                    .append_pair("$top", &self.config.page_size.to_string());
                url
            }
        };
        let answer = self
            .arm
            .send(cx, &self.reads, Op::ReadIncidents, Method::GET, &url, None)
            .await?;
        let Answer::Ok(_, body) = answer else {
            return Err(self.unexpected("listing incidents", answer));
        };
        let list: Value = self.parse("listing incidents", &body)?;
        let mut page = IncidentPage {
            next: list["nextLink"].as_str().map(str::to_string),
            ..IncidentPage::default()
        };
        for item in list["value"].as_array().into_iter().flatten() {
            match serde_json::from_value::<Incident>(item.clone()) {
                Ok(incident) => page.incidents.push(incident),
                Err(e) => page.unreadable.push(format!(
                    "incident {}: {e}",
                    item["name"].as_str().unwrap_or("(no name)")
                )),
            }
        }
        Ok(page)
    }

    /// Incident `id`, or `None`.
    pub async fn get(&self, cx: &Context, id: &str) -> Result<Option<Incident>, SourceError> {
        self.check_id("incident", id)?;
        let url = self.url(&["incidents", id]);
        match self
            .arm
            .send(cx, &self.reads, Op::ReadIncidents, Method::GET, &url, None)
            .await?
        {
            Answer::Ok(_, body) => Ok(Some(self.parse("reading an incident", &body)?)),
            Answer::NotFound => Ok(None),
            other => Err(self.unexpected("reading an incident", other)),
        }
    }

    /// Write incident `id` with `properties`: with `etag`, only over that version (`None`
    /// back when it is stale); without, whatever is there.
    pub async fn put(
        &self,
        cx: &Context,
        id: &str,
        properties: &IncidentProperties,
        etag: Option<&str>,
    ) -> Result<Option<Incident>, SourceError> {
        self.check_id("incident", id)?;
        let url = self.url(&["incidents", id]);
        let mut body = json!({ "properties": properties });
        if let Some(etag) = etag {
            body["etag"] = json!(etag);
        }
        match self
            .arm
            .send(
                cx,
                &self.writes,
                Op::WriteIncident,
                Method::PUT,
                &url,
                Some(Bytes::from(body.to_string())),
            )
            .await?
        {
            Answer::Ok(_, body) => Ok(Some(self.parse("writing an incident", &body)?)),
            Answer::Conflict => Ok(None),
            other => Err(self.unexpected(&format!("writing incident {id}"), other)),
        }
    }

    /// Read incident `id`, merge with `merge` (the properties to write, or `None` when the
    /// version read needs nothing), write with the etag read; on a newer version (409) read,
    /// merge and write again, `attempts` times at most.
    pub async fn update<F>(
        &self,
        cx: &Context,
        id: &str,
        attempts: u32,
        mut merge: F,
    ) -> Result<Updated, SourceError>
    where
        F: FnMut(&Incident) -> Option<IncidentProperties>,
    {
        let attempts = attempts.max(1);
        for attempt in 1..=attempts {
            let Some(current) = self.get(cx, id).await? else {
                return Ok(Updated::Missing);
            };
            let Some(properties) = merge(&current) else {
                return Ok(Updated::Unchanged(current));
            };
            let etag = current.etag.as_deref();
            if let Some(saved) = self.put(cx, id, &properties, etag).await? {
                return Ok(Updated::Written(saved, attempt));
            }
            tracing::debug!(workspace = %self.config.workspace, incident = id, attempt, "newer version of the incident: read, merge and write again");
        }
        Ok(Updated::Contended(attempts))
    }

    /// The comments of incident `id` (every page).
    pub async fn comments(
        &self,
        cx: &Context,
        id: &str,
    ) -> Result<Vec<IncidentComment>, SourceError> {
        self.check_id("incident", id)?;
        let mut url = self.url(&["incidents", id, "comments"]);
        let mut out = Vec::new();
        // A hundred comments at most per incident: a few pages at most.
        for _ in 0..100 {
            let answer = self
                .arm
                .send(cx, &self.reads, Op::ReadComments, Method::GET, &url, None)
                .await?;
            let body = match answer {
                Answer::Ok(_, body) => body,
                Answer::NotFound => return Ok(out),
                other => return Err(self.unexpected("listing comments", other)),
            };
            let list: Value = self.parse("listing comments", &body)?;
            for item in list["value"].as_array().into_iter().flatten() {
                out.push(serde_json::from_value(item.clone()).map_err(|e| {
                    SourceError::Malformed {
                        message: format!("{}, a comment of incident {id}: {e}", self.arm.what),
                    }
                })?);
            }
            match list["nextLink"].as_str() {
                Some(link) => {
                    url = http::resolve(&self.base, link).map_err(|why| SourceError::Malformed {
                        message: format!("{}: nextLink {why}", self.arm.what),
                    })?
                }
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    /// Write comment `comment_id` of incident `id` (made if new; PUT of the same id is the
    /// same comment). `Err(Rejected)` style refusals (a limit) come back as `Ok(Err(why))`.
    pub async fn put_comment(
        &self,
        cx: &Context,
        id: &str,
        comment_id: &str,
        message: &str,
    ) -> Result<Result<IncidentComment, String>, SourceError> {
        self.check_id("incident", id)?;
        self.check_id("comment", comment_id)?;
        let url = self.url(&["incidents", id, "comments", comment_id]);
        let body = json!({"properties": {"message": message}});
        match self
            .arm
            .send(
                cx,
                &self.writes,
                Op::WriteComment,
                Method::PUT,
                &url,
                Some(Bytes::from(body.to_string())),
            )
            .await?
        {
            Answer::Ok(_, body) => Ok(Ok(self.parse("writing a comment", &body)?)),
            Answer::Rejected(why) => Ok(Err(why)),
            other => Err(self.unexpected(&format!("writing a comment on incident {id}"), other)),
        }
    }

    /// The workspace's alert rules.
    pub async fn alert_rules(&self, cx: &Context) -> Result<Vec<AlertRule>, SourceError> {
        let url = self.url(&["alertRules"]);
        let answer = self
            .arm
            .send(cx, &self.reads, Op::ReadRules, Method::GET, &url, None)
            .await?;
        let Answer::Ok(_, body) = answer else {
            return Err(self.unexpected("listing alert rules", answer));
        };
        let list: Value = self.parse("listing alert rules", &body)?;
        Ok(list["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| serde_json::from_value(r.clone()).ok())
            .collect())
    }

    /// Turn alert rule `rule` on or off (read, change `enabled`, write with its etag; again
    /// on a newer version, `attempts` times at most). The rule as saved, or `None` if there
    /// is no such rule.
    pub async fn set_rule_enabled(
        &self,
        cx: &Context,
        rule: &str,
        enabled: bool,
        attempts: u32,
    ) -> Result<Option<AlertRule>, SourceError> {
        self.check_id("alert rule", rule)?;
        let url = self.url(&["alertRules", rule]);
        for _ in 0..attempts.max(1) {
            let answer = self
                .arm
                .send(cx, &self.reads, Op::ReadRules, Method::GET, &url, None)
                .await?;
            let mut current: AlertRule = match answer {
                Answer::Ok(_, body) => self.parse("reading an alert rule", &body)?,
                Answer::NotFound => return Ok(None),
                other => return Err(self.unexpected("reading an alert rule", other)),
            };
            if current.enabled() == enabled {
                return Ok(Some(current));
            }
            current.properties.insert("enabled".into(), json!(enabled));
            current.properties.remove("lastModifiedUtc");
            let body = json!({"etag": current.etag, "kind": current.kind, "properties": current.properties});
            match self
                .arm
                .send(
                    cx,
                    &self.writes,
                    Op::WriteRule,
                    Method::PUT,
                    &url,
                    Some(Bytes::from(body.to_string())),
                )
                .await?
            {
                Answer::Ok(_, body) => {
                    return Ok(Some(self.parse("writing an alert rule", &body)?))
                }
                Answer::Conflict => continue,
                other => return Err(self.unexpected(&format!("writing alert rule {rule}"), other)),
            }
        }
        Err(SourceError::Retryable {
            message: format!(
                "{}: alert rule {rule} kept changing while it was being turned {}",
                self.arm.what,
                if enabled { "on" } else { "off" }
            ),
            retry_after: None,
        })
    }
}

mod http {
    //! Following ARM's `nextLink` without leaving its origin.
    use reqwest::Url;

    pub(super) fn resolve(base: &Url, link: &str) -> Result<Url, String> {
        ucp_core::http::resolve_link(base, link).map_err(|e| e.to_string())
    }
}
