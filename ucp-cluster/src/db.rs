//! The connection to the cluster's PostgreSQL database, and its migrations.
//!
//! Every statement the cluster runs is a single statement (claims and fenced commits
//! included), so one multiplexed connection serves a node; when it breaks, the next use
//! connects again. A cluster can live in a schema of its own (tests give each one a fresh
//! schema); the schema's tables are created on start by [`migrate`], under an advisory lock
//! so nodes starting together do not race.

use std::str::FromStr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls};

use crate::error::ClusterError;

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`. Applied ones are recorded in
/// `ucp_schema_version`; a migration is never edited once released, only followed by another.
const MIGRATIONS: &[&str] = &[
    // 1: nodes, job leases with fencing tokens and cursors, shared budgets, refused commits.
    "CREATE TABLE IF NOT EXISTS ucp_nodes (
        node text PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        leaving boolean NOT NULL DEFAULT false
    );
    CREATE TABLE IF NOT EXISTS ucp_jobs (
        source text NOT NULL,
        stream text NOT NULL,
        owner text,
        token bigint NOT NULL DEFAULT 0,
        lease_until timestamptz,
        cursor text,
        cursor_saved boolean NOT NULL DEFAULT false,
        cursor_at timestamptz,
        PRIMARY KEY (source, stream)
    );
    CREATE INDEX IF NOT EXISTS ucp_jobs_owner ON ucp_jobs (owner);
    CREATE TABLE IF NOT EXISTS ucp_budgets (
        budget text PRIMARY KEY,
        tat_us bigint NOT NULL,
        paused_until_us bigint NOT NULL DEFAULT 0,
        grants bigint NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS ucp_fenced (
        id bigserial PRIMARY KEY,
        source text NOT NULL,
        stream text NOT NULL,
        node text NOT NULL,
        token bigint NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
    );",
    // 2: dead letters.
    "CREATE TABLE IF NOT EXISTS ucp_dead_letters (
        id bigserial PRIMARY KEY,
        product text NOT NULL,
        source text NOT NULL,
        stream text NOT NULL,
        record_id text NOT NULL,
        record_time timestamptz NOT NULL,
        payload bytea NOT NULL,
        reason text NOT NULL,
        at timestamptz NOT NULL
    );",
    // 3: the health table: rows numbered from the table's creation (microseconds since the
    // epoch, like the other tables), times in nanoseconds, the latest status of every part,
    // and how far retention reached into each tenant's rows.
    "CREATE TABLE IF NOT EXISTS ucp_health_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        last_seq bigint NOT NULL
    );
    INSERT INTO ucp_health_meta (id, last_seq)
        VALUES (1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
        ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS ucp_health_rows (
        seq bigint PRIMARY KEY,
        time_ns bigint NOT NULL,
        tenant text NOT NULL,
        connector text NOT NULL,
        product text,
        workspace text,
        stream text,
        status text NOT NULL,
        previous text,
        kind text NOT NULL,
        message text NOT NULL,
        details text
    );
    CREATE INDEX IF NOT EXISTS ucp_health_rows_time ON ucp_health_rows (time_ns, seq);
    CREATE INDEX IF NOT EXISTS ucp_health_rows_tenant ON ucp_health_rows (tenant, seq);
    CREATE TABLE IF NOT EXISTS ucp_health_parts (
        tenant text NOT NULL,
        connector text NOT NULL,
        product text NOT NULL,
        stream text NOT NULL,
        has_product boolean NOT NULL,
        has_stream boolean NOT NULL,
        workspace text,
        status text NOT NULL,
        kind text NOT NULL,
        time_ns bigint NOT NULL,
        message text NOT NULL,
        PRIMARY KEY (tenant, connector, product, stream, has_product, has_stream)
    );
    CREATE TABLE IF NOT EXISTS ucp_health_pruned (
        tenant text PRIMARY KEY,
        through bigint NOT NULL
    );",
    // 4: the management store: instances, workspaces, roles, API keys, definitions, and an
    // audit log that refuses updates and deletes.
    "CREATE TABLE IF NOT EXISTS ucp_manage_instances (
        tenant text NOT NULL,
        name text NOT NULL,
        definition text NOT NULL,
        revision bigint NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (tenant, name)
    );
    CREATE INDEX IF NOT EXISTS ucp_manage_instances_by_definition
        ON ucp_manage_instances (tenant, definition);
    CREATE TABLE IF NOT EXISTS ucp_manage_workspaces (
        tenant text PRIMARY KEY,
        body text NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ucp_manage_roles (
        tenant text NOT NULL,
        principal text NOT NULL,
        role text NOT NULL,
        PRIMARY KEY (tenant, principal)
    );
    CREATE TABLE IF NOT EXISTS ucp_manage_api_keys (
        id text PRIMARY KEY,
        principal text NOT NULL,
        hash bytea NOT NULL,
        created_ms bigint NOT NULL,
        revoked boolean NOT NULL DEFAULT false
    );
    CREATE TABLE IF NOT EXISTS ucp_manage_definitions (
        id text NOT NULL,
        version text NOT NULL,
        registered_ms bigint NOT NULL,
        PRIMARY KEY (id, version)
    );
    CREATE TABLE IF NOT EXISTS ucp_manage_audit (
        id bigserial PRIMARY KEY,
        time_ms bigint NOT NULL,
        tenant text NOT NULL,
        connector text,
        body text NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ucp_manage_audit_by_tenant ON ucp_manage_audit (tenant, id);
    CREATE INDEX IF NOT EXISTS ucp_manage_audit_by_connector
        ON ucp_manage_audit (tenant, connector, id);
    CREATE OR REPLACE FUNCTION ucp_manage_audit_append_only() RETURNS trigger AS $f$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $f$ LANGUAGE plpgsql;
    DROP TRIGGER IF EXISTS ucp_manage_audit_append_only ON ucp_manage_audit;
    CREATE TRIGGER ucp_manage_audit_append_only BEFORE UPDATE OR DELETE ON ucp_manage_audit
        FOR EACH ROW EXECUTE FUNCTION ucp_manage_audit_append_only();",
];

/// An arbitrary, fixed key of the advisory lock that serializes migrations.
const MIGRATION_LOCK: i64 = 0x7563_7063_6c75_7374; // "ucpclust"

/// Where the cluster's database is.
#[derive(Clone)]
pub struct DbConfig {
    url: SecretString,
    schema: Option<String>,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("DbConfig")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl DbConfig {
    /// The database at `url` (`postgres://user[:password]@host:port/db`), in its default
    /// schema.
    pub fn new(url: SecretString) -> Self {
        DbConfig { url, schema: None }
    }

    /// Keep the cluster's tables in `schema` (created when missing): several clusters, or
    /// tests, share one database. Letters, digits and `_` only.
    pub fn schema(mut self, schema: impl Into<String>) -> Result<Self, ClusterError> {
        let schema = schema.into();
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !schema.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(ClusterError::Config(format!(
                "schema {schema:?}: use lower-case letters, digits and _ (up to 63, not starting with a digit)"
            )));
        }
        self.schema = Some(schema);
        Ok(self)
    }
}

/// One node's connection to the cluster database, connected again when it breaks.
#[derive(Clone)]
pub struct Db {
    config: DbConfig,
    client: Arc<Mutex<Option<Arc<Client>>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("config", &self.config).finish()
    }
}

impl Db {
    /// Connect, create the schema if asked, and apply the migrations not yet applied.
    pub async fn open(config: DbConfig) -> Result<Db, ClusterError> {
        let db = Db {
            config,
            client: Arc::new(Mutex::new(None)),
        };
        if let Some(schema) = &db.config.schema {
            let client = connect(&db.config.url, None).await?;
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .or_else(|e| {
                    // Two nodes creating it at once: the loser's error is harmless.
                    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                        Ok(())
                    } else {
                        Err(ClusterError::db("creating the schema", e))
                    }
                })?;
        }
        migrate(&*db.client().await?).await?;
        Ok(db)
    }

    /// A connection of its own, for transactions (the shared one multiplexes statements of
    /// many callers, so a `BEGIN` on it would take theirs in).
    pub async fn dedicated(&self) -> Result<Client, ClusterError> {
        connect(&self.config.url, self.config.schema.as_deref()).await
    }

    /// The live connection, connecting again if the last one broke.
    pub async fn client(&self) -> Result<Arc<Client>, ClusterError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(connect(&self.config.url, self.config.schema.as_deref()).await?);
        *slot = Some(client.clone());
        Ok(client)
    }
}

async fn connect(url: &SecretString, schema: Option<&str>) -> Result<Client, ClusterError> {
    let mut config = Config::from_str(url.expose_secret()).map_err(|_| {
        ClusterError::Config(
            "the database URL is not a PostgreSQL URL (postgres://user@host:port/db)".into(),
        )
    })?;
    if let Some(schema) = schema {
        config.options(format!("-c search_path={schema}"));
    }
    config.application_name("ucp-cluster");
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| ClusterError::db("connecting", e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "cluster database connection closed");
        }
    });
    Ok(client)
}

/// Apply every migration not applied yet, each in a transaction with its version row, under
/// an advisory lock: idempotent, and safe when nodes start together.
pub async fn migrate(client: &Client) -> Result<(), ClusterError> {
    let err = |e| ClusterError::db("migrating", e);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS ucp_schema_version (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )",
        )
        .await
        .or_else(|e| {
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(err(e))
            }
        })?;
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let statement = format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
             DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM ucp_schema_version WHERE version = {version}) THEN
                 EXECUTE {body};
                 INSERT INTO ucp_schema_version (version) VALUES ({version});
               END IF;
             END $$;
             COMMIT;",
            body = quote_literal(migration),
        );
        if let Err(e) = client.batch_execute(&statement).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(err(e));
        }
    }
    Ok(())
}

/// `text` as an SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The highest migration this build applies.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}
