//! One rate budget per provider account for the whole cluster: GCRA state in PostgreSQL.
//!
//! Each account has a row with its theoretical arrival time (`tat_us`, the earliest instant
//! of the next call slot, microseconds on the database's clock), the instant until which
//! every node pauses (`paused_until_us`, learnt from a 429 or an exhausted quota by any
//! node) and the calls granted so far. Reserving a slot is one `INSERT … ON CONFLICT DO
//! UPDATE … RETURNING`: the slot is the later of now, the last slot plus the spacing, and
//! the pause; the row moves on by one spacing. Nodes that take over an account continue its
//! state, so a new owner never bursts into a window its predecessor used.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ucp_core::{BudgetKey, SharedBudget, SharedBudgetError};

use crate::db::Db;
use crate::holdings::Holdings;

/// The cluster's budgets on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgBudget {
    db: Db,
    holdings: Option<Holdings>,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl PgBudget {
    /// Budgets in `db`.
    pub fn new(db: Db) -> Self {
        PgBudget { db, holdings: None }
    }

    /// Hold every call while this node's view of its leases is stale (it was paused past
    /// its lease and does not know yet which jobs it lost).
    pub fn gated_by(mut self, holdings: Holdings) -> Self {
        self.holdings = Some(holdings);
        self
    }

    fn error(key: &BudgetKey, error: impl std::fmt::Display) -> SharedBudgetError {
        SharedBudgetError {
            key: key.clone(),
            reason: error.to_string(),
        }
    }

    /// Calls granted on `key` by every node so far.
    pub async fn grants(&self, key: &BudgetKey) -> Result<u64, SharedBudgetError> {
        let client = self.db.client().await.map_err(|e| Self::error(key, e))?;
        let row = client
            .query_opt(
                "SELECT grants FROM ucp_budgets WHERE budget = $1",
                &[&key.to_string()],
            )
            .await
            .map_err(|e| Self::error(key, e))?;
        let grants: i64 = match row {
            Some(row) => row.try_get(0).map_err(|e| Self::error(key, e))?,
            None => 0,
        };
        Ok(u64::try_from(grants).unwrap_or(0))
    }
}

#[async_trait]
impl SharedBudget for PgBudget {
    async fn reserve(
        &self,
        key: &BudgetKey,
        spacing: Duration,
    ) -> Result<Duration, SharedBudgetError> {
        if let Some(holdings) = &self.holdings {
            holdings.wait_fresh().await;
        }
        let client = self.db.client().await.map_err(|e| Self::error(key, e))?;
        let row = client
            .query_one(
                "WITH now AS (
                    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us)
                 INSERT INTO ucp_budgets AS b (budget, tat_us, grants)
                 SELECT $1, now.us + $2, 1 FROM now
                 ON CONFLICT (budget) DO UPDATE
                 SET tat_us = greatest(b.tat_us, (SELECT us FROM now), b.paused_until_us) + $2,
                     grants = b.grants + 1
                 RETURNING b.tat_us - $2 - (SELECT us FROM now)",
                &[&key.to_string(), &micros(spacing)],
            )
            .await
            .map_err(|e| Self::error(key, e))?;
        let wait_us: i64 = row.try_get(0).map_err(|e| Self::error(key, e))?;
        let wait = Duration::from_micros(u64::try_from(wait_us).unwrap_or(0));
        let Some(holdings) = &self.holdings else {
            return Ok(wait);
        };
        // Waited here, then the gate checked again: a node paused while it waited for its
        // slot must not call before it has learnt which jobs it lost.
        tokio::time::sleep(wait).await;
        holdings.wait_fresh().await;
        Ok(Duration::ZERO)
    }

    async fn pause(&self, key: &BudgetKey, until: DateTime<Utc>) -> Result<(), SharedBudgetError> {
        let client = self.db.client().await.map_err(|e| Self::error(key, e))?;
        client
            .execute(
                "INSERT INTO ucp_budgets AS b (budget, tat_us, paused_until_us)
                 VALUES ($1, $2, $2)
                 ON CONFLICT (budget) DO UPDATE
                 SET paused_until_us = greatest(b.paused_until_us, $2)",
                &[&key.to_string(), &until.timestamp_micros()],
            )
            .await
            .map(|_| ())
            .map_err(|e| Self::error(key, e))
    }
}
