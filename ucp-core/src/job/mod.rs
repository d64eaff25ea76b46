//! A collection job: the one task that collects a stream for every product subscribed to it.
//!
//! The job owns time for its stream: it wakes on its interval (at a per-job phase, so jobs
//! that share an interval do not fire together, and skipping ticks it missed instead of
//! bursting), draws a permit from the shared rate budget before every call, follows "more
//! pages" within the budget, drops records it already fanned out, applies each product's
//! filter and puts one batch on each subscriber's queue. It keeps two cursors: the one it
//! collects from next (in memory), and the one it saves, which only moves past a page once
//! every subscriber accepted it.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::Instrument;

mod fan_out;

use crate::budget::RateBudget;
use crate::checkpoint::CheckpointStore;
use crate::dedup::DedupWindow;
use crate::delivery::durable::DurableStore;
use crate::delivery::{Envelope, PendingPage};
use crate::error::CollectError;
use crate::filter::Filter;
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::plan::{SubscriptionId, WhenFull};
use crate::record::{Cursor, StreamKey};
use crate::reporting::HealthHub;
use crate::source::{CollectRequest, Page, RateLimitHint, Source, SourceContext, SourceError};
use crate::stats::{add, JobCounters, SubscriptionCounters};

/// Attempts per page for retryable source errors within one round.
const PAGE_ATTEMPTS: u32 = 3;
/// Throttled answers in a row after which a round gives up until the next tick.
const MAX_THROTTLES_PER_ROUND: u32 = 5;
/// Backoff before retrying a page within a round.
const PAGE_RETRY_BACKOFF: Duration = Duration::from_secs(2);

/// Where a subscriber's batches go.
#[derive(Clone)]
pub(crate) enum SubscriberQueue {
    /// A bounded channel to its delivery task.
    Memory(mpsc::Sender<Envelope>),
    /// Its queue in the durable store.
    Disk {
        store: Arc<DurableStore>,
        id: SubscriptionId,
        max_bytes: u64,
    },
}

/// One subscriber as the job sees it.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub product: Arc<str>,
    pub filter: Option<Filter>,
    pub when_full: WhenFull,
    pub queue: SubscriberQueue,
    pub counters: Arc<SubscriptionCounters>,
    /// Set when the subscription is removed: its unaccepted batches no longer hold the cursor.
    pub released: Arc<AtomicBool>,
}

/// What the platform tells a running job; replaced on every re-plan.
#[derive(Clone)]
pub(crate) struct JobConfig {
    pub interval: Duration,
    pub server_filter: Option<Filter>,
    pub subscribers: Vec<Subscriber>,
    pub stretch_message: Option<String>,
}

/// Everything a job needs to run.
pub(crate) struct Job {
    pub key: StreamKey,
    pub source: Arc<dyn Source>,
    pub cx: SourceContext,
    pub budget: Arc<RateBudget>,
    pub checkpoints: Arc<dyn CheckpointStore>,
    pub counters: Arc<JobCounters>,
    pub health: HealthHub,
    pub component: Component,
    pub dedup_cell: std::sync::Mutex<DedupWindow>,
    pub max_jitter: Duration,
    pub config: watch::Receiver<JobConfig>,
    pub stop: watch::Receiver<bool>,
    /// The checkpoint store is the durable store: a page's durable appends and its cursor
    /// can commit in one transaction.
    pub checkpoints_are_durable: bool,
}

/// A fanned-out page waiting for its subscribers.
struct Pending {
    cursor: Cursor,
    page: Arc<PendingPage>,
}

/// What a full durable queue's policy did.
enum Room {
    Made,
    Dropped,
    Stopped,
}

/// How a round ended.
enum RoundEnd {
    Done,
    Stopped,
}

struct State {
    /// Where the next collection starts.
    cursor: Cursor,
    pending: VecDeque<Pending>,
    acks: mpsc::UnboundedReceiver<()>,
    ack_tx: mpsc::UnboundedSender<()>,
    collection: StatusTracker,
    budget_status: StatusTracker,
    queue_status: Vec<(Arc<str>, StatusTracker)>,
    /// When a page last arrived (or the job started), for staleness.
    last_success: Instant,
    stale_reported: bool,
    /// The cursor last written to the checkpoint store.
    saved: Option<Cursor>,
}

impl Job {
    pub(crate) async fn run(mut self) {
        let span = tracing::info_span!("ucp.job", stream = %self.key);
        async move {
            let Some(mut state) = self.start().await else {
                return;
            };
            let origin = Instant::now() + self.phase();
            let mut next_tick = origin;
            let mut last_round = None;
            loop {
                let stop = wait_stop(self.stop.clone());
                let stale_at = state.last_success + 2 * self.interval();
                tokio::select! {
                    biased;
                    _ = stop => break,
                    Some(()) = state.acks.recv() => self.commit(&mut state).await,
                    changed = self.config.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        next_tick = next_slot(origin, self.interval(), last_round);
                        self.report_stretch(&mut state).await;
                    }
                    _ = tokio::time::sleep_until(next_tick) => {
                        last_round = Some(Instant::now());
                        if let RoundEnd::Stopped = self.round(&mut state).await {
                            break;
                        }
                        next_tick = next_slot(origin, self.interval(), last_round);
                    }
                    // Last, so a round due at the same instant runs first.
                    _ = tokio::time::sleep_until(stale_at), if !state.stale_reported => {
                        self.report_stale(&mut state).await;
                    }
                }
            }
            self.drain(&mut state).await;
        }
        .instrument(span)
        .await
    }

    /// Load the saved cursor; report and give up if the store cannot be read (collecting from
    /// the start instead would re-send the whole history to every product).
    async fn start(&mut self) -> Option<State> {
        let mut collection = self.health.tracker(self.component.clone());
        let cursor = match self.checkpoints.load(&self.key).await {
            Ok(cursor) => cursor.unwrap_or_default(),
            Err(error) => {
                self.health
                    .observe(&mut collection, Status::Error, HealthKind::Collection, || {
                        format!("{}: cannot read its checkpoint, so collection did not start: {error}", self.key)
                    })
                    .await;
                return None;
            }
        };
        tracing::info!(cursor = %cursor, "job starts");
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let mut state = State {
            cursor,
            pending: VecDeque::new(),
            acks,
            ack_tx,
            collection,
            budget_status: self.health.tracker(self.component.clone()),
            queue_status: Vec::new(),
            last_success: Instant::now(),
            stale_reported: false,
            saved: None,
        };
        self.report_stretch(&mut state).await;
        Some(state)
    }

    fn interval(&self) -> Duration {
        self.config.borrow().interval
    }

    /// A stable offset within the first interval, so jobs that share an interval spread out.
    fn phase(&self) -> Duration {
        let window = self.interval().min(self.max_jitter);
        if window.is_zero() {
            return Duration::ZERO;
        }
        let mut hasher = DefaultHasher::new();
        self.key.hash(&mut hasher);
        Duration::from_nanos(hasher.finish() % window.as_nanos() as u64)
    }

    async fn report_stretch(&self, state: &mut State) {
        let message = self.config.borrow().stretch_message.clone();
        let status = if message.is_some() {
            Status::Warning
        } else {
            Status::Ok
        };
        if message.is_none() && state.budget_status.status() == Status::Starting {
            return;
        }
        self.health
            .observe(&mut state.budget_status, status, HealthKind::Budget, || {
                message.unwrap_or_else(|| {
                    format!(
                        "{}: the rate budget serves the requested interval again",
                        self.key
                    )
                })
            })
            .await;
    }

    /// A page arrived: a throttling Warning is over, unless the plan is stretched (that
    /// Warning stays while the budget is short).
    async fn budget_recovered(&self, state: &mut State, config: &JobConfig) {
        if state.budget_status.status() != Status::Warning || config.stretch_message.is_some() {
            return;
        }
        self.health
            .observe(
                &mut state.budget_status,
                Status::Ok,
                HealthKind::Budget,
                || format!("{}: the provider accepts calls again", self.key),
            )
            .await;
    }

    /// No page for twice the interval: say so, unless the collection is already in Error
    /// (which says more).
    async fn report_stale(&self, state: &mut State) {
        state.stale_reported = true;
        if state.collection.status() == Status::Error {
            return;
        }
        let silent = Instant::now().saturating_duration_since(state.last_success);
        self.health
            .observe(&mut state.collection, Status::Warning, HealthKind::Collection, || {
                format!(
                    "{}: no successful collection for {silent:?} (twice its interval of {:?}); see the budget and delivery messages of this connector",
                    self.key,
                    self.interval()
                )
            })
            .await;
    }

    /// One round: collect pages until the source has no more for now.
    async fn round(&self, state: &mut State) -> RoundEnd {
        let config = self.config.borrow().clone();
        let mut attempts = 0;
        let mut throttles = 0;
        loop {
            let cursor = state.cursor.clone();
            let collect = self.collect_page(&cursor, &config);
            tokio::pin!(collect);
            // The call may wait long for the budget: staleness is still reported meanwhile.
            let page = loop {
                let stop = wait_stop(self.stop.clone());
                let stale_at = state.last_success + 2 * self.interval();
                tokio::select! {
                    biased;
                    _ = stop => return RoundEnd::Stopped,
                    page = &mut collect => break page,
                    _ = tokio::time::sleep_until(stale_at), if !state.stale_reported => {
                        self.report_stale(state).await;
                    }
                }
            };
            match page {
                Ok(page) => {
                    attempts = 0;
                    throttles = 0;
                    let more = page.more && (!page.records.is_empty() || page.next != state.cursor);
                    if let RoundEnd::Stopped = self.fan_out(state, page, &config).await {
                        return RoundEnd::Stopped;
                    }
                    state.last_success = Instant::now();
                    state.stale_reported = false;
                    self.health
                        .observe(
                            &mut state.collection,
                            Status::Ok,
                            HealthKind::Collection,
                            || format!("{} is collecting", self.key),
                        )
                        .await;
                    self.budget_recovered(state, &config).await;
                    self.commit_ready(state).await;
                    if !more {
                        return RoundEnd::Done;
                    }
                }
                Err(error) => {
                    add(&self.counters.errors, 1);
                    let wait = self
                        .on_error(state, error, &mut attempts, &mut throttles)
                        .await;
                    let Some(wait) = wait else {
                        return RoundEnd::Done;
                    };
                    let stop = wait_stop(self.stop.clone());
                    tokio::select! {
                        biased;
                        _ = stop => return RoundEnd::Stopped,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// One call to the source, after a budget permit.
    async fn collect_page(&self, cursor: &Cursor, config: &JobConfig) -> Result<Page, SourceError> {
        self.budget.acquire().await;
        add(&self.counters.source_calls, 1);
        add(
            &self.counters.calls_saved,
            config.subscribers.len().saturating_sub(1) as u64,
        );
        let request = CollectRequest {
            stream: self.key.stream.to_string(),
            cursor: cursor.clone(),
            filter: config.server_filter.clone(),
        };
        let span = tracing::debug_span!("ucp.collect", cursor = %cursor);
        let page = self
            .source
            .collect(&self.cx, request)
            .instrument(span)
            .await?;
        if let Some(hint) = &page.hint {
            self.observe_hint(hint);
        }
        add(&self.counters.pages, 1);
        add(&self.counters.records_collected, page.records.len() as u64);
        Ok(page)
    }

    fn observe_hint(&self, hint: &RateLimitHint) {
        self.budget.observe(hint);
        if let Some(remaining) = hint.remaining {
            self.health
                .budget_remaining(&self.budget.key().to_string(), remaining);
        }
    }

    /// Decide what a failed call means: `Some(wait)` to try the page again within this round,
    /// `None` to end the round.
    async fn on_error(
        &self,
        state: &mut State,
        error: SourceError,
        attempts: &mut u32,
        throttles: &mut u32,
    ) -> Option<Duration> {
        if let SourceError::RateLimited { hint, .. } = &error {
            add(&self.counters.throttled, 1);
            self.observe_hint(&RateLimitHint {
                throttled: true,
                ..hint.clone()
            });
        }
        self.health
            .error(&self.component, error.type_name(), "collect");
        let failure = CollectError {
            stream: self.key.clone(),
            error,
        };
        tracing::warn!(error = %failure, "collection failed");
        let (status, kind, retry) = match &failure.error {
            SourceError::RateLimited { .. } => {
                *throttles += 1;
                (
                    Status::Warning,
                    HealthKind::Budget,
                    (*throttles < MAX_THROTTLES_PER_ROUND).then_some(Duration::ZERO),
                )
            }
            SourceError::Retryable { retry_after, .. } => {
                *attempts += 1;
                let wait = retry_after.unwrap_or(PAGE_RETRY_BACKOFF);
                (
                    Status::Warning,
                    HealthKind::Collection,
                    (*attempts < PAGE_ATTEMPTS).then_some(wait),
                )
            }
            SourceError::Malformed { .. } => (Status::Warning, HealthKind::Collection, None),
            SourceError::Auth { .. } => (Status::Error, HealthKind::Auth, None),
            _ => (Status::Error, HealthKind::Collection, None),
        };
        let tracker = if kind == HealthKind::Budget {
            &mut state.budget_status
        } else {
            &mut state.collection
        };
        self.health
            .observe(tracker, status, kind, || failure.to_string())
            .await;
        retry
    }

    fn dedup_lock(&self) -> std::sync::MutexGuard<'_, DedupWindow> {
        crate::budget::lock(&self.dedup_cell)
    }

    async fn commit_ready(&self, state: &mut State) {
        while state.acks.try_recv().is_ok() {}
        self.commit(state).await;
    }

    /// Save the newest cursor whose page, and every page before it, all subscribers accepted.
    async fn commit(&self, state: &mut State) {
        let mut newest = None;
        while let Some(front) = state.pending.front() {
            let page = &front.page;
            if page.remaining.load(Ordering::Acquire) != 0 || page.abandoned.load(Ordering::Acquire)
            {
                break;
            }
            newest = state.pending.pop_front().map(|p| p.cursor);
        }
        let Some(cursor) = newest else {
            return;
        };
        if state.saved.as_ref() == Some(&cursor) {
            return; // committed with the durable appends already
        }
        if let Err(error) = self.checkpoints.save(&self.key, &cursor).await {
            self.health
                .observe(&mut state.collection, Status::Error, HealthKind::Collection, || {
                    format!("{}: cannot save its checkpoint ({error}); a restart would collect again from the last saved position", self.key)
                })
                .await;
        } else {
            tracing::debug!(cursor = %cursor, "checkpoint saved");
            state.saved = Some(cursor);
        }
    }

    /// After stop: wait until every page fanned out is accepted (the platform bounds the
    /// wait), saving cursors as they complete.
    async fn drain(&self, state: &mut State) {
        loop {
            self.commit(state).await;
            let Some(front) = state.pending.front() else {
                break;
            };
            if front.page.abandoned.load(Ordering::Acquire) {
                tracing::warn!(
                    "a subscriber lost a batch; it will be collected again at the next start"
                );
                break;
            }
            if state.acks.recv().await.is_none() {
                break;
            }
        }
    }
}

/// Resolves once `stop` is set.
async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The first tick after `last` (or the origin, before any round) that is not in the past:
/// missed ticks are skipped, never burst.
fn next_slot(origin: Instant, interval: Duration, last: Option<Instant>) -> Instant {
    let Some(last) = last else {
        return origin;
    };
    let now = Instant::now().max(last);
    let since = now.saturating_duration_since(origin);
    let periods = since.as_nanos() / interval.as_nanos().max(1) + 1;
    origin + interval.saturating_mul(periods.min(u32::MAX as u128) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn missed_ticks_are_skipped_not_burst() {
        let origin = Instant::now();
        let minute = Duration::from_secs(60);
        assert_eq!(
            next_slot(origin, minute, None),
            origin,
            "the first tick is the origin"
        );
        // A round that started at 0 and ran for three and a half minutes: the next tick is
        // 4 min, not the three missed ones at 1, 2 and 3 min.
        tokio::time::advance(Duration::from_secs(210)).await;
        assert_eq!(next_slot(origin, minute, Some(origin)), origin + 4 * minute);
        // A round that finished at once waits for the next tick after it started.
        let started = Instant::now();
        assert_eq!(
            next_slot(origin, minute, Some(started)),
            origin + 4 * minute
        );
    }
}
