//! The management store (`ucp-manage`'s [`Store`]) in the cluster database, so every node's
//! management API sees one set of connectors, workspaces, roles, API keys and one audit log.
//!
//! Records are kept as JSON bodies beside the columns queries need, as in the SQLite store.
//! Every change and its audit entry commit in one transaction, on a connection of the
//! store's own (the node's shared connection multiplexes other callers' statements). The
//! audit table refuses updates and deletes (a trigger).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};
use ucp_manage::model::{ApiKeyRecord, AuditQuery, RoleAssignment};
use ucp_manage::store::StoreResult;
use ucp_manage::{AuditEntry, InstanceRecord, Role, Store, StoreError, Workspace};

use crate::db::Db;

/// The name errors give the store.
const NAME: &str = "postgres";

/// The management [`Store`] on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    db: Db,
    writer: Arc<Mutex<Option<Client>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("db", &self.db).finish()
    }
}

fn db(action: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError::Database {
        path: NAME.into(),
        action,
        message: match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        },
    }
}

fn cluster(action: &'static str) -> impl Fn(crate::ClusterError) -> StoreError {
    move |e| StoreError::Database {
        path: NAME.into(),
        action,
        message: e.to_string(),
    }
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: NAME.into(),
        what,
        detail: detail.into(),
    }
}

fn to_json<T: serde::Serialize>(value: &T, what: &'static str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e.to_string()))
}

fn from_json<T: DeserializeOwned>(body: &str, what: &'static str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| corrupt(what, e.to_string()))
}

fn revision(revision: u64) -> StoreResult<i64> {
    i64::try_from(revision)
        .map_err(|_| corrupt("instance", format!("revision {revision} is too large")))
}

fn role_of(text: &str) -> StoreResult<Role> {
    Role::parse(text).ok_or_else(|| corrupt("role assignment", format!("unknown role '{text}'")))
}

async fn insert_audit(tx: &Transaction<'_>, entry: &AuditEntry) -> StoreResult<u64> {
    let body = to_json(entry, "audit entry")?;
    let row = tx
        .query_one(
            "INSERT INTO ucp_manage_audit (time_ms, tenant, connector, body)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                &entry.time.timestamp_millis(),
                &entry.tenant,
                &entry.connector,
                &body,
            ],
        )
        .await
        .map_err(db("appending to the audit log"))?;
    let id: i64 = row.try_get(0).map_err(db("appending to the audit log"))?;
    u64::try_from(id).map_err(|_| corrupt("audit entry", "negative id"))
}

async fn revision_of(tx: &Transaction<'_>, tenant: &str, name: &str) -> StoreResult<Option<u64>> {
    let row = tx
        .query_opt(
            "SELECT revision FROM ucp_manage_instances WHERE tenant = $1 AND name = $2 FOR UPDATE",
            &[&tenant, &name],
        )
        .await
        .map_err(db("reading an instance's revision"))?;
    match row {
        Some(row) => {
            let r: i64 = row
                .try_get(0)
                .map_err(db("reading an instance's revision"))?;
            Ok(Some(u64::try_from(r).unwrap_or(0)))
        }
        None => Ok(None),
    }
}

/// A boxed future borrowing the transaction, for [`PgStore::write`].
type TxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<T>> + Send + 'a>>;

impl PgStore {
    /// The management store in `db`.
    pub fn new(db: Db) -> Self {
        PgStore {
            db,
            writer: Arc::new(Mutex::new(None)),
        }
    }

    /// Run `f` in a transaction on the store's own connection, committed when it returns
    /// `Ok`.
    async fn write<T, F>(&self, action: &'static str, f: F) -> StoreResult<T>
    where
        F: for<'a> FnOnce(&'a Transaction<'a>) -> TxFuture<'a, T>,
    {
        let mut slot = self.writer.lock().await;
        if slot.as_ref().is_none_or(|c| c.is_closed()) {
            *slot = Some(self.db.dedicated().await.map_err(cluster(action))?);
        }
        let Some(client) = slot.as_mut() else {
            return Err(corrupt("connection", "no connection"));
        };
        let tx = client.transaction().await.map_err(db(action))?;
        let out = f(&tx).await?;
        tx.commit().await.map_err(db(action))?;
        Ok(out)
    }

    async fn bodies<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        action: &'static str,
        what: &'static str,
    ) -> StoreResult<Vec<T>> {
        let client = self.db.client().await.map_err(cluster(action))?;
        let rows = client.query(sql, params).await.map_err(db(action))?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get(0).map_err(db(action))?;
                from_json(&body, what)
            })
            .collect()
    }
}

#[async_trait]
impl Store for PgStore {
    async fn instance(&self, tenant: &str, name: &str) -> StoreResult<Option<InstanceRecord>> {
        let found = self
            .bodies(
                "SELECT body FROM ucp_manage_instances WHERE tenant = $1 AND name = $2",
                &[&tenant, &name],
                "reading an instance",
                "instance",
            )
            .await?;
        Ok(found.into_iter().next())
    }

    async fn instances(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<InstanceRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.bodies(
            "SELECT body FROM ucp_manage_instances WHERE tenant = $1 AND name COLLATE \"C\" > $2
             ORDER BY name COLLATE \"C\" LIMIT $3",
            &[&tenant, &after.unwrap_or(""), &limit],
            "listing instances",
            "instance",
        )
        .await
    }

    async fn all_instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        self.bodies(
            "SELECT body FROM ucp_manage_instances ORDER BY tenant COLLATE \"C\", name COLLATE \"C\"",
            &[],
            "listing every instance",
            "instance",
        )
        .await
    }

    async fn instance_counts(&self, tenant: &str) -> StoreResult<BTreeMap<String, u64>> {
        let client = self
            .db
            .client()
            .await
            .map_err(cluster("counting instances"))?;
        let rows = client
            .query(
                "SELECT definition, count(*) FROM ucp_manage_instances WHERE tenant = $1
                 GROUP BY definition",
                &[&tenant],
            )
            .await
            .map_err(db("counting instances"))?;
        let mut out = BTreeMap::new();
        for row in &rows {
            let definition: String = row.try_get(0).map_err(db("counting instances"))?;
            let count: i64 = row.try_get(1).map_err(db("counting instances"))?;
            out.insert(definition, u64::try_from(count).unwrap_or(0));
        }
        Ok(out)
    }

    async fn put_instance(
        &self,
        record: &InstanceRecord,
        expected: Option<u64>,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        let body = to_json(record, "instance")?;
        let rev = revision(record.revision)?;
        let (tenant, name, definition) = (
            record.tenant.clone(),
            record.name.clone(),
            record.definition.clone(),
        );
        self.write("saving an instance", move |tx| {
            Box::pin(async move {
                let current = revision_of(tx, &tenant, &name).await?;
                match (expected, current) {
                    (None, Some(_)) => {
                        return Err(StoreError::Conflict(format!(
                            "a connector named '{name}' already exists in tenant '{tenant}'"
                        )))
                    }
                    (Some(_), None) => {
                        return Err(StoreError::NotFound(format!("connector '{name}'")))
                    }
                    (Some(want), Some(have)) if want != have => {
                        return Err(StoreError::Stale { current: have })
                    }
                    _ => {}
                }
                // A create is a plain insert: of two nodes creating the same connector at
                // once (neither saw the other's row), the second hits the key and conflicts.
                let sql = if expected.is_none() {
                    "INSERT INTO ucp_manage_instances (tenant, name, definition, revision, body)
                     VALUES ($1, $2, $3, $4, $5)"
                } else {
                    "UPDATE ucp_manage_instances SET definition = $3, revision = $4, body = $5
                     WHERE tenant = $1 AND name = $2"
                };
                tx.execute(sql, &[&tenant, &name, &definition, &rev, &body])
                    .await
                    .map_err(|e| match e.code() {
                        Some(&SqlState::UNIQUE_VIOLATION) => StoreError::Conflict(format!(
                            "a connector named '{name}' already exists in tenant '{tenant}'"
                        )),
                        _ => db("saving an instance")(e),
                    })?;
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn delete_instance(
        &self,
        tenant: &str,
        name: &str,
        expected: u64,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.write("deleting an instance", move |tx| {
            Box::pin(async move {
                match revision_of(tx, &tenant, &name).await? {
                    None => return Err(StoreError::NotFound(format!("connector '{name}'"))),
                    Some(have) if have != expected => {
                        return Err(StoreError::Stale { current: have })
                    }
                    Some(_) => {}
                }
                tx.execute(
                    "DELETE FROM ucp_manage_instances WHERE tenant = $1 AND name = $2",
                    &[&tenant, &name],
                )
                .await
                .map_err(db("deleting an instance"))?;
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn workspace(&self, tenant: &str) -> StoreResult<Option<Workspace>> {
        let found = self
            .bodies(
                "SELECT body FROM ucp_manage_workspaces WHERE tenant = $1",
                &[&tenant],
                "reading a workspace",
                "workspace",
            )
            .await?;
        Ok(found.into_iter().next())
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.bodies(
            "SELECT body FROM ucp_manage_workspaces ORDER BY tenant COLLATE \"C\"",
            &[],
            "listing workspaces",
            "workspace",
        )
        .await
    }

    async fn connect_workspace(&self, workspace: &Workspace, audit: AuditEntry) -> StoreResult<()> {
        let body = to_json(workspace, "workspace")?;
        let workspace = workspace.clone();
        self.write("connecting a workspace", move |tx| {
            Box::pin(async move {
                let existing = tx
                    .query_opt(
                        "SELECT body FROM ucp_manage_workspaces WHERE tenant = $1 FOR UPDATE",
                        &[&workspace.tenant],
                    )
                    .await
                    .map_err(db("reading a workspace"))?;
                if let Some(row) = existing {
                    let body: String = row.try_get(0).map_err(db("reading a workspace"))?;
                    let existing: Workspace = from_json(&body, "workspace")?;
                    return Err(StoreError::Conflict(format!(
                        "tenant '{}' already has workspace '{}' connected: a tenant connects one workspace at a time; offboard '{}' first (with a reason)",
                        workspace.tenant, existing.name, existing.name
                    )));
                }
                tx.execute(
                    "INSERT INTO ucp_manage_workspaces (tenant, body) VALUES ($1, $2)",
                    &[&workspace.tenant, &body],
                )
                .await
                .map_err(db("connecting a workspace"))?;
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn remove_workspace(&self, tenant: &str, audit: AuditEntry) -> StoreResult<()> {
        let tenant = tenant.to_owned();
        self.write("offboarding a workspace", move |tx| {
            Box::pin(async move {
                let removed = tx
                    .execute(
                        "DELETE FROM ucp_manage_workspaces WHERE tenant = $1",
                        &[&tenant],
                    )
                    .await
                    .map_err(db("offboarding a workspace"))?;
                if removed == 0 {
                    return Err(StoreError::NotFound(format!(
                        "a workspace of tenant '{tenant}'"
                    )));
                }
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn role(&self, tenant: &str, principal: &str) -> StoreResult<Option<Role>> {
        let client = self.db.client().await.map_err(cluster("reading a role"))?;
        let row = client
            .query_opt(
                "SELECT role FROM ucp_manage_roles WHERE tenant = $1 AND principal = $2",
                &[&tenant, &principal],
            )
            .await
            .map_err(db("reading a role"))?;
        match row {
            Some(row) => role_of(row.try_get(0).map_err(db("reading a role"))?).map(Some),
            None => Ok(None),
        }
    }

    async fn roles(&self, tenant: &str) -> StoreResult<Vec<RoleAssignment>> {
        let client = self.db.client().await.map_err(cluster("listing roles"))?;
        let rows = client
            .query(
                "SELECT principal, role FROM ucp_manage_roles WHERE tenant = $1
                 ORDER BY principal COLLATE \"C\"",
                &[&tenant],
            )
            .await
            .map_err(db("listing roles"))?;
        rows.iter()
            .map(|row| {
                Ok(RoleAssignment {
                    tenant: tenant.to_owned(),
                    principal: row.try_get(0).map_err(db("listing roles"))?,
                    role: role_of(row.try_get(1).map_err(db("listing roles"))?)?,
                })
            })
            .collect()
    }

    async fn set_role(
        &self,
        tenant: &str,
        principal: &str,
        role: Option<Role>,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        let (tenant, principal) = (tenant.to_owned(), principal.to_owned());
        self.write("assigning a role", move |tx| {
            Box::pin(async move {
                match role {
                    Some(role) => {
                        tx.execute(
                            "INSERT INTO ucp_manage_roles (tenant, principal, role) VALUES ($1, $2, $3)
                             ON CONFLICT (tenant, principal) DO UPDATE SET role = excluded.role",
                            &[&tenant, &principal, &role.as_str()],
                        )
                        .await
                    }
                    None => {
                        tx.execute(
                            "DELETE FROM ucp_manage_roles WHERE tenant = $1 AND principal = $2",
                            &[&tenant, &principal],
                        )
                        .await
                    }
                }
                .map_err(db("assigning a role"))?;
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let client = self
            .db
            .client()
            .await
            .map_err(cluster("reading an API key"))?;
        let row = client
            .query_opt(
                "SELECT id, principal, hash, created_ms, revoked FROM ucp_manage_api_keys
                 WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(db("reading an API key"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let read = db("reading an API key");
        Ok(Some(ApiKeyRecord {
            id: row.try_get(0).map_err(&read)?,
            principal: row.try_get(1).map_err(&read)?,
            hash: row.try_get(2).map_err(&read)?,
            created_at: DateTime::from_timestamp_millis(row.try_get(3).map_err(&read)?)
                .unwrap_or_default(),
            revoked: row.try_get(4).map_err(&read)?,
        }))
    }

    async fn put_api_key(&self, key: &ApiKeyRecord, audit: AuditEntry) -> StoreResult<()> {
        let key = key.clone();
        self.write("storing an API key", move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO ucp_manage_api_keys (id, principal, hash, created_ms, revoked)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &key.id,
                        &key.principal,
                        &key.hash,
                        &key.created_at.timestamp_millis(),
                        &key.revoked,
                    ],
                )
                .await
                .map_err(|e| match e.code() {
                    Some(&SqlState::UNIQUE_VIOLATION) => {
                        StoreError::Conflict(format!("API key id '{}' is taken", key.id))
                    }
                    _ => db("storing an API key")(e),
                })?;
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, audit: AuditEntry) -> StoreResult<()> {
        let id = id.to_owned();
        self.write("revoking an API key", move |tx| {
            Box::pin(async move {
                let changed = tx
                    .execute(
                        "UPDATE ucp_manage_api_keys SET revoked = true WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .map_err(db("revoking an API key"))?;
                if changed == 0 {
                    return Err(StoreError::NotFound(format!("API key '{id}'")));
                }
                insert_audit(tx, &audit).await?;
                Ok(())
            })
        })
        .await
    }

    async fn record_definition(&self, id: &str, version: &str) -> StoreResult<bool> {
        let client = self
            .db
            .client()
            .await
            .map_err(cluster("recording a definition"))?;
        let added = client
            .execute(
                "INSERT INTO ucp_manage_definitions (id, version, registered_ms)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&id, &version, &Utc::now().timestamp_millis()],
            )
            .await
            .map_err(db("recording a definition"))?;
        Ok(added > 0)
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<u64> {
        self.write("appending to the audit log", move |tx| {
            Box::pin(async move { insert_audit(tx, &entry).await })
        })
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let since = query.since.map(|t| t.timestamp_millis());
        let until = query.until.map(|t| t.timestamp_millis());
        let before = query
            .before_id
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let client = self
            .db
            .client()
            .await
            .map_err(cluster("querying the audit log"))?;
        let rows = client
            .query(
                "SELECT id, body FROM ucp_manage_audit
                 WHERE tenant = $1
                   AND ($2::text IS NULL OR connector = $2)
                   AND ($3::bigint IS NULL OR time_ms >= $3)
                   AND ($4::bigint IS NULL OR time_ms < $4)
                   AND ($5::bigint IS NULL OR id < $5)
                 ORDER BY id DESC LIMIT $6",
                &[
                    &query.tenant,
                    &query.connector,
                    &since,
                    &until,
                    &before,
                    &limit,
                ],
            )
            .await
            .map_err(db("querying the audit log"))?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get(0).map_err(db("querying the audit log"))?;
                let body: String = row.try_get(1).map_err(db("querying the audit log"))?;
                let mut entry: AuditEntry = from_json(&body, "audit entry")?;
                entry.id = u64::try_from(id).unwrap_or(0);
                Ok(entry)
            })
            .collect()
    }
}
