//! The sync engine of one tenant: a reconciler. Each cycle polls both sides for what
//! changed, saves the changed incidents with each side's cursor in one transaction of the
//! ledger, then reconciles every changed incident (read both sides, [`decide`](crate::reconcile::decide),
//! write, record) and reports health.
//!
//! - `polls.rs`: the XDR poll (the Defender source's `incidents` sweep, its cursor kept in the
//!   ledger) and the Sentinel poll (incidents changed since the last one seen, minus an
//!   overlap).
//! - `incident.rs`: one incident's reconcile: its twin made or updated (etag merge), XDR
//!   patched through the Defender source's `update_incident` action.
//! - `comments.rs`: comments copied each way.
//! - `rules.rs`: connecting: Microsoft incident creation rules turned off (or the opt-out).

mod comments;
mod incident;
mod polls;
mod rules;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use ucp_core::health::{Component, HealthKind, HealthReporter, Status};
use ucp_core::{ErrorClass, SourceContext, SourceError};
use ucp_sources::defender::DefenderSource;

use crate::config::SyncConfig;
use crate::ledger::{Ledger, LedgerError};
use crate::report::{Direction, Health, SyncMetrics, SyncStats};
use crate::sentinel::SentinelIncidents;

pub use rules::Connected;

/// The `providerName` of the twins.
pub const PROVIDER_NAME: &str = "Microsoft Defender XDR";

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A provider refused or failed a call.
    #[error(transparent)]
    Provider(#[from] SourceError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The settings cannot be used.
    #[error("incident sync: {0}")]
    Config(String),
}

impl SyncError {
    fn status(&self) -> Status {
        match self {
            SyncError::Provider(e) if e.class() != ErrorClass::Permanent => Status::Warning,
            _ => Status::Error,
        }
    }

    fn action(&self) -> &'static str {
        match self {
            SyncError::Provider(e) => e.action(),
            SyncError::Ledger(_) => {
                "check the disk and the ledger file's permissions; the sync resumes from the ledger once it can write"
            }
            SyncError::Config(_) => "fix the sync's configuration",
        }
    }
}

/// What one cycle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cycle {
    /// XDR incidents the poll saw change.
    pub xdr_changed: usize,
    /// Twins the Sentinel poll saw change.
    pub sentinel_changed: usize,
    /// Incidents reconciled.
    pub reconciled: usize,
    /// Writes made (both sides, incidents and comments).
    pub writes: u64,
    /// Incidents left to the next cycle, with why.
    pub failed: Vec<(String, String)>,
}

/// Notes gathered during a cycle, for its health message.
#[derive(Default)]
pub(crate) struct Notes {
    pub warnings: Vec<String>,
    pub to_sentinel: u64,
    pub to_xdr: u64,
}

/// Mutable state behind one lock: health and counters.
pub(crate) struct State {
    pub health: Health,
    pub stats: SyncStats,
    pub opted_out: Option<String>,
    /// Why connecting failed (creation rules not turned off), until it succeeds.
    pub connect_error: Option<String>,
}

/// The sync of one tenant's Defender XDR incidents with one Sentinel workspace.
pub struct IncidentSync {
    pub(crate) config: SyncConfig,
    pub(crate) xdr_tenant: String,
    pub(crate) defender: Arc<DefenderSource>,
    pub(crate) cx: SourceContext,
    pub(crate) sentinel: SentinelIncidents,
    pub(crate) ledger: Ledger,
    pub(crate) state: tokio::sync::Mutex<State>,
    pub(crate) metrics: SyncMetrics,
    pub(crate) started: DateTime<Utc>,
}

impl std::fmt::Debug for IncidentSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentSync")
            .field("name", &self.config.name)
            .field("tenant", &self.cx.tenant())
            .finish_non_exhaustive()
    }
}

/// The Sentinel twin's incident id of XDR incident `xdr_id` in directory `xdr_tenant`: a
/// GUID drawn from both, so the twin is found (never made twice) even by a sync that lost
/// its ledger.
pub fn twin_id(xdr_tenant: &str, xdr_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"ucp-sync/defender-xdr/");
    hash.update(xdr_tenant.as_bytes());
    hash.update(b"/");
    hash.update(xdr_id.as_bytes());
    let h: String = hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl IncidentSync {
    /// A sync of `defender`'s incidents (its calls through `cx`: the tenant's credentials,
    /// token provider, clock and the source's budget) with `sentinel` (the same credentials
    /// and token provider), remembering in `ledger`.
    pub fn new(
        config: SyncConfig,
        defender: Arc<DefenderSource>,
        cx: SourceContext,
        sentinel: SentinelIncidents,
        ledger: Ledger,
    ) -> Result<Self, SyncError> {
        if let Some(problem) = config.problem() {
            return Err(SyncError::Config(problem));
        }
        use ucp_core::Source;
        let xdr_tenant = defender.describe().budget.key.account.clone();
        let component = Component {
            tenant: cx.tenant().to_string(),
            connector: config.name.clone(),
            product: Some("sentinel".into()),
            stream: None,
        };
        let started = cx.clock().now_utc();
        Ok(IncidentSync {
            xdr_tenant,
            state: tokio::sync::Mutex::new(State {
                health: Health::new(component, None),
                stats: SyncStats::default(),
                opted_out: None,
                connect_error: None,
            }),
            config,
            defender,
            cx,
            sentinel,
            ledger,
            metrics: SyncMetrics::new(),
            started,
        })
    }

    /// Report health (status transitions and volumes) to `reporter`.
    pub fn with_health(mut self, reporter: Arc<dyn HealthReporter>) -> Self {
        let component = Component {
            tenant: self.cx.tenant().to_string(),
            connector: self.config.name.clone(),
            product: Some("sentinel".into()),
            stream: None,
        };
        self.state.get_mut().health = Health::new(component, Some(reporter));
        self
    }

    /// The ledger (twins, the audit trail).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The Prometheus metrics.
    pub fn metrics(&self) -> &SyncMetrics {
        &self.metrics
    }

    /// What the sync did so far.
    pub async fn stats(&self) -> SyncStats {
        self.state.lock().await.stats.clone()
    }

    /// The sync's health status.
    pub async fn status(&self) -> Status {
        self.state.lock().await.health.status()
    }

    /// The last health messages, newest last: `(time, status, message)`.
    pub async fn last_messages(&self) -> Vec<(DateTime<Utc>, Status, String)> {
        self.state.lock().await.health.messages.clone()
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.cx.clock().now_utc()
    }

    /// `call` again while it fails for a while (429, 5xx, timeouts), at most
    /// `call_attempts` times; a 429 pauses the budget concerned (the next attempt's permit
    /// waits for it).
    pub(crate) async fn retry<T, F, Fut>(&self, xdr: bool, mut call: F) -> Result<T, SourceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SourceError>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if error.class() == ErrorClass::Permanent || attempt >= self.config.call_attempts {
                return Err(error);
            }
            let wait = match &error {
                SourceError::RateLimited { hint, .. } => {
                    if xdr {
                        self.cx.budget().throttled(hint);
                    }
                    Duration::ZERO
                }
                SourceError::Retryable {
                    retry_after: Some(after),
                    ..
                } => *after,
                _ => Duration::from_millis(500u64.saturating_mul(1 << attempt.min(6))),
            };
            tracing::debug!(sync = %self.config.name, attempt, %error, "retrying");
            tokio::time::sleep(wait.min(self.config.max_retry_wait)).await;
        }
    }

    /// One cycle: poll both sides, reconcile what changed, report health.
    pub async fn cycle(&self) -> Result<Cycle, SyncError> {
        let mut notes = Notes::default();
        let mut cycle = Cycle::default();
        let result = self.cycle_inner(&mut notes, &mut cycle).await;
        let now = self.now();
        let mut state = self.state.lock().await;
        state.stats.cycles += 1;
        state
            .health
            .volume(Direction::ToSentinel, notes.to_sentinel, now);
        state.health.volume(Direction::ToXdr, notes.to_xdr, now);
        let name = &self.config.name;
        let (status, kind, message) = match &result {
            Err(error) => (
                error.status(),
                match error {
                    SyncError::Provider(SourceError::Auth { .. }) => HealthKind::Auth,
                    SyncError::Config(_) => HealthKind::Config,
                    _ => HealthKind::Collection,
                },
                format!("{name}: {error}; what to do: {}", error.action()),
            ),
            Ok(_) if state.connect_error.is_some() => (
                Status::Error,
                HealthKind::Config,
                state.connect_error.clone().unwrap_or_default(),
            ),
            Ok(_) if !cycle.failed.is_empty() => (
                Status::Warning,
                HealthKind::Action,
                format!(
                    "{name}: {} incident(s) could not be synced this cycle and will be tried again (first: {} — {})",
                    cycle.failed.len(),
                    cycle.failed[0].0,
                    cycle.failed[0].1
                ),
            ),
            Ok(_) if !notes.warnings.is_empty() => (
                Status::Warning,
                HealthKind::Action,
                format!("{name}: {}", notes.warnings.join("; ")),
            ),
            Ok(_) => match &state.opted_out {
                Some(message) => (Status::Warning, HealthKind::Config, message.clone()),
                None => (
                    Status::Ok,
                    HealthKind::Action,
                    format!("{name}: incidents are in sync"),
                ),
            },
        };
        state.health.observe(status, kind, message, now).await;
        drop(state);
        result.map(|()| cycle)
    }

    async fn cycle_inner(&self, notes: &mut Notes, cycle: &mut Cycle) -> Result<(), SyncError> {
        let xdr = self.poll_xdr(notes).await?;
        cycle.xdr_changed = xdr.len();
        let sentinel = self.poll_sentinel(notes).await?;
        cycle.sentinel_changed = sentinel.len();
        for (id, xdr_changed) in self.ledger.dirty()? {
            match self
                .reconcile(&id, xdr.get(&id), xdr_changed, sentinel.get(&id), notes)
                .await
            {
                Ok(writes) => {
                    self.ledger.clean(&id)?;
                    cycle.reconciled += 1;
                    cycle.writes += writes;
                }
                // Every incident would fail the same way: stop and say so.
                Err(SyncError::Provider(
                    error @ (SourceError::Auth { .. } | SourceError::Config { .. }),
                )) => return Err(error.into()),
                Err(SyncError::Ledger(error)) => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(sync = %self.config.name, incident = %id, %error, "left to the next cycle");
                    cycle.failed.push((id, error.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Connect, then a cycle every `interval` (missed ticks skipped) until `stop` completes.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut connected = false;
        let interval = self.config.interval;
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep_until(next) => {}
            }
            // The sync runs even while the creation rules cannot be turned off (health says
            // so, as an Error naming the role); connecting is tried again every cycle.
            if !connected {
                connected = self.connect().await.is_ok();
            }
            let _ = self.cycle().await;
            next += interval;
            let now = tokio::time::Instant::now();
            while next <= now {
                next += interval;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::twin_id;

    #[test]
    fn a_twin_id_is_a_stable_guid_of_tenant_and_incident() {
        let id = twin_id("2f2d7b4c-8c1e-4f7a-9d2b-5e0c1a6b3d90", "2970001");
        assert_eq!(
            id,
            twin_id("2f2d7b4c-8c1e-4f7a-9d2b-5e0c1a6b3d90", "2970001")
        );
        assert_ne!(id, twin_id("another-tenant", "2970001"));
        assert_ne!(
            id,
            twin_id("2f2d7b4c-8c1e-4f7a-9d2b-5e0c1a6b3d90", "2970002")
        );
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
