//! The lifecycle verbs of a connector: pause, resume, restart, disconnect.

use super::{reason, Manager};
use crate::auth::Principal;
use crate::error::{ManageError, ManageResult};
use crate::model::{engine_sink_name, InstanceState, Role};
use crate::views::ConnectorView;

impl Manager {
    /// Stop every provider call of the connector, keeping its cursor.
    pub async fn pause(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<ConnectorView> {
        self.set_running(principal, tenant, name, InstanceState::Paused)
            .await
    }

    /// Continue a paused connector from its cursor.
    pub async fn resume(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<ConnectorView> {
        self.set_running(principal, tenant, name, InstanceState::Active)
            .await
    }

    async fn set_running(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        to: InstanceState,
    ) -> ManageResult<ConnectorView> {
        let (verb, action) = match to {
            InstanceState::Paused => ("pausing a connector", "connector.pause"),
            _ => ("resuming a connector", "connector.resume"),
        };
        self.authorize(principal, tenant, Role::Contributor, verb)
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state == InstanceState::Disconnected {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is disconnected: create it again to collect, or delete it"
            )));
        }
        if record.state == InstanceState::Superseded {
            if to == InstanceState::Paused {
                return Err(ManageError::Conflict(format!(
                    "connector '{name}' is superseded by '{}': nothing of it runs, so there is nothing to pause",
                    record.superseded_by.as_deref().unwrap_or("another connector")
                )));
            }
            let resumed = self.resume_superseded(principal, record).await?;
            return self.full_view(&resumed).await;
        }
        if record.state == to {
            return self.full_view(&record).await;
        }
        let engine = &self.inner.engine;
        let engine_name = record.engine_name();
        let attached = self.is_attached(&record);
        if attached {
            let done = match to {
                InstanceState::Paused => engine.pause_source(&engine_name).await,
                _ => engine.resume_source(&engine_name).await,
            };
            done.map_err(ManageError::Engine)?;
        }
        let mut changed = record.clone();
        changed.state = to;
        changed.revision = record.revision.saturating_add(1);
        changed.updated_by = principal.id.clone();
        changed.updated_at = self.now();
        let mut entry = self.audit(tenant, principal, action, format!("connector/{name}"));
        entry.connector = Some(name.to_string());
        entry.before = Some(serde_json::json!({ "state": record.state }));
        entry.after = Some(serde_json::json!({ "state": to }));
        if let Err(e) = self
            .inner
            .store
            .put_instance(&changed, Some(record.revision), entry)
            .await
        {
            if attached {
                let undo = match to {
                    InstanceState::Paused => engine.resume_source(&engine_name).await,
                    _ => engine.pause_source(&engine_name).await,
                };
                if let Err(undo) = undo {
                    tracing::warn!(connector = %name, error = %undo, "could not undo a pause or resume the store refused");
                }
            }
            return Err(e.into());
        }
        self.full_view(&changed).await
    }

    /// Restart the connector's collection and deliveries, or only those in error.
    pub async fn restart(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        only_failed: bool,
    ) -> ManageResult<ConnectorView> {
        self.authorize(
            principal,
            tenant,
            Role::Contributor,
            "restarting a connector",
        )
        .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state != InstanceState::Active || !self.is_attached(&record) {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is not running ({}): only a running connector restarts{}",
                match record.state {
                    InstanceState::Active => "it needs attention",
                    InstanceState::Paused => "paused",
                    InstanceState::Disconnected => "disconnected",
                    InstanceState::Superseded => "superseded by another connector",
                },
                if record.state == InstanceState::Paused {
                    "; resume it instead"
                } else {
                    ""
                }
            )));
        }
        let restarted = self
            .inner
            .engine
            .restart_source(&record.engine_name(), only_failed)
            .await
            .map_err(ManageError::Engine)?;
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.restart",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        let sink_prefix = engine_sink_name(tenant, "");
        entry.after = Some(serde_json::json!({
            "only_failed": only_failed,
            "streams": restarted.jobs.iter().map(|k| k.stream.to_string()).collect::<Vec<_>>(),
            "deliveries": restarted
                .deliveries
                .iter()
                .map(|id| format!(
                    "{}/{}",
                    id.product.strip_prefix(&sink_prefix).unwrap_or(&id.product),
                    id.stream.stream
                ))
                .collect::<Vec<_>>(),
        }));
        self.inner.store.append_audit(entry).await?;
        self.full_view(&record).await
    }

    /// Stop delivery for every product and remove the connector from the engine, keeping
    /// its record, cursors and audit. Needs a reason.
    pub async fn disconnect(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        given_reason: Option<String>,
    ) -> ManageResult<ConnectorView> {
        self.authorize(principal, tenant, Role::Owner, "disconnecting a connector")
            .await?;
        let why = reason(given_reason, "disconnecting a connector")?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state == InstanceState::Disconnected {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is already disconnected"
            )));
        }
        self.detach(&record).await.map_err(ManageError::Engine)?;
        let mut changed = record.clone();
        changed.state = InstanceState::Disconnected;
        changed.disconnect_reason = Some(why.clone());
        changed.superseded_by = None;
        changed.revision = record.revision.saturating_add(1);
        changed.updated_by = principal.id.clone();
        changed.updated_at = self.now();
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.disconnect",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        entry.reason = Some(why);
        entry.before = Some(serde_json::json!({ "state": record.state }));
        entry.after = Some(serde_json::json!({ "state": InstanceState::Disconnected }));
        self.inner
            .store
            .put_instance(&changed, Some(record.revision), entry)
            .await?;
        self.full_view(&changed).await
    }
}
