//! The sink suite: [`sink_suite`] runs every check of a [`Sink`] against a product emulator
//! that a [`SinkFixture`] starts.
//!
//! The suite delivers as the platform does: batches above the sink's declared
//! `max_batch_records` are split before `deliver`; anything else (bytes, product limits the
//! sink did not declare) the sink must split itself.
//!
//! **The test records.** Record `n` ([`SinkFixture::record`]) has the id
//! `conformance-0000n`, the time of its making, and a JSON payload that carries the same id
//! in its [`RECORD_ID_FIELD`] (`uuid`; [`SinkFixture::record_id_field`] to change it):
//!
//! ```json
//! {"uuid":"conformance-00007","eventType":"conformance.test","pad":"xxxx…"}
//! ```
//!
//! The id is in the payload because a product receives payloads, not ucp's records: a table
//! row, a file line or a hub message keeps the event and maybe mapped columns, never
//! [`Record::id`]. [`SinkFixture::stored`] reads the ids back from what the product kept, so
//! the id must travel inside the event. `uuid` is where Okta System Log events (the
//! platform's reference stream) keep theirs, so sinks and column mappings written for
//! them work on the suite's records unchanged.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::FutureExt;
use tracing::instrument::WithSubscriber;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{
    Batch, Clock, Context, Cursor, Delivery, Record, Sink, SinkContext, SinkError, StreamKey,
};

use super::leak::{secrets_of, Outputs};
use super::report::{expect, fail, not_applicable, skip, Outcome, SuiteReport};
use super::source::panic_text;
use super::{checks, fault_seed, CALL_LIMIT, TENANT};
use crate::faults::{Fault, Faults};

/// The payload field that carries a test record's id unless the fixture says otherwise.
pub const RECORD_ID_FIELD: &str = "uuid";

/// The state a product emulator starts in for one check.
#[derive(Debug)]
pub struct ProductSetup {
    /// False: refuse every credential (for emulators that cannot tell good from bad ones
    /// by themselves; the suite also stores the fixture's bad credentials).
    pub accept_credentials: bool,
    /// The check's fault plan: wrap an HTTP emulator's router with `faults.layer()`, or put
    /// a [`crate::faults::FaultProxy`] in front of it.
    pub faults: Faults,
}

/// What the product received in one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// Records in the request.
    pub records: usize,
    /// Bytes of the request body (or of the records' payloads for in-process products).
    pub bytes: usize,
}

/// How the sink makes a second delivery of the same batch safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redelivery {
    /// The product stores each record once, however often it is sent.
    Idempotent,
    /// The product may store a record twice; both copies carry the record id, so readers
    /// drop duplicates by id.
    DuplicatesCarryIds,
}

/// How to stand up the product a sink delivers to.
#[async_trait]
pub trait SinkFixture: Send + Sync {
    /// A running product emulator (what the factory points the sink at).
    type Product: Send + Sync;

    /// Start a product in `setup`'s state.
    async fn start(&self, setup: ProductSetup) -> Result<Self::Product, String>;

    /// Ids of the records the product stored, in arrival order, repeats included: read each
    /// stored event's [`record_id_field`](Self::record_id_field) (the id travels in the
    /// payload because products keep payloads, not ucp's record ids; see
    /// [`record`](Self::record)).
    async fn stored(&self, product: &Self::Product) -> Vec<String>;

    /// The requests the product received so far.
    async fn requests(&self, product: &Self::Product) -> Vec<SeenRequest>;

    /// Make the product answer the next request with a throttle and `Retry-After`. The
    /// default injects a 429 through `faults` (for emulators wrapped with its layer).
    async fn throttle_next(
        &self,
        _product: &Self::Product,
        faults: &Faults,
        retry_after: Duration,
    ) {
        faults.push_next(Fault::RateLimited { retry_after });
    }

    /// Make the product refuse these record ids for good.
    async fn reject(&self, product: &Self::Product, ids: &[String]);

    /// Most records the product takes per request, if limited.
    fn max_records_per_request(&self) -> Option<usize> {
        None
    }

    /// Most body bytes the product takes per request, if limited.
    fn max_bytes_per_request(&self) -> Option<usize> {
        None
    }

    /// What the sink does about a second delivery of the same batch.
    fn redelivery(&self) -> Redelivery;

    /// Why the check named `check` (see [`checks`](crate::conformance::checks)) does not
    /// apply to this product, if it does not: e.g. a file sink is never throttled and takes
    /// no credential. The suite then does not run it and reports it `Skipped` with this
    /// reason, rather than the fixture faking the behaviour. Default: every check applies.
    fn not_applicable(&self, _check: &str) -> Option<String> {
        None
    }

    /// Credentials the product accepts, by the names the sink looks up.
    fn credentials(&self) -> Vec<(String, Credential)>;

    /// The same names holding credentials the product refuses.
    fn bad_credentials(&self) -> Vec<(String, Credential)>;

    /// The payload field that carries each test record's id (default [`RECORD_ID_FIELD`],
    /// `uuid`), for a product or sink that expects the id under another name.
    fn record_id_field(&self) -> &str {
        RECORD_ID_FIELD
    }

    /// The `n`-th test record, of about `size` payload bytes: id `conformance-0000n`, the
    /// same id under [`record_id_field`](Self::record_id_field) in a JSON event,
    /// `{"uuid":"conformance-00007","eventType":"conformance.test","pad":"xxxx…"}`. A
    /// product receives payloads, never [`Record::id`], so the id must be readable from
    /// what it stores. Override for products that need another shape.
    fn record(&self, n: usize, size: usize) -> Record {
        let id = format!("conformance-{n:05}");
        let pad = "x".repeat(size.saturating_sub(80));
        let field = serde_json::Value::from(self.record_id_field());
        let payload = format!(r#"{{{field}:"{id}","eventType":"conformance.test","pad":"{pad}"}}"#);
        Record::new(id, Utc::now(), Bytes::from(payload))
    }
}

/// Run every sink check: `factory` builds the partner's sink pointed at a product `fixture`
/// started. See the [module docs](crate::conformance) for the list.
pub async fn sink_suite<X, K, E, F>(factory: F, fixture: X) -> SuiteReport
where
    X: SinkFixture,
    K: Sink,
    E: Display,
    F: Fn(&X::Product) -> Result<K, E> + Send + Sync,
{
    let outputs = Outputs::default();
    let dispatch = outputs.dispatch();
    let run = Run {
        fixture: &fixture,
        factory: &factory,
        outputs: outputs.clone(),
        clock: Clock::new(),
    };
    run.all().with_subscriber(dispatch).await
}

struct Run<'a, X, F> {
    fixture: &'a X,
    factory: &'a F,
    outputs: Outputs,
    clock: Clock,
}

struct Env<P, K> {
    product: P,
    faults: Faults,
    sink: K,
    cx: SinkContext,
}

fn done(result: Result<Outcome, Outcome>) -> Outcome {
    match result {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

type CallResult<T> = Result<Result<T, SinkError>, String>;

fn summary(result: &CallResult<Delivery>) -> String {
    match result {
        Ok(Ok(delivery)) => format!("Ok, {} records rejected", delivery.rejected.len()),
        Ok(Err(error)) => format!("Err({})", variant(error)),
        Err(why) => why.clone(),
    }
}

fn variant(error: &SinkError) -> String {
    let name = match error {
        SinkError::Auth { .. } => "Auth",
        SinkError::RateLimited { .. } => "RateLimited",
        SinkError::Retryable { .. } => "Retryable",
        SinkError::Permanent { .. } => "Permanent",
        _ => "another variant",
    };
    format!("{name}: {error}")
}

impl<X, K, E, F> Run<'_, X, F>
where
    X: SinkFixture,
    K: Sink,
    E: Display,
    F: Fn(&X::Product) -> Result<K, E> + Send + Sync,
{
    async fn all(&self) -> SuiteReport {
        let mut report = SuiteReport::new("sink", fault_seed());
        let r = &mut report;
        self.run(r, checks::DESCRIBE_IS_STABLE, self.describe())
            .await;
        self.run(r, checks::CHECK_OK_WITH_GOOD_CREDENTIALS, self.check(true))
            .await;
        self.run(
            r,
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            self.check(false),
        )
        .await;
        self.run(r, checks::DELIVERS_A_BATCH, self.delivers()).await;
        self.run(r, checks::HONOURS_RETRY_AFTER, self.retry_after())
            .await;
        self.run(r, checks::SPLITS_OVERSIZED_BATCHES, self.splits())
            .await;
        self.run(r, checks::REJECTS_RECORDS_INDIVIDUALLY, self.rejects())
            .await;
        self.run(r, checks::REDELIVERY_IS_SAFE, self.redelivery())
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

    async fn env(&self, good: bool) -> Result<Env<X::Product, K>, Outcome> {
        let faults = Faults::new().clock(self.clock);
        let product = self
            .fixture
            .start(ProductSetup {
                accept_credentials: good,
                faults: faults.clone(),
            })
            .await
            .map_err(|e| fail("the fixture starts a product", format!("it failed: {e}")))?;
        let sink = (self.factory)(&product)
            .map_err(|e| fail("the factory builds the sink", format!("it failed: {e}")))?;
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
        let context = Context::standalone(TENANT, store, self.clock)
            .map_err(|e| fail("the suite builds the sink's context", e.to_string()))?;
        let cx = SinkContext::new(sink.describe().kind, context);
        Ok(Env {
            product,
            faults,
            sink,
            cx,
        })
    }

    fn batch(&self, records: Vec<Record>) -> Batch {
        Batch {
            stream: StreamKey::new("conformance-source", "events"),
            records: Arc::from(records),
            cursor_after: Cursor::new("conformance-cursor"),
        }
    }

    fn records(&self, from: usize, count: usize, size: usize) -> Vec<Record> {
        (from..from + count)
            .map(|n| self.fixture.record(n, size))
            .collect()
    }

    /// Deliver `batch` as the platform does (split by the declared record limit); the
    /// rejections of every part, or the first error.
    async fn deliver(&self, env: &Env<X::Product, K>, batch: &Batch) -> CallResult<Delivery> {
        let parts: Vec<Batch> = match env.sink.describe().max_batch_records {
            Some(max) if max > 0 && batch.len() > max => batch
                .records
                .chunks(max)
                .map(|chunk| self.batch(chunk.to_vec()))
                .collect(),
            _ => vec![batch.clone()],
        };
        let mut rejected = Vec::new();
        for part in parts {
            let call = AssertUnwindSafe(env.sink.deliver(&env.cx, &part)).catch_unwind();
            let result = match tokio::time::timeout(CALL_LIMIT, call).await {
                Err(_) => Err(format!("deliver did not return within {CALL_LIMIT:?}")),
                Ok(Err(panic)) => Err(format!("deliver panicked: {}", panic_text(&*panic))),
                Ok(Ok(result)) => Ok(result),
            };
            self.outputs.keep("deliver", format!("{result:?}"));
            match result {
                Ok(Ok(delivery)) => rejected.extend(delivery.rejected),
                other => return other,
            }
        }
        Ok(Ok(Delivery::with_rejected(rejected)))
    }

    async fn describe(&self) -> Result<Outcome, Outcome> {
        let env = self.env(true).await?;
        let first = env.sink.describe();
        let again = env.sink.describe();
        self.outputs.keep("describe", format!("{first:?}"));
        Ok(expect(
            first == again && !first.kind.is_empty() && first.max_batch_records != Some(0),
            "the same info every time, a product name, no zero record limit",
            format!("{first:?} then {again:?}"),
        ))
    }

    async fn check(&self, good: bool) -> Result<Outcome, Outcome> {
        let env = self.env(good).await?;
        let call = AssertUnwindSafe(env.sink.check(&env.cx)).catch_unwind();
        let result = match tokio::time::timeout(CALL_LIMIT, call).await {
            Err(_) => Err(format!("check did not return within {CALL_LIMIT:?}")),
            Ok(Err(panic)) => Err(format!("check panicked: {}", panic_text(&*panic))),
            Ok(Ok(result)) => Ok(result),
        };
        self.outputs.keep("check", format!("{result:?}"));
        let seen = match &result {
            Ok(Ok(())) => "Ok(())".to_string(),
            Ok(Err(e)) => variant(e),
            Err(why) => why.clone(),
        };
        Ok(match (good, &result) {
            (true, Ok(Ok(()))) | (false, Ok(Err(SinkError::Auth { .. }))) => Outcome::Passed,
            (true, _) => fail("check succeeds with good credentials", seen),
            (false, _) => fail(
                "check fails with SinkError::Auth when the product refuses the credential",
                seen,
            ),
        })
    }

    async fn delivers(&self) -> Result<Outcome, Outcome> {
        let env = self.env(true).await?;
        let records = self.records(0, 5, 200);
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let result = self.deliver(&env, &self.batch(records)).await;
        if !matches!(&result, Ok(Ok(d)) if d.rejected.is_empty()) {
            return Ok(fail("Ok with no rejected record", summary(&result)));
        }
        let stored = self.fixture.stored(&env.product).await;
        Ok(expect(
            stored == ids,
            format!("the product stores {ids:?}"),
            format!("{stored:?}"),
        ))
    }

    async fn retry_after(&self) -> Result<Outcome, Outcome> {
        let env = self.env(true).await?;
        let wait = Duration::from_secs(7);
        self.fixture
            .throttle_next(&env.product, &env.faults, wait)
            .await;
        let records = self.records(100, 3, 200);
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let batch = self.batch(records);
        let result = self.deliver(&env, &batch).await;
        let honoured = match &result {
            Ok(Err(e @ (SinkError::RateLimited { .. } | SinkError::Retryable { .. }))) => e
                .retry_after()
                .is_some_and(|d| d.as_secs().abs_diff(7) <= 1),
            _ => false,
        };
        if !honoured {
            return Ok(fail(
                "SinkError::RateLimited (or Retryable) with retry_after = 7 s from the product's Retry-After",
                summary(&result),
            ));
        }
        let again = self.deliver(&env, &batch).await;
        let stored = self.fixture.stored(&env.product).await;
        Ok(expect(
            matches!(again, Ok(Ok(_))) && ids.iter().all(|id| stored.contains(id)),
            "the retry after the throttle delivers the batch",
            format!("{}; stored {stored:?}", summary(&again)),
        ))
    }

    async fn splits(&self) -> Result<Outcome, Outcome> {
        let max_records = self.fixture.max_records_per_request();
        let max_bytes = self.fixture.max_bytes_per_request();
        let (count, size) = match (max_records, max_bytes) {
            (None, None) => return Ok(skip("the fixture declares no product limit")),
            (Some(records), None) => (records * 2 + 1, 200),
            (records, Some(bytes)) => {
                let size = (bytes / 8).clamp(100, 64 * 1024);
                let by_bytes = (bytes * 5 / 2) / size + 1;
                (by_bytes.max(records.map_or(0, |r| r * 2 + 1)), size)
            }
        };
        let env = self.env(true).await?;
        let records = self.records(1000, count, size);
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let result = self.deliver(&env, &self.batch(records)).await;
        if !matches!(result, Ok(Ok(_))) {
            return Ok(fail(
                format!("{count} records (above the product's limits) are delivered"),
                summary(&result),
            ));
        }
        let requests = self.fixture.requests(&env.product).await;
        if requests.is_empty() {
            return Ok(fail(
                "the fixture reports the requests the product received (to compare with its limits)",
                "no request reported",
            ));
        }
        let over: Vec<&SeenRequest> = requests
            .iter()
            .filter(|r| {
                max_records.is_some_and(|m| r.records > m) || max_bytes.is_some_and(|m| r.bytes > m)
            })
            .collect();
        let stored = self.fixture.stored(&env.product).await;
        let missing = ids.iter().filter(|id| !stored.contains(id)).count();
        Ok(expect(
            over.is_empty() && missing == 0,
            format!(
                "every request within {max_records:?} records and {max_bytes:?} bytes, all {count} records stored"
            ),
            format!("requests over the limit: {over:?}; {missing} records missing"),
        ))
    }

    async fn rejects(&self) -> Result<Outcome, Outcome> {
        let env = self.env(true).await?;
        let records = self.records(2000, 6, 200);
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let refused = vec![ids[1].clone(), ids[4].clone()];
        self.fixture.reject(&env.product, &refused).await;
        let result = self.deliver(&env, &self.batch(records)).await;
        let Ok(Ok(delivery)) = &result else {
            return Ok(fail(
                "Ok listing the 2 refused records (the batch as a whole is accepted)",
                summary(&result),
            ));
        };
        let mut reported: Vec<String> =
            delivery.rejected.iter().map(|r| r.id.to_string()).collect();
        reported.sort();
        let reasons = delivery
            .rejected
            .iter()
            .all(|r| !r.reason.trim().is_empty());
        let stored = self.fixture.stored(&env.product).await;
        let kept: Vec<&String> = ids.iter().filter(|id| !refused.contains(id)).collect();
        let kept_stored = kept.iter().all(|id| stored.contains(id));
        Ok(expect(
            reported == refused && reasons && kept_stored,
            format!("rejected exactly {refused:?}, each with a reason; the other 4 stored"),
            format!(
                "rejected {:?}; other 4 stored: {kept_stored}",
                delivery.rejected
            ),
        ))
    }

    async fn redelivery(&self) -> Result<Outcome, Outcome> {
        let env = self.env(true).await?;
        let records = self.records(3000, 4, 200);
        let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let batch = self.batch(records);
        let first = self.deliver(&env, &batch).await;
        let second = self.deliver(&env, &batch).await;
        if !matches!((&first, &second), (Ok(Ok(_)), Ok(Ok(_)))) {
            return Ok(fail(
                "both deliveries of the same batch succeed",
                format!("{} then {}", summary(&first), summary(&second)),
            ));
        }
        let stored = self.fixture.stored(&env.product).await;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &stored {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let unknown: Vec<&String> = stored.iter().filter(|id| !ids.contains(id)).collect();
        let all_there = ids.iter().all(|id| counts.contains_key(id.as_str()));
        Ok(match self.fixture.redelivery() {
            Redelivery::Idempotent => expect(
                all_there && unknown.is_empty() && counts.values().all(|c| *c == 1),
                "each record stored exactly once after two deliveries (idempotent)",
                format!("stored {stored:?}"),
            ),
            Redelivery::DuplicatesCarryIds => expect(
                all_there && unknown.is_empty(),
                "every record stored, every copy under its record id (readers dedup by id)",
                format!("stored {stored:?}"),
            ),
        })
    }

    fn no_secret(&self) -> Outcome {
        let mut credentials = self.fixture.credentials();
        credentials.extend(self.fixture.bad_credentials());
        let secrets = secrets_of(&credentials);
        if secrets.is_empty() {
            return skip("the fixture's credentials hold no secret to look for");
        }
        let found = self.outputs.leaks(&secrets);
        expect(
            found.is_empty(),
            "no secret in any result, error or info (Debug) or in the TRACE output",
            found.join("; "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the record shape matters here.
    struct Shaped(Option<&'static str>);

    #[async_trait]
    impl SinkFixture for Shaped {
        type Product = ();
        async fn start(&self, _setup: ProductSetup) -> Result<(), String> {
            Ok(())
        }
        async fn stored(&self, _product: &()) -> Vec<String> {
            Vec::new()
        }
        async fn requests(&self, _product: &()) -> Vec<SeenRequest> {
            Vec::new()
        }
        async fn reject(&self, _product: &(), _ids: &[String]) {}
        fn redelivery(&self) -> Redelivery {
            Redelivery::Idempotent
        }
        fn credentials(&self) -> Vec<(String, Credential)> {
            Vec::new()
        }
        fn bad_credentials(&self) -> Vec<(String, Credential)> {
            Vec::new()
        }
        fn record_id_field(&self) -> &str {
            self.0.unwrap_or(RECORD_ID_FIELD)
        }
    }

    fn event(record: &Record) -> serde_json::Value {
        serde_json::from_slice(&record.payload).unwrap()
    }

    #[test]
    fn test_records_carry_their_id_in_the_declared_field() {
        let record = Shaped(None).record(7, 300);
        assert_eq!(record.id.as_str(), "conformance-00007");
        assert_eq!(event(&record)["uuid"], "conformance-00007");
        assert!(
            (280..=320).contains(&record.payload.len()),
            "{}",
            record.payload.len()
        );

        let renamed = Shaped(Some("event\"Id")).record(8, 10);
        let renamed = event(&renamed);
        assert_eq!(renamed["event\"Id"], "conformance-00008");
        assert!(renamed.get("uuid").is_none());
    }
}
