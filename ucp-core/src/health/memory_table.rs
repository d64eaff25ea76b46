//! The health table in memory (tests, examples, embedders that keep health elsewhere).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::table::{
    cutoff, first_seq_origin, roll_up, ConnectorStatus, HealthQuery, HealthRow, HealthTable,
    HealthTableError, PartStatus, Retention, RowsAfter,
};
use super::Component;
use crate::sync::lock;

/// A [`HealthTable`] in memory, bounded by its [`Retention`].
#[derive(Debug)]
pub struct MemoryHealthTable {
    retention: Retention,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Every row, by sequence.
    rows: BTreeMap<u64, HealthRow>,
    /// (time, sequence) of every row: time order for queries and retention; equal times
    /// keep insertion order.
    by_time: BTreeSet<(DateTime<Utc>, u64)>,
    /// Sequences of each tenant's rows, for incremental reads.
    by_tenant: HashMap<String, BTreeSet<u64>>,
    /// The last sequence given out (at first, where numbering starts).
    last_seq: u64,
    /// Per tenant, the highest sequence retention removed.
    pruned: HashMap<String, u64>,
    /// Latest row per part, kept even when retention drops the row itself.
    current: HashMap<Component, PartStatus>,
}

impl Default for MemoryHealthTable {
    fn default() -> Self {
        Self::new(Retention::default())
    }
}

impl MemoryHealthTable {
    /// An empty table with the given retention.
    pub fn new(retention: Retention) -> Self {
        MemoryHealthTable {
            retention,
            inner: Mutex::new(Inner {
                last_seq: first_seq_origin(),
                ..Inner::default()
            }),
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
    fn add(&mut self, mut row: HealthRow) {
        let part = row.component();
        let newer = self.current.get(&part).is_none_or(|p| row.time >= p.since);
        if newer {
            self.current.insert(part, PartStatus::from_row(&row));
        }
        self.last_seq = self.last_seq.saturating_add(1);
        row.seq = self.last_seq;
        self.by_time.insert((row.time, row.seq));
        self.by_tenant
            .entry(row.tenant.clone())
            .or_default()
            .insert(row.seq);
        self.rows.insert(row.seq, row);
    }

    /// Removes one row, remembering how far retention reached into its tenant's rows.
    fn remove(&mut self, key: (DateTime<Utc>, u64)) {
        self.by_time.remove(&key);
        let Some(row) = self.rows.remove(&key.1) else {
            return;
        };
        if let Some(seqs) = self.by_tenant.get_mut(&row.tenant) {
            seqs.remove(&row.seq);
            if seqs.is_empty() {
                self.by_tenant.remove(&row.tenant);
            }
        }
        let through = self.pruned.entry(row.tenant).or_default();
        *through = (*through).max(row.seq);
    }

    fn prune_before(&mut self, cutoff: DateTime<Utc>) -> usize {
        let old: Vec<_> = self
            .by_time
            .range(..(cutoff, 0))
            .copied()
            .collect::<Vec<_>>();
        let removed = old.len();
        for key in old {
            self.remove(key);
        }
        removed
    }

    fn keep_at_most(&mut self, max: usize) {
        while self.rows.len() > max {
            let Some(&oldest) = self.by_time.first() else {
                return;
            };
            self.remove(oldest);
        }
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
            inner.add(row);
        }
        if let Some(cutoff) = cutoff(now, self.retention.max_age) {
            inner.prune_before(cutoff);
        }
        if let Some(max) = self.retention.max_rows {
            inner.keep_at_most(max);
        }
        Ok(())
    }

    async fn query(&self, query: &HealthQuery) -> Result<Vec<HealthRow>, HealthTableError> {
        let inner = lock(&self.inner);
        Ok(inner
            .by_time
            .iter()
            .rev()
            .filter_map(|(_, seq)| inner.rows.get(seq))
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

    async fn read_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<RowsAfter, HealthTableError> {
        let inner = lock(&self.inner);
        let rows = match (inner.by_tenant.get(tenant), after.checked_add(1)) {
            (Some(seqs), Some(first)) => seqs
                .range(first..)
                .take(limit)
                .filter_map(|seq| inner.rows.get(seq))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        Ok(RowsAfter {
            rows,
            pruned_through: inner.pruned.get(tenant).copied().unwrap_or(0),
            last_seq: inner.last_seq,
        })
    }
}
