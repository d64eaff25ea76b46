//! The source suite: [`source_suite`] runs every check of a [`Source`] against a provider
//! simulator that a [`SourceFixture`] starts, with [`Faults`] in front of it.
//!
//! The suite drives the source as the platform does: one budget permit before each `check`
//! and `collect`, one call per page, the cursor advanced only by successful pages. Run it
//! on a real clock (a plain `#[tokio::test]`): the simulator speaks loopback HTTP.

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tracing::instrument::WithSubscriber;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{
    BudgetSpec, Clock, CollectRequest, Context, Cursor, ErrorClass, Page, RateBudget, Record,
    Source, SourceContext, SourceError,
};

use super::leak::{secrets_of, Outputs};
use super::report::{expect, fail, not_applicable, skip, Outcome, SuiteReport};
use super::{checks, fault_seed, CALL_LIMIT, TENANT};
use crate::faults::{Fault, Faults, Quota, RateLimitDialect};

mod source_checks;

/// The state a provider simulator starts in for one check.
#[derive(Debug)]
pub struct ProviderSetup {
    /// Events of the tested stream visible at start, in the provider's order.
    pub events: usize,
    /// The check's fault plan: wrap the simulator's router with `faults.layer()`, or put a
    /// [`crate::faults::FaultProxy`] in front of it. The suite also counts the provider's
    /// requests through it.
    pub faults: Faults,
}

/// How to stand up the provider a source talks to. Implement it once per provider
/// simulator; [`crate::conformance::OktaFixture`] is the one for the Okta simulator and
/// [`crate::conformance::DemoApiFixture`] the one for the demo events API.
#[async_trait]
pub trait SourceFixture: Send + Sync {
    /// A running provider simulator (what the factory points the source at).
    type Provider: Send + Sync;

    /// Start a provider in `setup`'s state, behind `setup.faults` (its layer around the
    /// router, or a [`crate::faults::FaultProxy`] in front).
    async fn start(&self, setup: ProviderSetup) -> Result<Self::Provider, String>;

    /// Add `count` new events to the stream, visible at once; their record ids.
    async fn emit(&self, provider: &Self::Provider, count: usize) -> Result<Vec<String>, String>;

    /// The stream to test.
    fn stream(&self) -> String;

    /// Records per page the source asks for (as the factory configures it), so the suite
    /// can put several pages of events in the provider.
    fn page_size(&self) -> usize;

    /// Credentials the provider accepts, by the names the source looks up.
    fn credentials(&self) -> Vec<(String, Credential)>;

    /// The same names holding credentials the provider refuses.
    fn bad_credentials(&self) -> Vec<(String, Credential)>;

    /// A cursor of this provider that lies in the future, if the source's cursors can
    /// express one (enables `future_cursor_returns_nothing`).
    fn future_cursor(&self, _provider: &Self::Provider) -> Option<Cursor> {
        None
    }

    /// The per-request timeout the factory configures, if any (enables
    /// `timeout_is_retryable`: the suite delays an answer past it).
    fn request_timeout(&self) -> Option<Duration> {
        None
    }

    /// The rate-limit header dialects to check the source in: the suite runs
    /// `rate_limit[<dialect>]` ([`RateLimitDialect::check_name`]) once for each, injecting a
    /// page and a 429 that state the quota in that dialect only. Declare the dialects the
    /// provider speaks. Default: every dialect, for a source meant to read any provider's
    /// headers.
    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        RateLimitDialect::ALL.to_vec()
    }

    /// Why the check named `check` (see [`checks`](crate::conformance::checks)) does not
    /// apply to this provider, if it does not. The suite then does not run it and reports
    /// it `Skipped` with this reason. Default: every check applies.
    fn not_applicable(&self, _check: &str) -> Option<String> {
        None
    }
}

/// Run every source check: `factory` builds the partner's source pointed at a provider
/// `fixture` started. See the [module docs](crate::conformance) for the list.
pub async fn source_suite<X, S, E, F>(factory: F, fixture: X) -> SuiteReport
where
    X: SourceFixture,
    S: Source,
    E: Display,
    F: Fn(&X::Provider) -> Result<S, E> + Send + Sync,
{
    let outputs = Outputs::default();
    let dispatch = outputs.dispatch();
    let run = Run {
        fixture: &fixture,
        factory: &factory,
        outputs: outputs.clone(),
        clock: Clock::new(),
        seed: fault_seed(),
    };
    run.all().with_subscriber(dispatch).await
}

struct Run<'a, X, F> {
    fixture: &'a X,
    factory: &'a F,
    outputs: Outputs,
    clock: Clock,
    seed: u64,
}

/// One provider, one source and its context.
struct Env<P, S> {
    provider: P,
    faults: Faults,
    source: S,
    cx: SourceContext,
    /// Permits the suite drew (one per call, as the platform does).
    permits: u64,
}

type CallResult<T> = Result<Result<T, SourceError>, String>;

/// Flatten a check written with early returns.
fn done(result: Result<Outcome, Outcome>) -> Outcome {
    match result {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

fn ids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.id.to_string()).collect()
}

/// A short account of a call's result for "seen" texts.
fn summary(result: &CallResult<Page>) -> String {
    match result {
        Ok(Ok(page)) => format!(
            "Ok: a page of {} records, more = {}, next cursor {}",
            page.records.len(),
            page.more,
            page.next
        ),
        Ok(Err(error)) => format!("Err({})", variant(error)),
        Err(why) => why.clone(),
    }
}

fn variant(error: &SourceError) -> String {
    let name = match error {
        SourceError::Auth { .. } => "Auth",
        SourceError::Config { .. } => "Config",
        SourceError::RateLimited { .. } => "RateLimited",
        SourceError::Retryable { .. } => "Retryable",
        SourceError::Malformed { .. } => "Malformed",
        SourceError::Permanent { .. } => "Permanent",
        _ => "another variant",
    };
    format!("{name}: {error}")
}

impl<X, S, E, F> Run<'_, X, F>
where
    X: SourceFixture,
    S: Source,
    E: Display,
    F: Fn(&X::Provider) -> Result<S, E> + Send + Sync,
{
    async fn all(&self) -> SuiteReport {
        let mut report = SuiteReport::new("source", self.seed);
        let r = &mut report;
        let events = self.fixture.page_size() * 2 + self.fixture.page_size() / 2 + 1;
        self.run(r, checks::DESCRIBE_IS_STABLE, self.describe_is_stable())
            .await;
        self.run(
            r,
            checks::DESCRIBE_LISTS_STREAMS,
            self.describe_lists_streams(),
        )
        .await;
        self.run(r, checks::CHECK_OK_WITH_GOOD_CREDENTIALS, self.check(true))
            .await;
        self.run(
            r,
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            self.check(false),
        )
        .await;
        self.run(
            r,
            checks::COLLECT_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            self.collect_with_bad_credentials(),
        )
        .await;
        self.run_pair(
            r,
            [checks::BASIC_READ, checks::CALLS_ARE_BUDGETED],
            self.basic_read(events),
        )
        .await;
        self.run_pair(
            r,
            [
                checks::INCREMENTAL_READ,
                checks::CURSOR_AT_END_RETURNS_NOTHING,
            ],
            self.incremental_read(events),
        )
        .await;
        self.run(
            r,
            checks::FUTURE_CURSOR_RETURNS_NOTHING,
            self.future_cursor(),
        )
        .await;
        self.run(
            r,
            checks::RESTART_RESUMES_WITHOUT_GAPS,
            self.restart(events),
        )
        .await;
        let mut dialects = self.fixture.rate_limit_dialects();
        dialects.dedup();
        for dialect in dialects {
            self.run(r, dialect.check_name(), self.rate_limit(dialect))
                .await;
        }
        self.run(r, checks::SERVER_ERROR_IS_RETRYABLE, self.server_error())
            .await;
        self.run(r, checks::TIMEOUT_IS_RETRYABLE, self.timeout())
            .await;
        self.run(
            r,
            checks::CONNECTION_RESET_IS_RETRYABLE,
            self.transport(Fault::ConnectionReset, false),
        )
        .await;
        self.run(
            r,
            checks::TRUNCATED_BODY_IS_AN_ERROR,
            self.transport(Fault::TruncatedBody, true),
        )
        .await;
        self.run(
            r,
            checks::MALFORMED_BODY_KEEPS_CURSOR,
            self.malformed(events),
        )
        .await;
        self.run(r, checks::SLOW_DRIP_IS_READ_WHOLE, self.slow_drip())
            .await;
        self.run(r, checks::AUTH_EXPIRY_IS_AUTH_ERROR, self.auth_expiry())
            .await;
        self.run(
            r,
            checks::RANDOM_FAULTS_LOSE_NOTHING,
            self.random_faults(events),
        )
        .await;
        self.run(r, checks::NO_SECRET_IN_OUTPUT, async {
            Ok(self.no_secret())
        })
        .await;
        let mut credentials = self.fixture.credentials();
        credentials.extend(self.fixture.bad_credentials());
        report.redact(&secrets_of(&credentials));
        report
    }

    /// Run `check` unless the fixture declares it does not apply (then it is not run at all).
    async fn run(
        &self,
        report: &mut SuiteReport,
        name: &'static str,
        check: impl Future<Output = Result<Outcome, Outcome>>,
    ) {
        let outcome = match self.fixture.not_applicable(name) {
            Some(why) => not_applicable(why),
            None => done(check.await),
        };
        report.push(name, outcome);
    }

    /// Two checks measured by one run: run it unless neither applies.
    async fn run_pair(
        &self,
        report: &mut SuiteReport,
        names: [&'static str; 2],
        checks: impl Future<Output = (Outcome, Outcome)>,
    ) {
        let [first, second] = names.map(|name| self.fixture.not_applicable(name));
        let (a, b) = if first.is_some() && second.is_some() {
            (Outcome::Passed, Outcome::Passed)
        } else {
            checks.await
        };
        for (name, why, outcome) in [(names[0], first, a), (names[1], second, b)] {
            report.push(name, why.map_or(outcome, not_applicable));
        }
    }

    // ---- plumbing -------------------------------------------------------------------------

    async fn env(&self, events: usize, good: bool) -> Result<Env<X::Provider, S>, Outcome> {
        let faults = Faults::new().clock(self.clock);
        let provider = self
            .fixture
            .start(ProviderSetup {
                events,
                faults: faults.clone(),
            })
            .await
            .map_err(|e| fail("the fixture starts a provider", format!("it failed: {e}")))?;
        let source = self.build(&provider)?;
        let cx = self.context(&source, good).await?;
        Ok(Env {
            provider,
            faults,
            source,
            cx,
            permits: 0,
        })
    }

    fn build(&self, provider: &X::Provider) -> Result<S, Outcome> {
        (self.factory)(provider)
            .map_err(|e| fail("the factory builds the source", format!("it failed: {e}")))
    }

    async fn context(&self, source: &S, good: bool) -> Result<SourceContext, Outcome> {
        let store = Arc::new(MemoryCredentials::new());
        let credentials = if good {
            self.fixture.credentials()
        } else {
            self.fixture.bad_credentials()
        };
        for (name, credential) in credentials {
            store
                .put(CredentialRef::new(TENANT, name), credential)
                .await
                .map_err(|e| fail("the suite stores the fixture's credentials", e.to_string()))?;
        }
        // The provider's account, with room for every call the suite makes: the check is
        // that each request is counted, not that the source waits.
        let key = source.describe().budget.key;
        let budget = RateBudget::new(
            BudgetSpec::new(key, 1_000_000, Duration::from_secs(60)),
            self.clock,
        );
        let context = Context::standalone(TENANT, store, self.clock)
            .map_err(|e| fail("the suite builds the source's context", e.to_string()))?;
        Ok(SourceContext::new(
            "conformance-source",
            Arc::new(budget),
            context,
        ))
    }

    /// Run one source call with a permit drawn first; a panic or a hang is an `Err` text.
    async fn call<T: std::fmt::Debug>(
        &self,
        cx: &SourceContext,
        permits: &mut u64,
        label: &str,
        call: impl Future<Output = Result<T, SourceError>>,
    ) -> CallResult<T> {
        cx.budget().acquire().await;
        *permits += 1;
        let guarded = tokio::time::timeout(CALL_LIMIT, AssertUnwindSafe(call).catch_unwind());
        let result = match guarded.await {
            Err(_) => Err(format!("the call did not return within {CALL_LIMIT:?}")),
            Ok(Err(panic)) => Err(format!("the call panicked: {}", panic_text(&*panic))),
            Ok(Ok(result)) => Ok(result),
        };
        self.outputs.keep(label, format!("{result:?}"));
        result
    }

    async fn collect(&self, env: &mut Env<X::Provider, S>, cursor: &Cursor) -> CallResult<Page> {
        let request = CollectRequest {
            stream: self.fixture.stream(),
            cursor: cursor.clone(),
            filter: None,
        };
        let Env {
            source,
            cx,
            permits,
            ..
        } = env;
        self.call(cx, permits, "collect", source.collect(cx, request))
            .await
    }

    /// Follow pages from `from` until a page says there are no more.
    async fn read_to_end(
        &self,
        env: &mut Env<X::Provider, S>,
        from: Cursor,
        expected_events: usize,
    ) -> Result<(Vec<Record>, Cursor), Outcome> {
        let max_calls = expected_events / self.fixture.page_size().max(1) + 10;
        let mut records = Vec::new();
        let mut cursor = from;
        for call in 1..=max_calls {
            match self.collect(env, &cursor).await {
                Ok(Ok(page)) => {
                    records.extend(page.records);
                    cursor = page.next;
                    if !page.more {
                        return Ok((records, cursor));
                    }
                }
                other => {
                    return Err(fail(
                        "every page of a read without faults succeeds",
                        format!("call {call} from cursor {cursor}: {}", summary(&other)),
                    ))
                }
            }
        }
        Err(fail(
            format!("a read of {expected_events} events ends (a page with more = false)"),
            format!("still more after {max_calls} calls"),
        ))
    }
}

/// How far a hint's reset or retry-after may be from what was injected: headers carry whole
/// seconds, and a call takes a moment.
const SLACK_SECS: i64 = 2;

/// `at` is within [`SLACK_SECS`] of `expected`.
fn near(
    at: Option<chrono::DateTime<chrono::Utc>>,
    expected: chrono::DateTime<chrono::Utc>,
) -> bool {
    at.is_some_and(|at| (at - expected).num_milliseconds().abs() <= SLACK_SECS * 1000)
}

/// An instant as the report shows it, e.g. `2026-11-01T08:00:30.250Z`.
fn instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Ids in `got` beyond what `reference` holds (repeats included).
fn extra(got: &[String], reference: &[String]) -> Vec<String> {
    let mut left: Vec<&String> = reference.iter().collect();
    got.iter()
        .filter(|id| match left.iter().position(|r| r == id) {
            Some(at) => {
                left.swap_remove(at);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

/// The text of a panic payload.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}
