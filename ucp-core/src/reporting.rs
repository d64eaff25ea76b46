//! The engine's side of health: status trackers that report transitions, and volumes.

use std::sync::Arc;

use crate::clock::Clock;
use crate::health::{
    Component, HealthKind, HealthReporter, Metrics, Status, StatusTracker, VolumeSample,
};

/// Successes in a row that bring a component from Warning or Error back to Ok.
const RECOVER_AFTER: u32 = 2;

/// What jobs and delivery tasks report through.
#[derive(Clone)]
pub(crate) struct HealthHub {
    reporter: Arc<dyn HealthReporter>,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
}

impl HealthHub {
    pub(crate) fn new(reporter: Arc<dyn HealthReporter>, clock: Clock) -> Self {
        let metrics = reporter.metrics();
        HealthHub {
            reporter,
            metrics,
            clock,
        }
    }

    /// Count a failed call: `error_type` is the error's class, `stage` `collect` or `deliver`.
    pub(crate) fn error(&self, component: &Component, error_type: &str, stage: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.error(component, error_type, stage);
        }
    }

    pub(crate) fn dropped(&self, component: &Component, records: u64) {
        if let Some(metrics) = &self.metrics {
            metrics.dropped(component, records);
        }
    }

    pub(crate) fn queue_depth(&self, component: &Component, depth: usize) {
        if let Some(metrics) = &self.metrics {
            metrics.queue_depth(component, depth);
        }
    }

    pub(crate) fn budget_remaining(&self, budget: &str, remaining: u32) {
        if let Some(metrics) = &self.metrics {
            metrics.budget_remaining(budget, remaining as u64);
        }
    }

    pub(crate) fn tracker(&self, component: Component) -> StatusTracker {
        StatusTracker::new(component, RECOVER_AFTER)
    }

    /// A tracker for a store: one write it accepts proves it works again.
    pub(crate) fn storage_tracker(&self, component: Component) -> StatusTracker {
        StatusTracker::new(component, 1)
    }

    /// Record an outcome; report it if the status changed.
    pub(crate) async fn observe(
        &self,
        tracker: &mut StatusTracker,
        status: Status,
        kind: HealthKind,
        message: impl FnOnce() -> String,
    ) {
        if let Some(event) = tracker.observe(status, kind, message, self.clock.now_utc()) {
            tracing::info!(component = %event.component, from = %event.previous, to = %event.status, message = %event.message, "status changed");
            self.reporter.report(event).await;
        }
    }

    pub(crate) fn volume(&self, component: &Component, records: u64, bytes: u64) {
        self.reporter.record_volume(VolumeSample {
            time: self.clock.now_utc(),
            component: component.clone(),
            records,
            bytes,
        });
    }
}
