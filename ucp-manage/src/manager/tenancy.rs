//! What a tenant owns besides connectors: its destination workspace (one at a time), its
//! credentials (write-only), its role assignments, its audit log; and the platform's API
//! keys.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use ucp_core::catalog::{CredentialKind, FactoryError};
use ucp_core::credentials::{CredentialError, CredentialRef};

use super::{object_name, principal_id, reason, Manager, PLATFORM_AUDIT_TENANT};
use crate::auth::{ApiKeys, Principal};
use crate::error::{ManageError, ManageResult};
use crate::model::{engine_sink_name, AuditEntry, AuditQuery, Role, RoleAssignment, Workspace};
use crate::store::Store;
use crate::views::{ConnectWorkspace, CredentialView, Page, ProductEntry, SecretInput};

/// Filters of an audit query as the API takes them.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only entries about this connector.
    pub connector: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Page size.
    pub page_size: Option<usize>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl Manager {
    /// The products, with their tables once the tenant's workspace is connected.
    pub async fn products(
        &self,
        principal: &Principal,
        tenant: &str,
    ) -> ManageResult<Vec<ProductEntry>> {
        self.authorize(principal, tenant, Role::Reader, "listing products")
            .await?;
        let tables = self.tables(tenant);
        Ok(self
            .inner
            .products
            .products()
            .into_iter()
            .map(|info| ProductEntry {
                table: tables.get(&info.id).cloned(),
                info,
            })
            .collect())
    }

    /// The tenant's connected workspace.
    pub async fn workspace(&self, principal: &Principal, tenant: &str) -> ManageResult<Workspace> {
        self.authorize(principal, tenant, Role::Reader, "reading the workspace")
            .await?;
        self.inner.store.workspace(tenant).await?.ok_or_else(|| {
            ManageError::NotFound(format!(
                "tenant '{tenant}' has no connected workspace: connect one (PUT …/workspace)"
            ))
        })
    }

    /// Connect the tenant's destination workspace: its products' sinks join the engine.
    /// A tenant connects one workspace at a time.
    pub async fn connect_workspace(
        &self,
        principal: &Principal,
        tenant: &str,
        body: ConnectWorkspace,
    ) -> ManageResult<Workspace> {
        self.authorize(principal, tenant, Role::Owner, "connecting a workspace")
            .await?;
        let _writes = self.inner.writes.lock().await;
        object_name("name", &body.name)?;
        if let Some(existing) = self.inner.store.workspace(tenant).await? {
            return Err(ManageError::Conflict(format!(
                "tenant '{tenant}' already has workspace '{}' connected: a tenant connects one workspace at a time; offboard '{}' first (with a reason)",
                existing.name, existing.name
            )));
        }
        let problems = crate::catalog::schema_problems(
            &self.inner.workspace_schema,
            &body.settings,
            "settings",
        );
        if !problems.is_empty() {
            return Err(ManageError::Invalid(problems));
        }
        let workspace = Workspace {
            tenant: tenant.to_string(),
            name: body.name,
            settings: body.settings,
            connected_by: principal.id.clone(),
            connected_at: self.now(),
        };
        self.attach_workspace(&workspace).await?;
        let mut entry = self.audit(
            tenant,
            principal,
            "workspace.connect",
            format!("workspace/{}", workspace.name),
        );
        entry.after = Some(serde_json::to_value(&workspace).unwrap_or_default());
        if let Err(e) = self.inner.store.connect_workspace(&workspace, entry).await {
            self.detach_workspace(&workspace).await;
            return Err(e.into());
        }
        Ok(workspace)
    }

    /// Offboard the tenant's workspace, with a reason. Refused while a connector still
    /// delivers to it.
    pub async fn offboard_workspace(
        &self,
        principal: &Principal,
        tenant: &str,
        given_reason: Option<String>,
    ) -> ManageResult<()> {
        self.authorize(principal, tenant, Role::Owner, "offboarding a workspace")
            .await?;
        let why = reason(given_reason, "offboarding a workspace")?;
        let _writes = self.inner.writes.lock().await;
        let workspace = self.inner.store.workspace(tenant).await?.ok_or_else(|| {
            ManageError::NotFound(format!("tenant '{tenant}' has no connected workspace"))
        })?;
        let delivering: Vec<String> = self
            .inner
            .store
            .all_instances()
            .await?
            .into_iter()
            .filter(|r| r.tenant == tenant && r.state.in_engine() && !r.products.is_empty())
            .map(|r| r.name)
            .collect();
        if !delivering.is_empty() {
            return Err(ManageError::Conflict(format!(
                "workspace '{}' still receives data from connector(s) {}: disconnect them first",
                workspace.name,
                delivering.join(", ")
            )));
        }
        let mut entry = self.audit(
            tenant,
            principal,
            "workspace.offboard",
            format!("workspace/{}", workspace.name),
        );
        entry.reason = Some(why);
        entry.before = Some(serde_json::to_value(&workspace).unwrap_or_default());
        self.inner.store.remove_workspace(tenant, entry).await?;
        self.detach_workspace(&workspace).await;
        Ok(())
    }

    /// Register the workspace's product sinks with the engine (all or none).
    pub(super) async fn attach_workspace(&self, workspace: &Workspace) -> ManageResult<()> {
        let sinks = self.inner.products.sinks(workspace).map_err(|e| match e {
            FactoryError::Config { field, message } => {
                ManageError::invalid(format!("settings.{field}"), message)
            }
            other => super::lifecycle::factory_error(other),
        })?;
        let mut added: Vec<String> = Vec::new();
        let mut tables = std::collections::BTreeMap::new();
        for product in sinks {
            let name = engine_sink_name(&workspace.tenant, &product.product);
            if let Err(e) = self
                .inner
                .engine
                .add_sink(&name, &workspace.tenant, product.sink)
                .await
            {
                for name in added {
                    let _ = self.inner.engine.remove_sink(&name).await;
                }
                return Err(ManageError::Engine(e));
            }
            added.push(name);
            tables.insert(product.product, product.table);
        }
        self.inner
            .tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(workspace.tenant.clone(), tables);
        Ok(())
    }

    async fn detach_workspace(&self, workspace: &Workspace) {
        let products = self
            .inner
            .tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&workspace.tenant)
            .unwrap_or_default();
        for product in products.keys() {
            let name = engine_sink_name(&workspace.tenant, product);
            if let Err(e) = self.inner.engine.remove_sink(&name).await {
                tracing::warn!(sink = %name, error = %e, "product sink not removed");
            }
        }
    }

    /// Names of the tenant's stored credentials.
    pub async fn credentials(
        &self,
        principal: &Principal,
        tenant: &str,
    ) -> ManageResult<Vec<CredentialView>> {
        self.authorize(principal, tenant, Role::Owner, "listing credentials")
            .await?;
        let refs = self
            .inner
            .credentials
            .list(Some(tenant))
            .await
            .map_err(|e| ManageError::Internal(e.to_string()))?;
        Ok(refs
            .into_iter()
            .map(|r| CredentialView { name: r.name })
            .collect())
    }

    /// Store (or rotate) a credential, write-only; connectors using it see the new secret at
    /// their next call.
    pub async fn put_credential(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        secret: SecretInput,
    ) -> ManageResult<CredentialView> {
        self.authorize(principal, tenant, Role::Owner, "storing a credential")
            .await?;
        object_name("name", name)?;
        let _writes = self.inner.writes.lock().await;
        let reference = CredentialRef::new(tenant, name);
        let existed = match self.inner.credentials.get(&reference).await {
            Ok(_) => true,
            Err(CredentialError::NotFound(_)) => false,
            Err(e) => return Err(ManageError::Internal(e.to_string())),
        };
        let credential = secret.into_credential();
        let kind = CredentialKind::of(&credential);
        self.inner
            .credentials
            .put(reference, credential)
            .await
            .map_err(|e| {
                ManageError::Internal(format!("the credential could not be stored: {e}"))
            })?;
        let action = if existed {
            "credential.rotate"
        } else {
            "credential.store"
        };
        let mut entry = self.audit(tenant, principal, action, format!("credential/{name}"));
        entry.after = Some(serde_json::json!({ "name": name, "kind": kind }));
        self.inner.store.append_audit(entry).await?;
        Ok(CredentialView {
            name: name.to_string(),
        })
    }

    /// Remove a credential no connector uses.
    pub async fn remove_credential(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<()> {
        self.authorize(principal, tenant, Role::Owner, "removing a credential")
            .await?;
        let _writes = self.inner.writes.lock().await;
        let users: Vec<String> = self
            .inner
            .store
            .all_instances()
            .await?
            .into_iter()
            .filter(|r| r.tenant == tenant && r.credentials.values().any(|c| c == name))
            .map(|r| r.name)
            .collect();
        if !users.is_empty() {
            return Err(ManageError::Conflict(format!(
                "credential '{name}' is used by connector(s) {}: change or delete them first",
                users.join(", ")
            )));
        }
        let reference = CredentialRef::new(tenant, name);
        let removed = ucp_core::catalog::is_identifier(name)
            && self
                .inner
                .credentials
                .remove(&reference)
                .await
                .map_err(|e| ManageError::Internal(e.to_string()))?;
        if !removed {
            return Err(ManageError::NotFound(format!(
                "credential '{name}' not found in tenant '{tenant}'"
            )));
        }
        let entry = self.audit(
            tenant,
            principal,
            "credential.remove",
            format!("credential/{name}"),
        );
        self.inner.store.append_audit(entry).await?;
        Ok(())
    }

    /// The tenant's role assignments.
    pub async fn roles(
        &self,
        principal: &Principal,
        tenant: &str,
    ) -> ManageResult<Vec<RoleAssignment>> {
        self.authorize(principal, tenant, Role::Owner, "listing role assignments")
            .await?;
        Ok(self.inner.store.roles(tenant).await?)
    }

    /// Assign `role` to `who` in the tenant (`None` removes it). The last Owner stays
    /// unless a platform administrator removes it.
    pub async fn set_role(
        &self,
        principal: &Principal,
        tenant: &str,
        who: &str,
        role: Option<Role>,
    ) -> ManageResult<Option<RoleAssignment>> {
        self.authorize(principal, tenant, Role::Owner, "assigning roles")
            .await?;
        principal_id(who)?;
        let _writes = self.inner.writes.lock().await;
        let assignments = self.inner.store.roles(tenant).await?;
        let before = assignments
            .iter()
            .find(|a| a.principal == who)
            .map(|a| a.role);
        if role.is_none() && before.is_none() {
            return Err(ManageError::NotFound(format!(
                "'{who}' has no role in tenant '{tenant}'"
            )));
        }
        let owners = assignments.iter().filter(|a| a.role == Role::Owner).count();
        if before == Some(Role::Owner)
            && role != Some(Role::Owner)
            && owners == 1
            && !principal.admin
        {
            return Err(ManageError::Conflict(format!(
                "'{who}' is the last Owner of tenant '{tenant}': assign another Owner first"
            )));
        }
        let mut entry = self.audit(
            tenant,
            principal,
            if role.is_some() {
                "role.assign"
            } else {
                "role.remove"
            },
            format!("role/{who}"),
        );
        entry.before = before.map(|r| serde_json::json!({ "role": r }));
        entry.after = role.map(|r| serde_json::json!({ "role": r }));
        self.inner.store.set_role(tenant, who, role, entry).await?;
        Ok(role.map(|role| RoleAssignment {
            tenant: tenant.to_string(),
            principal: who.to_string(),
            role,
        }))
    }

    /// One page of the tenant's audit log, newest first.
    pub async fn audit_log(
        &self,
        principal: &Principal,
        tenant: &str,
        filter: AuditFilter,
    ) -> ManageResult<Page<AuditEntry>> {
        self.authorize(principal, tenant, Role::Reader, "reading the audit log")
            .await?;
        let size = super::view::page_size(filter.page_size)?;
        let before_id = match filter.page_token.as_deref() {
            None => None,
            Some(token) => Some(token.parse::<u64>().map_err(|_| {
                ManageError::invalid(
                    "page_token",
                    "not a page token: pass the next_page_token of the previous page as it was",
                )
            })?),
        };
        let mut items = self
            .inner
            .store
            .audit(&AuditQuery {
                tenant: tenant.to_string(),
                connector: filter.connector,
                since: filter.since,
                until: filter.until,
                before_id,
                limit: size + 1,
            })
            .await?;
        let next_page_token = if items.len() > size {
            items.truncate(size);
            items.last().map(|e| e.id.to_string())
        } else {
            None
        };
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Mint an API key for `who` (platform administrators only); the key is shown once.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        who: &str,
    ) -> ManageResult<(String, SecretString)> {
        if !principal.admin {
            return Err(ManageError::NotFound("not found".into()));
        }
        principal_id(who)?;
        issue_api_key(
            self.inner.store.as_ref(),
            self.inner.auth.keys(),
            principal,
            who,
            self.now(),
        )
        .await
    }

    /// Revoke an API key (platform administrators only).
    pub async fn revoke_api_key(&self, principal: &Principal, id: &str) -> ManageResult<()> {
        if !principal.admin {
            return Err(ManageError::NotFound("not found".into()));
        }
        let entry = self.audit(
            PLATFORM_AUDIT_TENANT,
            principal,
            "api_key.revoke",
            format!("api_key/{id}"),
        );
        Ok(self.inner.store.revoke_api_key(id, entry).await?)
    }
}

/// Mint an API key for `who` and store its hash with an audit entry by `actor`; the key is
/// returned once. [`Manager::create_api_key`] checks that `actor` is an administrator first;
/// a server's command line calls this directly to give the first administrator a key
/// without starting the platform.
pub async fn issue_api_key(
    store: &dyn Store,
    keys: &ApiKeys,
    actor: &Principal,
    who: &str,
    now: DateTime<Utc>,
) -> ManageResult<(String, SecretString)> {
    principal_id(who)?;
    let (record, key) = keys.mint(who);
    let entry = AuditEntry {
        id: 0,
        time: now,
        tenant: PLATFORM_AUDIT_TENANT.to_string(),
        actor: actor.id.clone(),
        action: "api_key.create".to_string(),
        target: format!("api_key/{}", record.id),
        connector: None,
        reason: None,
        before: None,
        after: Some(serde_json::json!({ "id": record.id, "principal": who })),
    };
    store.put_api_key(&record, entry).await?;
    Ok((record.id, key))
}
