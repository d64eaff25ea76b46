//! The `health_events` stream: every row of the tenant's health table, once, in sequence
//! order.
//!
//! The cursor is the last sequence read and each record's id is `<tenant>/health/<seq>`, so
//! a page collected again after a crash carries the same ids and a product drops the
//! duplicates. Rows that retention removed before they were read are reported (a Warning of
//! this stream's collection, naming the sequences) and reading continues with the oldest row
//! kept. A table numbers from its creation time, so one created again (in memory after a
//! restart) continues above the saved position; a position past everything the table
//! numbered means an older table came back: that is reported and it is read from the start.
//!
//! # Echoes
//!
//! Delivering this stream changes the health of that delivery, which writes rows, which this
//! stream reads and delivers again. A product that fails on some calls would keep that loop
//! turning forever. So rows about the deliveries of this very stream ("echoes") never start
//! a page on their own more than once: a page goes out when it holds a row about anything
//! else; echoes alone wait, and go out alone once, `echo_delay` after the last page with
//! another row. What delivering that echo-only page causes waits for the next other row.
//! Every row still goes out exactly once and in order; the rows a failing health delivery
//! causes are bounded by the other rows it carries. (Rows about deliveries of `volumes` or
//! `inventory` are not echoes: those streams go out by the clock, not by these rows.)

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::position::{path_segment, SeqCursor};
use super::self_report::SelfReport;
use super::HEALTH_EVENTS;
use crate::health::{HealthRow, HealthTable, RowsAfter};
use crate::record::{Cursor, Record};
use crate::source::{Page, SourceContext, SourceError};
use crate::sync::lock;

/// Reads the health table for one health source.
pub(super) struct EventsReader {
    page_rows: usize,
    echo_delay: Duration,
    state: Mutex<EchoState>,
}

#[derive(Default)]
struct EchoState {
    /// When the last page with a row other than an echo went out; `None` once the
    /// echo-only page it allows went out.
    armed_at: Option<Instant>,
    /// The highest pruned sequence already reported.
    gap_reported: u64,
}

impl EventsReader {
    pub(super) fn new(page_rows: usize, echo_delay: Duration) -> Self {
        EventsReader {
            page_rows: page_rows.max(1),
            echo_delay,
            state: Mutex::default(),
        }
    }

    pub(super) async fn collect(
        &self,
        cx: &SourceContext,
        table: &dyn HealthTable,
        reports: &SelfReport,
        cursor: &Cursor,
    ) -> Result<Page, SourceError> {
        let mut after = SeqCursor::parse(cursor, HEALTH_EVENTS)?;
        let mut read = self.read(cx, table, after).await?;
        if after > read.last_seq {
            // The saved position is past everything this table numbered: it was replaced by
            // an older one. Read it from its oldest row; rows already delivered come again
            // under their own ids.
            let message = format!(
                "{}/{HEALTH_EVENTS}: the saved position {after} is past the health table's last row {}: the table was replaced by an older one; reading it again from its oldest row. What to do: nothing; keep one health table per platform",
                cx.instance(),
                read.last_seq
            );
            reports.lost(cx, HEALTH_EVENTS, message).await;
            after = 0;
            read = self.read(cx, table, after).await?;
        }
        if after > 0 {
            self.check_gap(cx, reports, after, read.pruned_through)
                .await;
        }
        let held = Page {
            next: cursor.clone(),
            ..Page::default()
        };
        let Some(last) = read.rows.last().map(|r| r.seq) else {
            return Ok(held);
        };
        let full = read.rows.len() >= self.page_rows;
        let other = read.rows.iter().any(|r| !is_echo(r, cx.instance()));
        if !self.may_go(other, full) {
            return Ok(held);
        }
        let records = read.rows.iter().map(|r| record(cx.tenant(), r)).collect();
        Ok(Page {
            records,
            next: SeqCursor::at(last),
            more: full,
            hint: None,
        })
    }

    async fn read(
        &self,
        cx: &SourceContext,
        table: &dyn HealthTable,
        after: u64,
    ) -> Result<RowsAfter, SourceError> {
        table
            .read_after(cx.tenant(), after, self.page_rows)
            .await
            .map_err(|e| SourceError::Retryable {
                message: e.to_string(),
                retry_after: None,
            })
    }

    /// Whether a page goes out now (see the module docs), noting what it allows next.
    fn may_go(&self, other: bool, full: bool) -> bool {
        let now = Instant::now();
        let mut state = lock(&self.state);
        if other {
            state.armed_at = Some(now);
            return true;
        }
        if full {
            return true;
        }
        let due = state
            .armed_at
            .and_then(|at| at.checked_add(self.echo_delay))
            .is_some_and(|due| now >= due);
        if due {
            state.armed_at = None;
        }
        due
    }

    async fn check_gap(
        &self,
        cx: &SourceContext,
        reports: &SelfReport,
        after: u64,
        pruned_through: u64,
    ) {
        if pruned_through <= after {
            reports.whole(cx, HEALTH_EVENTS).await;
            return;
        }
        let new = {
            let mut state = lock(&self.state);
            let new = pruned_through > state.gap_reported;
            state.gap_reported = state.gap_reported.max(pruned_through);
            new
        };
        if new {
            let message = format!(
                "{}/{HEALTH_EVENTS}: health rows of tenant '{}' with sequences after {after} up to {pruned_through} were removed by the table's retention before they were read; the stream continues with the oldest row kept. What to do: keep rows longer (the health table's Retention) or collect {HEALTH_EVENTS} more often",
                cx.instance(),
                cx.tenant()
            );
            reports.lost(cx, HEALTH_EVENTS, message).await;
        }
    }
}

/// A row about a delivery of this health source's `health_events`.
fn is_echo(row: &HealthRow, instance: &str) -> bool {
    row.connector == instance
        && row.product.is_some()
        && row.stream.as_deref() == Some(HEALTH_EVENTS)
}

/// What to do, when the message says it (`…; what to do: …`, as the engine writes it).
pub(super) fn what_to_do(message: &str) -> Option<&str> {
    message
        .rsplit_once("what to do: ")
        .map(|(_, advice)| advice.trim())
        .filter(|advice| !advice.is_empty())
}

/// A row's record: id `<tenant>/health/<seq>`, time the transition's.
fn record(tenant: &str, row: &HealthRow) -> Record {
    let id = format!("{}/health/{}", path_segment(tenant), row.seq);
    let payload = serde_json::json!({
        "time": row.time,
        "sequence": row.seq,
        "tenant": row.tenant,
        "connector": row.connector,
        "product": row.product,
        "workspace": row.workspace,
        "stream": row.stream,
        "kind": row.kind,
        "status": row.status,
        "previous_status": row.previous,
        "message": row.message,
        "what_to_do": what_to_do(&row.message),
        "details": row.details,
    });
    Record::new(id, row.time, payload.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn what_to_do_is_the_engines_last_clause() {
        assert_eq!(
            what_to_do("collecting okta/events: authentication failed: 401; what to do: check the credential"),
            Some("check the credential")
        );
        assert_eq!(what_to_do("okta/events is collecting"), None);
        assert_eq!(what_to_do("x; what to do: "), None);
    }

    proptest! {
        #[test]
        fn what_to_do_never_panics_and_is_a_suffix(message in ".{0,200}") {
            if let Some(advice) = what_to_do(&message) {
                prop_assert!(message.contains(advice));
            }
        }
    }
}
