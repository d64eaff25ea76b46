//! Bringing instances into and out of the engine, restoring them at start, and upgrading
//! them when a newer definition version is registered.
//!
//! An instance's source is registered under its engine name; removing it keeps its saved
//! cursors, so re-registering it (a changed configuration, a new version) continues where
//! collection stood.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use ucp_core::catalog::{ConnectorDefinition, CredentialRefs, FactoryError};
use ucp_core::credentials::CredentialRef;
use ucp_core::{Source, Subscription};
use utoipa::ToSchema;

use super::{Manager, PLATFORM_AUDIT_TENANT};
use crate::auth::Principal;
use crate::catalog::Registered;
use crate::engine::EngineError;
use crate::error::{ManageError, ManageResult, Problem};
use crate::model::{engine_sink_name, InstanceRecord, InstanceState};

/// What registering a newer definition version did to one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct UpgradeOutcome {
    /// The tenant.
    pub tenant: String,
    /// The connector.
    pub connector: String,
    /// The version it ran.
    pub from: String,
    /// The version registered.
    pub to: String,
    /// True when it now runs the new version; otherwise `attention` says why not.
    pub upgraded: bool,
    /// Why it was not upgraded.
    pub attention: Option<String>,
}

/// A factory's refusal, naming the configuration field.
pub(super) fn factory_error(error: FactoryError) -> ManageError {
    match error {
        FactoryError::Config { field, message } => {
            let field = if field == "config" || field.starts_with("credentials") {
                field
            } else {
                format!("config.{field}")
            };
            ManageError::Invalid(vec![Problem::new(field, message)])
        }
        FactoryError::Unsupported(message) => ManageError::Conflict(message),
        other => ManageError::Internal(other.to_string()),
    }
}

impl Manager {
    /// Register a definition version with the catalog, recording it (and auditing it the
    /// first time) in the store.
    pub(super) async fn add_definition(
        &self,
        definition: ConnectorDefinition,
    ) -> ManageResult<Arc<Registered>> {
        let registered = self
            .inner
            .catalog
            .register(definition)
            .map_err(|e| ManageError::Internal(e.to_string()))?;
        let d = registered.definition();
        let version = d.version().to_string();
        if self.inner.store.record_definition(d.id(), &version).await? {
            let mut entry = self.audit(
                PLATFORM_AUDIT_TENANT,
                &Principal::system(),
                "definition.register",
                format!("definition/{}@{version}", d.id()),
            );
            entry.after = Some(serde_json::json!({
                "id": d.id(), "version": version, "publisher": d.publisher(),
            }));
            self.inner.store.append_audit(entry).await?;
        }
        Ok(registered)
    }

    /// Register a definition version while running. When it is the newest version of its
    /// definition, every instance on an older version is upgraded in place (keeping its
    /// cursors) if the new schema accepts its configuration, or flagged "needs attention"
    /// with the reason and left running on its version.
    pub async fn register(
        &self,
        definition: ConnectorDefinition,
    ) -> ManageResult<Vec<UpgradeOutcome>> {
        let _writes = self.inner.writes.lock().await;
        let registered = self.add_definition(definition).await?;
        let id = registered.definition().id().to_string();
        let newest = self
            .inner
            .catalog
            .latest(&id)
            .is_some_and(|l| Arc::ptr_eq(&l, &registered));
        if !newest {
            return Ok(Vec::new());
        }
        let mut outcomes = Vec::new();
        for record in self.inner.store.all_instances().await? {
            if record.definition != id || !older(&record.version, &registered) {
                continue;
            }
            outcomes.push(self.upgrade(record, &registered).await?);
        }
        Ok(outcomes)
    }

    /// The instance's credential references.
    fn credential_refs(record: &InstanceRecord) -> CredentialRefs {
        record
            .credentials
            .iter()
            .map(|(slot, name)| (slot.clone(), CredentialRef::new(&record.tenant, name)))
            .collect()
    }

    /// The instance's source, built by `registered`'s factory; it must offer every stream
    /// the definition declares.
    pub(super) fn build_source(
        &self,
        record: &InstanceRecord,
        registered: &Registered,
    ) -> ManageResult<Arc<dyn Source>> {
        let d = registered.definition();
        let source = d
            .factory()
            .build(&record.config, &Self::credential_refs(record))
            .map_err(factory_error)?;
        let offered: BTreeSet<String> = source
            .describe()
            .streams
            .into_iter()
            .map(|s| s.name)
            .collect();
        if let Some(missing) = d.streams().iter().find(|s| !offered.contains(&s.name)) {
            return Err(ManageError::Internal(format!(
                "definition {} {} declares stream '{}' but its source does not offer it: report this to {}",
                d.id(),
                d.version(),
                missing.name,
                d.publisher()
            )));
        }
        Ok(source)
    }

    /// The engine subscriptions of the instance's products.
    pub(super) fn subscriptions(
        record: &InstanceRecord,
        registered: &Registered,
    ) -> Vec<Subscription> {
        let source = record.engine_name();
        let mut out = Vec::new();
        for product in &record.products {
            let streams: Vec<&str> = if product.streams.is_empty() {
                registered
                    .definition()
                    .streams()
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect()
            } else {
                product.streams.iter().map(String::as_str).collect()
            };
            for stream in streams {
                let mut sub = Subscription::new(
                    engine_sink_name(&record.tenant, &product.product),
                    &source,
                    stream,
                )
                .every(Duration::from_secs(product.interval_seconds));
                if let Some(filter) = &product.filter {
                    sub = sub.filter(filter.clone());
                }
                out.push(sub);
            }
        }
        out
    }

    /// Register the source (paused if the instance is) and its subscriptions; all or nothing.
    pub(super) async fn attach(
        &self,
        record: &InstanceRecord,
        source: Arc<dyn Source>,
        subscriptions: Vec<Subscription>,
    ) -> Result<(), EngineError> {
        let engine = &self.inner.engine;
        let name = record.engine_name();
        engine.add_source(&name, &record.tenant, source).await?;
        let mut result = Ok(());
        if record.state == InstanceState::Paused {
            result = engine.pause_source(&name).await;
        }
        if result.is_ok() && !subscriptions.is_empty() {
            result = engine.subscribe(subscriptions.clone()).await;
        }
        if let Err(e) = result {
            if let Err(undo) = engine.remove_source(&name).await {
                tracing::warn!(source = %name, error = %undo, "could not remove a source whose registration failed");
            }
            return Err(e);
        }
        self.inner
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, subscriptions);
        Ok(())
    }

    /// Remove the instance's subscriptions and source from the engine (cursors stay saved).
    pub(super) async fn detach(&self, record: &InstanceRecord) -> Result<(), EngineError> {
        let name = record.engine_name();
        let subscriptions = {
            let attached = self
                .inner
                .attached
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match attached.get(&name) {
                Some(subs) => subs.clone(),
                None => return Ok(()),
            }
        };
        let engine = &self.inner.engine;
        for sub in &subscriptions {
            engine
                .unsubscribe(&sub.product, &sub.source, &sub.stream)
                .await?;
        }
        engine.remove_source(&name).await?;
        self.inner
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        Ok(())
    }

    /// True when the engine holds the instance's source.
    pub(super) fn is_attached(&self, record: &InstanceRecord) -> bool {
        self.inner
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&record.engine_name())
    }

    /// Bring back every workspace's sinks and every connected instance, in its state.
    pub(super) async fn restore(&self) -> ManageResult<()> {
        let _writes = self.inner.writes.lock().await;
        for workspace in self.inner.store.workspaces().await? {
            if let Err(e) = self.attach_workspace(&workspace).await {
                tracing::warn!(tenant = %workspace.tenant, workspace = %workspace.name, error = %e, "workspace sinks not restored; its connectors will need attention");
            }
        }
        for record in self.inner.store.all_instances().await? {
            if !record.state.in_engine() {
                continue;
            }
            self.bring_up(record).await?;
        }
        Ok(())
    }

    /// Restore one instance: on the newest version if it accepts the configuration, else
    /// on its own version, else flagged.
    async fn bring_up(&self, record: InstanceRecord) -> ManageResult<()> {
        if let Some(latest) = self.inner.catalog.latest(&record.definition) {
            if older(&record.version, &latest) {
                let outcome = self.upgrade(record.clone(), &latest).await?;
                if outcome.upgraded || self.is_attached(&record) {
                    return Ok(());
                }
            }
        }
        let Some(current) = self
            .inner
            .store
            .instance(&record.tenant, &record.name)
            .await?
        else {
            return Ok(());
        };
        if self.is_attached(&current) {
            return Ok(());
        }
        let Some(registered) = self
            .inner
            .catalog
            .get(&current.definition, &current.version)
        else {
            let versions: Vec<String> = self
                .inner
                .catalog
                .versions(&current.definition)
                .iter()
                .map(ToString::to_string)
                .collect();
            let reason = format!(
                "definition {} version {} is not registered in this server (registered: {}); register it, or update the connector's configuration for a registered version",
                current.definition,
                current.version,
                if versions.is_empty() { "none".into() } else { versions.join(", ") }
            );
            return self.flag(current, reason).await;
        };
        let started = match self.build_source(&current, &registered) {
            Ok(source) => self
                .attach(&current, source, Self::subscriptions(&current, &registered))
                .await
                .map_err(ManageError::Engine),
            Err(e) => Err(e),
        };
        match started {
            Ok(()) => {
                if current.attention.is_some() && !older(&current.version, &registered) {
                    return self.clear_flag(current).await;
                }
                Ok(())
            }
            Err(e) => {
                self.flag(
                    current,
                    format!("it could not be started at server start: {e}"),
                )
                .await
            }
        }
    }

    /// Move `record` to `new` if its schema accepts the configuration (re-registering the
    /// source under the same name, so its cursors carry over); otherwise flag it.
    pub(super) async fn upgrade(
        &self,
        record: InstanceRecord,
        new: &Registered,
    ) -> ManageResult<UpgradeOutcome> {
        let to = new.definition().version().to_string();
        let mut outcome = UpgradeOutcome {
            tenant: record.tenant.clone(),
            connector: record.name.clone(),
            from: record.version.clone(),
            to: to.clone(),
            upgraded: false,
            attention: None,
        };
        let mut candidate = record.clone();
        candidate.version = to.clone();
        candidate.attention = None;
        let refused = |why: String| {
            format!(
                "version {to} of {} {why}; it keeps running on version {}: update its configuration to upgrade",
                record.definition, record.version
            )
        };
        let problems = new.problems(&candidate.config);
        let prepared = if !problems.is_empty() {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect();
            Err(refused(format!(
                "does not accept its configuration ({})",
                list.join("; ")
            )))
        } else {
            self.build_source(&candidate, new)
                .map_err(|e| refused(format!("cannot build it ({e})")))
        };
        let source = match prepared {
            Ok(source) => source,
            Err(reason) => {
                outcome.attention = Some(reason.clone());
                self.flag(record, reason).await?;
                return Ok(outcome);
            }
        };
        if self.is_attached(&record) {
            if let Err(e) = self.swap(&record, &candidate, source, new).await {
                let reason = refused(format!("could not be started ({e})"));
                outcome.attention = Some(reason.clone());
                self.flag(record, reason).await?;
                return Ok(outcome);
            }
        } else if record.state.in_engine() {
            // Not running (its old version is gone): start it on the new one.
            if let Err(e) = self
                .attach(&candidate, source, Self::subscriptions(&candidate, new))
                .await
            {
                let reason = refused(format!("could not be started ({e})"));
                outcome.attention = Some(reason.clone());
                self.flag(record, reason).await?;
                return Ok(outcome);
            }
        }
        candidate.revision = record.revision.saturating_add(1);
        candidate.updated_by = Principal::system().id;
        candidate.updated_at = self.now();
        let mut entry = self.audit(
            &record.tenant,
            &Principal::system(),
            "connector.upgrade",
            format!("connector/{}", record.name),
        );
        entry.connector = Some(record.name.clone());
        entry.before = Some(serde_json::to_value(&record).unwrap_or_default());
        entry.after = Some(serde_json::to_value(&candidate).unwrap_or_default());
        self.inner
            .store
            .put_instance(&candidate, Some(record.revision), entry)
            .await?;
        outcome.upgraded = true;
        Ok(outcome)
    }

    /// Replace a running instance's source with `source` built for `candidate`: detach the
    /// old one, attach the new one; on failure, put the old one back.
    pub(super) async fn swap(
        &self,
        old: &InstanceRecord,
        candidate: &InstanceRecord,
        source: Arc<dyn Source>,
        registered: &Registered,
    ) -> Result<(), EngineError> {
        self.detach(old).await?;
        let attached = self
            .attach(
                candidate,
                source,
                Self::subscriptions(candidate, registered),
            )
            .await;
        if let Err(e) = attached {
            let restored = match self.inner.catalog.get(&old.definition, &old.version) {
                Some(reg) => match self.build_source(old, &reg) {
                    Ok(previous) => self
                        .attach(old, previous, Self::subscriptions(old, &reg))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                None => Err("its version is no longer registered".into()),
            };
            if let Err(why) = restored {
                tracing::warn!(connector = %old.name, tenant = %old.tenant, error = %why, "the previous source could not be put back");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Mark `record` as needing attention for `reason` (once per distinct reason).
    async fn flag(&self, record: InstanceRecord, reason: String) -> ManageResult<()> {
        if record.attention.as_deref() == Some(reason.as_str()) {
            return Ok(());
        }
        tracing::warn!(tenant = %record.tenant, connector = %record.name, reason = %reason, "connector needs attention");
        let mut flagged = record.clone();
        flagged.attention = Some(reason.clone());
        flagged.revision = record.revision.saturating_add(1);
        flagged.updated_by = Principal::system().id;
        flagged.updated_at = self.now();
        let mut entry = self.audit(
            &record.tenant,
            &Principal::system(),
            "connector.needs_attention",
            format!("connector/{}", record.name),
        );
        entry.connector = Some(record.name.clone());
        entry.reason = Some(reason);
        self.inner
            .store
            .put_instance(&flagged, Some(record.revision), entry)
            .await?;
        Ok(())
    }

    async fn clear_flag(&self, record: InstanceRecord) -> ManageResult<()> {
        let mut cleared = record.clone();
        cleared.attention = None;
        cleared.revision = record.revision.saturating_add(1);
        cleared.updated_by = Principal::system().id;
        cleared.updated_at = self.now();
        let mut entry = self.audit(
            &record.tenant,
            &Principal::system(),
            "connector.attention_cleared",
            format!("connector/{}", record.name),
        );
        entry.connector = Some(record.name.clone());
        self.inner
            .store
            .put_instance(&cleared, Some(record.revision), entry)
            .await?;
        Ok(())
    }
}

/// True when `version` (an instance's) is older than `registered`'s.
fn older(version: &str, registered: &Registered) -> bool {
    match ucp_core::catalog::Version::parse(version) {
        Ok(v) => &v < registered.definition().version(),
        Err(_) => true,
    }
}
