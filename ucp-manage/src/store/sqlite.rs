//! The management store in one SQLite file.
//!
//! Objects are stored as JSON bodies next to the columns queries need. Calls run on tokio's
//! blocking pool. Each change and its audit entry commit in one transaction, and triggers
//! refuse any UPDATE or DELETE of the audit table, so the log is append-only even for a
//! hand-written SQL statement. `synchronous = FULL`: a change the API acknowledged survives
//! a killed process and a power cut.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;

use super::{Store, StoreError, StoreResult};
use crate::model::{
    ApiKeyRecord, AuditEntry, AuditQuery, InstanceRecord, Role, RoleAssignment, Workspace,
};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS instances (
    tenant     TEXT NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_by_definition ON instances (tenant, definition);
CREATE TABLE IF NOT EXISTS workspaces (
    tenant TEXT PRIMARY KEY,
    body   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roles (
    tenant    TEXT NOT NULL,
    principal TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (tenant, principal)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS definitions (
    id            TEXT NOT NULL,
    version       TEXT NOT NULL,
    registered_ms INTEGER NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms   INTEGER NOT NULL,
    tenant    TEXT NOT NULL,
    connector TEXT,
    body      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, id);
CREATE INDEX IF NOT EXISTS audit_by_connector ON audit (tenant, connector, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// A [`Store`] in a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Arc<str>,
}

type Conn<'a> = &'a mut Connection;

impl SqliteStore {
    /// Opens (or creates) the store in the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let name: Arc<str> = path.as_ref().display().to_string().into();
        let conn = Connection::open(path.as_ref()).map_err(db(&name, "opening the file"))?;
        Self::init(conn, name)
    }

    /// A store in memory that lives as long as this value (tests).
    pub fn open_in_memory() -> StoreResult<Self> {
        let name: Arc<str> = ":memory:".into();
        let conn = Connection::open_in_memory().map_err(db(&name, "opening"))?;
        Self::init(conn, name)
    }

    fn init(conn: Connection, path: Arc<str>) -> StoreResult<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db(&path, "setting the busy timeout"))?;
        conn.execute_batch(SCHEMA)
            .map_err(db(&path, "creating the schema"))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// Runs `f` on the blocking pool with the connection.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Conn<'_>, &str) -> StoreResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = Arc::clone(&self.path);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard, &path)
        })
        .await
        .map_err(|e| StoreError::Database {
            path: self.path.to_string(),
            action: "running a query",
            message: e.to_string(),
        })?
    }

    /// Runs `f` in a transaction, committed when it returns `Ok`.
    async fn write<T, F>(&self, action: &'static str, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &str) -> StoreResult<T> + Send + 'static,
    {
        self.run(move |conn, path| {
            let tx = conn.transaction().map_err(db(path, action))?;
            let out = f(&tx, path)?;
            tx.commit().map_err(db(path, action))?;
            Ok(out)
        })
        .await
    }
}

fn db<'a>(path: &'a str, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + 'a {
    move |e| StoreError::Database {
        path: path.to_owned(),
        action,
        message: e.to_string(),
    }
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn to_json<T: serde::Serialize>(value: &T, path: &str, what: &'static str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        what,
        detail: e.to_string(),
    })
}

fn from_json<T: DeserializeOwned>(body: &str, path: &str, what: &'static str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        what,
        detail: e.to_string(),
    })
}

fn insert_audit(tx: &Transaction<'_>, path: &str, entry: &AuditEntry) -> StoreResult<u64> {
    let body = to_json(entry, path, "audit entry")?;
    tx.execute(
        "INSERT INTO audit (time_ms, tenant, connector, body) VALUES (?1, ?2, ?3, ?4)",
        params![millis(entry.time), entry.tenant, entry.connector, body],
    )
    .map_err(db(path, "appending to the audit log"))?;
    u64::try_from(tx.last_insert_rowid()).map_err(|_| StoreError::Corrupt {
        path: path.to_owned(),
        what: "audit entry",
        detail: "negative id".into(),
    })
}

fn revision_of(
    tx: &Transaction<'_>,
    path: &str,
    tenant: &str,
    name: &str,
) -> StoreResult<Option<u64>> {
    let found: Option<i64> = tx
        .query_row(
            "SELECT revision FROM instances WHERE tenant = ?1 AND name = ?2",
            params![tenant, name],
            |row| row.get(0),
        )
        .optional()
        .map_err(db(path, "reading an instance's revision"))?;
    Ok(found.map(|r| r.max(0) as u64))
}

fn revision_i64(revision: u64, path: &str) -> StoreResult<i64> {
    i64::try_from(revision).map_err(|_| StoreError::Corrupt {
        path: path.to_owned(),
        what: "instance",
        detail: format!("revision {revision} is too large"),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn instance(&self, tenant: &str, name: &str) -> StoreResult<Option<InstanceRecord>> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.run(move |conn, path| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM instances WHERE tenant = ?1 AND name = ?2",
                    params![tenant, name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db(path, "reading an instance"))?;
            body.map(|b| from_json(&b, path, "instance")).transpose()
        })
        .await
    }

    async fn instances(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<InstanceRecord>> {
        let (tenant, after) = (tenant.to_owned(), after.unwrap_or("").to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn, path| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT body FROM instances WHERE tenant = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
                )
                .map_err(db(path, "listing instances"))?;
            let rows = stmt
                .query_map(params![tenant, after, limit], |row| row.get::<_, String>(0))
                .map_err(db(path, "listing instances"))?;
            let mut out = Vec::new();
            for body in rows {
                let body = body.map_err(db(path, "listing instances"))?;
                out.push(from_json(&body, path, "instance")?);
            }
            Ok(out)
        })
        .await
    }

    async fn all_instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        self.run(move |conn, path| {
            let mut stmt = conn
                .prepare("SELECT body FROM instances ORDER BY tenant, name")
                .map_err(db(path, "listing every instance"))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(db(path, "listing every instance"))?;
            let mut out = Vec::new();
            for body in rows {
                let body = body.map_err(db(path, "listing every instance"))?;
                out.push(from_json(&body, path, "instance")?);
            }
            Ok(out)
        })
        .await
    }

    async fn instance_counts(&self, tenant: &str) -> StoreResult<BTreeMap<String, u64>> {
        let tenant = tenant.to_owned();
        self.run(move |conn, path| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT definition, COUNT(*) FROM instances WHERE tenant = ?1 GROUP BY definition",
                )
                .map_err(db(path, "counting instances"))?;
            let rows = stmt
                .query_map(params![tenant], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(db(path, "counting instances"))?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (definition, count) = row.map_err(db(path, "counting instances"))?;
                out.insert(definition, count.max(0) as u64);
            }
            Ok(out)
        })
        .await
    }

    async fn put_instance(
        &self,
        record: &InstanceRecord,
        expected: Option<u64>,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        let record = record.clone();
        self.write("saving an instance", move |tx, path| {
            let current = revision_of(tx, path, &record.tenant, &record.name)?;
            match (expected, current) {
                (None, Some(_)) => {
                    return Err(StoreError::Conflict(format!(
                        "a connector named '{}' already exists in tenant '{}'",
                        record.name, record.tenant
                    )))
                }
                (Some(_), None) => {
                    return Err(StoreError::NotFound(format!("connector '{}'", record.name)))
                }
                (Some(want), Some(have)) if want != have => {
                    return Err(StoreError::Stale { current: have })
                }
                _ => {}
            }
            let body = to_json(&record, path, "instance")?;
            tx.execute(
                "INSERT INTO instances (tenant, name, definition, revision, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, name) DO UPDATE SET definition = excluded.definition, revision = excluded.revision, body = excluded.body",
                params![
                    record.tenant,
                    record.name,
                    record.definition,
                    revision_i64(record.revision, path)?,
                    body
                ],
            )
            .map_err(db(path, "saving an instance"))?;
            insert_audit(tx, path, &audit)?;
            Ok(())
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
        self.write("deleting an instance", move |tx, path| {
            match revision_of(tx, path, &tenant, &name)? {
                None => return Err(StoreError::NotFound(format!("connector '{name}'"))),
                Some(have) if have != expected => return Err(StoreError::Stale { current: have }),
                Some(_) => {}
            }
            tx.execute(
                "DELETE FROM instances WHERE tenant = ?1 AND name = ?2",
                params![tenant, name],
            )
            .map_err(db(path, "deleting an instance"))?;
            insert_audit(tx, path, &audit)?;
            Ok(())
        })
        .await
    }

    async fn workspace(&self, tenant: &str) -> StoreResult<Option<Workspace>> {
        let tenant = tenant.to_owned();
        self.run(move |conn, path| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM workspaces WHERE tenant = ?1",
                    params![tenant],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db(path, "reading a workspace"))?;
            body.map(|b| from_json(&b, path, "workspace")).transpose()
        })
        .await
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.run(move |conn, path| {
            let mut stmt = conn
                .prepare("SELECT body FROM workspaces ORDER BY tenant")
                .map_err(db(path, "listing workspaces"))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(db(path, "listing workspaces"))?;
            let mut out = Vec::new();
            for body in rows {
                let body = body.map_err(db(path, "listing workspaces"))?;
                out.push(from_json(&body, path, "workspace")?);
            }
            Ok(out)
        })
        .await
    }

    async fn connect_workspace(&self, workspace: &Workspace, audit: AuditEntry) -> StoreResult<()> {
        let workspace = workspace.clone();
        self.write("connecting a workspace", move |tx, path| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT body FROM workspaces WHERE tenant = ?1",
                    params![workspace.tenant],
                    |row| row.get(0),
                )
                .optional()
                .map_err(db(path, "reading a workspace"))?;
            if let Some(body) = existing {
                let existing: Workspace = from_json(&body, path, "workspace")?;
                return Err(StoreError::Conflict(format!(
                    "tenant '{}' already has workspace '{}' connected: a tenant connects one workspace at a time; offboard '{}' first (with a reason)",
                    workspace.tenant, existing.name, existing.name
                )));
            }
            let body = to_json(&workspace, path, "workspace")?;
            tx.execute(
                "INSERT INTO workspaces (tenant, body) VALUES (?1, ?2)",
                params![workspace.tenant, body],
            )
            .map_err(db(path, "connecting a workspace"))?;
            insert_audit(tx, path, &audit)?;
            Ok(())
        })
        .await
    }

    async fn remove_workspace(&self, tenant: &str, audit: AuditEntry) -> StoreResult<()> {
        let tenant = tenant.to_owned();
        self.write("offboarding a workspace", move |tx, path| {
            let removed = tx
                .execute("DELETE FROM workspaces WHERE tenant = ?1", params![tenant])
                .map_err(db(path, "offboarding a workspace"))?;
            if removed == 0 {
                return Err(StoreError::NotFound(format!(
                    "a workspace of tenant '{tenant}'"
                )));
            }
            insert_audit(tx, path, &audit)?;
            Ok(())
        })
        .await
    }

    async fn role(&self, tenant: &str, principal: &str) -> StoreResult<Option<Role>> {
        let (tenant, principal) = (tenant.to_owned(), principal.to_owned());
        self.run(move |conn, path| {
            let role: Option<String> = conn
                .prepare_cached("SELECT role FROM roles WHERE tenant = ?1 AND principal = ?2")
                .and_then(|mut stmt| {
                    stmt.query_row(params![tenant, principal], |row| row.get(0))
                        .optional()
                })
                .map_err(db(path, "reading a role"))?;
            role.map(|r| {
                Role::parse(&r).ok_or_else(|| StoreError::Corrupt {
                    path: path.to_owned(),
                    what: "role assignment",
                    detail: format!("unknown role '{r}'"),
                })
            })
            .transpose()
        })
        .await
    }

    async fn roles(&self, tenant: &str) -> StoreResult<Vec<RoleAssignment>> {
        let tenant = tenant.to_owned();
        self.run(move |conn, path| {
            let mut stmt = conn
                .prepare("SELECT principal, role FROM roles WHERE tenant = ?1 ORDER BY principal")
                .map_err(db(path, "listing roles"))?;
            let rows = stmt
                .query_map(params![tenant], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(db(path, "listing roles"))?;
            let mut out = Vec::new();
            for row in rows {
                let (principal, role) = row.map_err(db(path, "listing roles"))?;
                let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
                    path: path.to_owned(),
                    what: "role assignment",
                    detail: format!("unknown role '{role}'"),
                })?;
                out.push(RoleAssignment {
                    tenant: tenant.clone(),
                    principal,
                    role,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn set_role(
        &self,
        tenant: &str,
        principal: &str,
        role: Option<Role>,
        audit: AuditEntry,
    ) -> StoreResult<()> {
        let (tenant, principal) = (tenant.to_owned(), principal.to_owned());
        self.write("assigning a role", move |tx, path| {
            match role {
                Some(role) => tx.execute(
                    "INSERT INTO roles (tenant, principal, role) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant, principal) DO UPDATE SET role = excluded.role",
                    params![tenant, principal, role.as_str()],
                ),
                None => tx.execute(
                    "DELETE FROM roles WHERE tenant = ?1 AND principal = ?2",
                    params![tenant, principal],
                ),
            }
            .map_err(db(path, "assigning a role"))?;
            insert_audit(tx, path, &audit)?;
            Ok(())
        })
        .await
    }

    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let id = id.to_owned();
        self.run(move |conn, path| {
            conn.prepare_cached(
                "SELECT id, principal, hash, created_ms, revoked FROM api_keys WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![id], |row| {
                    Ok(ApiKeyRecord {
                        id: row.get(0)?,
                        principal: row.get(1)?,
                        hash: row.get(2)?,
                        created_at: DateTime::from_timestamp_millis(row.get(3)?)
                            .unwrap_or_default(),
                        revoked: row.get::<_, i64>(4)? != 0,
                    })
                })
                .optional()
            })
            .map_err(db(path, "reading an API key"))
        })
        .await
    }

    async fn put_api_key(&self, key: &ApiKeyRecord, audit: AuditEntry) -> StoreResult<()> {
        let key = key.clone();
        self.write("storing an API key", move |tx, path| {
            tx.execute(
                "INSERT INTO api_keys (id, principal, hash, created_ms, revoked) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.id, key.principal, key.hash, millis(key.created_at), key.revoked as i64],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::Conflict(format!("API key id '{}' is taken", key.id))
                }
                other => db(path, "storing an API key")(other),
            })?;
            insert_audit(tx, path, &audit)?;
            Ok(())
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, audit: AuditEntry) -> StoreResult<()> {
        let id = id.to_owned();
        self.write("revoking an API key", move |tx, path| {
            let changed = tx
                .execute("UPDATE api_keys SET revoked = 1 WHERE id = ?1", params![id])
                .map_err(db(path, "revoking an API key"))?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("API key '{id}'")));
            }
            insert_audit(tx, path, &audit)?;
            Ok(())
        })
        .await
    }

    async fn record_definition(&self, id: &str, version: &str) -> StoreResult<bool> {
        let (id, version) = (id.to_owned(), version.to_owned());
        self.run(move |conn, path| {
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO definitions (id, version, registered_ms) VALUES (?1, ?2, ?3)",
                    params![id, version, millis(Utc::now())],
                )
                .map_err(db(path, "recording a definition"))?;
            Ok(added > 0)
        })
        .await
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<u64> {
        self.write("appending to the audit log", move |tx, path| {
            insert_audit(tx, path, &entry)
        })
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let query = query.clone();
        self.run(move |conn, path| {
            let mut sql = String::from("SELECT id, body FROM audit WHERE tenant = ?");
            let mut args: Vec<SqlValue> = vec![SqlValue::Text(query.tenant.clone())];
            if let Some(connector) = &query.connector {
                sql.push_str(" AND connector = ?");
                args.push(SqlValue::Text(connector.clone()));
            }
            if let Some(since) = query.since {
                sql.push_str(" AND time_ms >= ?");
                args.push(SqlValue::Integer(millis(since)));
            }
            if let Some(until) = query.until {
                sql.push_str(" AND time_ms < ?");
                args.push(SqlValue::Integer(millis(until)));
            }
            if let Some(before) = query.before_id {
                sql.push_str(" AND id < ?");
                args.push(SqlValue::Integer(i64::try_from(before).unwrap_or(i64::MAX)));
            }
            sql.push_str(" ORDER BY id DESC LIMIT ?");
            args.push(SqlValue::Integer(
                i64::try_from(query.limit).unwrap_or(i64::MAX),
            ));
            let mut stmt = conn
                .prepare(&sql)
                .map_err(db(path, "querying the audit log"))?;
            let rows = stmt
                .query_map(params_from_iter(args), |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(db(path, "querying the audit log"))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row.map_err(db(path, "querying the audit log"))?;
                let mut entry: AuditEntry = from_json(&body, path, "audit entry")?;
                entry.id = id.max(0) as u64;
                out.push(entry);
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InstanceState;

    fn entry(tenant: &str, connector: Option<&str>, action: &str, at: i64) -> AuditEntry {
        AuditEntry {
            id: 0,
            time: DateTime::from_timestamp(at, 0).unwrap(),
            tenant: tenant.into(),
            actor: "alice".into(),
            action: action.into(),
            target: format!("connector/{}", connector.unwrap_or("-")),
            connector: connector.map(Into::into),
            reason: None,
            before: None,
            after: None,
        }
    }

    fn record(tenant: &str, name: &str, revision: u64) -> InstanceRecord {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        InstanceRecord {
            tenant: tenant.into(),
            name: name.into(),
            definition: "okta-system-log".into(),
            version: "1.0.0".into(),
            config: serde_json::json!({"org_url": "https://c.okta.com"}),
            credentials: BTreeMap::from([("okta".into(), "okta-token".into())]),
            owned_credentials: vec![],
            products: vec![],
            state: InstanceState::Active,
            attention: None,
            disconnect_reason: None,
            superseded_by: None,
            created_by: "alice".into(),
            created_at: now,
            updated_by: "alice".into(),
            updated_at: now,
            revision,
        }
    }

    #[tokio::test]
    async fn instances_insert_once_update_at_their_revision_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manage.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            let a = record("contoso", "okta", 1);
            store
                .put_instance(&a, None, entry("contoso", Some("okta"), "create", 1))
                .await
                .unwrap();
            let again = store
                .put_instance(&a, None, entry("contoso", Some("okta"), "create", 2))
                .await
                .unwrap_err();
            assert!(matches!(again, StoreError::Conflict(_)), "{again}");
            let mut b = a.clone();
            b.revision = 2;
            b.state = InstanceState::Paused;
            let stale = store
                .put_instance(&b, Some(7), entry("contoso", Some("okta"), "pause", 3))
                .await
                .unwrap_err();
            assert_eq!(stale, StoreError::Stale { current: 1 });
            store
                .put_instance(&b, Some(1), entry("contoso", Some("okta"), "pause", 4))
                .await
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let read = store.instance("contoso", "okta").await.unwrap().unwrap();
        assert_eq!((read.revision, read.state), (2, InstanceState::Paused));
        // The refused changes left no audit entry.
        let audit = store
            .audit(&AuditQuery {
                tenant: "contoso".into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["pause", "create"]);
        assert!(audit[0].id > audit[1].id);
    }

    #[tokio::test]
    async fn pages_list_by_name_within_one_tenant() {
        let store = SqliteStore::open_in_memory().unwrap();
        for (tenant, name) in [("a", "x3"), ("a", "x1"), ("b", "x2"), ("a", "x2")] {
            store
                .put_instance(&record(tenant, name, 1), None, entry(tenant, None, "c", 1))
                .await
                .unwrap();
        }
        let names = |v: Vec<InstanceRecord>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(store.instances("a", None, 2).await.unwrap()),
            ["x1", "x2"]
        );
        assert_eq!(
            names(store.instances("a", Some("x2"), 2).await.unwrap()),
            ["x3"]
        );
        assert_eq!(
            store.instance_counts("a").await.unwrap(),
            BTreeMap::from([("okta-system-log".to_string(), 3)])
        );
    }

    #[tokio::test]
    async fn one_workspace_per_tenant_and_the_conflict_names_it() {
        let store = SqliteStore::open_in_memory().unwrap();
        let ws = |name: &str| Workspace {
            tenant: "contoso".into(),
            name: name.into(),
            settings: serde_json::json!({}),
            connected_by: "alice".into(),
            connected_at: Utc::now(),
        };
        store
            .connect_workspace(&ws("law-1"), entry("contoso", None, "ws", 1))
            .await
            .unwrap();
        let err = store
            .connect_workspace(&ws("law-2"), entry("contoso", None, "ws", 2))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("'law-1'"), "{err}");
        store
            .remove_workspace("contoso", entry("contoso", None, "off", 3))
            .await
            .unwrap();
        store
            .connect_workspace(&ws("law-2"), entry("contoso", None, "ws", 4))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_audit_log_refuses_updates_and_deletes_and_filters_by_connector_and_time() {
        let store = SqliteStore::open_in_memory().unwrap();
        for (i, c) in [Some("a"), Some("b"), None, Some("a")]
            .into_iter()
            .enumerate()
        {
            store
                .append_audit(entry("t", c, "x", 100 + i as i64))
                .await
                .unwrap();
        }
        store
            .append_audit(entry("other", Some("a"), "x", 100))
            .await
            .unwrap();
        let q = |connector: Option<&str>, since: Option<i64>, before_id: Option<u64>| AuditQuery {
            tenant: "t".into(),
            connector: connector.map(Into::into),
            since: since.map(|s| DateTime::from_timestamp(s, 0).unwrap()),
            until: None,
            before_id,
            limit: 10,
        };
        assert_eq!(
            store.audit(&q(Some("a"), None, None)).await.unwrap().len(),
            2
        );
        assert_eq!(
            store.audit(&q(None, Some(102), None)).await.unwrap().len(),
            2
        );
        let all = store.audit(&q(None, None, None)).await.unwrap();
        assert_eq!(all.len(), 4);
        let page = store.audit(&q(None, None, Some(all[1].id))).await.unwrap();
        assert_eq!(page.len(), 2);
        let conn = store.conn.lock().unwrap();
        let update = conn
            .execute("UPDATE audit SET tenant = 'x'", [])
            .unwrap_err();
        assert!(update.to_string().contains("append-only"), "{update}");
        assert!(conn.execute("DELETE FROM audit", []).is_err());
    }

    #[tokio::test]
    async fn roles_and_api_keys() {
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .set_role("t", "bob", Some(Role::Reader), entry("t", None, "role", 1))
            .await
            .unwrap();
        store
            .set_role("t", "bob", Some(Role::Owner), entry("t", None, "role", 2))
            .await
            .unwrap();
        assert_eq!(store.role("t", "bob").await.unwrap(), Some(Role::Owner));
        assert_eq!(store.role("u", "bob").await.unwrap(), None);
        store
            .set_role("t", "bob", None, entry("t", None, "role", 3))
            .await
            .unwrap();
        assert!(store.roles("t").await.unwrap().is_empty());
        let key = ApiKeyRecord {
            id: "k1".into(),
            principal: "bob".into(),
            hash: vec![1, 2, 3],
            created_at: DateTime::from_timestamp(5, 0).unwrap(),
            revoked: false,
        };
        store
            .put_api_key(&key, entry("_platform", None, "k", 1))
            .await
            .unwrap();
        assert_eq!(store.api_key("k1").await.unwrap(), Some(key.clone()));
        assert!(matches!(
            store
                .put_api_key(&key, entry("_platform", None, "k", 1))
                .await,
            Err(StoreError::Conflict(_))
        ));
        store
            .revoke_api_key("k1", entry("_platform", None, "r", 2))
            .await
            .unwrap();
        assert!(store.api_key("k1").await.unwrap().unwrap().revoked);
    }
}
