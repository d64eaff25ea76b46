//! What the sync tells: counters and latencies ([`SyncStats`]), the same as Prometheus
//! metrics ([`SyncMetrics`]), and one health status per tenant's sync through the platform's
//! [`HealthReporter`] (a [`StatusTracker`]: one event per transition), with its volumes of
//! synced changes per direction.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use ucp_core::health::{
    Component, HealthKind, HealthReporter, Status, StatusTracker, VolumeSample,
};

use crate::reconcile::Side;

/// The direction of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Defender XDR → Sentinel.
    ToSentinel,
    /// Sentinel → Defender XDR.
    ToXdr,
}

impl Direction {
    /// `xdr-to-sentinel` or `sentinel-to-xdr`: the stream name of its volumes.
    pub fn name(self) -> &'static str {
        match self {
            Direction::ToSentinel => "xdr-to-sentinel",
            Direction::ToXdr => "sentinel-to-xdr",
        }
    }

    /// The direction from `side` to the other.
    pub fn from(side: Side) -> Direction {
        match side {
            Side::Xdr => Direction::ToSentinel,
            Side::Sentinel => Direction::ToXdr,
        }
    }
}

/// What the sync did since it started (this process).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncStats {
    /// Sentinel twins made.
    pub incidents_created: u64,
    /// Field changes written to Sentinel (a twin's creation counts once, not per field).
    pub changes_to_sentinel: u64,
    /// Field changes written to Defender XDR.
    pub changes_to_xdr: u64,
    /// One-way fields a Sentinel user changed, put back.
    pub reverted: u64,
    /// Conflicts resolved.
    pub conflicts: u64,
    /// Comments copied to Sentinel.
    pub comments_to_sentinel: u64,
    /// Comments copied to Defender XDR.
    pub comments_to_xdr: u64,
    /// Comments not copied over a Sentinel limit.
    pub comments_skipped: u64,
    /// Write requests to Sentinel (incident and comment PUTs that saved).
    pub sentinel_writes: u64,
    /// Write requests to Defender XDR (PATCHes and comment POSTs that saved).
    pub xdr_writes: u64,
    /// Sentinel writes that met a newer version (409) and were merged again.
    pub etag_retries: u64,
    /// Sync cycles run.
    pub cycles: u64,
    /// Latencies from a change on one side to its write on the other, XDR → Sentinel.
    pub latency_to_sentinel: Vec<Duration>,
    /// The same, Sentinel → XDR.
    pub latency_to_xdr: Vec<Duration>,
}

impl SyncStats {
    /// Every latency, both directions.
    pub fn latencies(&self) -> Vec<Duration> {
        let mut all = self.latency_to_sentinel.clone();
        all.extend(&self.latency_to_xdr);
        all
    }

    /// The `q`-quantile (0..=1) of `samples`, nearest rank; zero without samples.
    pub fn quantile(samples: &[Duration], q: f64) -> Duration {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = samples.to_vec();
        sorted.sort();
        let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    tenant: String,
    direction: String,
}

/// The sync's Prometheus metrics: `ucp_sync_latency_seconds{tenant,direction}` (histogram),
/// `ucp_sync_changes_total{tenant,direction}`, `ucp_sync_comments_total{tenant,direction}`,
/// `ucp_sync_conflicts_total{tenant}` (direction = the winner's).
pub struct SyncMetrics {
    registry: Registry,
    latency: Family<DirectionLabels, Histogram>,
    changes: Family<DirectionLabels, Counter>,
    comments: Family<DirectionLabels, Counter>,
    conflicts: Family<DirectionLabels, Counter>,
}

impl std::fmt::Debug for SyncMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncMetrics").finish_non_exhaustive()
    }
}

impl Default for SyncMetrics {
    fn default() -> Self {
        SyncMetrics::new()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new([1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0])
}

impl SyncMetrics {
    /// Every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let latency = Family::<DirectionLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let changes = Family::<DirectionLabels, Counter>::default();
        let comments = Family::<DirectionLabels, Counter>::default();
        let conflicts = Family::<DirectionLabels, Counter>::default();
        registry.register(
            "ucp_sync_latency_seconds",
            "From a change on one side to its write on the other",
            latency.clone(),
        );
        registry.register(
            "ucp_sync_changes",
            "Field changes written, by direction",
            changes.clone(),
        );
        registry.register(
            "ucp_sync_comments",
            "Comments copied, by direction",
            comments.clone(),
        );
        registry.register(
            "ucp_sync_conflicts",
            "Conflicts resolved, by the winner's direction",
            conflicts.clone(),
        );
        SyncMetrics {
            registry,
            latency,
            changes,
            comments,
            conflicts,
        }
    }

    fn labels(tenant: &str, direction: Direction) -> DirectionLabels {
        DirectionLabels {
            tenant: tenant.to_string(),
            direction: direction.name().to_string(),
        }
    }

    pub(crate) fn latency(&self, tenant: &str, direction: Direction, latency: Duration) {
        self.latency
            .get_or_create(&Self::labels(tenant, direction))
            .observe(latency.as_secs_f64());
    }

    pub(crate) fn changes(&self, tenant: &str, direction: Direction, n: u64) {
        self.changes
            .get_or_create(&Self::labels(tenant, direction))
            .inc_by(n);
    }

    pub(crate) fn comment(&self, tenant: &str, direction: Direction) {
        self.comments
            .get_or_create(&Self::labels(tenant, direction))
            .inc();
    }

    pub(crate) fn conflict(&self, tenant: &str, direction: Direction) {
        self.conflicts
            .get_or_create(&Self::labels(tenant, direction))
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The sync's health: one status per tenant's sync, its last messages, and volumes.
pub(crate) struct Health {
    reporter: Option<Arc<dyn HealthReporter>>,
    tracker: StatusTracker,
    /// The last messages, newest last (at most [`LAST_MESSAGES`]).
    pub messages: Vec<(DateTime<Utc>, Status, String)>,
}

/// Messages kept for [`crate::IncidentSync::last_messages`].
pub(crate) const LAST_MESSAGES: usize = 50;

impl Health {
    pub fn new(component: Component, reporter: Option<Arc<dyn HealthReporter>>) -> Self {
        Health {
            reporter,
            // Back to Ok after three clean cycles, so a passing problem does not flap.
            tracker: StatusTracker::new(component, 3),
            messages: Vec::new(),
        }
    }

    pub fn status(&self) -> Status {
        self.tracker.status()
    }

    /// Note `status` with `message` at `now`; an event goes to the reporter on a transition.
    pub async fn observe(
        &mut self,
        status: Status,
        kind: HealthKind,
        message: String,
        now: DateTime<Utc>,
    ) {
        if status != Status::Ok
            || self
                .messages
                .last()
                .is_none_or(|(_, s, _)| *s != Status::Ok)
        {
            match status {
                Status::Error => {
                    tracing::error!(component = %self.tracker.component(), "{message}")
                }
                Status::Warning => {
                    tracing::warn!(component = %self.tracker.component(), "{message}")
                }
                _ => tracing::info!(component = %self.tracker.component(), "{message}"),
            }
            self.messages.push((now, status, message.clone()));
            if self.messages.len() > LAST_MESSAGES {
                self.messages.remove(0);
            }
        }
        let event = self.tracker.observe(status, kind, || message, now);
        if let (Some(event), Some(reporter)) = (event, &self.reporter) {
            reporter.report(event).await;
        }
    }

    /// `n` changes synced in `direction` at `now`.
    pub fn volume(&self, direction: Direction, n: u64, now: DateTime<Utc>) {
        if n == 0 {
            return;
        }
        if let Some(reporter) = &self.reporter {
            let mut component = self.tracker.component().clone();
            component.stream = Some(direction.name().to_string());
            reporter.record_volume(VolumeSample {
                time: now,
                component,
                records: n,
                bytes: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_secs).collect();
        assert_eq!(SyncStats::quantile(&samples, 0.99), Duration::from_secs(99));
        assert_eq!(SyncStats::quantile(&samples, 0.5), Duration::from_secs(50));
        assert_eq!(SyncStats::quantile(&samples, 1.0), Duration::from_secs(100));
        assert_eq!(SyncStats::quantile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn metrics_are_exposed_per_tenant_and_direction() {
        let m = SyncMetrics::new();
        m.latency("contoso", Direction::ToXdr, Duration::from_secs(12));
        m.changes("contoso", Direction::ToSentinel, 3);
        let text = m.encode();
        assert!(text.contains("ucp_sync_latency_seconds_bucket{le=\"30.0\",tenant=\"contoso\",direction=\"sentinel-to-xdr\"} 1"), "{text}");
        assert!(
            text.contains(
                "ucp_sync_changes_total{tenant=\"contoso\",direction=\"xdr-to-sentinel\"} 3"
            ),
            "{text}"
        );
    }
}
