//! The shared health table: one row per status transition, queryable by every product.
//!
//! Two implementations pass one test suite: [`MemoryHealthTable`](super::MemoryHealthTable)
//! and [`SqliteHealthTable`](super::SqliteHealthTable), which survives a restart.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Component, HealthEvent, HealthKind, Status};

/// One row of the health table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthRow {
    /// The row's place in the table: increasing in the order rows were stored, never reused
    /// (not even after retention removes rows), so a reader continues after the last one it
    /// read ([`HealthTable::read_after`]). A new table starts above the microseconds since
    /// the epoch at its creation, so a table created again continues above the last one.
    /// 0 until the table stores the row.
    #[serde(default)]
    pub seq: u64,
    /// When the status changed.
    pub time: DateTime<Utc>,
    /// Tenant of the connector.
    pub tenant: String,
    /// Connector instance.
    pub connector: String,
    /// Product (sink) for a subscription; `None` for the connector's own collection.
    pub product: Option<String>,
    /// The product's workspace (e.g. a Log Analytics workspace), when known.
    pub workspace: Option<String>,
    /// Table or stream concerned, if any.
    pub stream: Option<String>,
    /// The new status.
    pub status: Status,
    /// The status before; `None` for rows stored before the table kept it.
    #[serde(default)]
    pub previous: Option<Status>,
    /// What area.
    pub kind: HealthKind,
    /// What failed and what to do. Never a secret: the engine writes it.
    pub message: String,
    /// Optional structured details (counts, codes).
    pub details: Option<serde_json::Value>,
}

impl HealthRow {
    /// The row for one event; `workspace` is the product's workspace, if any.
    pub fn from_event(event: &HealthEvent, workspace: Option<String>) -> Self {
        HealthRow {
            seq: 0,
            time: event.time,
            tenant: event.component.tenant.clone(),
            connector: event.component.connector.clone(),
            product: event.component.product.clone(),
            workspace,
            stream: event.component.stream.clone(),
            status: event.status,
            previous: Some(event.previous),
            kind: event.kind,
            message: event.message.clone(),
            details: None,
        }
    }

    /// The component the row concerns.
    pub fn component(&self) -> Component {
        Component {
            tenant: self.tenant.clone(),
            connector: self.connector.clone(),
            product: self.product.clone(),
            stream: self.stream.clone(),
        }
    }
}

/// A filter over the health table. Empty fields match everything; results are newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthQuery {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this connector.
    pub connector: Option<String>,
    /// Only rows about this product's subscription.
    pub product: Option<String>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this kind.
    pub kind: Option<HealthKind>,
    /// Rows at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Rows strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

impl HealthQuery {
    /// A query matching every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Only this connector.
    pub fn connector(mut self, connector: impl Into<String>) -> Self {
        self.connector = Some(connector.into());
        self
    }

    /// Only this product.
    pub fn product(mut self, product: impl Into<String>) -> Self {
        self.product = Some(product.into());
        self
    }

    /// Only this status.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// Only this kind.
    pub fn kind(mut self, kind: HealthKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Rows in `[since, until)`.
    pub fn between(mut self, since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self.until = Some(until);
        self
    }

    /// At most `limit` rows.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `row` passes the filter (ignores `limit`).
    pub fn matches(&self, row: &HealthRow) -> bool {
        fn eq(want: &Option<String>, have: &str) -> bool {
            want.as_deref().is_none_or(|w| w == have)
        }
        eq(&self.tenant, &row.tenant)
            && eq(&self.connector, &row.connector)
            && self
                .product
                .as_deref()
                .is_none_or(|p| row.product.as_deref() == Some(p))
            && self.status.is_none_or(|s| s == row.status)
            && self.kind.is_none_or(|k| k == row.kind)
            && self.since.is_none_or(|t| row.time >= t)
            && self.until.is_none_or(|t| row.time < t)
    }
}

/// How long rows are kept. Both limits apply on every insert; [`HealthTable::prune`] applies
/// the age limit against an explicit "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Rows older than this (relative to the newest row inserted) are removed.
    pub max_age: Option<chrono::Duration>,
    /// At most this many rows are kept; the oldest go first.
    pub max_rows: Option<usize>,
}

impl Default for Retention {
    /// 30 days and 100 000 rows.
    fn default() -> Self {
        Retention {
            max_age: Some(chrono::Duration::days(30)),
            max_rows: Some(100_000),
        }
    }
}

/// The oldest time kept at `now` under `max_age`; `None` keeps everything.
pub(crate) fn cutoff(
    now: DateTime<Utc>,
    max_age: Option<chrono::Duration>,
) -> Option<DateTime<Utc>> {
    now.checked_sub_signed(max_age?)
}

/// Current status of one part of a connector: its collection of one stream, or one
/// product's subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartStatus {
    /// Product, for a subscription.
    pub product: Option<String>,
    /// Stream, if the part concerns one.
    pub stream: Option<String>,
    /// The product's workspace, when known.
    pub workspace: Option<String>,
    /// Latest status.
    pub status: Status,
    /// Kind of the latest transition.
    pub kind: HealthKind,
    /// When the latest transition happened.
    pub since: DateTime<Utc>,
    /// Message of the latest transition.
    pub message: String,
}

impl PartStatus {
    /// The part's status as of `row`.
    pub fn from_row(row: &HealthRow) -> Self {
        PartStatus {
            product: row.product.clone(),
            stream: row.stream.clone(),
            workspace: row.workspace.clone(),
            status: row.status,
            kind: row.kind,
            since: row.time,
            message: row.message.clone(),
        }
    }
}

/// Current status of one connector: the worst of its parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    /// Tenant.
    pub tenant: String,
    /// Connector instance.
    pub connector: String,
    /// Worst status of the parts ([`Status::severity`]).
    pub status: Status,
    /// Each part's latest status, ordered by (product, stream).
    pub parts: Vec<PartStatus>,
}

/// Groups parts by connector (tenant, connector) and rolls each group up to its worst
/// status: how a table answers [`HealthTable::current_status`] from its parts.
pub fn roll_up(
    parts: impl IntoIterator<Item = ((String, String), PartStatus)>,
) -> Vec<ConnectorStatus> {
    let mut groups: BTreeMap<(String, String), Vec<PartStatus>> = BTreeMap::new();
    for (key, part) in parts {
        groups.entry(key).or_default().push(part);
    }
    groups
        .into_iter()
        .map(|((tenant, connector), mut parts)| {
            parts.sort_by(|a, b| (&a.product, &a.stream).cmp(&(&b.product, &b.stream)));
            let status = parts
                .iter()
                .map(|p| p.status)
                .max_by_key(|s| s.severity())
                .unwrap_or(Status::Starting);
            ConnectorStatus {
                tenant,
                connector,
                status,
                parts,
            }
        })
        .collect()
}

/// What [`HealthTable::read_after`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowsAfter {
    /// The tenant's rows after the sequence asked for, lowest sequence first.
    pub rows: Vec<HealthRow>,
    /// The highest sequence among the tenant's rows that retention has removed (0: none).
    /// When it is above the reader's position, rows the reader never read are gone.
    pub pruned_through: u64,
    /// The highest sequence the table has given out (any tenant). A reader whose position
    /// is above it was reading another table: this one was replaced.
    pub last_seq: u64,
}

/// Where a new table starts numbering: the microseconds since the epoch at its creation.
/// A table created again (in memory after a restart, or a new file) thus numbers above an
/// earlier one, so a saved reader position stays valid and a record id built from a
/// sequence never names two different rows.
pub(crate) fn first_seq_origin() -> u64 {
    u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0)
}

/// Why a health table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthTableError {
    /// The SQLite database failed.
    #[error("health table database {path} failed while {action}: {source}; check that the file is writable and not corrupt")]
    Sqlite {
        /// Database file (or `:memory:`).
        path: String,
        /// What the table was doing.
        action: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row could not be read back.
    #[error("health table database {path} holds an unreadable row ({detail}); the file was written by an incompatible version or edited by hand")]
    Corrupt {
        /// Database file.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// A time outside what the table can store (years 1677–2262).
    #[error("health row time {time} is outside the storable range (years 1677 to 2262); check the clock")]
    TimeOutOfRange {
        /// The time.
        time: DateTime<Utc>,
    },
    /// A health table on a database server (a cluster's PostgreSQL) failed.
    #[error("health table {store} failed while {action}: {reason}")]
    Backend {
        /// The store, e.g. `postgres`.
        store: String,
        /// What the table was doing.
        action: &'static str,
        /// What failed (never a secret).
        reason: String,
    },
    /// The background task running the database call stopped.
    #[error("health table task for {path} stopped before finishing ({detail}); the runtime may be shutting down")]
    Task {
        /// Database file.
        path: String,
        /// Why.
        detail: String,
    },
}

/// The health table. Rows are transitions; current status survives row retention.
#[async_trait]
pub trait HealthTable: Send + Sync + 'static {
    /// Add rows, then apply the retention limits.
    async fn insert(&self, rows: Vec<HealthRow>) -> Result<(), HealthTableError>;

    /// Rows matching `query`, newest first (ties: last inserted first).
    async fn query(&self, query: &HealthQuery) -> Result<Vec<HealthRow>, HealthTableError>;

    /// Current status of every connector ever reported, ordered by (tenant, connector).
    async fn current_status(&self) -> Result<Vec<ConnectorStatus>, HealthTableError>;

    /// Remove rows older than `now - max_age`; returns how many were removed.
    async fn prune(&self, now: DateTime<Utc>) -> Result<usize, HealthTableError>;

    /// At most `limit` rows of `tenant` whose [`HealthRow::seq`] is above `after`, lowest
    /// first: how a reader follows the table incrementally. A row is visible here only once
    /// every row with a lower sequence is, so a reader that continues after the last
    /// sequence it read misses nothing that retention kept.
    async fn read_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<RowsAfter, HealthTableError>;

    /// The last `n` messages of one connector, newest first.
    async fn last_messages(
        &self,
        tenant: &str,
        connector: &str,
        n: usize,
    ) -> Result<Vec<HealthRow>, HealthTableError> {
        self.query(
            &HealthQuery::new()
                .tenant(tenant)
                .connector(connector)
                .limit(n),
        )
        .await
    }

    /// The last `n` messages of each of `connectors` of `tenant`, newest first, in the order
    /// given: what a page of a connector list shows. Tables with a round trip per call
    /// answer all of them in one.
    async fn last_messages_of(
        &self,
        tenant: &str,
        connectors: &[String],
        n: usize,
    ) -> Result<Vec<Vec<HealthRow>>, HealthTableError> {
        let mut out = Vec::with_capacity(connectors.len());
        for connector in connectors {
            out.push(self.last_messages(tenant, connector, n).await?);
        }
        Ok(out)
    }

    /// The last `n` messages of every connector, in the order of [`Self::current_status`].
    async fn last_messages_per_connector(
        &self,
        n: usize,
    ) -> Result<Vec<(ConnectorStatus, Vec<HealthRow>)>, HealthTableError> {
        let mut out = Vec::new();
        for connector in self.current_status().await? {
            let rows = self
                .last_messages(&connector.tenant, &connector.connector, n)
                .await?;
            out.push((connector, rows));
        }
        Ok(out)
    }
}
