//! What the health source says about itself: rows or minutes it could not read because they
//! were gone before it got to them. Reported through the health service like any other
//! transition (a Warning of the stream's collection, then Ok), so they are health rows, and
//! the `health_events` stream carries them too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::health::{Component, HealthKind, HealthReporter, Status, StatusTracker};
use crate::source::SourceContext;
use crate::sync::lock;

/// One status per health stream of one health source, reported on change only.
pub(super) struct SelfReport {
    reporter: Arc<dyn HealthReporter>,
    trackers: Mutex<HashMap<&'static str, StatusTracker>>,
}

impl SelfReport {
    pub(super) fn new(reporter: Arc<dyn HealthReporter>) -> Self {
        SelfReport {
            reporter,
            trackers: Mutex::default(),
        }
    }

    /// Some of `stream` was lost: a Warning (once, until [`SelfReport::whole`]).
    pub(super) async fn lost(&self, cx: &SourceContext, stream: &'static str, message: String) {
        self.observe(cx, stream, Status::Warning, message).await;
    }

    /// Nothing of `stream` is missing: back to Ok if it was not.
    pub(super) async fn whole(&self, cx: &SourceContext, stream: &'static str) {
        let message = format!("{}/{stream} reads every row again", cx.instance());
        self.observe(cx, stream, Status::Ok, message).await;
    }

    async fn observe(
        &self,
        cx: &SourceContext,
        stream: &'static str,
        status: Status,
        message: String,
    ) {
        let now = cx.clock().now_utc();
        let event = {
            let mut trackers = lock(&self.trackers);
            let tracker = trackers.entry(stream).or_insert_with(|| {
                let component = Component {
                    tenant: cx.tenant().to_owned(),
                    connector: cx.instance().to_owned(),
                    product: None,
                    stream: Some(stream.to_owned()),
                };
                // Starts from Ok silently: the job already reported its collection's start.
                let mut tracker = StatusTracker::new(component, 1);
                let _ = tracker.observe(Status::Ok, HealthKind::Collection, String::new, now);
                tracker
            });
            tracker.observe(status, HealthKind::Collection, || message, now)
        };
        if let Some(event) = event {
            self.reporter.report(event).await;
        }
    }
}
