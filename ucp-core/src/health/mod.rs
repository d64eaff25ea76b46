//! Health: every connector and product subscription reports status and messages into one
//! place through a [`HealthReporter`].
//!
//! The engine keeps one [`StatusTracker`] per component and reports a [`HealthEvent`] only
//! when the status changes (once per transition, never on every call).
//!
//! A platform user registers one [`HealthService`]: it writes each event as a row into a
//! [`HealthTable`] (in memory, or [`SqliteHealthTable`] to survive restarts), keeps volume
//! series in [`Volumes`] (drawn by [`render_volume_svg`]), updates Prometheus [`Metrics`] and
//! tells [`Notifier`]s (a [`WebhookNotifier`], or a callback).

mod memory;
mod memory_table;
mod metrics;
mod notify;
mod rows;
mod service;
mod sqlite_table;
#[cfg(feature = "svg")]
mod svg;
mod table;
mod volume;
mod webhook;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use memory::MemoryHealth;
pub use memory_table::MemoryHealthTable;
pub use metrics::Metrics;
pub use notify::{CallbackNotifier, Notifier, NotifyError, Suppressor};
pub use rows::HEALTH_TABLE_PART;
pub use service::{HealthService, HealthServiceBuilder};
pub use sqlite_table::SqliteHealthTable;
#[cfg(feature = "svg")]
#[cfg_attr(docsrs, doc(cfg(feature = "svg")))]
pub use svg::{render_volume_svg, RenderError};
pub use table::{
    roll_up, ConnectorStatus, HealthQuery, HealthRow, HealthTable, HealthTableError, PartStatus,
    Retention, RowsAfter,
};
pub use volume::{
    BinSize, VolumeError, VolumeKey, VolumePoint, VolumeQuery, VolumeRetention, VolumeSeries,
    Volumes,
};
pub use webhook::{RetryPolicy, WebhookNotifier, WebhookOutcome};

/// Status of a connector instance or a product subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// Registered, not yet collected or delivered.
    Starting,
    /// Working.
    Ok,
    /// Working with a problem that needs watching (retries, throttling, stretched intervals,
    /// full queues, dropped or dead-lettered records, staleness).
    Warning,
    /// Not working until a person acts (auth failure, permanent error).
    Error,
    /// Stopped by shutdown or unsubscribe.
    Stopped,
}

impl Status {
    /// Severity for "worst of" roll-ups: Error > Warning > Starting > Ok > Stopped.
    pub fn severity(self) -> u8 {
        match self {
            Status::Stopped => 0,
            Status::Ok => 1,
            Status::Starting => 2,
            Status::Warning => 3,
            Status::Error => 4,
        }
    }
}

impl Status {
    /// The status of a [`Status::severity`], if it is one.
    pub fn from_severity(severity: u8) -> Option<Status> {
        Status::ALL.get(usize::from(severity)).copied()
    }

    /// Every status, in severity order (for one-hot gauges and parsing).
    pub const ALL: [Status; 5] = [
        Status::Stopped,
        Status::Ok,
        Status::Starting,
        Status::Warning,
        Status::Error,
    ];

    /// The status's name, as shown and stored (`"Ok"`, `"Warning"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "Starting",
            Status::Ok => "Ok",
            Status::Warning => "Warning",
            Status::Error => "Error",
            Status::Stopped => "Stopped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`Status`] or [`HealthKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown health {what} {name:?}: expected one of {expected}")]
pub struct ParseHealthError {
    what: &'static str,
    name: String,
    expected: &'static str,
}

impl FromStr for Status {
    type Err = ParseHealthError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| ParseHealthError {
                what: "status",
                name: name.to_owned(),
                expected: "Starting, Ok, Warning, Error, Stopped",
            })
    }
}

/// What a health event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthKind {
    /// Collecting from the provider.
    Collection,
    /// Delivering to a product.
    Delivery,
    /// Credentials and tokens.
    Auth,
    /// Rate budgets and interval stretching.
    Budget,
    /// Configuration.
    Config,
    /// Start, stop, subscribe, unsubscribe.
    Lifecycle,
    /// Response actions performed through a connector.
    Action,
    /// The disk where queues, cursors, health rows and product files are kept.
    Storage,
}

impl HealthKind {
    /// Every kind.
    pub const ALL: [HealthKind; 8] = [
        HealthKind::Collection,
        HealthKind::Delivery,
        HealthKind::Auth,
        HealthKind::Budget,
        HealthKind::Config,
        HealthKind::Lifecycle,
        HealthKind::Action,
        HealthKind::Storage,
    ];

    /// The kind's name, as shown and stored (`"Collection"`, `"Delivery"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthKind::Collection => "Collection",
            HealthKind::Delivery => "Delivery",
            HealthKind::Auth => "Auth",
            HealthKind::Budget => "Budget",
            HealthKind::Config => "Config",
            HealthKind::Lifecycle => "Lifecycle",
            HealthKind::Action => "Action",
            HealthKind::Storage => "Storage",
        }
    }
}

impl fmt::Display for HealthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HealthKind {
    type Err = ParseHealthError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        HealthKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| ParseHealthError {
                what: "kind",
                name: name.to_owned(),
                expected: "Collection, Delivery, Auth, Budget, Config, Lifecycle, Action, Storage",
            })
    }
}

/// Which component an event concerns.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Component {
    /// Tenant of the connector.
    pub tenant: String,
    /// Connector (source instance) name.
    pub connector: String,
    /// Product (sink name), for a subscription; `None` for the connector's collection.
    pub product: Option<String>,
    /// Stream (table) name, if the event concerns one.
    pub stream: Option<String>,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.connector)?;
        if let Some(stream) = &self.stream {
            write!(f, "/{stream}")?;
        }
        if let Some(product) = &self.product {
            write!(f, " → {product}")?;
        }
        Ok(())
    }
}

/// One status transition with the message that explains it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthEvent {
    /// When.
    pub time: DateTime<Utc>,
    /// What it concerns.
    pub component: Component,
    /// The new status.
    pub status: Status,
    /// The status before.
    pub previous: Status,
    /// What area.
    pub kind: HealthKind,
    /// What failed and what to do (never a secret).
    pub message: String,
}

/// Records (and bytes) that moved through one stream, or reached one product, at one time.
/// The engine reports one sample per collected page and per delivered batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSample {
    /// When.
    pub time: DateTime<Utc>,
    /// Which stream (and, for deliveries, which product).
    pub component: Component,
    /// Records.
    pub records: u64,
    /// Payload bytes.
    pub bytes: u64,
}

/// Receives health events. Implementations must not block for long: the engine awaits them.
#[async_trait]
pub trait HealthReporter: Send + Sync + 'static {
    /// Record one status transition.
    async fn report(&self, event: HealthEvent);

    /// Record a volume sample. Called on the hot path: keep it cheap (the default ignores it).
    fn record_volume(&self, sample: VolumeSample) {
        let _ = sample;
    }

    /// The metrics registry the engine should count errors, drops, queue depths and budgets
    /// in, if this reporter keeps one (status and volumes arrive through the calls above).
    fn metrics(&self) -> Option<std::sync::Arc<Metrics>> {
        None
    }
}

/// Emits an event only when a component's status changes.
///
/// Problems take effect at once; going back to `Ok` after a problem needs `recover_after`
/// successes in a row, so a flapping provider does not flood the health table.
#[derive(Clone, Debug)]
pub struct StatusTracker {
    component: Component,
    status: Status,
    kind: HealthKind,
    successes: u32,
    recover_after: u32,
    /// Where the platform reads the current status of a part (for stats and restarts).
    mirror: Option<std::sync::Arc<std::sync::atomic::AtomicU8>>,
}

impl StatusTracker {
    /// A tracker starting in [`Status::Starting`].
    pub fn new(component: Component, recover_after: u32) -> Self {
        StatusTracker {
            component,
            status: Status::Starting,
            kind: HealthKind::Lifecycle,
            successes: 0,
            recover_after: recover_after.max(1),
            mirror: None,
        }
    }

    /// Also keep the current status in `cell` (as [`Status::severity`]).
    pub(crate) fn mirrored(mut self, cell: std::sync::Arc<std::sync::atomic::AtomicU8>) -> Self {
        cell.store(self.status.severity(), std::sync::atomic::Ordering::Relaxed);
        self.mirror = Some(cell);
        self
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The component tracked.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Record an outcome; returns the event to report if the status changed.
    pub fn observe(
        &mut self,
        status: Status,
        kind: HealthKind,
        message: impl FnOnce() -> String,
        now: DateTime<Utc>,
    ) -> Option<HealthEvent> {
        let next = match status {
            Status::Ok if matches!(self.status, Status::Warning | Status::Error) => {
                self.successes += 1;
                if self.successes < self.recover_after {
                    return None;
                }
                Status::Ok
            }
            other => {
                self.successes = 0;
                other
            }
        };
        if next == self.status {
            return None;
        }
        let previous = std::mem::replace(&mut self.status, next);
        self.kind = kind;
        if let Some(cell) = &self.mirror {
            cell.store(next.severity(), std::sync::atomic::Ordering::Relaxed);
        }
        Some(HealthEvent {
            time: now,
            component: self.component.clone(),
            status: next,
            previous,
            kind,
            message: message(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> StatusTracker {
        StatusTracker::new(
            Component {
                tenant: "t".into(),
                connector: "c".into(),
                product: None,
                stream: None,
            },
            2,
        )
    }

    #[test]
    fn emits_once_per_transition_and_recovers_after_n_successes() {
        let now = Utc::now();
        let mut t = tracker();
        let ok = |t: &mut StatusTracker| {
            t.observe(Status::Ok, HealthKind::Collection, || "ok".into(), now)
        };
        assert_eq!(ok(&mut t).map(|e| e.status), Some(Status::Ok));
        assert!(ok(&mut t).is_none());
        let warn = t.observe(
            Status::Warning,
            HealthKind::Collection,
            || "retrying".into(),
            now,
        );
        assert_eq!(
            warn.map(|e| (e.previous, e.status)),
            Some((Status::Ok, Status::Warning))
        );
        assert!(t
            .observe(
                Status::Warning,
                HealthKind::Collection,
                || "again".into(),
                now
            )
            .is_none());
        assert!(ok(&mut t).is_none(), "one success is not enough");
        assert_eq!(ok(&mut t).map(|e| e.status), Some(Status::Ok));
    }
}
