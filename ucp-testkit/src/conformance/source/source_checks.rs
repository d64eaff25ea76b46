//! The source suite's checks, one method each; the suite's plumbing (fixtures, contexts,
//! calls under a permit, reading to the end) and shared helpers are in the parent module.

use super::*;

impl<X, S, E, F> Run<'_, X, F>
where
    X: SourceFixture,
    S: Source,
    E: Display,
    F: Fn(&X::Provider) -> Result<S, E> + Send + Sync,
{
    pub(super) async fn describe_is_stable(&self) -> Result<Outcome, Outcome> {
        let env = self.env(0, true).await?;
        let first = env.source.describe();
        let again = env.source.describe();
        let other = self.build(&env.provider)?.describe();
        self.outputs.keep("describe", format!("{first:?}"));
        Ok(expect(
            first == again && first == other,
            "describe returns the same info every time and for every instance on the same provider",
            format!("{first:?}\nthen {again:?}\nthen (new instance) {other:?}"),
        ))
    }

    pub(super) async fn describe_lists_streams(&self) -> Result<Outcome, Outcome> {
        let env = self.env(0, true).await?;
        let info = env.source.describe();
        let names: Vec<&str> = info.streams.iter().map(|s| s.name.as_str()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        let stream = self.fixture.stream();
        Ok(expect(
            names.contains(&stream.as_str())
                && unique.len() == names.len()
                && info.budget.problem().is_none()
                && !info.provider.is_empty(),
            format!(
                "a provider name, stream '{stream}' among uniquely named streams, a usable budget"
            ),
            format!(
                "provider '{}', streams {names:?}, budget problem {:?}",
                info.provider,
                info.budget.problem()
            ),
        ))
    }

    pub(super) async fn check(&self, good: bool) -> Result<Outcome, Outcome> {
        let mut env = self.env(0, good).await?;
        let Env {
            source,
            cx,
            permits,
            ..
        } = &mut env;
        let result = self.call(cx, permits, "check", source.check(cx)).await;
        Ok(match (good, &result) {
            (true, Ok(Ok(()))) => Outcome::Passed,
            (true, _) => fail(
                "check succeeds with good credentials",
                format!("{result:?}"),
            ),
            (false, Ok(Err(SourceError::Auth { .. }))) => Outcome::Passed,
            (false, Ok(Err(e))) => fail(
                "check fails with SourceError::Auth for refused credentials",
                variant(e),
            ),
            (false, Ok(Ok(()))) => fail(
                "check fails with SourceError::Auth for refused credentials",
                "Ok(())",
            ),
            (false, Err(why)) => fail(
                "check fails with SourceError::Auth for refused credentials",
                why.clone(),
            ),
        })
    }

    pub(super) async fn collect_with_bad_credentials(&self) -> Result<Outcome, Outcome> {
        let mut env = self.env(3, false).await?;
        let result = self.collect(&mut env, &Cursor::start()).await;
        Ok(expect(
            matches!(result, Ok(Err(SourceError::Auth { .. }))),
            "collect fails with SourceError::Auth for refused credentials",
            summary(&result),
        ))
    }

    /// `basic_read` and `calls_are_budgeted`, from one read of several pages.
    pub(super) async fn basic_read(&self, events: usize) -> (Outcome, Outcome) {
        let mut env = match self.env(events, true).await {
            Ok(env) => env,
            Err(outcome) => return (outcome.clone(), outcome),
        };
        // A check first, so requests it makes are counted too.
        let Env {
            source,
            cx,
            permits,
            ..
        } = &mut env;
        if let Ok(Err(e)) | Err(e) = self
            .call(cx, permits, "check", source.check(cx))
            .await
            .map_err(|why| SourceError::Permanent { message: why })
        {
            let outcome = fail("check succeeds with good credentials", variant(&e));
            return (outcome.clone(), outcome);
        }
        let records = match self.read_to_end(&mut env, Cursor::start(), events).await {
            Ok((records, _)) => records,
            Err(outcome) => return (outcome.clone(), outcome),
        };
        let ids = ids(&records);
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let earliest = self.clock.now_utc() - chrono::Duration::days(3650);
        let latest = self.clock.now_utc() + chrono::Duration::days(1);
        let bad_times: Vec<String> = records
            .iter()
            .filter(|r| r.time < earliest || r.time > latest)
            .map(|r| format!("{} at {}", r.id, r.time))
            .collect();
        let empty_ids = ids.iter().filter(|id| id.is_empty()).count();
        let basic = expect(
            records.len() == events
                && unique.len() == events
                && empty_ids == 0
                && bad_times.is_empty(),
            format!("{events} records with distinct, non-empty ids and event times"),
            format!(
                "{} records, {} distinct ids, {empty_ids} empty ids, implausible times: {bad_times:?}",
                records.len(),
                unique.len()
            ),
        );
        let requests = env.faults.requests();
        let permits = env.cx.budget().status().calls;
        let budget = if requests == 0 {
            fail(
                "the provider sees the source's requests through setup.faults.layer()",
                "0 requests: the fixture did not wrap the provider's router with the fault layer",
            )
        } else {
            expect(
                requests <= permits,
                format!(
                    "at most {permits} provider requests: {} permits drawn by the suite (one per call) plus {} the source drew itself",
                    env.permits,
                    permits - env.permits.min(permits)
                ),
                format!("{requests} requests reached the provider"),
            )
        };
        (basic, budget)
    }

    /// `incremental_read` and `cursor_at_end_returns_nothing`.
    pub(super) async fn incremental_read(&self, events: usize) -> (Outcome, Outcome) {
        let both = |o: Outcome| (o.clone(), o);
        let mut env = match self.env(events, true).await {
            Ok(env) => env,
            Err(outcome) => return both(outcome),
        };
        let (old, end) = match self.read_to_end(&mut env, Cursor::start(), events).await {
            Ok(read) => read,
            Err(outcome) => return both(outcome),
        };
        let at_end = match self.collect(&mut env, &end).await {
            Ok(Ok(page)) => expect(
                page.records.is_empty(),
                "no record from the cursor at the end of the stream",
                format!("{} records: {:?}", page.records.len(), ids(&page.records)),
            ),
            other => fail(
                "an empty page from the cursor at the end of the stream",
                summary(&other),
            ),
        };
        let new = match self.fixture.emit(&env.provider, 5).await {
            Ok(new) => new,
            Err(e) => return (fail("the fixture emits 5 events", e), at_end),
        };
        let incremental = match self.read_to_end(&mut env, end, new.len()).await {
            Ok((records, _)) => {
                let got = ids(&records);
                let old = ids(&old);
                let repeated: Vec<&String> = got.iter().filter(|id| old.contains(id)).collect();
                expect(
                    got == new,
                    format!("exactly the {} new records {new:?}, in order", new.len()),
                    format!("{got:?} (of which already read before: {repeated:?})"),
                )
            }
            Err(outcome) => outcome,
        };
        (incremental, at_end)
    }

    pub(super) async fn future_cursor(&self) -> Result<Outcome, Outcome> {
        let mut env = self.env(3, true).await?;
        let Some(cursor) = self.fixture.future_cursor(&env.provider) else {
            return Ok(skip("the fixture offers no cursor in the future"));
        };
        self.fixture
            .emit(&env.provider, 2)
            .await
            .map_err(|e| fail("the fixture emits 2 events", e))?;
        let result = self.collect(&mut env, &cursor).await;
        Ok(match &result {
            Ok(Ok(page)) => expect(
                page.records.is_empty(),
                format!("no record from the future cursor {cursor}"),
                format!("{} records", page.records.len()),
            ),
            _ => fail(
                format!("an empty page from the future cursor {cursor}"),
                summary(&result),
            ),
        })
    }

    pub(super) async fn restart(&self, events: usize) -> Result<Outcome, Outcome> {
        let mut env = self.env(events, true).await?;
        let (reference, _) = self.read_to_end(&mut env, Cursor::start(), events).await?;
        let first = match self.collect(&mut env, &Cursor::start()).await {
            Ok(Ok(page)) if page.more => page,
            other => {
                return Ok(fail(
                    "a first page with more = true (the provider holds several pages)",
                    summary(&other),
                ))
            }
        };
        // A new process: a new source instance and context, only the saved cursor kept.
        env.source = self.build(&env.provider)?;
        env.cx = self.context(&env.source, true).await?;
        let (rest, _) = self
            .read_to_end(&mut env, first.next.clone(), events)
            .await?;
        let mut resumed = ids(&first.records);
        resumed.extend(ids(&rest));
        let reference = ids(&reference);
        Ok(expect(
            resumed == reference,
            format!(
                "page 1 then, after a restart from its cursor, the rest: {} records with no gap or duplicate",
                reference.len()
            ),
            format!(
                "{} records; missing {:?}; extra or repeated {:?}",
                resumed.len(),
                reference
                    .iter()
                    .filter(|id| !resumed.contains(id))
                    .collect::<Vec<_>>(),
                extra(&resumed, &reference)
            ),
        ))
    }

    /// `rate_limit[<dialect>]`: a page whose headers state a quota in `dialect` gives a hint
    /// with that quota, and a 429 in `dialect` gives `RateLimited` with its reset.
    pub(super) async fn rate_limit(&self, dialect: RateLimitDialect) -> Result<Outcome, Outcome> {
        let mut env = self.env(3, true).await?;
        let mut wrong = Vec::new();

        // Values no simulator states by itself, so only headers read in this dialect match.
        let stated = Quota::per_minute(77, 41, Duration::from_secs(23));
        env.faults.push_next(Fault::RateLimitHeaders {
            dialect,
            quota: stated,
        });
        let asked = self.clock.now_utc();
        let page = self.collect(&mut env, &Cursor::start()).await;
        match &page {
            Ok(Ok(page)) if dialect.states_quota() => {
                let hint = page.hint.clone().unwrap_or_default();
                let reset = asked + chrono::Duration::seconds(23);
                let at = instant(reset);
                if hint.limit != Some(77) || hint.remaining != Some(41) || !near(hint.reset, reset)
                {
                    wrong.push((
                        format!(
                            "a page answered with {dialect} headers has a hint with limit 77, remaining 41 and reset ~{at}"
                        ),
                        format!("{:?}", page.hint),
                    ));
                }
            }
            Ok(Ok(_)) => {}
            other => wrong.push((
                format!("a page answered with {dialect} headers is read"),
                summary(other),
            )),
        }

        let refused = Quota::per_minute(77, 0, Duration::from_secs(37));
        env.faults.push_next(Fault::Throttled {
            dialect,
            quota: refused,
        });
        let asked = self.clock.now_utc();
        let reset = asked + chrono::Duration::seconds(37);
        let at = instant(reset);
        let result = self.collect(&mut env, &Cursor::start()).await;
        let expected = if dialect.states_quota() {
            format!(
                "a 429 with {dialect} headers gives SourceError::RateLimited whose hint's reset is ~{at}"
            )
        } else {
            format!(
                "a 429 with {dialect} gives SourceError::RateLimited whose hint's retry-after is ~37 s (or reset ~{at})"
            )
        };
        match &result {
            Ok(Err(SourceError::RateLimited { hint, .. })) => {
                let retry_ok = hint
                    .retry_after
                    .is_some_and(|d| (d.as_secs_f64() - 37.0).abs() <= SLACK_SECS as f64);
                let timed = near(hint.reset, reset) || (!dialect.states_quota() && retry_ok);
                if !timed {
                    wrong.push((expected, format!("{hint:?}")));
                }
            }
            _ => wrong.push((expected, summary(&result))),
        }

        Ok(if wrong.is_empty() {
            Outcome::Passed
        } else {
            let (expected, seen): (Vec<String>, Vec<String>) = wrong.into_iter().unzip();
            fail(expected.join("; "), seen.join("; "))
        })
    }

    pub(super) async fn server_error(&self) -> Result<Outcome, Outcome> {
        let mut seen = Vec::new();
        for status in [500, 503] {
            let mut env = self.env(3, true).await?;
            env.faults.push_next(Fault::ServerError(status));
            let result = self.collect(&mut env, &Cursor::start()).await;
            if !matches!(result, Ok(Err(SourceError::Retryable { .. }))) {
                seen.push(format!("HTTP {status}: {}", summary(&result)));
            }
        }
        Ok(expect(
            seen.is_empty(),
            "SourceError::Retryable for HTTP 500 and 503",
            seen.join("; "),
        ))
    }

    pub(super) async fn timeout(&self) -> Result<Outcome, Outcome> {
        let Some(limit) = self.fixture.request_timeout() else {
            return Ok(skip("the fixture declares no request timeout"));
        };
        let mut env = self.env(3, true).await?;
        env.faults
            .push_next(Fault::Latency(limit + Duration::from_secs(2)));
        let result = self.collect(&mut env, &Cursor::start()).await;
        Ok(expect(
            matches!(result, Ok(Err(SourceError::Retryable { .. }))),
            format!("SourceError::Retryable when the provider does not answer within {limit:?}"),
            summary(&result),
        ))
    }

    /// A transport fault on the first page: a retryable error (or Malformed when allowed),
    /// then the same cursor reads the page.
    pub(super) async fn transport(
        &self,
        fault: Fault,
        malformed_ok: bool,
    ) -> Result<Outcome, Outcome> {
        let mut env = self.env(3, true).await?;
        env.faults.push_next(fault.clone());
        let result = self.collect(&mut env, &Cursor::start()).await;
        let accepted = match &result {
            Ok(Err(SourceError::Retryable { .. })) => true,
            Ok(Err(SourceError::Malformed { .. })) => malformed_ok,
            _ => false,
        };
        let expected = if malformed_ok {
            format!("SourceError::Retryable or Malformed on {fault:?}")
        } else {
            format!("SourceError::Retryable on {fault:?}")
        };
        if !accepted {
            return Ok(fail(expected, summary(&result)));
        }
        let again = self.collect(&mut env, &Cursor::start()).await;
        Ok(match &again {
            Ok(Ok(page)) => expect(
                page.records.len() == 3,
                "the retry from the same cursor returns the 3 records",
                summary(&again),
            ),
            _ => fail("the retry from the same cursor succeeds", summary(&again)),
        })
    }

    pub(super) async fn malformed(&self, events: usize) -> Result<Outcome, Outcome> {
        let mut env = self.env(events, true).await?;
        let (reference, _) = self.read_to_end(&mut env, Cursor::start(), events).await?;
        let first = match self.collect(&mut env, &Cursor::start()).await {
            Ok(Ok(page)) if page.more => page,
            other => return Ok(fail("a first page with more = true", summary(&other))),
        };
        env.faults.push_next(Fault::MalformedJson);
        let result = self.collect(&mut env, &first.next).await;
        if !matches!(result, Ok(Err(SourceError::Malformed { .. }))) {
            return Ok(fail(
                "SourceError::Malformed for a body that is not the promised JSON (so the cursor stays)",
                summary(&result),
            ));
        }
        let (rest, _) = self.read_to_end(&mut env, first.next, events).await?;
        let mut read = ids(&first.records);
        read.extend(ids(&rest));
        let reference = ids(&reference);
        Ok(expect(
            read == reference,
            "after the malformed page, the same cursor reads on with no gap",
            format!(
                "missing {:?}",
                reference
                    .iter()
                    .filter(|id| !read.contains(id))
                    .collect::<Vec<_>>()
            ),
        ))
    }

    pub(super) async fn slow_drip(&self) -> Result<Outcome, Outcome> {
        let mut env = self.env(3, true).await?;
        env.faults.push_next(Fault::SlowDrip {
            chunk: 256,
            delay: Duration::from_millis(5),
        });
        let result = self.collect(&mut env, &Cursor::start()).await;
        Ok(match &result {
            Ok(Ok(page)) => expect(
                page.records.len() == 3,
                "the 3 records of a page sent in small, slow pieces",
                summary(&result),
            ),
            _ => fail(
                "a page sent in small, slow pieces is read",
                summary(&result),
            ),
        })
    }

    pub(super) async fn auth_expiry(&self) -> Result<Outcome, Outcome> {
        let mut env = self.env(3, true).await?;
        env.faults.push_next(Fault::AuthExpired);
        let result = self.collect(&mut env, &Cursor::start()).await;
        Ok(expect(
            matches!(result, Ok(Err(SourceError::Auth { .. }))),
            "SourceError::Auth when the provider answers 401 (credential expired)",
            summary(&result),
        ))
    }

    /// Seeded faults on every request; retrying as the platform does loses and repeats nothing.
    pub(super) async fn random_faults(&self, events: usize) -> Result<Outcome, Outcome> {
        let mut env = self.env(events, true).await?;
        let (reference, _) = self.read_to_end(&mut env, Cursor::start(), events).await?;
        let mut kinds: Vec<Fault> = Fault::all_kinds()
            .into_iter()
            .filter(|f| !matches!(f, Fault::AuthExpired))
            .collect();
        if let Some(limit) = self.fixture.request_timeout() {
            kinds.retain(|f| !matches!(f, Fault::Latency(d) if *d >= limit));
        }
        let faults = env.faults.clone().seeded_with(self.seed, 0.3, kinds);
        let mut read = Vec::new();
        let mut cursor = Cursor::start();
        let mut errors = Vec::new();
        for _ in 0..CALL_LIMIT.as_secs() * 4 {
            match self.collect(&mut env, &cursor).await {
                Ok(Ok(page)) => {
                    read.extend(ids(&page.records));
                    cursor = page.next;
                    if !page.more {
                        break;
                    }
                }
                Ok(Err(e)) if e.class() != ErrorClass::Permanent => errors.push(variant(&e)),
                other => {
                    return Ok(fail(
                        format!(
                            "only retryable errors under seeded faults (seed {})",
                            self.seed
                        ),
                        format!("{} after faults {:?}", summary(&other), faults.injected()),
                    ))
                }
            }
        }
        let reference = ids(&reference);
        Ok(expect(
            read == reference,
            format!(
                "with seed {} (faults {:?}), retrying from the same cursor reads the {} records once each",
                self.seed,
                faults.injected(),
                reference.len()
            ),
            format!(
                "{} records, missing {:?}, extra or repeated {:?}, errors {errors:?}",
                read.len(),
                reference
                    .iter()
                    .filter(|id| !read.contains(id))
                    .collect::<Vec<_>>(),
                extra(&read, &reference)
            ),
        ))
    }

    pub(super) fn no_secret(&self) -> Outcome {
        let mut credentials = self.fixture.credentials();
        credentials.extend(self.fixture.bad_credentials());
        let secrets = secrets_of(&credentials);
        if secrets.is_empty() {
            return skip("the fixture's credentials hold no secret to look for");
        }
        let found = self.outputs.leaks(&secrets);
        expect(
            found.is_empty(),
            format!(
                "no secret in any result, error or info (Debug) or in {} bytes of TRACE output",
                self.outputs.trace_len()
            ),
            found.join("; "),
        )
    }
}
