//! Budgets shared by several processes: a cluster of ucp nodes draws the permits of one
//! provider account from one place, so the nodes together stay inside the account's limit.
//!
//! A [`SharedBudget`] holds, per [`BudgetKey`], the account's next free call slot (GCRA's
//! theoretical arrival time) and the instant until which every node must pause (learnt
//! from a 429 or an exhausted quota by any node). A [`RateBudget`](super::RateBudget) built
//! with one ([`crate::PlatformBuilder::shared_budget`]) keeps its local checks (pauses, the
//! provider's longer windows, the action reserve) and takes each collection permit's slot
//! from the shared state instead of its own limiter.
//!
//! In shared mode a budget does not learn other applications' use from the remaining
//! headers: every node's calls count against the same account, so a node would take its
//! peers' calls (or a dead peer's) for other applications' and hold the budget back. Other
//! applications keep the part the budget's spec leaves them (`limit − allowed`).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::BudgetKey;

/// A shared budget could not be reached or answered nonsense.
#[derive(Debug, thiserror::Error)]
#[error("shared budget {key}: {reason}")]
pub struct SharedBudgetError {
    /// The account concerned.
    pub key: BudgetKey,
    /// What failed (never a secret).
    pub reason: String,
}

/// Permit slots and pauses of provider accounts, shared by every node of a cluster.
#[async_trait]
pub trait SharedBudget: Send + Sync + fmt::Debug + 'static {
    /// Reserve the account's next call slot: no earlier than now, than `spacing` after the
    /// slot granted before it (by any node), or than a shared pause. Returns how long the
    /// caller waits from now until its slot; the slot is taken whether it waits or not.
    async fn reserve(
        &self,
        key: &BudgetKey,
        spacing: Duration,
    ) -> Result<Duration, SharedBudgetError>;

    /// Pause every node's calls on the account until `until` (a later pause already there
    /// stays).
    async fn pause(&self, key: &BudgetKey, until: DateTime<Utc>) -> Result<(), SharedBudgetError>;
}

/// How long a node waits before trying again when the shared budget does not answer: calls
/// stop rather than run past the cluster's limit.
pub(super) const UNREACHABLE_RETRY: Duration = Duration::from_secs(1);
