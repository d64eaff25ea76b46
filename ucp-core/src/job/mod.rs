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

use crate::acceptance::PendingPage;
use crate::budget::{RateBudget, RateLimitHint};
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::clock::FAR_FUTURE;
use crate::dedup::DedupWindow;
use crate::filter::Filter;
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::http::{self, ClockSkew, CLOCK_SKEW_WARNING};
use crate::queue::QueueWriter;
use crate::record::{Cursor, StreamKey};
use crate::reporting::HealthHub;
use crate::retry::STORAGE_RETRY;
use crate::source::{CollectError, CollectRequest, Page, Source, SourceContext, SourceError};
use crate::stats::{add, JobCounters, SubscriptionCounters};
use crate::subscription::WhenFull;

/// Attempts per page for retryable source errors within one round.
const PAGE_ATTEMPTS: u32 = 3;
/// Throttled answers in a row after which a round gives up until the next tick.
const MAX_THROTTLES_PER_ROUND: u32 = 5;
/// Backoff before retrying a page within a round.
const PAGE_RETRY_BACKOFF: Duration = Duration::from_secs(2);

/// One subscriber as the job sees it.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub product: Arc<str>,
    pub filter: Option<Filter>,
    pub when_full: WhenFull,
    pub queue: QueueWriter,
    /// Calls this subscriber would make on its own for each call of the job, in thousandths:
    /// the job's interval over the subscriber's, at most one (for "calls saved").
    pub share_millis: u64,
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

/// Where a job is in its life, for the platform (pause waits until no call is in flight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum JobPhase {
    /// Waiting for a predecessor on the same stream to finish draining.
    Waiting,
    /// Collecting rounds.
    Collecting,
    /// Stopped collecting: no more calls; waiting for its pages to be accepted.
    Draining,
    /// Finished.
    Done,
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
    /// A stop lets the provider call in flight finish (cluster handover).
    pub finish_call_on_stop: bool,
    pub config: watch::Receiver<JobConfig>,
    pub stop: watch::Receiver<bool>,
    /// The checkpoint store is the durable store: a page's durable appends and its cursor
    /// can commit in one transaction.
    pub checkpoints_are_durable: bool,
    /// A stopped job of the same stream that may still be draining: this one starts after it,
    /// from the cursor it saved last.
    pub predecessor: Option<tokio::task::JoinHandle<()>>,
    /// Where this job is in its life.
    pub phase: watch::Sender<JobPhase>,
}

/// A fanned-out page waiting for its subscribers.
struct Pending {
    cursor: Cursor,
    page: Arc<PendingPage>,
}

/// What a full queue's policy did.
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
    /// A cursor the checkpoint store refused, tried again from `retry_at`.
    unsaved: Option<Unsaved>,
    /// Where this stream's state is kept (durable appends, checkpoints): Error while the
    /// storage refuses writes, Ok at the first one it takes again.
    storage: StatusTracker,
    /// The provider's clock against this host's: Warning past [`CLOCK_SKEW_WARNING`].
    skew: StatusTracker,
}

/// A cursor whose save failed, waiting for its next attempt.
struct Unsaved {
    cursor: Cursor,
    attempts: u32,
    retry_at: Instant,
}

impl Job {
    pub(crate) async fn run(mut self) {
        let span = tracing::info_span!("ucp.job", stream = %self.key);
        async move {
            if let Some(predecessor) = self.predecessor.take() {
                let stop = wait_stop(self.stop.clone());
                tokio::select! {
                    biased;
                    _ = stop => {
                        self.phase.send_replace(JobPhase::Done);
                        return;
                    }
                    _ = predecessor => {}
                }
            }
            let Some(mut state) = self.start().await else {
                self.phase.send_replace(JobPhase::Done);
                return;
            };
            self.phase.send_replace(JobPhase::Collecting);
            let origin = Instant::now()
                .checked_add(self.phase())
                .unwrap_or_else(Instant::now);
            let mut next_tick = origin;
            let mut last_round = None;
            loop {
                let stop = wait_stop(self.stop.clone());
                let stale_at = self.stale_at(&state);
                tokio::select! {
                    biased;
                    _ = stop => break,
                    Some(()) = state.acks.recv() => self.commit(&mut state).await,
                    _ = sleep_until_some(state.unsaved.as_ref().map(|u| u.retry_at)) => {
                        self.retry_save(&mut state).await;
                    }
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
            self.phase.send_replace(JobPhase::Draining);
            self.drain(&mut state).await;
            self.phase.send_replace(JobPhase::Done);
        }
        .instrument(span)
        .await
    }

    /// Load the saved cursor and set up the job's state; `None` if stopped first.
    async fn start(&mut self) -> Option<State> {
        let collection = self
            .health
            .tracker(self.component.clone())
            .mirrored(self.counters.status.clone());
        let mut storage = self.health.storage_tracker(self.component.clone());
        let cursor = self.load_cursor(&mut storage).await?;
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
            unsaved: None,
            storage,
            skew: self.health.tracker(self.component.clone()),
        };
        self.report_stretch(&mut state).await;
        Some(state)
    }

    /// The saved cursor. A store that cannot be read is reported and read again with backoff
    /// (collecting from the start instead would re-send the whole history to every product);
    /// `None` if the job is stopped meanwhile.
    async fn load_cursor(&self, storage: &mut StatusTracker) -> Option<Cursor> {
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let error = match self.checkpoints.load(&self.key).await {
                Ok(cursor) => {
                    if storage.status() == Status::Error {
                        self.health
                            .observe(storage, Status::Ok, HealthKind::Storage, || {
                                format!(
                                    "{}: its checkpoint can be read again; collection starts",
                                    self.key
                                )
                            })
                            .await;
                    }
                    return Some(cursor.unwrap_or_default());
                }
                Err(error) => error,
            };
            add(&self.counters.store_failures, 1);
            let wait = STORAGE_RETRY.backoff(attempt, 1.0);
            self.health
                .observe(storage, Status::Error, HealthKind::Storage, || {
                    format!("{}: cannot read its checkpoint, so collection has not started: {error}; it is read again with backoff; repair or restore the checkpoint store — no restart is needed", self.key)
                })
                .await;
            let stop = wait_stop(self.stop.clone());
            tokio::select! {
                biased;
                _ = stop => return None,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn interval(&self) -> Duration {
        self.config.borrow().interval
    }

    /// When the job counts as stale: no page for twice its interval.
    fn stale_at(&self, state: &State) -> Instant {
        let silence = self.interval().saturating_mul(2).min(FAR_FUTURE);
        state
            .last_success
            .checked_add(silence)
            .unwrap_or(state.last_success)
    }

    /// A stable offset within the first interval, so jobs that share an interval spread out.
    fn phase(&self) -> Duration {
        let window = self.interval().min(self.max_jitter);
        if window.is_zero() {
            return Duration::ZERO;
        }
        let mut hasher = DefaultHasher::new();
        self.key.hash(&mut hasher);
        Duration::from_nanos(
            hasher.finish() % u64::try_from(window.as_nanos()).unwrap_or(u64::MAX).max(1),
        )
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
        let mut stopping = false;
        loop {
            if stopping {
                return RoundEnd::Stopped;
            }
            let cursor = state.cursor.clone();
            let calling = AtomicBool::new(false);
            let collect = self.collect_page(&cursor, &config, &calling);
            tokio::pin!(collect);
            // The call may wait long for the budget: staleness is still reported meanwhile.
            let (page, skew) = loop {
                let stop = wait_stop(self.stop.clone());
                let stale_at = self.stale_at(state);
                tokio::select! {
                    biased;
                    _ = stop => {
                        if !(self.finish_call_on_stop && calling.load(Ordering::Acquire)) {
                            return RoundEnd::Stopped;
                        }
                        // The provider serves the call anyway: take its page, then stop.
                        stopping = true;
                        break (&mut collect).await;
                    }
                    page = &mut collect => break page,
                    _ = tokio::time::sleep_until(stale_at), if !state.stale_reported => {
                        self.report_stale(state).await;
                    }
                }
            };
            self.report_skew(state, skew).await;
            match page {
                Ok(page) => {
                    attempts = 0;
                    throttles = 0;
                    let more = page.more && (!page.records.is_empty() || page.next != state.cursor);
                    if let RoundEnd::Stopped = self.fan_out(state, page, &config).await {
                        return RoundEnd::Stopped;
                    }
                    state.last_success = Instant::now();
                    self.counters.last_success.mark(self.cx.clock().now_utc());
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

    /// One call to the source, after a budget permit, with the provider's clock skew the
    /// HTTP kit noted during it.
    async fn collect_page(
        &self,
        cursor: &Cursor,
        config: &JobConfig,
        calling: &AtomicBool,
    ) -> (Result<Page, SourceError>, Option<ClockSkew>) {
        self.budget.acquire().await;
        calling.store(true, Ordering::Release);
        add(&self.counters.source_calls, 1);
        // What the subscribers would have called on their own, less this one call.
        let separate: u64 = config.subscribers.iter().map(|s| s.share_millis).sum();
        add(
            &self.counters.calls_saved_millis,
            separate.saturating_sub(1000),
        );
        let request = CollectRequest {
            stream: self.key.stream.to_string(),
            cursor: cursor.clone(),
            filter: config.server_filter.clone(),
        };
        let span = tracing::debug_span!("ucp.collect", cursor = %cursor);
        let (page, skew) =
            http::noting(self.source.collect(&self.cx, request).instrument(span)).await;
        if let Ok(page) = &page {
            if let Some(hint) = &page.hint {
                self.observe_hint(hint);
            }
            add(&self.counters.pages, 1);
            add(&self.counters.records_collected, page.records.len() as u64);
        }
        (page, skew)
    }

    /// A provider clock further than [`CLOCK_SKEW_WARNING`] from this host's is a Warning
    /// (pauses stay right: the kit measures them on the provider's clock), and Ok again once
    /// the clocks agree.
    async fn report_skew(&self, state: &mut State, skew: Option<ClockSkew>) {
        let Some(skew) = skew else {
            return;
        };
        if skew.magnitude() > CLOCK_SKEW_WARNING {
            self.health
                .observe(&mut state.skew, Status::Warning, HealthKind::Budget, || {
                    format!(
                        "{}: the provider's clock is {skew} (its Date header); rate-limit pauses follow the provider's clock and stay right, but times compared across the two clocks (event times, token lifetimes) are off by as much; check this host's time synchronisation (NTP)",
                        self.key
                    )
                })
                .await;
        } else if state.skew.status() == Status::Warning {
            self.health
                .observe(&mut state.skew, Status::Ok, HealthKind::Budget, || {
                    format!(
                        "{}: the provider's clock and this host's agree again (within {} s)",
                        self.key,
                        CLOCK_SKEW_WARNING.as_secs()
                    )
                })
                .await;
        }
    }

    fn observe_hint(&self, hint: &RateLimitHint) {
        self.budget.observe(hint);
        self.report_remaining(hint);
    }

    fn report_remaining(&self, hint: &RateLimitHint) {
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
            self.budget.throttled(hint);
            self.report_remaining(hint);
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
        crate::sync::lock(&self.dedup_cell)
    }

    async fn commit_ready(&self, state: &mut State) {
        while state.acks.try_recv().is_ok() {}
        self.commit(state).await;
    }

    /// Save the newest cursor whose page, and every page before it, all subscribers accepted.
    async fn commit(&self, state: &mut State) {
        let mut newest = None;
        while let Some(front) = state.pending.front() {
            if !front.page.is_complete() {
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
        // A newer cursor replaces one still waiting for its retry.
        let attempts = state.unsaved.take().map_or(0, |u| u.attempts);
        self.save(state, cursor, attempts).await;
    }

    /// The retry of a cursor the checkpoint store refused is due.
    async fn retry_save(&self, state: &mut State) {
        if let Some(unsaved) = state.unsaved.take() {
            self.save(state, unsaved.cursor, unsaved.attempts).await;
        }
    }

    /// Save `cursor`; when the store refuses, report it (naming the store and what to do) and
    /// keep the cursor for a retry with backoff.
    async fn save(&self, state: &mut State, cursor: Cursor, failed_before: u32) {
        match self.checkpoints.save(&self.key, &cursor).await {
            Ok(()) => {
                tracing::debug!(cursor = %cursor, "checkpoint saved");
                state.saved = Some(cursor);
                if state.storage.status() == Status::Error {
                    self.health
                        .observe(&mut state.storage, Status::Ok, HealthKind::Storage, || {
                            format!("{}: its checkpoint is saved again", self.key)
                        })
                        .await;
                }
            }
            Err(error @ CheckpointError::Fenced { .. }) => {
                // Another node owns the stream now: retrying can never succeed, and the
                // cluster stops this job.
                add(&self.counters.store_failures, 1);
                tracing::warn!(%error, "checkpoint refused by fencing; not retried");
            }
            Err(error) => {
                add(&self.counters.store_failures, 1);
                let attempts = failed_before.saturating_add(1);
                let wait = STORAGE_RETRY.backoff(attempts, 1.0);
                tracing::warn!(%error, attempts, ?wait, "checkpoint not saved; trying again");
                self.health
                    .observe(&mut state.storage, Status::Error, HealthKind::Storage, || {
                        format!("{}: cannot save its checkpoint ({error}); collection and delivery go on and the save is tried again with backoff (a restart meanwhile collects again from the last saved position); free disk space or repair the checkpoint store — no restart is needed", self.key)
                    })
                    .await;
                state.unsaved = Some(Unsaved {
                    cursor,
                    attempts,
                    retry_at: Instant::now()
                        .checked_add(wait)
                        .unwrap_or_else(Instant::now),
                });
            }
        }
    }

    /// After stop: wait until every page fanned out is accepted (the platform bounds the
    /// wait), saving cursors as they complete.
    async fn drain(&self, state: &mut State) {
        self.retry_save(state).await;
        loop {
            self.commit(state).await;
            let Some(front) = state.pending.front() else {
                break;
            };
            if front.page.is_abandoned() {
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

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves once `stop` is set.
async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The next tick: the first one after the tick of the last round (or the origin, before
/// any round) that is not in the past. Missed ticks are skipped, never burst; a tick due now
/// (a re-plan that arrives on the tick) still runs.
fn next_slot(origin: Instant, interval: Duration, last: Option<Instant>) -> Instant {
    let Some(last) = last else {
        return origin;
    };
    let now = Instant::now();
    let step = interval.as_nanos().max(1);
    let after_last = last.saturating_duration_since(origin).as_nanos() / step + 1;
    let not_past = now
        .saturating_duration_since(origin)
        .as_nanos()
        .div_ceil(step);
    let ahead = interval
        .saturating_mul(u32::try_from(after_last.max(not_past)).unwrap_or(u32::MAX))
        .min(FAR_FUTURE);
    origin.checked_add(ahead).unwrap_or(now)
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
        // A re-plan arriving exactly on a tick does not skip it.
        tokio::time::advance(Duration::from_secs(30)).await;
        let last = Instant::now() - minute;
        assert_eq!(next_slot(origin, minute, Some(last)), Instant::now());
        // Extremes saturate.
        assert!(next_slot(origin, Duration::MAX, Some(origin)) > Instant::now());
        assert!(next_slot(origin, Duration::ZERO, Some(origin)) >= origin);
    }
}
