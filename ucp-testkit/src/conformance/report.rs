//! The result of a suite: every check by name, passed, failed (expected vs seen) or skipped.

use std::fmt;

/// How one check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The connector behaved as the check requires.
    Passed,
    /// It did not.
    Failed {
        /// What the check required.
        expected: String,
        /// What the connector did.
        seen: String,
    },
    /// The check does not apply (the fixture does not offer what it needs).
    Skipped {
        /// Why.
        why: String,
    },
}

/// One check's name and outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's stable name, e.g. `check_auth_error_with_bad_credentials`.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

/// Every check a suite ran, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuiteReport {
    /// `source` or `sink`, and the connector's name.
    pub suite: String,
    /// The checks.
    pub checks: Vec<CheckResult>,
    /// The seed of the randomized fault checks: rerun with it (`UCP_FAULT_SEED`) to replay.
    pub seed: u64,
}

impl SuiteReport {
    /// An empty report.
    pub fn new(suite: impl Into<String>, seed: u64) -> Self {
        SuiteReport {
            suite: suite.into(),
            checks: Vec::new(),
            seed,
        }
    }

    /// Record a check's outcome.
    pub fn push(&mut self, name: &'static str, outcome: Outcome) {
        self.checks.push(CheckResult { name, outcome });
    }

    /// The outcome of the check called `name`, if it ran.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.outcome)
    }

    /// Names of the failed checks, in order.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed { .. }))
            .map(|c| c.name)
            .collect()
    }

    /// Names of the passed checks, in order.
    pub fn passed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.outcome == Outcome::Passed)
            .map(|c| c.name)
            .collect()
    }

    /// Names of the skipped checks, in order.
    pub fn skipped(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped { .. }))
            .map(|c| c.name)
            .collect()
    }

    /// True when no check failed.
    pub fn all_passed(&self) -> bool {
        self.failed().is_empty()
    }

    /// Replace every secret in the expected/seen texts with its credential's name, so the
    /// report of a leaking connector does not spread the secret into CI logs.
    pub(crate) fn redact(&mut self, secrets: &[(String, String)]) {
        for check in &mut self.checks {
            if let Outcome::Failed { expected, seen } = &mut check.outcome {
                for (name, secret) in secrets.iter().filter(|(_, s)| !s.is_empty()) {
                    let mark = format!("<secret of credential '{name}'>");
                    *expected = expected.replace(secret.as_str(), &mark);
                    *seen = seen.replace(secret.as_str(), &mark);
                }
            }
        }
    }

    /// Panic with the full report unless every check passed (or was skipped).
    #[track_caller]
    pub fn assert_all_passed(&self) {
        if !self.all_passed() {
            panic!("{self}");
        }
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failed().len();
        writeln!(
            f,
            "{} conformance: {} checks, {} failed (fault seed {}; replay with UCP_FAULT_SEED={})",
            self.suite,
            self.checks.len(),
            failed,
            self.seed,
            self.seed
        )?;
        for check in &self.checks {
            match &check.outcome {
                Outcome::Passed => writeln!(f, "  ok      {}", check.name)?,
                Outcome::Skipped { why } => writeln!(f, "  skipped {}: {why}", check.name)?,
                Outcome::Failed { expected, seen } => {
                    writeln!(f, "  FAILED  {}", check.name)?;
                    writeln!(f, "          expected: {expected}")?;
                    writeln!(f, "          seen:     {seen}")?;
                }
            }
        }
        Ok(())
    }
}

/// Shorthand for a failure.
pub(crate) fn fail(expected: impl Into<String>, seen: impl Into<String>) -> Outcome {
    Outcome::Failed {
        expected: expected.into(),
        seen: seen.into(),
    }
}

/// Shorthand for a skip.
pub(crate) fn skip(why: impl Into<String>) -> Outcome {
    Outcome::Skipped { why: why.into() }
}

/// A skip the fixture declared: the check does not apply to the connector.
pub(crate) fn not_applicable(why: impl std::fmt::Display) -> Outcome {
    skip(format!("does not apply to this connector: {why}"))
}

/// Passed when `ok`, else failed with the given texts.
pub(crate) fn expect(ok: bool, expected: impl Into<String>, seen: impl Into<String>) -> Outcome {
    if ok {
        Outcome::Passed
    } else {
        fail(expected, seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> SuiteReport {
        let mut report = SuiteReport::new("source", 9);
        report.push("a_check", Outcome::Passed);
        report.push(
            "b_check",
            fail("Auth", "Retryable: token s3cret-value refused"),
        );
        report.push("c_check", skip("not offered"));
        report
    }

    #[test]
    fn lists_every_check_with_expected_and_seen() {
        let report = report();
        assert_eq!(report.failed(), vec!["b_check"]);
        assert_eq!(report.passed(), vec!["a_check"]);
        assert_eq!(report.skipped(), vec!["c_check"]);
        assert!(!report.all_passed());
        let text = report.to_string();
        for needle in [
            "3 checks, 1 failed",
            "UCP_FAULT_SEED=9",
            "ok      a_check",
            "FAILED  b_check",
            "expected: Auth",
            "skipped c_check: not offered",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }

    #[test]
    fn assert_all_passed_panics_with_the_list_and_skips_do_not_fail() {
        let panic = std::panic::catch_unwind(|| report().assert_all_passed()).unwrap_err();
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("FAILED  b_check"), "{text}");
        let mut fine = SuiteReport::new("sink", 1);
        fine.push("x", Outcome::Passed);
        fine.push("y", skip("n/a"));
        fine.assert_all_passed();
    }

    #[test]
    fn redaction_names_the_credential_instead_of_the_secret() {
        let mut report = report();
        report.redact(&[("okta".into(), "s3cret-value".into())]);
        let text = report.to_string();
        assert!(!text.contains("s3cret-value"), "{text}");
        assert!(text.contains("<secret of credential 'okta'>"), "{text}");
    }
}
