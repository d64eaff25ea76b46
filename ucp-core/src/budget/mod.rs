//! Rate budgets: one per provider account, shared by every call that touches the account.
//!
//! A [`RateBudget`] is keyed by [`BudgetKey`] (provider, account). Every job, check, token
//! request or response action of any source that names the key draws a permit from it with
//! [`RateBudget::acquire`]. It is built on `governor` (GCRA) running on tokio's clock, and
//! adapts to what the provider says ([`RateLimitHint`]):
//!
//! - a refused call ([`RateBudget::throttled`], after a 429) or `remaining` at or below what
//!   is still reserved for other applications → the whole budget pauses until the provider's
//!   reset (or retry-after);
//! - otherwise the remaining calls are spread evenly until the reset, so a budget that other
//!   applications are draining slows down instead of running dry.
//!
//! What other applications of the account need is learned per provider window (see
//! `window.rs`): the calls the provider counted (`limit − remaining`) minus the responses
//! this budget observed in the same window. Until one window is known they are reserved
//! `limit − allowed`; after that, as many as they made in the last window (or have made in
//! this one, if more), less what they already made. So an application using less than its
//! part leaves ucp its whole share, one using more leaves ucp what is left, and a call always
//! stays free for them.
//!
//! Every number here may come from a provider header: arithmetic saturates, and a reset or
//! retry-after further away than [`MAX_PROVIDER_WAIT`] is held to it.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::sync::lock;

mod hint;
mod shared;
mod window;

pub use hint::RateLimitHint;
pub use shared::{SharedBudget, SharedBudgetError};
use window::{same_window_tolerance, OthersLearning};

/// Extra wait after a provider's announced reset: epoch-second resets are coarse and the
/// provider's window may roll over a little after ours.
const RESET_MARGIN: Duration = Duration::from_secs(1);

/// The longest a provider's reset or retry-after can pause a budget: a day (daily quotas
/// exist; a reset years away is a bug on the provider's side, not a reason to stop forever).
pub(crate) const MAX_PROVIDER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Which provider account a call counts against, e.g. (`okta`, `contoso.okta.com`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BudgetKey {
    /// Provider name, e.g. `okta`.
    pub provider: String,
    /// Account within the provider (org, tenant), e.g. `contoso.okta.com`.
    pub account: String,
}

impl BudgetKey {
    /// A key from provider and account.
    pub fn new(provider: impl Into<String>, account: impl Into<String>) -> Self {
        BudgetKey {
            provider: provider.into(),
            account: account.into(),
        }
    }
}

impl fmt::Display for BudgetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.account)
    }
}

/// How many calls an account allows, and which share of them this platform may use.
///
/// The main window (`limit` per `per`) is the one provider headers describe; its calls are
/// spread evenly. Providers that also count over longer windows (Microsoft Graph security:
/// 50 a minute *and* 1,500 an hour) add them with [`BudgetSpec::and_window`]: no window's
/// share is ever exceeded, and within the longer window calls may come as fast as the main
/// one allows.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetSpec {
    /// The account the calls count against.
    pub key: BudgetKey,
    /// Calls the provider allows per `per` (learned again from `X-Rate-Limit-Limit`-style hints).
    pub limit: u32,
    /// The provider's window.
    pub per: Duration,
    /// Share of every window's limit this platform may use, in (0, 1]; the rest is left for
    /// other applications of the same account.
    pub share: f64,
    /// Further windows the provider counts calls over, each `(limit, per)`.
    pub windows: Vec<(u32, Duration)>,
}

impl BudgetSpec {
    /// `limit` calls per `per`, all of them usable.
    pub fn new(key: BudgetKey, limit: u32, per: Duration) -> Self {
        BudgetSpec {
            key,
            limit,
            per,
            share: 1.0,
            windows: Vec::new(),
        }
    }

    /// Use at most `share` of the limit (0 < share ≤ 1).
    pub fn share(mut self, share: f64) -> Self {
        self.share = share;
        self
    }

    /// The provider also allows at most `limit` calls per `per`.
    pub fn and_window(mut self, limit: u32, per: Duration) -> Self {
        self.windows.push((limit, per));
        self
    }

    /// Calls per main window this platform may make: `limit × share`, at least one.
    pub fn allowed(&self) -> u32 {
        allowed(self.limit, self.share)
    }

    /// Calls per second this platform may make over time: the strictest window's rate.
    pub fn calls_per_second(&self) -> f64 {
        std::iter::once((self.limit, self.per))
            .chain(self.windows.iter().copied())
            .map(|(limit, per)| allowed(limit, self.share) as f64 / per.as_secs_f64())
            .fold(f64::INFINITY, f64::min)
    }

    /// Why the spec is unusable, if it is.
    pub fn problem(&self) -> Option<String> {
        let windows = std::iter::once((self.limit, self.per)).chain(self.windows.iter().copied());
        for (limit, per) in windows {
            if limit == 0 {
                return Some(format!("budget {} has a limit of 0 calls", self.key));
            }
            if per.is_zero() {
                return Some(format!("budget {} has a zero-length window", self.key));
            }
            if per > MAX_WINDOW {
                return Some(format!(
                    "budget {} has a window of {per:?}, longer than a year",
                    self.key
                ));
            }
        }
        if !(self.share > 0.0 && self.share <= 1.0) {
            return Some(format!(
                "budget {} has share {}: it must be in (0, 1]",
                self.key, self.share
            ));
        }
        None
    }
}

/// The longest provider window a budget accepts: a year.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

/// `limit × share` calls, at least one.
fn allowed(limit: u32, share: f64) -> u32 {
    ((f64::from(limit) * share).floor() as u32).max(1)
}

/// A longer provider window: the instants of the calls made in it, at most its allowance.
#[derive(Debug)]
struct CountedWindow {
    allowed: usize,
    per: Duration,
    calls: std::collections::VecDeque<Instant>,
}

impl CountedWindow {
    fn new(limit: u32, per: Duration, share: f64) -> Self {
        CountedWindow {
            allowed: usize::try_from(allowed(limit, share)).unwrap_or(usize::MAX),
            per,
            calls: std::collections::VecDeque::new(),
        }
    }

    /// When the next call fits, if not now.
    fn room_at(&mut self, now: Instant) -> Option<Instant> {
        while self
            .calls
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.per)
        {
            self.calls.pop_front();
        }
        if self.calls.len() < self.allowed {
            return None;
        }
        let oldest = *self.calls.front()?;
        Some(oldest.checked_add(self.per).unwrap_or(now))
    }

    fn record(&mut self, now: Instant) {
        self.calls.push_back(now);
    }

    /// The reserve of urgent calls in `spec`'s main window (see [`action_reserve`]).
    fn reserve(spec: &BudgetSpec) -> Self {
        CountedWindow {
            allowed: usize::try_from(action_reserve(spec.allowed())).unwrap_or(0),
            per: spec.per,
            calls: std::collections::VecDeque::new(),
        }
    }
}

/// Calls of a main window of `allowed` kept for response actions: one in thirty, at least
/// one once the window allows ten (below that there is nothing to spare). Collection is
/// spaced over the rest, so an urgent call never waits for its even spacing while the
/// reserve lasts, and never pushes the window past its allowance.
fn action_reserve(allowed: u32) -> u32 {
    if allowed >= 10 {
        (allowed / 30).max(1)
    } else {
        0
    }
}

/// governor's clock trait over tokio's clock, so budgets honour a paused test clock.
#[derive(Clone, Debug)]
struct TokioClock {
    origin: Instant,
}

impl governor::clock::Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

struct BudgetState {
    spec: BudgetSpec,
    limiter: Arc<Limiter>,
    /// No call at all before this instant (provider throttled us or our share is used up).
    paused_until: Option<Instant>,
    /// The next call no earlier than this (remaining calls spread until the reset).
    not_before: Option<Instant>,
    /// Other applications' calls, learned per provider window.
    others: OthersLearning,
    /// The provider's further windows, counted.
    windows: Vec<CountedWindow>,
    /// Calls of each main window kept for urgent calls (response actions), which take them
    /// without waiting for collection's even spacing.
    reserve: CountedWindow,
}

/// A snapshot of a budget for stats and health.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetStatus {
    /// The account.
    pub key: BudgetKey,
    /// Calls per window this platform may make now.
    pub allowed: u32,
    /// The provider's window.
    pub per: Duration,
    /// Calls granted so far.
    pub calls: u64,
    /// Throttling responses (429) seen so far.
    pub throttled: u64,
    /// Remaining calls in the provider's window, as last reported.
    pub remaining: Option<u32>,
    /// Paused until this instant, if paused.
    pub paused_until: Option<Instant>,
}

/// The shared rate budget of one provider account. See the module docs.
pub struct RateBudget {
    key: BudgetKey,
    clock: Clock,
    origin: Instant,
    state: Mutex<BudgetState>,
    calls: AtomicU64,
    throttled: AtomicU64,
    remaining: Mutex<Option<u32>>,
    /// Urgent calls (response actions) waiting: collection calls wait behind them.
    urgent: AtomicUsize,
    /// Told when an urgent call got its permit.
    urgent_served: Notify,
    /// The cluster's shared slots and pauses, in cluster mode.
    shared: Option<Arc<dyn SharedBudget>>,
}

impl fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateBudget")
            .field("key", &self.key)
            .finish()
    }
}

impl RateBudget {
    /// A budget for `spec`, on the platform's clock.
    pub fn new(spec: BudgetSpec, clock: Clock) -> Self {
        let origin = clock.now();
        let limiter = Arc::new(limiter_for(&spec, origin));
        RateBudget {
            key: spec.key.clone(),
            clock,
            origin,
            state: Mutex::new(BudgetState {
                spec: spec.clone(),
                limiter,
                paused_until: None,
                not_before: None,
                others: OthersLearning::default(),
                windows: spec
                    .windows
                    .iter()
                    .map(|(limit, per)| CountedWindow::new(*limit, *per, spec.share))
                    .collect(),
                reserve: CountedWindow::reserve(&spec),
            }),
            calls: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            remaining: Mutex::new(None),
            urgent: AtomicUsize::new(0),
            urgent_served: Notify::new(),
            shared: None,
        }
    }

    /// A budget for `spec` whose collection permits come from `shared`, the slots of a
    /// cluster's nodes together (see [`SharedBudget`]).
    pub fn with_shared(spec: BudgetSpec, clock: Clock, shared: Arc<dyn SharedBudget>) -> Self {
        RateBudget {
            shared: Some(shared),
            ..RateBudget::new(spec, clock)
        }
    }

    /// The account this budget belongs to.
    pub fn key(&self) -> &BudgetKey {
        &self.key
    }

    /// Wait until one call is allowed, and count it. Every outbound call draws one permit.
    /// Urgent calls ([`RateBudget::acquire_urgent`]) waiting meanwhile go first.
    pub async fn acquire(&self) {
        loop {
            let served = self.urgent_served.notified();
            tokio::pin!(served);
            served.as_mut().enable();
            if self.urgent.load(Ordering::Acquire) > 0 {
                served.await;
                continue;
            }
            if self.try_acquire(false).await {
                return;
            }
        }
    }

    /// Wait for a permit ahead of every waiting [`RateBudget::acquire`]: at most until the
    /// next permit of the account, even when collection keeps the budget saturated. For
    /// response actions. Pauses (429, exhausted quota) hold urgent calls too.
    pub async fn acquire_urgent(&self) {
        /// Counts the caller as waiting until it is served or gives up (cancelled).
        struct Waiting<'a>(&'a RateBudget);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.urgent.fetch_sub(1, Ordering::AcqRel);
                self.0.urgent_served.notify_waiters();
            }
        }
        self.urgent.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(self);
        while !self.try_acquire(true).await {}
    }

    /// One attempt at a permit: true when granted; otherwise waits until it is worth trying
    /// again (a collection call gives up the attempt to an urgent one).
    async fn try_acquire(&self, urgent: bool) -> bool {
        let now = self.clock.now();
        let wait = {
            let mut state = lock(&self.state);
            let state = &mut *state;
            if !urgent && self.urgent.load(Ordering::Acquire) > 0 {
                return false;
            }
            // Pauses and the provider's longer windows hold every call, urgent ones too.
            let held = state
                .paused_until
                .into_iter()
                .chain(state.windows.iter_mut().filter_map(|w| w.room_at(now)))
                .filter(|t| *t > now)
                .max();
            if let Some(until) = held {
                Err(Some(until))
            } else if urgent && state.reserve.room_at(now).is_none() {
                // The reserve kept for actions: no wait for the even spacing.
                state.reserve.record(now);
                state.windows.iter_mut().for_each(|w| w.record(now));
                Ok(())
            } else if let Some(until) = state.not_before.filter(|t| *t > now) {
                Err(Some(until))
            } else if self.shared.is_some() {
                // The slot comes from the cluster, outside this lock.
                Err(None)
            } else {
                match state.limiter.check() {
                    Ok(()) => {
                        state.windows.iter_mut().for_each(|w| w.record(now));
                        Ok(())
                    }
                    Err(not_until) => Err(Some(self.clock.after(
                        not_until.wait_time_from(now.saturating_duration_since(self.origin)),
                    ))),
                }
            }
        };
        match wait {
            Ok(()) => {
                self.calls.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(None) => self.shared_slot().await,
            Err(Some(until)) => {
                if urgent {
                    tokio::time::sleep_until(until).await;
                } else {
                    // Woken early when an urgent call took a permit: the wait is longer.
                    let served = self.urgent_served.notified();
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = served => {}
                    }
                }
                false
            }
        }
    }

    /// Take the next slot of the shared budget and wait for it; true once granted.
    async fn shared_slot(&self) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        let spacing = {
            let state = lock(&self.state);
            let spaced = state
                .spec
                .allowed()
                .saturating_sub(action_reserve(state.spec.allowed()));
            state.spec.per / spaced.max(1)
        };
        match shared.reserve(&self.key, spacing).await {
            Ok(wait) => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait.min(MAX_PROVIDER_WAIT)).await;
                }
                let now = self.clock.now();
                lock(&self.state)
                    .windows
                    .iter_mut()
                    .for_each(|w| w.record(now));
                self.calls.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "shared budget unreachable; calls wait");
                tokio::time::sleep(shared::UNREACHABLE_RETRY).await;
                false
            }
        }
    }

    /// Adapt to what a provider's response said about its rate limit.
    pub fn observe(&self, hint: &RateLimitHint) {
        self.adapt(hint, false);
    }

    /// The provider refused a call for rate (HTTP 429): pause every call on the account until
    /// the hint's reset or retry-after (a whole window when it gives neither).
    pub fn throttled(&self, hint: &RateLimitHint) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        self.adapt(hint, true);
    }

    fn adapt(&self, hint: &RateLimitHint, refused: bool) {
        let now = self.clock.now();
        if hint.remaining.is_some() {
            *lock(&self.remaining) = hint.remaining;
        }
        let mut state = lock(&self.state);
        if let Some(limit) = hint.limit.filter(|l| *l > 0 && *l != state.spec.limit) {
            state.spec.limit = limit;
            state.limiter = Arc::new(limiter_for(&state.spec, self.origin));
            state.reserve = CountedWindow::reserve(&state.spec);
        }
        let default_reserve = state.spec.limit.saturating_sub(state.spec.allowed());
        let reserve = match (hint.reset, hint.remaining) {
            // Peers' calls are not other applications' (see shared.rs).
            _ if self.shared.is_some() => default_reserve,
            (Some(reset), Some(remaining)) => {
                let (limit, tolerance) = (state.spec.limit, same_window_tolerance(state.spec.per));
                state
                    .others
                    .observe(limit, default_reserve, remaining, reset, tolerance)
            }
            _ => default_reserve,
        };
        let wait_until = |wait: Duration| self.clock.after(wait.min(MAX_PROVIDER_WAIT));
        let reset_at = hint.reset.map(|reset| {
            let ahead = (reset - self.clock.now_utc())
                .to_std()
                .unwrap_or(Duration::ZERO);
            wait_until(ahead.saturating_add(RESET_MARGIN))
        });
        let retry_at = hint.retry_after.map(wait_until);
        let exhausted = hint.remaining.is_some_and(|r| r <= reserve);
        if refused || exhausted {
            let until = reset_at
                .into_iter()
                .chain(retry_at)
                .max()
                .unwrap_or_else(|| wait_until(state.spec.per));
            state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
            tracing::debug!(budget = %self.key, wait_ms = until.saturating_duration_since(now).as_millis() as u64, "rate budget paused");
            self.publish_pause(until.saturating_duration_since(now));
        } else if self.shared.is_some() {
            // Spreading the remaining calls is per node; the shared slots already pace the
            // cluster.
        } else if let (Some(remaining), Some(reset_at)) = (hint.remaining, reset_at) {
            // Spread what is left so the last call lands before the reset, not at it.
            let available = remaining.saturating_sub(reserve).saturating_add(1);
            let spacing = reset_at.saturating_duration_since(now) / available;
            state.not_before = Some(self.clock.after(spacing));
        }
    }

    /// Tell the cluster's other nodes to pause too, in the background (`adapt` cannot wait).
    fn publish_pause(&self, wait: Duration) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let until = self.clock.now_utc()
            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
        let key = self.key.clone();
        runtime.spawn(async move {
            if let Err(error) = shared.pause(&key, until).await {
                tracing::warn!(%error, "pause not shared with the cluster");
            }
        });
    }

    /// Until when every call on this budget waits, if it is paused now.
    pub fn paused_until(&self) -> Option<Instant> {
        let now = self.clock.now();
        lock(&self.state).paused_until.filter(|t| *t > now)
    }

    /// Calls per second this platform may make on the account.
    pub fn calls_per_second(&self) -> f64 {
        lock(&self.state).spec.calls_per_second()
    }

    /// A snapshot for stats and health.
    pub fn status(&self) -> BudgetStatus {
        let paused_until = self.paused_until();
        let state = lock(&self.state);
        BudgetStatus {
            key: self.key.clone(),
            allowed: state.spec.allowed(),
            per: state.spec.per,
            calls: self.calls.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            remaining: *lock(&self.remaining),
            paused_until,
        }
    }
}

/// Evenly spaced permits (burst of one) over what the action reserve leaves: with the
/// reserve, at most `allowed + 1` calls in any provider window, whatever the window's phase.
fn limiter_for(spec: &BudgetSpec, origin: Instant) -> Limiter {
    let spaced = spec.allowed() - action_reserve(spec.allowed());
    let period = spec.per / spaced.max(1);
    let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    RateLimiter::direct_with_clock(quota, TokioClock { origin })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(limit: u32) -> BudgetSpec {
        BudgetSpec::new(BudgetKey::new("p", "a"), limit, Duration::from_secs(60))
    }

    #[tokio::test(start_paused = true)]
    async fn permits_are_spaced_by_the_allowed_rate() {
        let budget = RateBudget::new(spec(16).share(0.5), Clock::new());
        let start = Instant::now();
        for _ in 0..4 {
            budget.acquire().await;
        }
        // 8 calls/min (too few to keep a reserve for actions) → one every 7.5 s; the first is
        // immediate.
        assert_eq!(Instant::now() - start, Duration::from_millis(22_500));
        assert_eq!(budget.status().calls, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_calls_take_the_reserve_and_collection_is_spaced_over_the_rest() {
        // 60 a minute: 2 kept for actions, collection spaced over 58.
        let budget = Arc::new(RateBudget::new(spec(60), Clock::new()));
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire().await;
        }
        let spacing = Duration::from_secs(60) / 58;
        // tokio's timer counts whole milliseconds.
        let waited = Instant::now() - start;
        assert!(
            waited.abs_diff(spacing * 2) <= Duration::from_millis(2),
            "{waited:?}"
        );
        // Collection saturates the budget; three actions arrive at once: two take the
        // reserve at once, the third the next permit, ahead of collection.
        let collector = {
            let budget = budget.clone();
            tokio::spawn(async move {
                loop {
                    budget.acquire().await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let issued = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..3 {
            budget.acquire_urgent().await;
            waits.push(Instant::now() - issued);
        }
        collector.abort();
        assert_eq!(waits[0], Duration::ZERO);
        assert_eq!(waits[1], Duration::ZERO);
        assert!(waits[2] <= spacing, "{waits:?}");
        // Over a whole window, never more than the allowance (plus the limiter's one).
        let calls = budget.status().calls;
        let elapsed = Instant::now() - start;
        assert!(
            calls as f64 <= 61.0 * (elapsed.as_secs_f64() / 60.0).ceil(),
            "{calls} calls in {elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_hint_pauses_until_reset() {
        let clock = Clock::new();
        let budget = RateBudget::new(spec(600), clock);
        budget.acquire().await;
        let start = Instant::now();
        budget.throttled(&RateLimitHint {
            reset: Some(clock.now_utc() + chrono::Duration::seconds(30)),
            ..RateLimitHint::default()
        });
        assert!(budget.paused_until().is_some());
        budget.acquire().await;
        assert!(Instant::now() - start >= Duration::from_secs(30));
        assert_eq!(budget.status().throttled, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_reset_the_whole_reserve_stays_free() {
        let clock = Clock::new();
        let budget = RateBudget::new(spec(100).share(0.5), clock);
        // No reset reported: all 50 reserved calls stay free. 60 remaining leave us 10.
        budget.observe(&RateLimitHint {
            remaining: Some(60),
            ..RateLimitHint::default()
        });
        assert!(budget.paused_until().is_none());
        budget.observe(&RateLimitHint {
            remaining: Some(50),
            reset: None,
            ..RateLimitHint::default()
        });
        // Paused for a window (no reset known).
        let paused = Instant::now();
        budget.acquire().await;
        assert_eq!(Instant::now() - paused, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn others_calls_in_the_window_come_off_their_reserve() {
        let clock = Clock::new();
        let budget = RateBudget::new(spec(100).share(0.5), clock);
        let reset = clock.now_utc() + chrono::Duration::seconds(54);
        let hint = |remaining| RateLimitHint {
            remaining: Some(remaining),
            reset: Some(reset),
            ..RateLimitHint::default()
        };
        // Another application made 5 calls, within its 50: we may use our whole 50.
        for ours in 1..50 {
            budget.observe(&hint(100 - 5 - ours));
            assert!(budget.paused_until().is_none(), "paused after {ours} calls");
        }
        budget.observe(&hint(100 - 5 - 50));
        let paused = budget.paused_until().expect("our share is used up");
        assert_eq!(paused - Instant::now(), Duration::from_secs(55));

        // The next window: the other application takes 60, more than its 50. We may use
        // what is left but one, spread until the reset: 40 − 1 − 1 (ours) = 38 calls in 56 s.
        tokio::time::sleep_until(paused).await;
        let reset = clock.now_utc() + chrono::Duration::seconds(55);
        budget.observe(&RateLimitHint {
            remaining: Some(100 - 60 - 1),
            reset: Some(reset),
            ..RateLimitHint::default()
        });
        assert!(budget.paused_until().is_none());
        let start = Instant::now();
        budget.acquire().await;
        // 56 s / 39, to tokio's millisecond.
        let waited = Instant::now() - start;
        assert!(
            waited.abs_diff(Duration::from_secs(56) / 39) < Duration::from_millis(2),
            "{waited:?}"
        );
        for ours in 2..39 {
            budget.observe(&hint_at(reset, 100 - 60 - ours));
            assert!(budget.paused_until().is_none(), "paused after {ours} calls");
        }
        budget.observe(&hint_at(reset, 100 - 60 - 39));
        let paused = budget.paused_until().expect("only one call left");

        // The window after: it made 60 calls last time, so 60 stay reserved for it; it made
        // 10 so far, which leaves 50 of the remaining 89 for it and 39 for us.
        tokio::time::sleep_until(paused).await;
        let reset = clock.now_utc() + chrono::Duration::seconds(59);
        for ours in 1..40 {
            budget.observe(&hint_at(reset, 100 - 10 - ours));
            assert!(budget.paused_until().is_none(), "paused after {ours} calls");
        }
        budget.observe(&hint_at(reset, 100 - 10 - 40));
        assert!(budget.paused_until().is_some());
    }

    fn hint_at(reset: chrono::DateTime<chrono::Utc>, remaining: u32) -> RateLimitHint {
        RateLimitHint {
            remaining: Some(remaining),
            reset: Some(reset),
            ..RateLimitHint::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_window_is_kept_and_the_long_one_allows_bursts_of_the_short_one() {
        // 50 a minute and 1,500 an hour, at 80 %: 40 a minute, 1,200 an hour.
        let spec = spec(50)
            .and_window(1_500, Duration::from_secs(3600))
            .share(0.8);
        assert!((spec.calls_per_second() - 1_200.0 / 3600.0).abs() < 1e-9);
        let budget = RateBudget::new(spec, Clock::new());
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..1_300 {
            budget.acquire().await;
            times.push(Instant::now() - start);
        }
        // The first 1,200 calls come at the minute window's pace (40 a minute, one of them
        // kept for actions: 39 spaced evenly)…
        // (tokio's timer counts whole milliseconds: up to one more per call.)
        let expected = Duration::from_secs(60) / 39 * 1_199;
        assert!(
            times[1_199].abs_diff(expected) <= Duration::from_millis(1_199),
            "{:?}",
            times[1_199]
        );
        for minute in 0..29u32 {
            let from = Duration::from_secs(60) * minute;
            let to = from + Duration::from_secs(60);
            let in_minute = times.iter().filter(|t| **t >= from && **t < to).count();
            assert!(in_minute <= 41, "minute {minute}: {in_minute} calls");
        }
        // …then the hour's allowance is used up: the next call waits for the first to age out.
        assert_eq!(times[1_200], Duration::from_secs(3600));
        for (i, t) in times.iter().enumerate() {
            let in_hour = times[..=i]
                .iter()
                .filter(|u| t.saturating_sub(**u) < Duration::from_secs(3600))
                .count();
            assert!(
                in_hour <= 1_200,
                "{in_hour} calls in the hour before call {i}"
            );
        }
    }

    #[test]
    fn an_empty_or_zero_window_is_a_problem() {
        assert!(spec(10)
            .and_window(0, Duration::from_secs(3600))
            .problem()
            .is_some());
        assert!(spec(10).and_window(5, Duration::ZERO).problem().is_some());
        assert!(spec(10).and_window(5, Duration::MAX).problem().is_some());
        assert!(spec(10)
            .and_window(500, Duration::from_secs(3600))
            .problem()
            .is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn learned_limit_replaces_the_configured_one() {
        let budget = RateBudget::new(spec(600), Clock::new());
        budget.observe(&RateLimitHint {
            limit: Some(60),
            ..RateLimitHint::default()
        });
        assert_eq!(budget.status().allowed, 60);
        assert!((budget.calls_per_second() - 1.0).abs() < 1e-9);
    }
}
