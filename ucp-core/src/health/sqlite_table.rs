//! The health table on SQLite: survives restarts, one file per platform.
//!
//! Calls run on tokio's blocking pool so a slow disk never stalls the engine's tasks.
//! Times are stored as nanoseconds since the epoch, so rows read back equal rows written.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::table::{
    cutoff, first_seq_origin, roll_up, ConnectorStatus, HealthQuery, HealthRow, HealthTable,
    HealthTableError, PartStatus, Retention, RowsAfter,
};
use crate::sync::lock;

const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
";

/// The schema as of [`SCHEMA_VERSION`]. `id` is the row's sequence: AUTOINCREMENT never
/// gives an id twice, even after the highest rows are deleted.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS health_rows (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns   INTEGER NOT NULL,
    tenant    TEXT NOT NULL,
    connector TEXT NOT NULL,
    product   TEXT,
    workspace TEXT,
    stream    TEXT,
    status    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,
    details   TEXT,
    previous  TEXT
);
CREATE INDEX IF NOT EXISTS health_rows_by_time ON health_rows (time_ns, id);
CREATE INDEX IF NOT EXISTS health_rows_by_connector ON health_rows (tenant, connector, time_ns);
CREATE TABLE IF NOT EXISTS health_current (
    part      TEXT PRIMARY KEY,
    time_ns   INTEGER NOT NULL,
    tenant    TEXT NOT NULL,
    connector TEXT NOT NULL,
    product   TEXT,
    workspace TEXT,
    stream    TEXT,
    status    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL
);
";

/// What version 2 adds to a version 1 file (whose `health_rows` has no `previous`): the
/// tenant's rows in sequence order, and how far retention reached into them.
const SCHEMA_2: &str = "
CREATE INDEX IF NOT EXISTS health_rows_by_tenant_seq ON health_rows (tenant, id);
CREATE TABLE IF NOT EXISTS health_pruned (
    tenant    TEXT PRIMARY KEY,
    through   INTEGER NOT NULL
);
";

/// `PRAGMA user_version` of a file with the current schema.
const SCHEMA_VERSION: i64 = 2;

const COLUMNS: &str =
    "time_ns, tenant, connector, product, workspace, stream, status, kind, message";

/// A row's columns as read back: [`COLUMNS`], then details, previous and the sequence.
const ROW_COLUMNS: &str =
    "time_ns, tenant, connector, product, workspace, stream, status, kind, message, details, previous, id";

/// A [`HealthTable`] in a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteHealthTable {
    conn: Arc<Mutex<Connection>>,
    path: Arc<str>,
    retention: Retention,
    /// The file to open again after a failure that may have left the connection's file
    /// handle unusable (a disk that failed, went read-only or was mounted again); `None` in
    /// memory.
    file: Option<Arc<Path>>,
    reopen: Arc<AtomicBool>,
}

impl SqliteHealthTable {
    /// Opens (or creates) the table in the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>, retention: Retention) -> Result<Self, HealthTableError> {
        let name: Arc<str> = path.as_ref().display().to_string().into();
        let conn = Connection::open(path.as_ref()).map_err(sql(&name, "opening the file"))?;
        let mut table = Self::init(conn, name, retention)?;
        table.file = Some(Arc::from(path.as_ref()));
        Ok(table)
    }

    /// A table in memory that lives as long as this value (tests).
    pub fn open_in_memory(retention: Retention) -> Result<Self, HealthTableError> {
        let name: Arc<str> = ":memory:".into();
        let conn = Connection::open_in_memory().map_err(sql(&name, "opening"))?;
        Self::init(conn, name, retention)
    }

    fn init(
        mut conn: Connection,
        path: Arc<str>,
        retention: Retention,
    ) -> Result<Self, HealthTableError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql(&path, "setting the busy timeout"))?;
        conn.execute_batch(PRAGMAS)
            .map_err(sql(&path, "setting the journal mode"))?;
        migrate(&mut conn, &path)?;
        Ok(SqliteHealthTable {
            conn: Arc::new(Mutex::new(conn)),
            path,
            retention,
            file: None,
            reopen: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs `f` on the blocking pool with the connection.
    async fn run<T, F>(&self, f: F) -> Result<T, HealthTableError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> Result<T, HealthTableError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = Arc::clone(&self.path);
        let file = self.file.clone();
        let reopen = Arc::clone(&self.reopen);
        tokio::task::spawn_blocking(move || {
            let mut conn = lock(&conn);
            if let Some(file) = file.filter(|_| reopen.load(Ordering::Acquire)) {
                let fresh =
                    Connection::open(&file).map_err(sql(&path, "opening the file again"))?;
                fresh
                    .busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(sql(&path, "setting the busy timeout"))?;
                fresh
                    .execute_batch("PRAGMA synchronous = NORMAL;")
                    .map_err(sql(&path, "setting synchronous"))?;
                *conn = fresh;
                reopen.store(false, Ordering::Release);
                tracing::info!(path = %path, "health table opened again after a failure");
            }
            let result = f(&mut conn, &path);
            if let Err(error) = &result {
                reopen.store(super::rows::handle_may_be_stale(error), Ordering::Release);
            }
            result
        })
        .await
        .map_err(|e| HealthTableError::Task {
            path: self.path.to_string(),
            detail: e.to_string(),
        })?
    }
}

fn sql<'a>(
    path: &'a str,
    action: &'static str,
) -> impl Fn(rusqlite::Error) -> HealthTableError + 'a {
    move |source| HealthTableError::Sqlite {
        path: path.to_owned(),
        action,
        source,
    }
}

/// Brings the file's schema to [`SCHEMA_VERSION`] in one transaction, so a crash leaves it
/// either as it was or fully migrated. Adding a column is a change of SQLite's schema
/// record only: no row is rewritten, however large the file.
fn migrate(conn: &mut Connection, path: &str) -> Result<(), HealthTableError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql(path, "starting the schema migration"))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql(path, "reading the schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(HealthTableError::Corrupt {
            path: path.to_owned(),
            detail: format!(
                "schema version {version} is newer than this version of ucp knows ({SCHEMA_VERSION}); open it with the version that wrote it"
            ),
        });
    }
    let new = !has_table(&tx, path, "health_rows")?;
    tx.execute_batch(SCHEMA)
        .map_err(sql(path, "creating the schema"))?;
    if new {
        // Numbering starts at the creation time, above any earlier table's (see HealthRow::seq).
        let origin = i64::try_from(first_seq_origin()).unwrap_or(0);
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('health_rows', ?1)",
            params![origin],
        )
        .map_err(sql(path, "starting the row numbering"))?;
    }
    if !has_column(&tx, path, "health_rows", "previous")? {
        tx.execute_batch("ALTER TABLE health_rows ADD COLUMN previous TEXT")
            .map_err(sql(path, "adding the previous-status column"))?;
    }
    tx.execute_batch(SCHEMA_2)
        .map_err(sql(path, "adding the sequence index"))?;
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
        .map_err(sql(path, "writing the schema version"))?;
    tx.commit().map_err(sql(path, "committing the schema"))
}

fn has_table(conn: &Connection, path: &str, table: &str) -> Result<bool, HealthTableError> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(sql(path, "looking for the table"))
}

fn has_column(
    conn: &Connection,
    path: &str,
    table: &str,
    column: &str,
) -> Result<bool, HealthTableError> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .map_err(sql(path, "reading the table's columns"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(1))
        .map_err(sql(path, "reading the table's columns"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql(path, "reading the table's columns"))?;
    Ok(names.iter().any(|n| n == column))
}

fn nanos(time: DateTime<Utc>) -> Result<i64, HealthTableError> {
    time.timestamp_nanos_opt()
        .ok_or(HealthTableError::TimeOutOfRange { time })
}

/// The key of a part in `health_current`: unambiguous even when names contain separators.
fn part_key(row: &HealthRow) -> String {
    serde_json::json!([row.tenant, row.connector, row.product, row.stream]).to_string()
}

/// A row as stored, before its names are parsed.
struct Stored {
    time_ns: i64,
    tenant: String,
    connector: String,
    product: Option<String>,
    workspace: Option<String>,
    stream: Option<String>,
    status: String,
    kind: String,
    message: String,
    details: Option<String>,
    previous: Option<String>,
    seq: i64,
}

impl Stored {
    /// A row of `health_rows`, selected as [`ROW_COLUMNS`].
    fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let mut stored = Self::read_current(r)?;
        stored.details = r.get(9)?;
        stored.previous = r.get(10)?;
        stored.seq = r.get(11)?;
        Ok(stored)
    }

    /// A row of `health_current`, selected as [`COLUMNS`].
    fn read_current(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Stored {
            time_ns: r.get(0)?,
            tenant: r.get(1)?,
            connector: r.get(2)?,
            product: r.get(3)?,
            workspace: r.get(4)?,
            stream: r.get(5)?,
            status: r.get(6)?,
            kind: r.get(7)?,
            message: r.get(8)?,
            details: None,
            previous: None,
            seq: 0,
        })
    }

    fn into_row(self, path: &str) -> Result<HealthRow, HealthTableError> {
        let corrupt = |detail: String| HealthTableError::Corrupt {
            path: path.to_owned(),
            detail,
        };
        let details = self
            .details
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| corrupt(format!("details are not JSON: {e}")))?;
        let previous = self
            .previous
            .map(|p| p.parse())
            .transpose()
            .map_err(|e| corrupt(format!("{e}")))?;
        Ok(HealthRow {
            seq: u64::try_from(self.seq)
                .map_err(|_| corrupt(format!("negative row id {}", self.seq)))?,
            time: DateTime::from_timestamp_nanos(self.time_ns),
            tenant: self.tenant,
            connector: self.connector,
            product: self.product,
            workspace: self.workspace,
            stream: self.stream,
            status: self.status.parse().map_err(|e| corrupt(format!("{e}")))?,
            previous,
            kind: self.kind.parse().map_err(|e| corrupt(format!("{e}")))?,
            message: self.message,
            details,
        })
    }
}

fn insert_rows(
    conn: &mut Connection,
    path: &str,
    rows: &[HealthRow],
    retention: Retention,
) -> Result<(), HealthTableError> {
    let Some(now) = rows.iter().map(|r| r.time).max() else {
        return Ok(());
    };
    let tx = conn
        .transaction()
        .map_err(sql(path, "starting a transaction"))?;
    {
        let mut add = tx
            .prepare_cached(&format!(
                "INSERT INTO health_rows ({COLUMNS}, details, previous) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .map_err(sql(path, "preparing the insert"))?;
        let mut current = tx
            .prepare_cached(&format!(
                "INSERT INTO health_current (part, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (part) DO UPDATE SET
                    time_ns = excluded.time_ns, workspace = excluded.workspace,
                    status = excluded.status, kind = excluded.kind, message = excluded.message
                 WHERE excluded.time_ns >= health_current.time_ns"
            ))
            .map_err(sql(path, "preparing the status update"))?;
        for row in rows {
            let time = nanos(row.time)?;
            let details = row.details.as_ref().map(|d| d.to_string());
            add.execute(params![
                time,
                row.tenant,
                row.connector,
                row.product,
                row.workspace,
                row.stream,
                row.status.as_str(),
                row.kind.as_str(),
                row.message,
                details,
                row.previous.map(|p| p.as_str())
            ])
            .map_err(sql(path, "inserting a row"))?;
            current
                .execute(params![
                    part_key(row),
                    time,
                    row.tenant,
                    row.connector,
                    row.product,
                    row.workspace,
                    row.stream,
                    row.status.as_str(),
                    row.kind.as_str(),
                    row.message
                ])
                .map_err(sql(path, "updating the current status"))?;
        }
    }
    prune_older(&tx, path, cutoff(now, retention.max_age))?;
    if let Some(max) = retention.max_rows.filter(|&max| over_limit(&tx, path, max)) {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        remember_pruned(
            &tx,
            path,
            "SELECT id FROM health_rows ORDER BY time_ns DESC, id DESC LIMIT -1 OFFSET ?1",
            max,
        )?;
        tx.execute(
            "DELETE FROM health_rows WHERE id IN
                (SELECT id FROM health_rows ORDER BY time_ns DESC, id DESC LIMIT -1 OFFSET ?1)",
            params![max],
        )
        .map_err(sql(path, "applying the row limit"))?;
    }
    tx.commit().map_err(sql(path, "committing"))
}

/// Whether the table may hold more than `max` rows. The id span bounds the count and is an
/// index lookup, so the full ordered delete only runs when it can remove something.
fn over_limit(conn: &Connection, path: &str, max: usize) -> bool {
    let span: rusqlite::Result<i64> = conn.query_row(
        "SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM health_rows",
        [],
        |r| r.get(0),
    );
    match span {
        Ok(span) => usize::try_from(span).map_or(true, |span| span > max),
        Err(e) => {
            // Fall back to the exact delete, which reports its own error if the table is broken.
            tracing::debug!(path, error = %e, "health table id span unknown");
            true
        }
    }
}

fn prune_older(
    conn: &Connection,
    path: &str,
    cutoff: Option<DateTime<Utc>>,
) -> Result<usize, HealthTableError> {
    // A cutoff before 1677 keeps every storable row.
    let Some(cutoff) = cutoff.and_then(|c| c.timestamp_nanos_opt()) else {
        return Ok(0);
    };
    remember_pruned(
        conn,
        path,
        "SELECT id FROM health_rows WHERE time_ns < ?1",
        cutoff,
    )?;
    conn.execute(
        "DELETE FROM health_rows WHERE time_ns < ?1",
        params![cutoff],
    )
    .map_err(sql(path, "applying the age limit"))
}

/// Before rows are deleted: raises each tenant's `health_pruned.through` to the highest id
/// among the rows `ids` (a query of ids taking `?1`) selects, so a reader behind them learns
/// that rows it never read are gone.
fn remember_pruned(
    conn: &Connection,
    path: &str,
    ids: &str,
    arg: i64,
) -> Result<(), HealthTableError> {
    conn.execute(
        &format!(
            "INSERT INTO health_pruned (tenant, through)
                SELECT tenant, MAX(id) FROM health_rows WHERE id IN ({ids}) GROUP BY tenant
             ON CONFLICT (tenant) DO UPDATE SET through = MAX(through, excluded.through)"
        ),
        params![arg],
    )
    .map(drop)
    .map_err(sql(path, "remembering the rows retention removes"))
}

fn select_rows(
    conn: &Connection,
    path: &str,
    q: &HealthQuery,
) -> Result<Vec<HealthRow>, HealthTableError> {
    let mut clauses = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut text = |column: &str, value: &Option<String>| {
        if let Some(v) = value {
            args.push(Value::Text(v.clone()));
            clauses.push(format!("{column} = ?{}", args.len()));
        }
    };
    text("tenant", &q.tenant);
    text("connector", &q.connector);
    text("product", &q.product);
    text("status", &q.status.map(|s| s.as_str().to_owned()));
    text("kind", &q.kind.map(|k| k.as_str().to_owned()));
    if let Some(since) = q.since {
        args.push(Value::Integer(nanos(since)?));
        clauses.push(format!("time_ns >= ?{}", args.len()));
    }
    if let Some(until) = q.until {
        args.push(Value::Integer(nanos(until)?));
        clauses.push(format!("time_ns < ?{}", args.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = q.limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM health_rows {filter} ORDER BY time_ns DESC, id DESC LIMIT {limit}"
        ))
        .map_err(sql(path, "preparing a query"))?;
    let stored = stmt
        .query_map(params_from_iter(args), Stored::read_row)
        .map_err(sql(path, "querying rows"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql(path, "reading rows"))?;
    stored.into_iter().map(|s| s.into_row(path)).collect()
}

fn select_current(conn: &Connection, path: &str) -> Result<Vec<ConnectorStatus>, HealthTableError> {
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM health_current"))
        .map_err(sql(path, "preparing the status query"))?;
    let stored = stmt
        .query_map([], Stored::read_current)
        .map_err(sql(path, "querying current status"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql(path, "reading current status"))?;
    let parts = stored
        .into_iter()
        .map(|s| {
            let row = s.into_row(path)?;
            Ok((
                (row.tenant.clone(), row.connector.clone()),
                PartStatus::from_row(&row),
            ))
        })
        .collect::<Result<Vec<_>, HealthTableError>>()?;
    Ok(roll_up(parts))
}

fn select_after(
    conn: &mut Connection,
    path: &str,
    tenant: &str,
    after: u64,
    limit: usize,
) -> Result<RowsAfter, HealthTableError> {
    // One read transaction: the rows and the pruning mark agree.
    let tx = conn.transaction().map_err(sql(path, "starting a read"))?;
    let stored = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM health_rows WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))
            .map_err(sql(path, "preparing an incremental read"))?;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![tenant, after, limit], Stored::read_row)
            .map_err(sql(path, "reading rows after a sequence"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql(path, "reading rows after a sequence"))?;
        rows
    };
    let pruned: Option<i64> = tx
        .query_row(
            "SELECT through FROM health_pruned WHERE tenant = ?1",
            params![tenant],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(path, "reading how far retention reached"))?;
    let last: Option<i64> = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'health_rows'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(path, "reading the last sequence"))?;
    let rows = stored
        .into_iter()
        .map(|s| s.into_row(path))
        .collect::<Result<Vec<_>, _>>()?;
    let number = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    Ok(RowsAfter {
        rows,
        pruned_through: number(pruned),
        last_seq: number(last),
    })
}

#[async_trait]
impl HealthTable for SqliteHealthTable {
    async fn insert(&self, rows: Vec<HealthRow>) -> Result<(), HealthTableError> {
        let retention = self.retention;
        self.run(move |conn, path| insert_rows(conn, path, &rows, retention))
            .await
    }

    async fn query(&self, query: &HealthQuery) -> Result<Vec<HealthRow>, HealthTableError> {
        let query = query.clone();
        self.run(move |conn, path| select_rows(conn, path, &query))
            .await
    }

    async fn current_status(&self) -> Result<Vec<ConnectorStatus>, HealthTableError> {
        self.run(|conn, path| select_current(conn, path)).await
    }

    async fn last_messages_of(
        &self,
        tenant: &str,
        connectors: &[String],
        n: usize,
    ) -> Result<Vec<Vec<HealthRow>>, HealthTableError> {
        let queries: Vec<HealthQuery> = connectors
            .iter()
            .map(|c| HealthQuery::new().tenant(tenant).connector(c).limit(n))
            .collect();
        // One trip to the blocking pool for the whole page.
        self.run(move |conn, path| queries.iter().map(|q| select_rows(conn, path, q)).collect())
            .await
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<usize, HealthTableError> {
        let cut = cutoff(now, self.retention.max_age);
        self.run(move |conn, path| {
            let tx = conn
                .transaction()
                .map_err(sql(path, "starting a transaction"))?;
            let removed = prune_older(&tx, path, cut)?;
            tx.commit().map_err(sql(path, "committing"))?;
            Ok(removed)
        })
        .await
    }

    async fn read_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<RowsAfter, HealthTableError> {
        let tenant = tenant.to_owned();
        self.run(move |conn, path| select_after(conn, path, &tenant, after, limit))
            .await
    }
}
