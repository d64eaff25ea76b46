//! The health table in memory (tests, examples, embedders that keep health elsewhere).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::table::{
    cutoff, roll_up, ConnectorStatus, HealthQuery, HealthRow, HealthTable, HealthTableError,
    PartStatus, Retention,
};
use super::Component;
use crate::sync::lock;

/// A [`HealthTable`] in memory, bounded by its [`Retention`].
#[derive(Debug, Default)]
pub struct MemoryHealthTable {
    retention: Retention,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Sorted by time; equal times keep insertion order.
    rows: VecDeque<HealthRow>,
    /// Latest row per part, kept even when retention drops the row itself.
    current: HashMap<Component, PartStatus>,
}

impl MemoryHealthTable {
    /// An empty table with the given retention.
    pub fn new(retention: Retention) -> Self {
        MemoryHealthTable {
            retention,
            inner: Mutex::default(),
        }
    }

    /// Rows currently held.
    pub fn len(&self) -> usize {
        lock(&self.inner).rows.len()
    }

    /// Whether the table holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn prune_before(&mut self, cutoff: DateTime<Utc>) -> usize {
        let old = self.rows.partition_point(|r| r.time < cutoff);
        self.rows.drain(..old);
        old
    }
}

#[async_trait]
impl HealthTable for MemoryHealthTable {
    async fn insert(&self, rows: Vec<HealthRow>) -> Result<(), HealthTableError> {
        let Some(now) = rows.iter().map(|r| r.time).max() else {
            return Ok(());
        };
        let mut inner = lock(&self.inner);
        for row in rows {
            let part = row.component();
            let newer = inner.current.get(&part).is_none_or(|p| row.time >= p.since);
            if newer {
                inner.current.insert(part, PartStatus::from_row(&row));
            }
            let at = inner.rows.partition_point(|r| r.time <= row.time);
            inner.rows.insert(at, row);
        }
        if let Some(cutoff) = cutoff(now, self.retention.max_age) {
            inner.prune_before(cutoff);
        }
        if let Some(max) = self.retention.max_rows {
            let excess = inner.rows.len().saturating_sub(max);
            inner.rows.drain(..excess);
        }
        Ok(())
    }

    async fn query(&self, query: &HealthQuery) -> Result<Vec<HealthRow>, HealthTableError> {
        let inner = lock(&self.inner);
        Ok(inner
            .rows
            .iter()
            .rev()
            .filter(|r| query.matches(r))
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn current_status(&self) -> Result<Vec<ConnectorStatus>, HealthTableError> {
        let inner = lock(&self.inner);
        Ok(roll_up(inner.current.iter().map(|(c, p)| {
            ((c.tenant.clone(), c.connector.clone()), p.clone())
        })))
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<usize, HealthTableError> {
        let Some(cutoff) = cutoff(now, self.retention.max_age) else {
            return Ok(0);
        };
        Ok(lock(&self.inner).prune_before(cutoff))
    }
}
