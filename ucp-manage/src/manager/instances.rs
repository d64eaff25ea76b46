//! Connector instances ("My connectors"): create, update and delete them. Reading them is
//! `view.rs`; the lifecycle verbs are `running.rs`.

use super::{object_name, Manager};
use crate::auth::Principal;
use crate::error::{ManageError, ManageResult};
use crate::model::{InstanceRecord, InstanceState, Role};
use crate::views::{ConnectorView, CreateConnector, UpdateConnector};
use ucp_core::credentials::CredentialRef;

impl Manager {
    /// The instance, or "not found".
    pub(super) async fn load(&self, tenant: &str, name: &str) -> ManageResult<InstanceRecord> {
        let found = if ucp_core::catalog::is_identifier(name) {
            self.inner.store.instance(tenant, name).await?
        } else {
            None
        };
        found.ok_or_else(|| {
            ManageError::NotFound(format!("connector '{name}' not found in tenant '{tenant}'"))
        })
    }

    /// Create a connector: validate everything, store inline secrets, check the
    /// definition's prerequisites, start it for its products, persist and audit it.
    pub async fn create(
        &self,
        principal: &Principal,
        tenant: &str,
        body: CreateConnector,
    ) -> ManageResult<ConnectorView> {
        let role = self
            .authorize(principal, tenant, Role::Contributor, "creating a connector")
            .await?;
        let _writes = self.inner.writes.lock().await;
        // Every problem at once, so a form can show each next to its field.
        let mut problems = match object_name("name", &body.name) {
            Err(ManageError::Invalid(p)) => p,
            _ => Vec::new(),
        };
        let Some(registered) = self.inner.catalog.latest(&body.definition) else {
            problems.push(crate::error::Problem::new(
                "definition",
                format!(
                    "no definition '{}' in the catalog (available: {})",
                    body.definition,
                    self.inner.catalog.ids().join(", ")
                ),
            ));
            return Err(ManageError::Invalid(problems));
        };
        problems.extend(registered.problems(&body.config));
        problems.extend(self.product_problems(&registered, &body.products));
        let credentials = self
            .resolve_credentials(
                role,
                tenant,
                &body.name,
                &registered,
                body.credentials,
                &[],
                &mut problems,
            )
            .await?;
        if !problems.is_empty() {
            return Err(ManageError::Invalid(problems));
        }
        if self
            .inner
            .store
            .instance(tenant, &body.name)
            .await?
            .is_some()
        {
            return Err(ManageError::Conflict(format!(
                "a connector named '{}' already exists in tenant '{tenant}': choose another name",
                body.name
            )));
        }
        self.require_workspace(tenant, &body.products).await?;
        let now = self.now();
        let record = InstanceRecord {
            tenant: tenant.to_string(),
            name: body.name.clone(),
            definition: registered.definition().id().to_string(),
            version: registered.definition().version().to_string(),
            config: body.config,
            credentials: credentials.names.clone(),
            owned_credentials: credentials
                .to_store
                .iter()
                .map(|(r, _)| r.name.clone())
                .collect(),
            products: body.products,
            state: InstanceState::Active,
            attention: None,
            disconnect_reason: None,
            superseded_by: None,
            created_by: principal.id.clone(),
            created_at: now,
            updated_by: principal.id.clone(),
            updated_at: now,
            revision: 1,
        };
        let source = self.build_source(&record, &registered)?;
        self.refuse_if_superseded(&record, source.as_ref()).await?;
        let previous = self.store_secrets(credentials.to_store).await?;
        let started = async {
            self.check_prerequisites(&record, &registered, &source)
                .await?;
            // The connectors it supersedes stop before it starts: never both at once.
            let stopped = self
                .stop_superseded(&record, &registered, source.as_ref())
                .await?;
            if let Err(e) = self
                .attach(
                    &record,
                    source.clone(),
                    Self::subscriptions(&record, &registered),
                )
                .await
            {
                self.put_back(&stopped).await;
                return Err(ManageError::Engine(e));
            }
            let mut entry = self.audit(
                tenant,
                principal,
                "connector.create",
                format!("connector/{}", record.name),
            );
            entry.connector = Some(record.name.clone());
            entry.after = Some(serde_json::to_value(&record).unwrap_or_default());
            if let Err(e) = self.inner.store.put_instance(&record, None, entry).await {
                let _ = self.detach(&record).await;
                self.put_back(&stopped).await;
                return Err(e.into());
            }
            self.mark_superseded(principal, &record, stopped).await
        }
        .await;
        if let Err(e) = started {
            self.restore_secrets(previous).await;
            return Err(e);
        }
        self.full_view(&record).await
    }

    /// Replace a connector's configuration, credentials and products (moving it to the
    /// definition's newest version). `if_match` is the revision the change is based on.
    pub async fn update(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        if_match: Option<u64>,
        body: UpdateConnector,
    ) -> ManageResult<ConnectorView> {
        let role = self
            .authorize(principal, tenant, Role::Contributor, "updating a connector")
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        check_revision(&record, if_match)?;
        let registered = self.inner.catalog.latest(&record.definition).ok_or_else(|| {
            ManageError::Conflict(format!(
                "definition '{}' is no longer registered in this server: the connector cannot be changed, only disconnected",
                record.definition
            ))
        })?;
        let mut problems = registered.problems(&body.config);
        problems.extend(self.product_problems(&registered, &body.products));
        let credentials = self
            .resolve_credentials(
                role,
                tenant,
                name,
                &registered,
                body.credentials,
                &record.owned_credentials,
                &mut problems,
            )
            .await?;
        if !problems.is_empty() {
            return Err(ManageError::Invalid(problems));
        }
        self.require_workspace(tenant, &body.products).await?;
        let mut candidate = record.clone();
        candidate.config = body.config;
        candidate.products = body.products;
        candidate.credentials = credentials.names.clone();
        for (reference, _) in &credentials.to_store {
            if !candidate.owned_credentials.contains(&reference.name) {
                candidate.owned_credentials.push(reference.name.clone());
            }
        }
        candidate.version = registered.definition().version().to_string();
        candidate.attention = None;
        candidate.revision = record.revision.saturating_add(1);
        candidate.updated_by = principal.id.clone();
        candidate.updated_at = self.now();
        let source = if candidate.state.in_engine() {
            Some(self.build_source(&candidate, &registered)?)
        } else {
            None
        };
        let previous = self.store_secrets(credentials.to_store).await?;
        if let Some(source) = &source {
            self.refuse_if_superseded(&candidate, source.as_ref())
                .await?;
        }
        let applied = async {
            let mut stopped = Vec::new();
            if let Some(source) = source {
                self.check_prerequisites(&candidate, &registered, &source)
                    .await?;
                stopped = self
                    .stop_superseded(&candidate, &registered, source.as_ref())
                    .await?;
                let result = if self.is_attached(&record) {
                    self.swap(&record, &candidate, source, &registered).await
                } else {
                    self.attach(
                        &candidate,
                        source,
                        Self::subscriptions(&candidate, &registered),
                    )
                    .await
                };
                if let Err(e) = result {
                    self.put_back(&stopped).await;
                    return Err(ManageError::Engine(e));
                }
            }
            let mut entry = self.audit(
                tenant,
                principal,
                "connector.update",
                format!("connector/{name}"),
            );
            entry.connector = Some(name.to_string());
            entry.before = Some(serde_json::to_value(&record).unwrap_or_default());
            entry.after = Some(serde_json::to_value(&candidate).unwrap_or_default());
            if let Err(e) = self
                .inner
                .store
                .put_instance(&candidate, Some(record.revision), entry)
                .await
            {
                self.put_back(&stopped).await;
                return Err(e.into());
            }
            self.mark_superseded(principal, &candidate, stopped).await
        }
        .await;
        if let Err(e) = applied {
            self.restore_secrets(previous).await;
            return Err(e);
        }
        self.full_view(&candidate).await
    }

    /// Delete a disconnected connector and the credentials stored for it.
    pub async fn delete(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<()> {
        self.authorize(principal, tenant, Role::Owner, "deleting a connector")
            .await?;
        let _writes = self.inner.writes.lock().await;
        let record = self.load(tenant, name).await?;
        if record.state.in_engine() {
            return Err(ManageError::Conflict(format!(
                "connector '{name}' is connected: disconnect it first (with a reason), then delete it"
            )));
        }
        let mut entry = self.audit(
            tenant,
            principal,
            "connector.delete",
            format!("connector/{name}"),
        );
        entry.connector = Some(name.to_string());
        entry.before = Some(serde_json::to_value(&record).unwrap_or_default());
        self.inner
            .store
            .delete_instance(tenant, name, record.revision, entry)
            .await?;
        for owned in &record.owned_credentials {
            let reference = CredentialRef::new(tenant, owned);
            if let Err(e) = self.inner.credentials.remove(&reference).await {
                tracing::warn!(credential = %reference, error = %e, "credential of a deleted connector not removed");
            }
        }
        Ok(())
    }
}

/// An update must name the revision it read.
pub(super) fn check_revision(record: &InstanceRecord, if_match: Option<u64>) -> ManageResult<()> {
    match if_match {
        None => Err(ManageError::PreconditionRequired),
        Some(given) if given != record.revision => Err(ManageError::Stale {
            given,
            current: record.revision,
        }),
        Some(_) => Ok(()),
    }
}
