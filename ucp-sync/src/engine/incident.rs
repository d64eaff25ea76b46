//! One incident's reconcile: read what is missing of both sides, decide, write Sentinel
//! (create the twin, or merge into the version read, again on a 409), write XDR (one
//! `update_incident` of the fields Sentinel changed), copy comments, record.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use ucp_core::{ActionOutcome, ActionRequest, Source, SourceError};
use ucp_sources::defender::UPDATE_INCIDENT;

use super::polls::modified;
use super::{twin_id, IncidentSync, Notes, SyncError, PROVIDER_NAME};
use crate::fields::{data, Field};
use crate::ledger::{CommentState, Twin};
use crate::reconcile::{decide, Decision};
use crate::report::Direction;
use crate::sentinel::{Incident, IncidentProperties, Updated};
use crate::xdr::XdrIncident;

/// The warning given once per incident when a Sentinel user edits a one-way field.
pub(crate) const WARNED_ONE_WAY: &str = "one-way";

/// `x`'s twin's properties: every field, the provider's name and id.
fn new_twin(x: &XdrIncident) -> IncidentProperties {
    let mut props = IncidentProperties::default();
    for field in Field::ALL {
        field.write_sentinel(x, &mut props);
    }
    if props.status.is_none() {
        props.status = Some("New".into());
    }
    props.provider_name = Some(PROVIDER_NAME.into());
    props.provider_incident_id = Some(x.id.clone());
    data(&mut props).insert("lastModifiedBy".into(), json!(x.last_modified_by));
    props
}

/// `current` with `fields` of `x` written in.
fn merged(x: &XdrIncident, current: &Incident, fields: &[Field]) -> IncidentProperties {
    let mut props = current.properties.clone();
    for field in fields {
        field.write_sentinel(x, &mut props);
    }
    data(&mut props).insert("lastModifiedBy".into(), json!(x.last_modified_by));
    props
}

fn since(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> Option<Duration> {
    then.and_then(|t| (now - t).to_std().ok())
}

impl IncidentSync {
    /// The XDR incident `id` as it is now: this cycle's poll, else the ledger's snapshot
    /// (current when only Sentinel's side changed), else Graph. `fresh` forces Graph.
    async fn xdr_state(
        &self,
        id: &str,
        polled: Option<&XdrIncident>,
        snapshot: Option<&str>,
        fresh: bool,
    ) -> Result<Option<XdrIncident>, SyncError> {
        if !fresh {
            if let Some(x) = polled {
                return Ok(Some(x.clone()));
            }
            if let Some(x) = snapshot.and_then(|s| serde_json::from_str(s).ok()) {
                return Ok(Some(x));
            }
        }
        let value = self
            .retry(true, || async {
                self.cx.budget().acquire().await;
                self.defender.incident(&self.cx, id).await
            })
            .await?;
        match value {
            None => Ok(None),
            Some(value) => XdrIncident::parse(&value).map(Some).map_err(|why| {
                SyncError::Provider(SourceError::Malformed {
                    message: format!("Defender XDR incident {id}: {why}"),
                })
            }),
        }
    }

    /// Reconcile incident `id` (`xdr_changed`: a poll saw XDR's side change); the writes
    /// made.
    pub(crate) async fn reconcile(
        &self,
        id: &str,
        polled_xdr: Option<&XdrIncident>,
        xdr_changed: bool,
        polled_sentinel: Option<&Incident>,
        notes: &mut Notes,
    ) -> Result<u64, SyncError> {
        let twin = self.ledger.twin(id)?;
        let records = self.ledger.comments(id)?;
        // Read XDR afresh when a comment was being posted as the last run stopped (to find
        // it), or when XDR changed and this run did not poll the change (it was polled before
        // a restart, or the reconcile failed last cycle): the snapshot predates it.
        let pending = records.iter().any(|r| r.state == CommentState::Pending);
        let stale = xdr_changed && polled_xdr.is_none();
        let Some(mut x) = self
            .xdr_state(
                id,
                polled_xdr,
                twin.as_ref().and_then(|t| t.snapshot.as_deref()),
                pending || stale,
            )
            .await?
        else {
            notes.warnings.push(format!(
                "Defender XDR incident {id} no longer exists; its Sentinel twin is left as it is"
            ));
            return Ok(0);
        };
        let sentinel_id = twin
            .as_ref()
            .map(|t| t.sentinel_id.clone())
            .unwrap_or_else(|| twin_id(&self.xdr_tenant, id));
        let known: HashMap<Field, (Value, Value)> = match &twin {
            Some(_) => self
                .ledger
                .fields(id)?
                .into_iter()
                .map(|(f, x, s)| (f, (x, s)))
                .collect(),
            None => HashMap::new(),
        };
        let mut warned = twin.as_ref().map(|t| t.warned.clone()).unwrap_or_default();
        let mut writes = 0u64;
        let now = self.now();

        // Sentinel: the version polled, else read.
        let mut current = match polled_sentinel {
            Some(s) => Some(s.clone()),
            None => {
                self.retry(false, || self.sentinel.get(&self.cx, &sentinel_id))
                    .await?
            }
        };
        let (decision, s_after, s_decided_at) = match current.take() {
            None => {
                if twin.is_some() {
                    notes.warnings.push(format!(
                        "the Sentinel twin {sentinel_id} of Defender XDR incident {id} was deleted in Sentinel; it is made again"
                    ));
                }
                let props = new_twin(&x);
                let saved = self
                    .retry(false, || {
                        self.sentinel.put(&self.cx, &sentinel_id, &props, None)
                    })
                    .await?
                    .ok_or_else(|| SourceError::Retryable {
                        message: format!(
                            "{}: incident {sentinel_id} appeared while it was being made",
                            self.sentinel.what()
                        ),
                        retry_after: None,
                    })?;
                writes += 1;
                let mut state = self.state.lock().await;
                state.stats.incidents_created += 1;
                state.stats.sentinel_writes += 1;
                state.stats.changes_to_sentinel += 1;
                notes.to_sentinel += 1;
                self.metrics
                    .changes(self.cx.tenant(), Direction::ToSentinel, 1);
                // A twin of an incident made while the sync runs: how long it took to appear.
                if x.created.is_some_and(|c| c >= self.started) {
                    if let Some(latency) = since(now, x.created) {
                        state.stats.latency_to_sentinel.push(latency);
                        self.metrics
                            .latency(self.cx.tenant(), Direction::ToSentinel, latency);
                    }
                }
                let decision = Decision {
                    agreed: Field::ALL.to_vec(),
                    ..Decision::default()
                };
                (decision, saved, None)
            }
            Some(s) => {
                let first = decide(&x, &s.properties, modified(&s), &known);
                if first.to_sentinel.is_empty() {
                    let at = modified(&s);
                    (first, s, at)
                } else {
                    // Merge into the version read; on a newer one, decide again on it.
                    let last = Mutex::new((first, modified(&s)));
                    let (xr, known_r, last_r, target) = (&x, &known, &last, sentinel_id.as_str());
                    let updated = self
                        .retry(false, move || {
                            self.sentinel.update(
                                &self.cx,
                                target,
                                self.config.merge_attempts,
                                move |fresh| {
                                    let d = decide(xr, &fresh.properties, modified(fresh), known_r);
                                    let props = (!d.to_sentinel.is_empty())
                                        .then(|| merged(xr, fresh, &d.to_sentinel));
                                    *last_r.lock().unwrap_or_else(|p| p.into_inner()) =
                                        (d, modified(fresh));
                                    props
                                },
                            )
                        })
                        .await?;
                    let (decision, at) = last.into_inner().unwrap_or_else(|p| p.into_inner());
                    let saved = match updated {
                        Updated::Written(saved, attempts) => {
                            writes += 1;
                            let mut state = self.state.lock().await;
                            state.stats.sentinel_writes += 1;
                            state.stats.etag_retries += u64::from(attempts.saturating_sub(1));
                            saved
                        }
                        Updated::Unchanged(fresh) => fresh,
                        Updated::Missing => {
                            return Err(SourceError::Retryable {
                                message: format!("the Sentinel twin {sentinel_id} disappeared while being written"),
                                retry_after: None,
                            }
                            .into())
                        }
                        Updated::Contended(n) => {
                            return Err(SourceError::Retryable {
                                message: format!(
                                    "the Sentinel twin {sentinel_id} kept changing: {n} writes met a newer version"
                                ),
                                retry_after: None,
                            }
                            .into())
                        }
                    };
                    (decision, saved, at)
                }
            }
        };

        // What went to Sentinel: changes, conflicts, edits put back.
        self.account_sentinel(id, &x, &decision, &mut warned, notes, now)
            .await?;

        // XDR: one update of the fields Sentinel changed.
        let mut written_to_xdr = Vec::new();
        let mut agreed = decision.agreed.clone();
        if !decision.to_xdr.is_empty() {
            let mut patch = Map::new();
            for field in &decision.to_xdr {
                if field.write_xdr(&field.of_sentinel(&s_after.properties), &mut patch) {
                    written_to_xdr.push(*field);
                } else {
                    agreed.push(*field);
                }
            }
            if !patch.is_empty() {
                patch.insert("incident_id".into(), json!(id));
                let request = ActionRequest::new(UPDATE_INCIDENT, Value::Object(patch));
                let outcome = self
                    .retry(true, || async {
                        self.cx.budget().acquire_urgent().await;
                        self.defender.act(&self.cx, &request).await
                    })
                    .await?;
                match outcome {
                    ActionOutcome::Done { detail } | ActionOutcome::AlreadyDone { detail } => {
                        apply_patched(&mut x, &detail);
                        writes += 1;
                        let n = written_to_xdr.len() as u64;
                        let mut state = self.state.lock().await;
                        state.stats.xdr_writes += 1;
                        state.stats.changes_to_xdr += n;
                        notes.to_xdr += n;
                        self.metrics.changes(self.cx.tenant(), Direction::ToXdr, n);
                        if let Some(latency) = since(self.now(), s_decided_at) {
                            for _ in 0..n {
                                state.stats.latency_to_xdr.push(latency);
                                self.metrics
                                    .latency(self.cx.tenant(), Direction::ToXdr, latency);
                            }
                        }
                    }
                    ActionOutcome::Refused { reason } => {
                        notes.warnings.push(format!(
                            "Defender XDR refused the update of incident {id}: {reason}"
                        ));
                        written_to_xdr.clear();
                    }
                }
            }
        }

        // Comments, then the record of it all.
        writes += self
            .sync_comments(id, &x, &s_after, &sentinel_id, &records, &mut warned, notes)
            .await?;
        let mut rows = Vec::new();
        for field in decision
            .to_sentinel
            .iter()
            .chain(&agreed)
            .chain(&written_to_xdr)
        {
            rows.push((
                *field,
                field.of_xdr(&x),
                field.of_sentinel(&s_after.properties),
            ));
        }
        let record = Twin {
            sentinel_id,
            xdr_version: Some(x.version.clone()),
            sentinel_etag: s_after.etag.clone(),
            warned,
            snapshot: serde_json::to_string(&x).ok(),
        };
        self.ledger.record(id, &record, &rows)?;
        Ok(writes)
    }

    /// Count, audit and report what `decision` wrote to Sentinel.
    async fn account_sentinel(
        &self,
        id: &str,
        x: &XdrIncident,
        decision: &Decision,
        warned: &mut Vec<String>,
        notes: &mut Notes,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        for conflict in &decision.conflicts {
            self.ledger.audit(
                now,
                id,
                conflict.field.name(),
                "conflict",
                &format!(
                    "{} won: {}; Defender XDR had {}, Sentinel had {}",
                    conflict.winner.name(),
                    conflict.reason,
                    conflict.xdr,
                    conflict.sentinel
                ),
            )?;
            tracing::info!(sync = %self.config.name, incident = id, field = conflict.field.name(), winner = conflict.winner.name(), "conflict resolved");
            self.metrics
                .conflict(self.cx.tenant(), Direction::from(conflict.winner));
        }
        for field in &decision.reverted {
            self.ledger.audit(
                now,
                id,
                field.name(),
                "one-way",
                "a Sentinel user changed a field Graph v1.0 cannot take; Defender XDR's value was put back",
            )?;
        }
        if !decision.reverted.is_empty() && !warned.iter().any(|w| w == WARNED_ONE_WAY) {
            warned.push(WARNED_ONE_WAY.into());
            let names: Vec<&str> = decision.reverted.iter().map(|f| f.name()).collect();
            notes.warnings.push(format!(
                "a Sentinel user changed the {} of Defender XDR incident {id}, which Defender XDR cannot take from Sentinel (Graph v1.0 updates only assignedTo, classification, determination, status and customTags); Defender XDR's value was put back. Change it in the Microsoft Defender portal instead",
                names.join(", ")
            ));
        }
        let changes = decision.to_sentinel.len() as u64;
        if changes > 0 {
            let mut state = self.state.lock().await;
            state.stats.changes_to_sentinel += changes;
            state.stats.reverted += decision.reverted.len() as u64;
            state.stats.conflicts += decision.conflicts.len() as u64;
            notes.to_sentinel += changes;
            self.metrics
                .changes(self.cx.tenant(), Direction::ToSentinel, changes);
            let from_xdr = decision
                .to_sentinel
                .iter()
                .filter(|f| !decision.reverted.contains(f))
                .count();
            if let Some(latency) = since(self.now(), Some(x.updated)) {
                for _ in 0..from_xdr {
                    state.stats.latency_to_sentinel.push(latency);
                    self.metrics
                        .latency(self.cx.tenant(), Direction::ToSentinel, latency);
                }
            }
        } else if !decision.conflicts.is_empty() {
            self.state.lock().await.stats.conflicts += decision.conflicts.len() as u64;
        }
        Ok(())
    }
}

/// `x` after a Graph `PATCH` answered `detail` (the updatable properties it set).
fn apply_patched(x: &mut XdrIncident, detail: &Value) {
    let text = |key: &str| detail.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(v) = text("status") {
        x.status = v;
    }
    if let Some(v) = text("classification") {
        x.classification = v;
    }
    if let Some(v) = text("determination") {
        x.determination = v;
    }
    if detail.get("assignedTo").is_some() {
        x.assigned_to = text("assignedTo").filter(|s| !s.trim().is_empty());
    }
    if let Some(tags) = detail.get("customTags").and_then(Value::as_array) {
        x.custom_tags = tags
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
    if let Some(v) = text("lastModifiedBy") {
        x.last_modified_by = v;
    }
    // The version stays the one read: the answer's may hold another change made between the
    // read and the update (a merge, an edit in the portal) that the sync has not seen; the
    // next poll lists that version and its values are compared then (ours come back equal).
}
