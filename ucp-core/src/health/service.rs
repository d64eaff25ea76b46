//! The health service: the one [`HealthReporter`] a platform user registers.
//!
//! Each event becomes a row in the [`HealthTable`], updates the status gauge, runs the
//! inline callbacks, and is queued for the [`Notifier`]s, which a background task calls in
//! order so a slow webhook never delays the engine. Volume samples feed [`Volumes`] and the
//! received/sent counters.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::memory_table::MemoryHealthTable;
use super::metrics::Metrics;
use super::notify::Notifier;
use super::rows::RowWriter;
use super::table::{HealthRow, HealthTable, Retention};
use super::volume::{VolumeRetention, Volumes};
use super::{HealthEvent, HealthReporter, VolumeSample};

pub(super) type Callback = Box<dyn Fn(&HealthEvent) + Send + Sync>;

/// Events waiting for the notifiers; beyond this, new ones are dropped with a warning.
const NOTIFY_QUEUE: usize = 1024;

enum Dispatch {
    Event(HealthEvent),
    Flush(oneshot::Sender<()>),
}

/// Table, volumes, metrics and notifications behind one [`HealthReporter`].
pub struct HealthService {
    table: Arc<dyn HealthTable>,
    rows: Arc<RowWriter>,
    volumes: Volumes,
    outlets: Arc<Outlets>,
    workspaces: HashMap<String, String>,
}

/// Where an event goes besides the table: the status gauge, the callbacks and the notifiers.
/// Shared with the row writer, which reports the table's own failures through it.
pub(super) struct Outlets {
    metrics: Arc<Metrics>,
    callbacks: Vec<Callback>,
    notifiers: Arc<[Arc<dyn Notifier>]>,
    dispatch: OnceLock<mpsc::Sender<Dispatch>>,
}

impl fmt::Debug for HealthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthService")
            .field("callbacks", &self.outlets.callbacks.len())
            .field("notifiers", &self.outlets.notifiers.len())
            .field("workspaces", &self.workspaces)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HealthService`].
#[derive(Default)]
pub struct HealthServiceBuilder {
    table: Option<Arc<dyn HealthTable>>,
    volume_retention: VolumeRetention,
    metrics: Option<Arc<Metrics>>,
    callbacks: Vec<Callback>,
    notifiers: Vec<Arc<dyn Notifier>>,
    workspaces: HashMap<String, String>,
}

impl HealthServiceBuilder {
    /// Store rows in `table` (default: a [`MemoryHealthTable`] with default retention).
    pub fn table(mut self, table: Arc<dyn HealthTable>) -> Self {
        self.table = Some(table);
        self
    }

    /// Keep volume bins this long.
    pub fn volume_retention(mut self, retention: VolumeRetention) -> Self {
        self.volume_retention = retention;
        self
    }

    /// Update these metrics (default: a fresh [`Metrics`]).
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Call `f` for every transition, inline: keep it quick and non-blocking.
    pub fn on_event(mut self, f: impl Fn(&HealthEvent) + Send + Sync + 'static) -> Self {
        self.callbacks.push(Box::new(f));
        self
    }

    /// Tell `notifier` about every transition, from a background task.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(notifier);
        self
    }

    /// Rows about `product` record `workspace` (e.g. its Log Analytics workspace).
    pub fn workspace(mut self, product: impl Into<String>, workspace: impl Into<String>) -> Self {
        self.workspaces.insert(product.into(), workspace.into());
        self
    }

    /// The service. Needs no runtime; the notifier task starts with the first event.
    pub fn build(self) -> HealthService {
        let table = self
            .table
            .unwrap_or_else(|| Arc::new(MemoryHealthTable::new(Retention::default())));
        let outlets = Arc::new(Outlets {
            metrics: self.metrics.unwrap_or_default(),
            callbacks: self.callbacks,
            notifiers: self.notifiers.into(),
            dispatch: OnceLock::new(),
        });
        HealthService {
            rows: RowWriter::new(table.clone(), outlets.clone()),
            table,
            volumes: Volumes::new(self.volume_retention),
            outlets,
            workspaces: self.workspaces,
        }
    }
}

impl HealthService {
    /// Rows kept in memory while the table refuses them; beyond this the oldest are dropped
    /// and counted ([`HealthService::rows_lost`]).
    pub const MAX_ROWS_WAITING: usize = super::rows::MAX_ROWS_WAITING;

    /// Configure a service.
    pub fn builder() -> HealthServiceBuilder {
        HealthServiceBuilder::default()
    }

    /// The health table, to query rows and current status.
    pub fn table(&self) -> &Arc<dyn HealthTable> {
        &self.table
    }

    /// The volume series.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    /// The metrics, to encode for a scrape or to update from the engine.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.outlets.metrics
    }

    /// Rows the table refused so far and that wait, in order, to be written again (the
    /// table is retried with backoff; at most [`HealthService::MAX_ROWS_WAITING`] rows wait).
    pub async fn rows_waiting(&self) -> usize {
        self.rows.waiting().await
    }

    /// Rows lost because the table refused them for so long that more than
    /// [`HealthService::MAX_ROWS_WAITING`] waited (the oldest went first; counted, and said in the
    /// table's own health event).
    pub fn rows_lost(&self) -> u64 {
        self.rows.lost()
    }

    /// Waits until every event reported so far has been handed to every notifier.
    pub async fn flush_notifications(&self) {
        self.outlets.flush().await;
    }
}

impl Outlets {
    /// Tell the gauge, the callbacks and the notifiers about `event` (not the table).
    pub(super) fn announce(&self, event: &HealthEvent) {
        self.metrics.status(&event.component, event.status);
        for callback in &self.callbacks {
            callback(event);
        }
        if self.notifiers.is_empty() {
            return;
        }
        match self.dispatcher() {
            Some(queue) => {
                if let Err(e) = queue.try_send(Dispatch::Event(event.clone())) {
                    tracing::warn!(error = %e, "health notification queue full; notification dropped");
                }
            }
            None => {
                tracing::warn!(component = %event.component, "no tokio runtime; health notification dropped")
            }
        }
    }

    async fn flush(&self) {
        let Some(tx) = self.dispatch.get() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if tx.send(Dispatch::Flush(done)).await.is_ok() {
            // An error means the task ended, so nothing is pending either.
            let _ = wait.await;
        }
    }

    /// The queue to the notifier task, started on first use; `None` outside a tokio runtime.
    fn dispatcher(&self) -> Option<&mpsc::Sender<Dispatch>> {
        if let Some(tx) = self.dispatch.get() {
            return Some(tx);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(self.dispatch.get_or_init(|| {
            let (tx, mut rx) = mpsc::channel(NOTIFY_QUEUE);
            let notifiers = Arc::clone(&self.notifiers);
            // Ends when the service (the only sender) is dropped.
            runtime.spawn(async move {
                while let Some(job) = rx.recv().await {
                    match job {
                        Dispatch::Event(event) => {
                            for n in notifiers.iter() {
                                if let Err(e) = n.notify(&event).await {
                                    tracing::warn!(component = %event.component, error = %e, "health notification failed");
                                }
                            }
                        }
                        Dispatch::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
            tx
        }))
    }
}

#[async_trait]
impl HealthReporter for HealthService {
    async fn report(&self, event: HealthEvent) {
        tracing::debug!(component = %event.component, status = %event.status, previous = %event.previous, kind = %event.kind, message = %event.message, "health");
        self.outlets.announce(&event);
        let workspace = event
            .component
            .product
            .as_ref()
            .and_then(|p| self.workspaces.get(p))
            .cloned();
        self.rows
            .write(HealthRow::from_event(&event, workspace))
            .await;
    }

    fn metrics(&self) -> Option<Arc<Metrics>> {
        Some(self.outlets.metrics.clone())
    }

    fn record_volume(&self, sample: VolumeSample) {
        if sample.component.product.is_some() {
            self.outlets
                .metrics
                .sent(&sample.component, sample.records, sample.bytes);
        } else {
            self.outlets
                .metrics
                .received(&sample.component, sample.records, sample.bytes);
        }
        self.volumes.record(sample);
    }
}
