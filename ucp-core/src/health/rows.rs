//! Writing health rows so that a table that fails for a while loses nothing.
//!
//! A row the table refuses (a full or failing disk under a [`SqliteHealthTable`]) waits in
//! memory, in order, and is written again with the rows after it: at the next event and, in
//! between, by a retry task with backoff — no restart is needed. At most
//! [`RowWriter::MAX_WAITING`] rows wait; beyond that the oldest are dropped and counted.
//! While the table fails, the service says so itself: an Error event about the
//! `health-table` part, through the metrics, callbacks and notifiers (the table cannot take
//! it), and an Ok event once the table takes rows again. Both are rows too, written once the
//! table works.
//!
//! [`SqliteHealthTable`]: super::SqliteHealthTable
//! [`HealthService::MAX_ROWS_WAITING`]: super::HealthService::MAX_ROWS_WAITING

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use chrono::Utc;

use super::service::Outlets;
use super::table::{HealthRow, HealthTable, HealthTableError};
use super::{Component, HealthEvent, HealthKind, Status};
use crate::retry::STORAGE_RETRY;

/// Rows kept while the table fails; the oldest are dropped (and counted) beyond this.
pub(super) const MAX_ROWS_WAITING: usize = 10_000;

/// The tenant and connector names under which the health service reports its table's own
/// failures and recoveries.
pub const HEALTH_TABLE_PART: (&str, &str) = ("platform", "health-table");

/// Writes rows to the table, keeping the ones it refuses for later. See the module docs.
pub(super) struct RowWriter {
    table: Arc<dyn HealthTable>,
    outlets: Arc<Outlets>,
    /// Rows not yet in the table, oldest first.
    waiting: tokio::sync::Mutex<VecDeque<HealthRow>>,
    lost: AtomicU64,
    /// The table refused the last write.
    failing: AtomicBool,
    retrying: AtomicBool,
}

impl RowWriter {
    pub(super) fn new(table: Arc<dyn HealthTable>, outlets: Arc<Outlets>) -> Arc<Self> {
        Arc::new(RowWriter {
            table,
            outlets,
            waiting: tokio::sync::Mutex::new(VecDeque::new()),
            lost: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            retrying: AtomicBool::new(false),
        })
    }

    pub(super) async fn waiting(&self) -> usize {
        self.waiting.lock().await.len()
    }

    pub(super) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Write `row` after every row still waiting.
    pub(super) async fn write(self: &Arc<Self>, row: HealthRow) {
        let mut waiting = self.waiting.lock().await;
        self.push(&mut waiting, row);
        self.flush(&mut waiting).await;
    }

    fn push(&self, waiting: &mut VecDeque<HealthRow>, row: HealthRow) {
        waiting.push_back(row);
        while waiting.len() > MAX_ROWS_WAITING {
            waiting.pop_front();
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Try to write every waiting row; `true` when none is left.
    async fn flush(self: &Arc<Self>, waiting: &mut VecDeque<HealthRow>) -> bool {
        if waiting.is_empty() {
            return true;
        }
        let rows: Vec<HealthRow> = waiting.iter().cloned().collect();
        match self.table.insert(rows).await {
            Ok(()) => {
                waiting.clear();
                if self.failing.swap(false, Ordering::AcqRel) {
                    let event = self.event(Status::Error, Status::Ok, || {
                        "the health table takes rows again; the rows it missed are written".into()
                    });
                    self.outlets.announce(&event);
                    // Its own row, after the ones it announces were kept.
                    if let Err(error) = self.table.insert(vec![row_of(&event)]).await {
                        tracing::warn!(%error, "health table recovery row not stored");
                    }
                }
                true
            }
            Err(error) => {
                tracing::warn!(%error, rows = waiting.len(), "health rows not stored; kept and written again");
                if !self.failing.swap(true, Ordering::AcqRel) {
                    let lost = self.lost();
                    let event = self.event(Status::Ok, Status::Error, || {
                        format!(
                            "the health table refused rows ({error}); they are kept in memory (at most {}, {lost} lost so far) and written again with backoff; free disk space or repair the disk of the table's file — no restart is needed",
                            MAX_ROWS_WAITING
                        )
                    });
                    self.outlets.announce(&event);
                    self.push(waiting, row_of(&event));
                }
                self.retry_later();
                false
            }
        }
    }

    /// Start the retry task unless one runs. It holds the writer weakly, so it ends with the
    /// service.
    fn retry_later(self: &Arc<Self>) {
        if self.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.retrying.store(false, Ordering::Release);
            return;
        };
        let writer: Weak<RowWriter> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut attempt = 0u32;
            loop {
                attempt = attempt.saturating_add(1);
                tokio::time::sleep(STORAGE_RETRY.backoff(attempt, 1.0)).await;
                let Some(writer) = writer.upgrade() else {
                    return;
                };
                let mut waiting = writer.waiting.lock().await;
                if writer.flush(&mut waiting).await {
                    writer.retrying.store(false, Ordering::Release);
                    return;
                }
            }
        });
    }

    fn event(
        &self,
        previous: Status,
        status: Status,
        message: impl FnOnce() -> String,
    ) -> HealthEvent {
        HealthEvent {
            time: Utc::now(),
            component: Component {
                tenant: HEALTH_TABLE_PART.0.into(),
                connector: HEALTH_TABLE_PART.1.into(),
                product: None,
                stream: None,
            },
            status,
            previous,
            kind: HealthKind::Storage,
            message: message(),
        }
    }
}

fn row_of(event: &HealthEvent) -> HealthRow {
    HealthRow::from_event(event, None)
}

/// Whether a table error may come from a connection whose file no longer works.
pub(super) fn handle_may_be_stale(error: &HealthTableError) -> bool {
    match error {
        HealthTableError::Sqlite { source, .. } => crate::store::handle_may_be_stale(source),
        _ => false,
    }
}
