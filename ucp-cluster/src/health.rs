//! The shared health table in the cluster database: every node writes its transitions to
//! one table that every product (and every node's API) reads.
//!
//! Rows are numbered in one statement with their insert: the table's counter row
//! (`ucp_health_meta`) is moved on by the batch's size, so sequences are contiguous, follow
//! storage order, and a row becomes visible only after every lower one (inserts serialize
//! on the counter row). The latest status of every part lives in `ucp_health_parts` and
//! outlives retention; `ucp_health_pruned` tells readers how far retention reached into
//! their tenant's rows. Times are kept in nanoseconds, exactly as given.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use ucp_core::health::{
    roll_up, ConnectorStatus, HealthKind, HealthQuery, HealthRow, HealthTable, HealthTableError,
    PartStatus, Retention, RowsAfter, Status,
};

use crate::db::Db;

/// The platform's [`HealthTable`] on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgHealthTable {
    db: Db,
    retention: Retention,
}

fn failed(action: &'static str) -> impl Fn(tokio_postgres::Error) -> HealthTableError {
    move |e| HealthTableError::Backend {
        store: "postgres".into(),
        action,
        reason: match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        },
    }
}

fn unreadable(detail: impl Into<String>) -> HealthTableError {
    HealthTableError::Corrupt {
        path: "postgres".into(),
        detail: detail.into(),
    }
}

fn nanos(time: DateTime<Utc>) -> Result<i64, HealthTableError> {
    time.timestamp_nanos_opt()
        .ok_or(HealthTableError::TimeOutOfRange { time })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn parse<T: FromStr>(what: &str, text: &str) -> Result<T, HealthTableError> {
    text.parse()
        .map_err(|_| unreadable(format!("{what} {text:?}")))
}

fn health_row(row: &Row) -> Result<HealthRow, HealthTableError> {
    let read = failed("reading a row");
    let details: Option<String> = row.try_get("details").map_err(&read)?;
    let previous: Option<String> = row.try_get("previous").map_err(&read)?;
    Ok(HealthRow {
        seq: to_u64(row.try_get("seq").map_err(&read)?),
        time: DateTime::from_timestamp_nanos(row.try_get("time_ns").map_err(&read)?),
        tenant: row.try_get("tenant").map_err(&read)?,
        connector: row.try_get("connector").map_err(&read)?,
        product: row.try_get("product").map_err(&read)?,
        workspace: row.try_get("workspace").map_err(&read)?,
        stream: row.try_get("stream").map_err(&read)?,
        status: parse::<Status>("status", row.try_get("status").map_err(&read)?)?,
        previous: previous
            .map(|p| parse::<Status>("previous status", &p))
            .transpose()?,
        kind: parse::<HealthKind>("kind", row.try_get("kind").map_err(&read)?)?,
        message: row.try_get("message").map_err(&read)?,
        details: details
            .map(|d| serde_json::from_str(&d).map_err(|e| unreadable(format!("details: {e}"))))
            .transpose()?,
    })
}

const COLUMNS: &str =
    "seq, time_ns, tenant, connector, product, workspace, stream, status, previous, kind, message, details";

impl PgHealthTable {
    /// The health table in `db`, bounded by `retention`.
    pub fn new(db: Db, retention: Retention) -> Self {
        PgHealthTable { db, retention }
    }

    /// Remove rows older than `cutoff_ns` or beyond the newest `max_rows`, noting how far
    /// each tenant's rows were removed; returns how many went.
    async fn remove(
        &self,
        cutoff_ns: Option<i64>,
        max_rows: Option<usize>,
    ) -> Result<usize, HealthTableError> {
        let client = self
            .db
            .client()
            .await
            .map_err(|e| HealthTableError::Backend {
                store: "postgres".into(),
                action: "connecting",
                reason: e.to_string(),
            })?;
        let max_rows = max_rows.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
        let row = client
            .query_one(
                "WITH del AS (
                    DELETE FROM ucp_health_rows
                    WHERE ($1::bigint IS NOT NULL AND time_ns < $1)
                       OR ($2::bigint IS NOT NULL AND seq IN (
                            SELECT seq FROM ucp_health_rows
                            ORDER BY time_ns DESC, seq DESC OFFSET $2))
                    RETURNING tenant, seq),
                 noted AS (
                    INSERT INTO ucp_health_pruned AS p (tenant, through)
                    SELECT tenant, max(seq) FROM del GROUP BY tenant
                    ON CONFLICT (tenant) DO UPDATE
                    SET through = greatest(p.through, excluded.through))
                 SELECT count(*) FROM del",
                &[&cutoff_ns, &max_rows],
            )
            .await
            .map_err(failed("applying retention"))?;
        let n: i64 = row.try_get(0).map_err(failed("applying retention"))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn cutoff_ns(&self, now: DateTime<Utc>) -> Result<Option<i64>, HealthTableError> {
        match self
            .retention
            .max_age
            .and_then(|age| now.checked_sub_signed(age))
        {
            Some(cutoff) => nanos(cutoff).map(Some),
            None => Ok(None),
        }
    }

    async fn client(&self) -> Result<std::sync::Arc<tokio_postgres::Client>, HealthTableError> {
        self.db
            .client()
            .await
            .map_err(|e| HealthTableError::Backend {
                store: "postgres".into(),
                action: "connecting",
                reason: e.to_string(),
            })
    }
}

#[async_trait]
impl HealthTable for PgHealthTable {
    async fn insert(&self, rows: Vec<HealthRow>) -> Result<(), HealthTableError> {
        let Some(now) = rows.iter().map(|r| r.time).max() else {
            return Ok(());
        };
        let mut times = Vec::with_capacity(rows.len());
        for row in &rows {
            times.push(nanos(row.time)?);
        }
        let text = |f: fn(&HealthRow) -> Option<String>| -> Vec<Option<String>> {
            rows.iter().map(f).collect()
        };
        let tenants = text(|r| Some(r.tenant.clone()));
        let connectors = text(|r| Some(r.connector.clone()));
        let products = text(|r| r.product.clone());
        let workspaces = text(|r| r.workspace.clone());
        let streams = text(|r| r.stream.clone());
        let statuses = text(|r| Some(r.status.as_str().to_string()));
        let previous = text(|r| r.previous.map(|p| p.as_str().to_string()));
        let kinds = text(|r| Some(r.kind.as_str().to_string()));
        let messages = text(|r| Some(r.message.clone()));
        let details = text(|r| r.details.as_ref().map(|d| d.to_string()));
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let client = self.client().await?;
        client
            .execute(
                "WITH input AS (
                    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],
                        $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                        $11::text[])
                    WITH ORDINALITY AS u(time_ns, tenant, connector, product, workspace, stream,
                        status, previous, kind, message, details, ord)),
                 numbered AS (
                    UPDATE ucp_health_meta SET last_seq = last_seq + $12 WHERE id = 1
                    RETURNING last_seq - $12 AS base),
                 stored AS (
                    INSERT INTO ucp_health_rows (seq, time_ns, tenant, connector, product,
                        workspace, stream, status, previous, kind, message, details)
                    SELECT numbered.base + input.ord, time_ns, tenant, connector, product,
                        workspace, stream, status, previous, kind, message, details
                    FROM input, numbered),
                 latest AS (
                    SELECT DISTINCT ON (tenant, connector, coalesce(product, ''),
                        coalesce(stream, ''), product IS NOT NULL, stream IS NOT NULL) *
                    FROM input
                    ORDER BY tenant, connector, coalesce(product, ''), coalesce(stream, ''),
                        product IS NOT NULL, stream IS NOT NULL, time_ns DESC, ord DESC)
                 INSERT INTO ucp_health_parts AS p (tenant, connector, product, stream,
                    has_product, has_stream, workspace, status, kind, time_ns, message)
                 SELECT tenant, connector, coalesce(product, ''), coalesce(stream, ''),
                    product IS NOT NULL, stream IS NOT NULL, workspace, status, kind, time_ns,
                    message
                 FROM latest
                 ON CONFLICT (tenant, connector, product, stream, has_product, has_stream)
                 DO UPDATE SET workspace = excluded.workspace, status = excluded.status,
                    kind = excluded.kind, time_ns = excluded.time_ns, message = excluded.message
                 WHERE excluded.time_ns >= p.time_ns",
                &[
                    &times,
                    &tenants,
                    &connectors,
                    &products,
                    &workspaces,
                    &streams,
                    &statuses,
                    &previous,
                    &kinds,
                    &messages,
                    &details,
                    &count,
                ],
            )
            .await
            .map_err(failed("inserting rows"))?;
        if self.retention.max_age.is_some() || self.retention.max_rows.is_some() {
            self.remove(self.cutoff_ns(now)?, self.retention.max_rows)
                .await?;
        }
        Ok(())
    }

    async fn query(&self, query: &HealthQuery) -> Result<Vec<HealthRow>, HealthTableError> {
        let since = query.since.map(nanos).transpose()?;
        let until = query.until.map(nanos).transpose()?;
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM ucp_health_rows
                     WHERE ($1::text IS NULL OR tenant = $1)
                       AND ($2::text IS NULL OR connector = $2)
                       AND ($3::text IS NULL OR product = $3)
                       AND ($4::text IS NULL OR status = $4)
                       AND ($5::text IS NULL OR kind = $5)
                       AND ($6::bigint IS NULL OR time_ns >= $6)
                       AND ($7::bigint IS NULL OR time_ns < $7)
                     ORDER BY time_ns DESC, seq DESC
                     LIMIT $8"
                ),
                &[
                    &query.tenant,
                    &query.connector,
                    &query.product,
                    &query.status.map(|s| s.as_str()),
                    &query.kind.map(|k| k.as_str()),
                    &since,
                    &until,
                    &limit,
                ],
            )
            .await
            .map_err(failed("querying rows"))?;
        rows.iter().map(health_row).collect()
    }

    async fn current_status(&self) -> Result<Vec<ConnectorStatus>, HealthTableError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tenant, connector, product, stream, has_product, has_stream, workspace,
                        status, kind, time_ns, message
                 FROM ucp_health_parts",
                &[],
            )
            .await
            .map_err(failed("reading current status"))?;
        let read = failed("reading current status");
        let mut parts = Vec::with_capacity(rows.len());
        for row in &rows {
            let has_product: bool = row.try_get("has_product").map_err(&read)?;
            let has_stream: bool = row.try_get("has_stream").map_err(&read)?;
            let product: String = row.try_get("product").map_err(&read)?;
            let stream: String = row.try_get("stream").map_err(&read)?;
            let key = (
                row.try_get::<_, String>("tenant").map_err(&read)?,
                row.try_get::<_, String>("connector").map_err(&read)?,
            );
            parts.push((
                key,
                PartStatus {
                    product: has_product.then_some(product),
                    stream: has_stream.then_some(stream),
                    workspace: row.try_get("workspace").map_err(&read)?,
                    status: parse("status", row.try_get("status").map_err(&read)?)?,
                    kind: parse("kind", row.try_get("kind").map_err(&read)?)?,
                    since: DateTime::from_timestamp_nanos(row.try_get("time_ns").map_err(&read)?),
                    message: row.try_get("message").map_err(&read)?,
                },
            ));
        }
        Ok(roll_up(parts))
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<usize, HealthTableError> {
        match self.cutoff_ns(now)? {
            Some(cutoff) => self.remove(Some(cutoff), None).await,
            None => Ok(0),
        }
    }

    async fn read_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<RowsAfter, HealthTableError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM ucp_health_rows
                     WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                ),
                &[&tenant, &to_i64(after), &limit],
            )
            .await
            .map_err(failed("reading rows after a sequence"))?;
        let marks = client
            .query_one(
                "SELECT (SELECT last_seq FROM ucp_health_meta WHERE id = 1),
                        coalesce((SELECT through FROM ucp_health_pruned WHERE tenant = $1), 0)",
                &[&tenant],
            )
            .await
            .map_err(failed("reading the table's marks"))?;
        let read = failed("reading the table's marks");
        Ok(RowsAfter {
            rows: rows.iter().map(health_row).collect::<Result<_, _>>()?,
            last_seq: to_u64(marks.try_get(0).map_err(&read)?),
            pruned_through: to_u64(marks.try_get(1).map_err(&read)?),
        })
    }
}
