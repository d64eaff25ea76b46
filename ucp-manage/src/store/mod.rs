//! Where the management layer keeps its records: instances, workspaces, role assignments,
//! API keys, definition registrations and the audit log.
//!
//! [`Store`] is the port; [`SqliteStore`] the embedded implementation. A server database
//! (PostgreSQL, for clusters) implements the same trait. Every change is written together
//! with its audit entry in one transaction, so no change escapes the log.

mod sqlite;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::model::{
    ApiKeyRecord, AuditEntry, AuditQuery, InstanceRecord, Role, RoleAssignment, Workspace,
};

pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object already exists (or, for a workspace, another one is connected).
    #[error("{0}")]
    Conflict(String),
    /// The object changed since the caller read it.
    #[error("the object is at version {current}, not the one the change was based on")]
    Stale {
        /// Its current version.
        current: u64,
    },
    /// The object does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The database failed.
    #[error("management store {path} failed while {action}: {message}; check that the file is writable, not corrupt, and not used by another server")]
    Database {
        /// The database file.
        path: String,
        /// What the store was doing.
        action: &'static str,
        /// The database's message.
        message: String,
    },
    /// A stored row could not be read back.
    #[error("management store {path} holds an unreadable {what} ({detail}): it was written by an incompatible version or edited by hand")]
    Corrupt {
        /// The database file.
        path: String,
        /// What kind of row.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// The management store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// One instance.
    async fn instance(&self, tenant: &str, name: &str) -> StoreResult<Option<InstanceRecord>>;
    /// Up to `limit` instances of `tenant` with names after `after`, by name.
    async fn instances(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<InstanceRecord>>;
    /// Every instance of every tenant (to restore them at start, and for upgrades).
    async fn all_instances(&self) -> StoreResult<Vec<InstanceRecord>>;
    /// How many instances `tenant` has of each definition.
    async fn instance_counts(&self, tenant: &str) -> StoreResult<BTreeMap<String, u64>>;
    /// Insert `record` (`expected` = `None`: it must not exist) or replace it (`Some(r)`:
    /// it must be at revision `r`), and append `audit`, atomically.
    async fn put_instance(
        &self,
        record: &InstanceRecord,
        expected: Option<u64>,
        audit: AuditEntry,
    ) -> StoreResult<()>;
    /// Delete an instance at revision `expected`, and append `audit`, atomically.
    async fn delete_instance(
        &self,
        tenant: &str,
        name: &str,
        expected: u64,
        audit: AuditEntry,
    ) -> StoreResult<()>;

    /// The tenant's connected workspace.
    async fn workspace(&self, tenant: &str) -> StoreResult<Option<Workspace>>;
    /// Every connected workspace.
    async fn workspaces(&self) -> StoreResult<Vec<Workspace>>;
    /// Connect a workspace; [`StoreError::Conflict`] naming the existing one if the tenant
    /// has one.
    async fn connect_workspace(&self, workspace: &Workspace, audit: AuditEntry) -> StoreResult<()>;
    /// Remove the tenant's workspace.
    async fn remove_workspace(&self, tenant: &str, audit: AuditEntry) -> StoreResult<()>;

    /// A principal's role in a tenant.
    async fn role(&self, tenant: &str, principal: &str) -> StoreResult<Option<Role>>;
    /// A tenant's role assignments, by principal.
    async fn roles(&self, tenant: &str) -> StoreResult<Vec<RoleAssignment>>;
    /// Assign (`Some`) or remove (`None`) a role, and append `audit`, atomically.
    async fn set_role(
        &self,
        tenant: &str,
        principal: &str,
        role: Option<Role>,
        audit: AuditEntry,
    ) -> StoreResult<()>;

    /// An API key by its public id.
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Store a new API key.
    async fn put_api_key(&self, key: &ApiKeyRecord, audit: AuditEntry) -> StoreResult<()>;
    /// Revoke an API key.
    async fn revoke_api_key(&self, id: &str, audit: AuditEntry) -> StoreResult<()>;

    /// Record that a definition version was registered; true the first time.
    async fn record_definition(&self, id: &str, version: &str) -> StoreResult<bool>;

    /// Append an entry for a change that has no stored object (a restart, an offsets reset,
    /// a credential write); returns its id.
    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<u64>;
    /// Audit entries matching `query`, newest first.
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
}
