//! Conformance suites: the same checks for every connector, run from a partner's own tests.
//!
//! - [`source_suite`]`(factory, fixture)`: the fixture ([`SourceFixture`]) starts a provider
//!   simulator in a given state (N events, a fault plan) and names good and bad credentials;
//!   the factory builds the partner's [`Source`](ucp_core::Source) pointed at it.
//! - [`sink_suite`]`(factory, fixture)`: the fixture ([`SinkFixture`]) starts a product
//!   emulator (accepting or refusing credentials, with its limits) and says what it stored;
//!   the factory builds the partner's [`Sink`](ucp_core::Sink) pointed at it.
//!
//! - [`health_table_suite`]`(make)`: what every health table must do (the in-memory one,
//!   SQLite, PostgreSQL in `ucp-cluster`).
//!
//! The suites speak loopback HTTP and time real requests: run them from a plain
//! `#[tokio::test]`, not under a paused clock. Both return a [`SuiteReport`] naming every check with its outcome; tests call
//! [`SuiteReport::assert_all_passed`], which panics with the whole list. Faults come from
//! [`crate::faults`]; the randomized check's seed is in the report (set `UCP_FAULT_SEED` to
//! replay one).
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use ucp_sources::okta::{OktaConfig, OktaSource};
//! use ucp_testkit::conformance::{source_suite, OktaFixture};
//! use ucp_testkit::okta::OktaSimulator;
//!
//! let fixture = OktaFixture::default();
//! let (credential, page, timeout) = (fixture.credential.clone(), fixture.page_size, fixture.timeout);
//! let factory = move |sim: &OktaSimulator| {
//!     OktaSource::new(
//!         OktaConfig::new(sim.base_url(), credential.clone())
//!             .page_limit(page as u32)
//!             .start_ago(Duration::from_secs(7200))
//!             .request_timeout(timeout),
//!     )
//! };
//! source_suite(factory, fixture).await.assert_all_passed();
//! # }
//! ```
//!
//! `docs/conformance.md` in the repository is the partner's guide: running both suites
//! against your own simulator, in process or behind a [`crate::faults::FaultProxy`],
//! appending events while the suite runs, and the rate-limit dialects.
//!
//! Ready-made source fixtures: [`OktaFixture`] (the Okta simulator) and [`DemoApiFixture`]
//! (the demo events API); sink fixture: [`RecordingSinkFixture`]. The workspace's
//! `examples/custom_connector/conformance.rs` shows a partner running both suites on their
//! own connector, with a sink fixture of their own.
//!
//! **Checks that do not apply.** Some checks cannot apply to a product or provider: a file
//! sink is never throttled and takes no credential, so `honours_retry_after` and
//! `check_auth_error_with_bad_credentials` mean nothing for it. Its fixture says so in
//! [`SinkFixture::not_applicable`] (or [`SourceFixture::not_applicable`]) with a reason; the
//! suite then does not run the check and reports it `Skipped` with that reason
//! ([`SuiteReport::skipped`]), rather than the fixture faking the behaviour. A few checks
//! also skip by themselves when the fixture does not offer what they need (no future
//! cursor, no request timeout, no product limit, no secret in the credentials).
//!
//! Source checks, by name (see [`checks`]): `describe_is_stable`, `describe_lists_streams`,
//! `check_ok_with_good_credentials`, `check_auth_error_with_bad_credentials`,
//! `collect_auth_error_with_bad_credentials`, `basic_read`, `calls_are_budgeted`,
//! `incremental_read`, `cursor_at_end_returns_nothing`, `future_cursor_returns_nothing`,
//! `restart_resumes_without_gaps`, `rate_limit[<dialect>]` (one per dialect the fixture
//! declares, see below), `server_error_is_retryable`, `timeout_is_retryable`,
//! `connection_reset_is_retryable`, `truncated_body_is_an_error`,
//! `malformed_body_keeps_cursor`, `slow_drip_is_read_whole`, `auth_expiry_is_auth_error`,
//! `random_faults_lose_nothing`, `no_secret_in_output`.
//!
//! **Rate-limit dialects.** Providers state their quota in different headers
//! ([`RateLimitDialect`]: Okta's `X-Rate-Limit-*`, GitHub's `X-RateLimit-*`, the IETF
//! draft's `RateLimit-*` whose reset counts seconds *from now*, its single `RateLimit`
//! field, `Retry-After` in seconds or as an HTTP date). For each dialect in
//! [`SourceFixture::rate_limit_dialects`] (default: all), `rate_limit[<dialect>]` restates a
//! page's headers in that dialect only and checks the page's hint carries the limit, the
//! calls left and the reset; then it answers a 429 in that dialect only and checks for
//! `SourceError::RateLimited` with a throttled hint whose reset (an instant in UTC) or, for
//! the `Retry-After` dialects, retry-after matches what was sent within two seconds.
//!
//! **Sink test records.** Record `n` has id `conformance-0000n` and the JSON payload
//! `{"uuid":"conformance-0000n","eventType":"conformance.test","pad":"…"}`: the id travels
//! in the payload's `uuid` field ([`RECORD_ID_FIELD`]) because products keep payloads, never
//! ucp's record ids, and [`SinkFixture::stored`] reads the ids back from what the product
//! kept. `uuid` is where Okta System Log events carry theirs. A fixture renames the field
//! with [`SinkFixture::record_id_field`] or reshapes records with [`SinkFixture::record`].
//!
//! Sink checks: `describe_is_stable`, `check_ok_with_good_credentials`,
//! `check_auth_error_with_bad_credentials`, `delivers_a_batch`, `honours_retry_after`,
//! `splits_oversized_batches`, `rejects_records_individually`, `redelivery_is_safe`,
//! `no_secret_in_output`.

mod demo;
mod health_table;
mod leak;
mod okta;
mod recording;
mod report;
mod sink;
mod source;

use std::time::Duration;

pub use demo::DemoApiFixture;
pub use health_table::health_table_suite;
pub use okta::OktaFixture;
pub use recording::RecordingSinkFixture;
pub use report::{CheckResult, Outcome, SuiteReport};
pub use sink::{sink_suite, ProductSetup, Redelivery, SeenRequest, SinkFixture, RECORD_ID_FIELD};
pub use source::{source_suite, ProviderSetup, SourceFixture};

pub use crate::faults::{Quota, RateLimitDialect};

/// The tenant the suites' contexts and credentials belong to.
pub const TENANT: &str = "conformance";

/// Longest a single connector call may take before the check reports a hang.
pub(crate) const CALL_LIMIT: Duration = Duration::from_secs(30);

/// Seed of the randomized checks when `UCP_FAULT_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x5eed_0ffa;

/// The seed for this run: `UCP_FAULT_SEED` if set (to replay a failure), else the default.
pub fn fault_seed() -> u64 {
    std::env::var("UCP_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// The checks' names, for tests that look a check up in a [`SuiteReport`].
pub mod checks {
    /// `describe` returns equal info every time and for every instance.
    pub const DESCRIBE_IS_STABLE: &str = "describe_is_stable";
    /// `describe` names the provider, the tested stream and a usable budget.
    pub const DESCRIBE_LISTS_STREAMS: &str = "describe_lists_streams";
    /// `check` succeeds with good credentials.
    pub const CHECK_OK_WITH_GOOD_CREDENTIALS: &str = "check_ok_with_good_credentials";
    /// `check` fails with the `Auth` variant for refused credentials.
    pub const CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS: &str = "check_auth_error_with_bad_credentials";
    /// `collect` fails with `SourceError::Auth` for refused credentials.
    pub const COLLECT_AUTH_ERROR_WITH_BAD_CREDENTIALS: &str =
        "collect_auth_error_with_bad_credentials";
    /// A read of several pages returns every record once, with ids and times.
    pub const BASIC_READ: &str = "basic_read";
    /// The provider sees no more requests than budget permits were drawn.
    pub const CALLS_ARE_BUDGETED: &str = "calls_are_budgeted";
    /// A read from a saved cursor returns exactly the newer records.
    pub const INCREMENTAL_READ: &str = "incremental_read";
    /// The cursor at the end of the stream returns no record.
    pub const CURSOR_AT_END_RETURNS_NOTHING: &str = "cursor_at_end_returns_nothing";
    /// A cursor in the future returns no record.
    pub const FUTURE_CURSOR_RETURNS_NOTHING: &str = "future_cursor_returns_nothing";
    /// A new instance resumes from a mid-pagination cursor with no gap or duplicate.
    pub const RESTART_RESUMES_WITHOUT_GAPS: &str = "restart_resumes_without_gaps";
    // The rate-limit checks are named per dialect: `RateLimitDialect::check_name`, e.g.
    // `rate_limit[okta]`.
    /// 500 and 503 become `Retryable`.
    pub const SERVER_ERROR_IS_RETRYABLE: &str = "server_error_is_retryable";
    /// A provider that does not answer in time gives `Retryable`.
    pub const TIMEOUT_IS_RETRYABLE: &str = "timeout_is_retryable";
    /// A connection closed without an answer gives `Retryable`.
    pub const CONNECTION_RESET_IS_RETRYABLE: &str = "connection_reset_is_retryable";
    /// A body cut short gives `Retryable` or `Malformed`, and a retry reads the page.
    pub const TRUNCATED_BODY_IS_AN_ERROR: &str = "truncated_body_is_an_error";
    /// A malformed body gives `Malformed`, and the same cursor then reads on without a gap.
    pub const MALFORMED_BODY_KEEPS_CURSOR: &str = "malformed_body_keeps_cursor";
    /// A body sent slowly in small pieces is read whole.
    pub const SLOW_DRIP_IS_READ_WHOLE: &str = "slow_drip_is_read_whole";
    /// A 401 mid-stream (credential expired) gives `Auth`.
    pub const AUTH_EXPIRY_IS_AUTH_ERROR: &str = "auth_expiry_is_auth_error";
    /// Seeded random faults, retried, lose and repeat nothing.
    pub const RANDOM_FAULTS_LOSE_NOTHING: &str = "random_faults_lose_nothing";
    /// No credential secret in any output or TRACE log.
    pub const NO_SECRET_IN_OUTPUT: &str = "no_secret_in_output";
    /// A batch is delivered and stored whole.
    pub const DELIVERS_A_BATCH: &str = "delivers_a_batch";
    /// A throttled product's `Retry-After` is returned, and the retry delivers.
    pub const HONOURS_RETRY_AFTER: &str = "honours_retry_after";
    /// No request to the product exceeds its limits.
    pub const SPLITS_OVERSIZED_BATCHES: &str = "splits_oversized_batches";
    /// Records the product refuses are reported one by one, the rest stored.
    pub const REJECTS_RECORDS_INDIVIDUALLY: &str = "rejects_records_individually";
    /// Delivering the same batch again is safe (idempotent, or duplicates keep their ids).
    pub const REDELIVERY_IS_SAFE: &str = "redelivery_is_safe";
}
