//! The provider side of a connector: [`Source`] fetches one page of one stream.
//!
//! A source never sleeps, loops or retries on its own: the scheduler owns time. That is what
//! lets the platform collect each stream once for every product, keep every call inside the
//! provider's rate budget, and checkpoint every connector the same way.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::action::{ActionInfo, ActionOutcome, ActionPlan, ActionRequest};
use crate::budget::{BudgetSpec, RateBudget, RateLimitHint};
use crate::context::Context;
use crate::credentials::CredentialError;
use crate::error::ErrorClass;
use crate::filter::Filter;
use crate::record::{Cursor, Record, StreamKey};

/// What a source offers, returned by [`Source::describe`]. Must not change while running.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Provider name, e.g. `okta`.
    pub provider: String,
    /// The streams this instance can collect.
    pub streams: Vec<StreamInfo>,
    /// What the source can do beyond the basics.
    pub capabilities: SourceCapabilities,
    /// The rate budget every call of this instance draws from.
    pub budget: BudgetSpec,
}

impl SourceInfo {
    /// The stream called `name`, if offered.
    pub fn stream(&self, name: &str) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// One stream a source offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// Stream name, e.g. `system_log`.
    pub name: String,
    /// One line for people.
    pub description: String,
}

impl StreamInfo {
    /// A stream from its name and description.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        StreamInfo {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// Optional abilities of a source (a flat struct, so adding one breaks nobody).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceCapabilities {
    /// The source applies [`CollectRequest::filter`] at the provider (it may return a superset:
    /// each product's own filter still runs before delivery).
    pub server_side_filter: bool,
}

impl SourceCapabilities {
    /// Capabilities with server-side filtering on or off.
    pub fn with_server_side_filter(mut self, on: bool) -> Self {
        self.server_side_filter = on;
        self
    }
}

/// Everything a source call may use: the shared [`Context`] of its tenant (credentials,
/// tokens, clock, HTTP client — through `Deref`), plus its instance name and the rate budget
/// of the provider account it calls.
#[derive(Clone)]
pub struct SourceContext {
    instance: Arc<str>,
    budget: Arc<RateBudget>,
    context: Context,
}

impl std::fmt::Debug for SourceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceContext")
            .field("instance", &self.instance)
            .field("tenant", &self.context.tenant())
            .field("budget", self.budget.key())
            .finish()
    }
}

impl SourceContext {
    /// The context of source instance `instance` drawing on `budget`; the platform builds
    /// these, tests and conformance suites may too.
    pub fn new(instance: impl AsRef<str>, budget: Arc<RateBudget>, context: Context) -> Self {
        SourceContext {
            instance: Arc::from(instance.as_ref()),
            budget,
            context,
        }
    }

    /// The source instance's name (for messages).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The shared rate budget. The scheduler draws one permit before each `check` and
    /// `collect`; draw one yourself for any further call (a second request, a token refresh).
    pub fn budget(&self) -> &Arc<RateBudget> {
        &self.budget
    }
}

impl std::ops::Deref for SourceContext {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

/// Ask for the page of `stream` that follows `cursor`.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectRequest {
    /// Stream name.
    pub stream: String,
    /// Where to continue.
    pub cursor: Cursor,
    /// The job's server-side filter (the union of its subscribers'), when the source
    /// declared [`SourceCapabilities::server_side_filter`].
    pub filter: Option<Filter>,
}

/// One page of records: what one `collect` call returns.
///
/// # The end of a round
///
/// The job follows pages within one round while `more` is true, and the round ends (until
/// the next interval) when `more` is false — or when a page has no records **and** its
/// `next` cursor equals the cursor it was asked for, whatever `more` says: nothing new, and
/// nowhere new to ask. So an API that answers "caught up" with `next_cursor: null`, an empty
/// list, or the same token again needs no special case: return the cursor you were given (or
/// the last position you know) with no records, and the next round asks from there. Never
/// return [`Cursor::start`] to mean "no more": that would collect the whole history again.
///
/// `next` is saved as the stream's checkpoint once every product accepted this page, so it
/// must be enough to continue after a restart; records are fanned out in the order given and
/// deduplicated by [`Record::id`] within the platform's dedup window.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Records in the provider's order.
    pub records: Vec<Record>,
    /// The cursor after this page.
    pub next: Cursor,
    /// True when the provider has more pages right now; the scheduler follows them within
    /// the budget (see the end-of-round rule above).
    pub more: bool,
    /// What the response said about the rate limit, read with [`crate::http::rate_limit_hint`]
    /// or by hand (see [`RateLimitHint`] for the meaning of each field).
    pub hint: Option<RateLimitHint>,
}

/// Why a source call failed. Each variant tells the scheduler what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The provider refused the credential (401/403). Permanent until the credential changes.
    #[error("authentication failed: {message}")]
    Auth {
        /// What the provider said, without secrets.
        message: String,
    },
    /// The connector's configuration is wrong (bad filter, unknown stream, missing credential).
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The provider refused the call for rate (HTTP 429): every call on the account pauses
    /// until the hint's reset or retry-after (a whole window when it has neither).
    #[error("rate limited: {message}")]
    RateLimited {
        /// What the provider said.
        message: String,
        /// Reset / retry-after facts.
        hint: RateLimitHint,
    },
    /// A temporary failure (5xx, timeout, connection reset): retried with backoff.
    #[error("temporary failure: {message}")]
    Retryable {
        /// What happened.
        message: String,
        /// The provider's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The response could not be understood; the cursor does not advance.
    #[error("malformed response: {message}")]
    Malformed {
        /// Which page and what was wrong with it.
        message: String,
    },
    /// Any other failure that retrying will not fix.
    #[error("permanent failure: {message}")]
    Permanent {
        /// What happened.
        message: String,
    },
}

impl SourceError {
    /// Retryable, rate-limited or permanent.
    pub fn class(&self) -> ErrorClass {
        match self {
            SourceError::RateLimited { .. } => ErrorClass::RateLimited,
            SourceError::Retryable { .. } | SourceError::Malformed { .. } => ErrorClass::Retryable,
            SourceError::Auth { .. }
            | SourceError::Config { .. }
            | SourceError::Permanent { .. } => ErrorClass::Permanent,
        }
    }

    /// A short name of the variant, for metrics labels (`auth`, `rate_limited`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceError::Auth { .. } => "auth",
            SourceError::Config { .. } => "config",
            SourceError::RateLimited { .. } => "rate_limited",
            SourceError::Retryable { .. } => "retryable",
            SourceError::Malformed { .. } => "malformed",
            SourceError::Permanent { .. } => "permanent",
        }
    }

    /// What a person should do about it.
    pub fn action(&self) -> &'static str {
        match self {
            SourceError::Auth { .. } => {
                "check the connector's credential and its permissions at the provider; a new secret put in the credential store takes effect at the next call"
            }
            SourceError::Config { .. } => "fix the connector's configuration",
            SourceError::RateLimited { .. } => {
                "none needed: calls wait for the provider's reset; lower other applications' use of the account if it persists"
            }
            SourceError::Retryable { .. } => {
                "none needed: the platform retries; check the provider's status if it persists"
            }
            SourceError::Malformed { .. } => {
                "the cursor was not advanced and the page will be fetched again; report it to the connector's author if it persists"
            }
            SourceError::Permanent { .. } => "fix the cause reported by the provider",
        }
    }
}

impl From<CredentialError> for SourceError {
    fn from(error: CredentialError) -> Self {
        SourceError::Config {
            message: error.to_string(),
        }
    }
}

/// A provider connector. Implement it once; the platform schedules, rate-limits,
/// checkpoints and fans out for every product.
///
/// See `examples/custom_connector.rs` for a complete one.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// Provider, streams, capabilities and rate budget. Called at build time.
    fn describe(&self) -> SourceInfo;

    /// Test the connection and credential with one cheap call.
    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError>;

    /// Fetch the page after `req.cursor`. One call, no sleeping, no retrying.
    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError>;

    /// The cursor from which `stream` collects what happened at or after `time` (used to
    /// reset a stream "to a time"). Sources whose cursor cannot be made from a time keep the
    /// default, which says so.
    fn cursor_at(&self, stream: &str, time: DateTime<Utc>) -> Result<Cursor, SourceError> {
        let _ = (stream, time);
        Err(SourceError::Config {
            message:
                "this source cannot start a stream from a given time; reset it to the start instead"
                    .into(),
        })
    }

    /// The response actions this source can perform at its provider (none by default).
    fn actions(&self) -> Vec<ActionInfo> {
        Vec::new()
    }

    /// What [`Source::act`] would send for `request`, with its parameters checked, without
    /// sending anything (the dry run).
    fn plan_action(&self, request: &ActionRequest) -> Result<ActionPlan, SourceError> {
        Err(no_such_action(request))
    }

    /// Perform `request` at the provider: one call, no sleeping, no retrying (the platform
    /// draws the permit first and retries temporary failures). A target already in the asked
    /// state is [`ActionOutcome::AlreadyDone`]; a refusal retrying will not change is
    /// [`ActionOutcome::Refused`], not an error.
    async fn act(
        &self,
        cx: &SourceContext,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, SourceError> {
        let _ = cx;
        Err(no_such_action(request))
    }
}

fn no_such_action(request: &ActionRequest) -> SourceError {
    SourceError::Config {
        message: format!("this source offers no action '{}'", request.action),
    }
}

/// A failed collection, naming the source instance and stream it concerns (what the job
/// logs and reports to health).
#[derive(Debug, thiserror::Error)]
#[error("collecting {stream}: {error}; what to do: {}", error.action())]
pub struct CollectError {
    /// The stream.
    pub stream: StreamKey,
    /// The source's error.
    #[source]
    pub error: SourceError,
}
