//! The manager: every management operation, with its authorization, validation, effect on
//! the running engine, persistence and audit entry, in one place a host can call directly
//! (the REST API is a thin layer over it).
//!
//! Tenants are walls: a principal without a role in a tenant gets "not found" for anything
//! in it, whether it exists or not; with a role too low for an operation it gets
//! "forbidden". Every change is written with its audit entry in one store transaction.
//! Changes are serialized by one lock: they are rare, and it keeps the engine and the store
//! in step.

mod actions;
mod catalog_ops;
mod history;
mod instances;
mod lifecycle;
mod offsets;
mod prerequisites;
mod running;
mod secrets;
mod supersede;
pub(crate) mod tenancy;
mod validation;
mod view;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};

use chrono::{DateTime, Utc};
use ucp_core::catalog::ConnectorDefinition;
use ucp_core::credentials::CredentialStore;
use ucp_core::health::{HealthService, HealthTable};
use ucp_core::Clock;

use crate::auth::{Authenticator, Principal};
use crate::catalog::Catalog;
use crate::engine::Engine;
use crate::error::{ManageError, ManageResult};
use crate::model::{AuditEntry, Role};
use crate::products::Products;
use crate::store::Store;

pub use history::{ConnectorVolumes, StatusPeriod, StatusTimeline, Window};
pub use lifecycle::UpgradeOutcome;

/// The tenant under which platform-wide changes (definitions, API keys) are audited. Not a
/// valid tenant name, so no tenant can read it through the API.
pub const PLATFORM_AUDIT_TENANT: &str = "_platform";

/// Health messages shown per connector.
const DEFAULT_HEALTH_MESSAGES: usize = 5;

struct Inner {
    catalog: Catalog,
    store: Arc<dyn Store>,
    engine: Arc<dyn Engine>,
    products: Arc<dyn Products>,
    workspace_schema: jsonschema::Validator,
    credentials: Arc<dyn CredentialStore>,
    health: Option<Arc<dyn HealthTable>>,
    /// The health service whose volume series the connector pages draw.
    volumes: Option<Arc<HealthService>>,
    auth: Authenticator,
    clock: Clock,
    health_messages: usize,
    /// Serializes changes.
    writes: tokio::sync::Mutex<()>,
    /// Engine name → subscriptions, of the sources the engine holds.
    attached: StdMutex<BTreeMap<String, Vec<ucp_core::Subscription>>>,
    /// Tenant → product → table, for tenants with a connected workspace.
    tables: StdMutex<BTreeMap<String, BTreeMap<String, String>>>,
}

/// The management layer. Cheap to clone.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("definitions", &self.inner.catalog.ids())
            .finish_non_exhaustive()
    }
}

/// Collects a [`Manager`]'s parts; [`ManagerBuilder::start`] restores every instance.
pub struct ManagerBuilder {
    store: Arc<dyn Store>,
    engine: Arc<dyn Engine>,
    products: Arc<dyn Products>,
    credentials: Arc<dyn CredentialStore>,
    auth: Authenticator,
    health: Option<Arc<dyn HealthTable>>,
    volumes: Option<Arc<HealthService>>,
    clock: Clock,
    definitions: Vec<ConnectorDefinition>,
    health_messages: usize,
}

impl ManagerBuilder {
    /// Register a connector definition (every version the host ships).
    pub fn definition(mut self, definition: ConnectorDefinition) -> Self {
        self.definitions.push(definition);
        self
    }

    /// Read connectors' status and last messages from this health table (the one the
    /// platform's health service writes).
    pub fn health(mut self, table: Arc<dyn HealthTable>) -> Self {
        self.health = Some(table);
        self
    }

    /// Read health from the platform's health service: status and last messages from its
    /// table (as [`ManagerBuilder::health`]), and volume series per stream and product
    /// from its [`Volumes`](ucp_core::health::Volumes).
    pub fn health_service(mut self, service: Arc<HealthService>) -> Self {
        self.health = Some(service.table().clone());
        self.volumes = Some(service);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Show this many health messages per connector (default 5).
    pub fn health_messages(mut self, n: usize) -> Self {
        self.health_messages = n;
        self
    }

    /// Register the definitions, bring every workspace's sinks and every instance back into
    /// the engine in its stored state (upgrading instances whose definition has a newer
    /// version that accepts their configuration), and return the manager.
    pub async fn start(self) -> ManageResult<Manager> {
        let workspace_schema =
            crate::catalog::compile(&self.products.workspace_schema()).map_err(|e| {
                ManageError::Internal(format!("the products' workspace schema is not usable: {e}"))
            })?;
        let manager = Manager {
            inner: Arc::new(Inner {
                catalog: Catalog::new(),
                store: self.store,
                engine: self.engine,
                products: self.products,
                workspace_schema,
                credentials: self.credentials,
                health: self.health,
                volumes: self.volumes,
                auth: self.auth,
                clock: self.clock,
                health_messages: self.health_messages,
                writes: tokio::sync::Mutex::new(()),
                attached: StdMutex::new(BTreeMap::new()),
                tables: StdMutex::new(BTreeMap::new()),
            }),
        };
        for definition in self.definitions {
            manager.add_definition(definition).await?;
        }
        manager.restore().await?;
        Ok(manager)
    }
}

impl Manager {
    /// A manager over `store`, driving `engine`, with the host's `products`, storing secrets
    /// in `credentials` and authenticating callers with `auth`.
    pub fn builder(
        store: Arc<dyn Store>,
        engine: Arc<dyn Engine>,
        products: Arc<dyn Products>,
        credentials: Arc<dyn CredentialStore>,
        auth: Authenticator,
    ) -> ManagerBuilder {
        ManagerBuilder {
            store,
            engine,
            products,
            credentials,
            auth,
            health: None,
            volumes: None,
            clock: Clock::new(),
            definitions: Vec::new(),
            health_messages: DEFAULT_HEALTH_MESSAGES,
        }
    }

    /// The authenticator (the API authenticates each request with it).
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The principal's role in `tenant`: "not found" when it has none (so a tenant's
    /// existence does not leak). What a page offers follows from it; every operation still
    /// checks it.
    pub async fn role_in(&self, principal: &Principal, tenant: &str) -> ManageResult<Role> {
        self.authorize(principal, tenant, Role::Reader, "reading a tenant")
            .await
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now_utc()
    }

    /// The principal's role in `tenant`, if at least `needed`; "not found" when it has none
    /// (so a tenant's existence does not leak), "forbidden" when it is too low.
    async fn authorize(
        &self,
        principal: &Principal,
        tenant: &str,
        needed: Role,
        action: &str,
    ) -> ManageResult<Role> {
        let role = if principal.admin {
            Some(Role::Owner)
        } else if ucp_core::catalog::is_identifier(tenant) {
            self.inner.store.role(tenant, &principal.id).await?
        } else {
            None
        };
        match role {
            None => Err(ManageError::NotFound(format!(
                "tenant '{tenant}' not found"
            ))),
            Some(have) if have < needed => Err(ManageError::Forbidden {
                tenant: tenant.to_string(),
                action: action.to_string(),
                needed,
                have,
            }),
            Some(have) => Ok(have),
        }
    }

    /// An audit entry by `actor` in `tenant`, stamped now.
    fn audit(&self, tenant: &str, actor: &Principal, action: &str, target: String) -> AuditEntry {
        AuditEntry {
            id: 0,
            time: self.now(),
            tenant: tenant.to_string(),
            actor: actor.id.clone(),
            action: action.to_string(),
            target,
            connector: None,
            reason: None,
            before: None,
            after: None,
        }
    }
}

/// A reason a person gave: trimmed, 1 to 1000 characters, no control characters.
fn reason(given: Option<String>, what: &str) -> ManageResult<String> {
    let reason = given.unwrap_or_default().trim().to_string();
    if reason.is_empty() {
        return Err(ManageError::invalid(
            "reason",
            format!("{what} needs a reason: say why, it is kept in the audit log"),
        ));
    }
    if reason.chars().count() > 1000 || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ManageError::invalid(
            "reason",
            "a reason has at most 1000 characters and no control characters",
        ));
    }
    Ok(reason)
}

/// A principal id as given in a path or body: 1 to 256 printable characters.
fn principal_id(id: &str) -> ManageResult<()> {
    if id.is_empty() || id.chars().count() > 256 || id.chars().any(char::is_control) {
        return Err(ManageError::invalid(
            "principal",
            "a principal id has 1 to 256 characters and no control characters",
        ));
    }
    Ok(())
}

/// A name of something a tenant owns (connector, credential, workspace): an identifier.
fn object_name(field: &str, name: &str) -> ManageResult<()> {
    if ucp_core::catalog::is_identifier(name) {
        Ok(())
    } else {
        Err(ManageError::invalid(
            field,
            "a name has 1 to 63 lowercase letters, digits or '-', and starts and ends with a letter or digit",
        ))
    }
}
