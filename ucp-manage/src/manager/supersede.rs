//! Superseding: a definition may declare the connectors it replaces (Defender XDR covers the
//! Defender for Identity alerts component connector). While an instance of it is connected
//! (active or paused), the tenant's instances of a replaced definition that read the same
//! provider account are **superseded**: out of the engine (no provider call, nothing
//! delivered), their cursors kept, shown as "superseded by `<instance>`". Creating or resuming
//! one is refused until the superseding instance is disconnected; then resuming it continues
//! from its cursor.
//!
//! The provider account is the one each source's rate budget is keyed by (the Entra
//! directory for Graph security), so an XDR connector for one directory leaves a component
//! connector of another directory alone.

use std::sync::Arc;

use super::Manager;
use crate::auth::Principal;
use crate::catalog::Registered;
use crate::error::{ManageError, ManageResult};
use crate::model::{InstanceRecord, InstanceState};
use crate::views::SupersededView;

impl Manager {
    /// The provider account `source` draws its budget from.
    pub(super) fn account(source: &dyn ucp_core::Source) -> String {
        source.describe().budget.key.account
    }

    /// The provider account of a stored instance, if its definition still builds it.
    fn account_of(&self, record: &InstanceRecord) -> Option<String> {
        let registered = self.registered_for(record)?;
        let source = self.build_source(record, &registered).ok()?;
        Some(Self::account(source.as_ref()))
    }

    /// The definition version an instance runs (or, if gone, the newest one).
    pub(super) fn registered_for(&self, record: &InstanceRecord) -> Option<Arc<Registered>> {
        self.inner
            .catalog
            .get(&record.definition, &record.version)
            .or_else(|| self.inner.catalog.latest(&record.definition))
    }

    /// The display name of definition `id`, or the id.
    fn display_name(&self, id: &str) -> String {
        self.inner
            .catalog
            .latest(id)
            .map(|r| r.definition().display_name().to_string())
            .unwrap_or_else(|| id.to_string())
    }

    /// The tenant's connected instance (other than `except`) whose definition supersedes
    /// `definition` for provider account `account`, if any.
    pub(super) async fn superseder(
        &self,
        tenant: &str,
        definition: &str,
        account: &str,
        except: &str,
    ) -> ManageResult<Option<InstanceRecord>> {
        for record in self.inner.store.all_instances().await? {
            if record.tenant != tenant || record.name == except || !record.state.in_engine() {
                continue;
            }
            let supersedes = self
                .registered_for(&record)
                .is_some_and(|r| r.definition().supersedes().iter().any(|d| d == definition));
            if supersedes && self.account_of(&record).as_deref() == Some(account) {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// The refusal to connect `name` (of `definition`) while `by` supersedes it.
    pub(super) fn superseded_refusal(
        &self,
        name: &str,
        definition: &str,
        by: &InstanceRecord,
    ) -> ManageError {
        ManageError::Conflict(format!(
            "connector '{name}' cannot be connected: connector '{}' ({}) is connected for the same account and collects what {} would, so its data would arrive twice. Keep using '{}', or disconnect '{}' first (with a reason) and then connect this one",
            by.name,
            self.display_name(&by.definition),
            self.display_name(definition),
            by.name,
            by.name,
        ))
    }

    /// Refuse to connect `record` (built as `source`) while another instance supersedes it.
    pub(super) async fn refuse_if_superseded(
        &self,
        record: &InstanceRecord,
        source: &dyn ucp_core::Source,
    ) -> ManageResult<()> {
        let account = Self::account(source);
        match self
            .superseder(&record.tenant, &record.definition, &account, &record.name)
            .await?
        {
            Some(by) => Err(self.superseded_refusal(&record.name, &record.definition, &by)),
            None => Ok(()),
        }
    }

    /// Take out of the engine every connected instance `by` (built as `source` from
    /// `registered`) supersedes; returns them, for [`Manager::mark_superseded`] once `by` is
    /// connected (or [`Manager::put_back`] if it is not).
    pub(super) async fn stop_superseded(
        &self,
        by: &InstanceRecord,
        registered: &Registered,
        source: &dyn ucp_core::Source,
    ) -> ManageResult<Vec<InstanceRecord>> {
        let replaced = registered.definition().supersedes();
        if replaced.is_empty() {
            return Ok(Vec::new());
        }
        let account = Self::account(source);
        let mut stopped = Vec::new();
        for record in self.inner.store.all_instances().await? {
            if record.tenant != by.tenant
                || record.name == by.name
                || !record.state.in_engine()
                || !replaced.contains(&record.definition)
                || self.account_of(&record).as_deref() != Some(account.as_str())
            {
                continue;
            }
            if let Err(e) = self.detach(&record).await {
                self.put_back(&stopped).await;
                return Err(ManageError::Engine(e));
            }
            stopped.push(record);
        }
        Ok(stopped)
    }

    /// Bring instances taken out by [`Manager::stop_superseded`] back into the engine, as
    /// they were (the superseding change failed).
    pub(super) async fn put_back(&self, stopped: &[InstanceRecord]) {
        for record in stopped {
            let back = match self.registered_for(record) {
                Some(registered) => match self.build_source(record, &registered) {
                    Ok(source) => self
                        .attach(record, source, Self::subscriptions(record, &registered))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                None => Err("its definition is no longer registered".into()),
            };
            if let Err(why) = back {
                tracing::warn!(tenant = %record.tenant, connector = %record.name, error = %why, "a connector stopped for a change that failed could not be put back");
            }
        }
    }

    /// Record `stopped` as superseded by `by`, each with its audit entry by `principal`.
    pub(super) async fn mark_superseded(
        &self,
        principal: &Principal,
        by: &InstanceRecord,
        stopped: Vec<InstanceRecord>,
    ) -> ManageResult<()> {
        let by_name = self.display_name(&by.definition);
        for record in stopped {
            let mut changed = record.clone();
            changed.state = InstanceState::Superseded;
            changed.superseded_by = Some(by.name.clone());
            changed.revision = record.revision.saturating_add(1);
            changed.updated_by = principal.id.clone();
            changed.updated_at = self.now();
            let mut entry = self.audit(
                &record.tenant,
                principal,
                "connector.supersede",
                format!("connector/{}", record.name),
            );
            entry.connector = Some(record.name.clone());
            entry.reason = Some(format!(
                "superseded by connector '{}' ({by_name}), which collects the same data for the same account",
                by.name
            ));
            entry.before = Some(serde_json::json!({ "state": record.state }));
            entry.after = Some(serde_json::json!({
                "state": InstanceState::Superseded, "superseded_by": by.name,
            }));
            tracing::info!(tenant = %record.tenant, connector = %record.name, by = %by.name, "connector superseded");
            self.inner
                .store
                .put_instance(&changed, Some(record.revision), entry)
                .await?;
        }
        Ok(())
    }

    /// Resume a superseded connector, from its cursor: refused while its superseder (or
    /// another one) is connected.
    pub(super) async fn resume_superseded(
        &self,
        principal: &Principal,
        record: InstanceRecord,
    ) -> ManageResult<InstanceRecord> {
        let registered = self.registered_for(&record).ok_or_else(|| {
            ManageError::Conflict(format!(
                "definition '{}' is no longer registered in this server: the connector cannot be resumed, only disconnected",
                record.definition
            ))
        })?;
        let mut changed = record.clone();
        changed.state = InstanceState::Active;
        changed.superseded_by = None;
        changed.version = registered.definition().version().to_string();
        let source = self.build_source(&changed, &registered)?;
        self.refuse_if_superseded(&changed, source.as_ref()).await?;
        self.attach(&changed, source, Self::subscriptions(&changed, &registered))
            .await
            .map_err(ManageError::Engine)?;
        changed.revision = record.revision.saturating_add(1);
        changed.updated_by = principal.id.clone();
        changed.updated_at = self.now();
        let mut entry = self.audit(
            &record.tenant,
            principal,
            "connector.resume",
            format!("connector/{}", record.name),
        );
        entry.connector = Some(record.name.clone());
        entry.before = Some(serde_json::json!({
            "state": record.state, "superseded_by": record.superseded_by,
        }));
        entry.after = Some(serde_json::json!({ "state": InstanceState::Active }));
        if let Err(e) = self
            .inner
            .store
            .put_instance(&changed, Some(record.revision), entry)
            .await
        {
            let _ = self.detach(&changed).await;
            return Err(e.into());
        }
        Ok(changed)
    }

    /// How a superseded connector's view explains itself.
    pub(super) async fn superseded_view(
        &self,
        record: &InstanceRecord,
    ) -> ManageResult<Option<SupersededView>> {
        let (InstanceState::Superseded, Some(by)) = (record.state, &record.superseded_by) else {
            return Ok(None);
        };
        let superseder = self.inner.store.instance(&record.tenant, by).await?;
        let by_display_name = superseder
            .as_ref()
            .map(|s| self.display_name(&s.definition))
            .unwrap_or_else(|| "deleted".into());
        let message = match superseder {
            Some(s) if s.state.in_engine() => format!(
                "superseded by connector '{by}' ({by_display_name}), which collects the same data for the same account: nothing is collected or delivered by this connector. To reconnect it, disconnect '{by}' first, then resume this one"
            ),
            _ => format!(
                "superseded by connector '{by}' ({by_display_name}), which is no longer connected: resume this connector to collect again from where it stopped (what '{by}' delivered meanwhile comes again unless you reset its offsets to a time first)"
            ),
        };
        Ok(Some(SupersededView {
            by: by.clone(),
            by_display_name,
            message,
        }))
    }
}
