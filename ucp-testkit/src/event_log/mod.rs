//! An in-process simulated provider: an ordered event log read page by page.
//!
//! The cursor is the position in the log. Like a real provider it enforces a per-window rate
//! limit (and says so in every page's [`RateLimitHint`]), pages results, applies a
//! server-side filter, and can be told to fail the next calls in chosen ways. It records
//! every call with its tokio time, so tests can assert exactly when and how often the
//! platform called.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::time::Instant;
mod directory;

pub use directory::{ActionFault, UserStatus};
use ucp_core::{ActionInfo, ActionOutcome, ActionPlan, ActionRequest, BudgetKey, BudgetSpec};
use ucp_core::{
    Clock, CollectRequest, Cursor, Filter, Page, RateLimitHint, Record, Source, SourceCapabilities,
    SourceContext, SourceError, SourceInfo, StreamInfo,
};

/// Event types the generator cycles through (Okta-like names).
pub const EVENT_TYPES: [&str; 6] = [
    "user.session.start",
    "user.authentication.sso",
    "group.user_membership.add",
    "application.user_membership.add",
    "user.account.lock",
    "policy.evaluate_sign_on",
];

/// The ordered log of one stream; cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    events: Arc<Mutex<Vec<Record>>>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `count` generated events (ids `evt-000001`, …; event types cycling through
    /// [`EVENT_TYPES`]; one second apart from `start`).
    pub fn generate(&self, count: usize, start: DateTime<Utc>) {
        let mut events = lock(&self.events);
        for _ in 0..count {
            let n = events.len() + 1;
            let time = start + chrono::Duration::seconds(n as i64);
            let event_type = EVENT_TYPES[(n - 1) % EVENT_TYPES.len()];
            let id = format!("evt-{n:06}");
            let payload = serde_json::json!({
                "uuid": id,
                "published": time.to_rfc3339(),
                "eventType": event_type,
                "actor": {"id": format!("user-{}", n % 50), "type": "User"},
                "outcome": {"result": "SUCCESS"},
            });
            events.push(Record::new(id, time, payload.to_string()));
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        lock(&self.events).len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every event, in order.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.events).clone()
    }

    /// Ids of the events matching `filter` (all when `None`), in order.
    pub fn ids_matching(&self, filter: Option<&Filter>) -> Vec<String> {
        lock(&self.events)
            .iter()
            .filter(|r| matches(r, filter))
            .map(|r| r.id.to_string())
            .collect()
    }
}

/// A fault the source returns instead of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A temporary failure (like a 503).
    Unavailable,
    /// Throttled (like a 429) with the window resetting after this long.
    Throttle(Duration),
    /// The credential is refused (like a 401).
    Unauthorized,
    /// An unparseable body.
    Malformed,
}

/// How the simulated provider behaves.
#[derive(Clone, Debug)]
pub struct EventLogSettings {
    /// Records per page (default 100).
    pub page_size: usize,
    /// Apply the job's filter at the provider (default off).
    pub server_side_filter: bool,
    /// Calls the provider allows per window (default 600).
    pub provider_limit: u32,
    /// The provider's window (default one minute).
    pub window: Duration,
    /// The limit the source declares in its budget (default: the provider's).
    pub declared_limit: Option<u32>,
}

impl Default for EventLogSettings {
    fn default() -> Self {
        EventLogSettings {
            page_size: 100,
            server_side_filter: false,
            provider_limit: 600,
            window: Duration::from_secs(60),
            declared_limit: None,
        }
    }
}

/// One call the source received.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// tokio time of the call.
    pub at: Instant,
    /// The stream.
    pub stream: String,
    /// The cursor asked for.
    pub cursor: Cursor,
    /// The server-side filter sent.
    pub filter: Option<Filter>,
}

struct Window {
    start: Instant,
    used: u32,
    /// Calls refused for rate, all windows together.
    refused: u64,
}

struct Inner {
    directory: Mutex<directory::Directory>,
    account: String,
    log: EventLog,
    page_size: usize,
    server_filter: bool,
    limit: u32,
    window: Duration,
    budget_limit: u32,
    clock: Clock,
    faults: Mutex<VecDeque<Fault>>,
    calls: Mutex<Vec<Call>>,
    rate: Mutex<Window>,
}

/// The simulated provider as a [`Source`]. Clone it to keep a handle for assertions.
#[derive(Clone)]
pub struct EventLogSource {
    inner: Arc<Inner>,
}

impl EventLogSource {
    /// A source for `account` reading `log` (stream `events`) with default settings.
    pub fn new(account: impl Into<String>, log: EventLog, clock: Clock) -> Self {
        Self::with_settings(account, log, clock, EventLogSettings::default())
    }

    /// A source for `account` reading `log` with `settings`.
    pub fn with_settings(
        account: impl Into<String>,
        log: EventLog,
        clock: Clock,
        settings: EventLogSettings,
    ) -> Self {
        EventLogSource {
            inner: Arc::new(Inner {
                directory: Mutex::new(directory::Directory::default()),
                account: account.into(),
                log,
                page_size: settings.page_size.max(1),
                server_filter: settings.server_side_filter,
                limit: settings.provider_limit,
                window: settings.window,
                budget_limit: settings.declared_limit.unwrap_or(settings.provider_limit),
                clock,
                faults: Mutex::new(VecDeque::new()),
                calls: Mutex::new(Vec::new()),
                rate: Mutex::new(Window {
                    start: Instant::now(),
                    used: 0,
                    refused: 0,
                }),
            }),
        }
    }

    /// Fail the next calls with these faults, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.inner.faults).extend(faults);
    }

    /// Add users in `status` to the provider's directory (for response actions).
    pub fn add_users<I, S>(&self, users: I, status: UserStatus)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut directory = lock(&self.inner.directory);
        for user in users {
            directory.users.insert(user.into(), status);
        }
    }

    /// A user's status, if the directory has them.
    pub fn user(&self, user: &str) -> Option<UserStatus> {
        lock(&self.inner.directory).users.get(user).copied()
    }

    /// Fail the next action calls with these faults, in order.
    pub fn inject_action_faults(&self, faults: impl IntoIterator<Item = ActionFault>) {
        lock(&self.inner.directory).faults.extend(faults);
    }

    /// Action calls that reached the provider so far.
    pub fn action_calls(&self) -> u64 {
        lock(&self.inner.directory).calls
    }

    /// Calls the provider refused for rate (429) so far, collections and actions alike.
    pub fn refused(&self) -> u64 {
        lock(&self.inner.rate).refused
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.inner.calls).clone()
    }

    /// Number of calls so far.
    pub fn call_count(&self) -> usize {
        lock(&self.inner.calls).len()
    }

    /// The log read.
    pub fn log(&self) -> &EventLog {
        &self.inner.log
    }

    fn hint(&self, window: &Window) -> RateLimitHint {
        RateLimitHint {
            limit: Some(self.inner.limit),
            remaining: Some(self.inner.limit.saturating_sub(window.used)),
            reset: Some(self.inner.clock.utc_at(window.start + self.inner.window)),
            retry_after: None,
        }
    }

    /// Count the call against the provider's window; `Err` if over the limit.
    fn charge(&self) -> Result<RateLimitHint, SourceError> {
        let now = Instant::now();
        let mut window = lock(&self.inner.rate);
        while now >= window.start + self.inner.window {
            window.start += self.inner.window;
            window.used = 0;
        }
        window.used += 1;
        let hint = self.hint(&window);
        if window.used > self.inner.limit {
            window.refused += 1;
            return Err(SourceError::RateLimited {
                message: format!(
                    "{}: rate limit of {} calls exceeded",
                    self.inner.account, self.inner.limit
                ),
                hint,
            });
        }
        Ok(hint)
    }
}

fn matches(record: &Record, filter: Option<&Filter>) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    serde_json::from_slice(&record.payload).is_ok_and(|doc| filter.matches(&doc))
}

#[async_trait]
impl Source for EventLogSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "eventlog".into(),
            streams: vec![StreamInfo::new(
                "events",
                "every event of the simulated log",
            )],
            capabilities: SourceCapabilities::default()
                .with_server_side_filter(self.inner.server_filter),
            budget: BudgetSpec::new(
                BudgetKey::new("eventlog", &self.inner.account),
                self.inner.budget_limit,
                self.inner.window,
            ),
        }
    }

    async fn check(&self, _cx: &SourceContext) -> Result<(), SourceError> {
        self.charge().map(|_| ())
    }

    async fn collect(&self, _cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        lock(&self.inner.calls).push(Call {
            at: Instant::now(),
            stream: req.stream.clone(),
            cursor: req.cursor.clone(),
            filter: req.filter.clone(),
        });
        let hint = self.charge()?;
        if let Some(fault) = lock(&self.inner.faults).pop_front() {
            let account = &self.inner.account;
            return Err(match fault {
                Fault::Unavailable => SourceError::Retryable {
                    message: format!("{account}: service unavailable"),
                    retry_after: None,
                },
                Fault::Throttle(reset_in) => SourceError::RateLimited {
                    message: format!("{account}: too many requests"),
                    hint: RateLimitHint {
                        remaining: Some(0),
                        reset: Some(
                            self.inner.clock.now_utc()
                                + chrono::Duration::from_std(reset_in).unwrap_or_default(),
                        ),
                        ..hint
                    },
                },
                Fault::Unauthorized => SourceError::Auth {
                    message: format!("{account} rejected the API token: check the credential"),
                },
                Fault::Malformed => SourceError::Malformed {
                    message: format!(
                        "{account}: page after cursor {} is not valid JSON",
                        req.cursor
                    ),
                },
            });
        }
        let start: usize = match req.cursor.as_str() {
            None => 0,
            Some(position) => position.parse().map_err(|_| SourceError::Config {
                message: format!(
                    "cursor '{position}' is not a position in the {} log",
                    self.inner.account
                ),
            })?,
        };
        let events = lock(&self.inner.log.events);
        let filter = if self.inner.server_filter {
            req.filter.as_ref()
        } else {
            None
        };
        let mut records = Vec::new();
        let mut position = start.min(events.len());
        while position < events.len() && records.len() < self.inner.page_size {
            let record = &events[position];
            if matches(record, filter) {
                records.push(record.clone());
            }
            position += 1;
        }
        Ok(Page {
            records,
            next: Cursor::new(position.to_string()),
            more: position < events.len(),
            hint: Some(hint),
        })
    }

    fn actions(&self) -> Vec<ActionInfo> {
        directory::actions()
    }

    fn plan_action(&self, request: &ActionRequest) -> Result<ActionPlan, SourceError> {
        directory::plan(&self.inner.account, request)
    }

    async fn act(
        &self,
        _cx: &SourceContext,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, SourceError> {
        self.charge()?;
        lock(&self.inner.directory).act(&self.inner.account, request)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
