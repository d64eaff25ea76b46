//! The shipped Okta source passes the source suite against the Okta simulator.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use ucp_core::credentials::Credential;
use ucp_sources::okta::{OktaConfig, OktaSource};
use ucp_testkit::conformance::{
    checks, source_suite, OktaFixture, Outcome, ProviderSetup, RateLimitDialect, SourceFixture,
};
use ucp_testkit::faults::FaultProxy;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

fn okta_factory(fixture: &OktaFixture) -> impl Fn(&OktaSimulator) -> Result<OktaSource, String> {
    let fixture = fixture.clone();
    move |sim: &OktaSimulator| {
        OktaSource::new(
            OktaConfig::new(sim.base_url(), fixture.credential.clone())
                .page_limit(fixture.page_size as u32)
                .start_ago(Duration::from_secs(2 * 3600))
                .request_timeout(fixture.timeout),
        )
        .map_err(|e| e.to_string())
    }
}

/// The Okta fixture checking every rate-limit dialect: the Okta source reads them all
/// through the HTTP kit, though Okta itself sends only its own (the fixture's default).
fn every_dialect() -> OktaFixture {
    OktaFixture {
        rate_limit_dialects: RateLimitDialect::ALL.to_vec(),
        ..OktaFixture::default()
    }
}

#[tokio::test]
async fn okta_source_passes_the_source_suite() {
    let fixture = every_dialect();
    let report = source_suite(okta_factory(&fixture), fixture).await;
    println!("{report}");
    report.assert_all_passed();
    // Every check applies to Okta: none may be skipped.
    assert!(
        report.checks.iter().all(|c| c.outcome == Outcome::Passed),
        "{report}"
    );
    assert!(report.outcome(checks::RANDOM_FAULTS_LOSE_NOTHING).is_some());
    // One rate-limit check per dialect, each passed.
    let dialect_checks: Vec<&str> = report
        .checks
        .iter()
        .map(|c| c.name)
        .filter(|name| name.starts_with("rate_limit["))
        .collect();
    let every: Vec<&str> = RateLimitDialect::ALL
        .iter()
        .map(|d| d.check_name())
        .collect();
    assert_eq!(dialect_checks, every);
}

#[test]
fn the_okta_fixture_checks_the_dialect_okta_sends() {
    assert_eq!(
        OktaFixture::default().rate_limit_dialects,
        [RateLimitDialect::Okta]
    );
}

/// An emulator whose router cannot be wrapped plugs in through a fault proxy: the Okta
/// simulator started plainly, the proxy in front.
struct ProxiedOkta(OktaFixture);

struct Proxied {
    sim: OktaSimulator,
    proxy: FaultProxy,
}

#[async_trait]
impl SourceFixture for ProxiedOkta {
    type Provider = Proxied;

    async fn start(&self, setup: ProviderSetup) -> Result<Proxied, String> {
        let token = match &self.0.credentials()[0].1 {
            Credential::ApiToken { token } => token.expose_secret().to_string(),
            _ => return Err("the Okta fixture holds an API token".into()),
        };
        let sim = OktaSimulator::start(OktaSimConfig::default().token(token).backlog(setup.events))
            .await
            .map_err(|e| e.to_string())?;
        let proxy = FaultProxy::start(sim.base_url(), &setup.faults)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Proxied { sim, proxy })
    }

    async fn emit(&self, p: &Proxied, count: usize) -> Result<Vec<String>, String> {
        Ok(p.sim.emit(None, count))
    }

    fn stream(&self) -> String {
        self.0.stream()
    }

    fn page_size(&self) -> usize {
        self.0.page_size
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        self.0.credentials()
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        self.0.bad_credentials()
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.0.timeout)
    }

    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        self.0.rate_limit_dialects()
    }
}

#[tokio::test]
async fn okta_source_passes_the_suite_through_a_fault_proxy() {
    let fixture = every_dialect();
    let report = source_suite(
        move |p: &Proxied| proxied(&fixture, &p.proxy),
        ProxiedOkta(every_dialect()),
    )
    .await;
    println!("{report}");
    report.assert_all_passed();
    assert!(matches!(
        report.outcome(checks::FUTURE_CURSOR_RETURNS_NOTHING),
        Some(Outcome::Skipped { .. })
    ));
    assert_eq!(report.passed().len(), report.checks.len() - 1, "{report}");
}

fn proxied(fixture: &OktaFixture, proxy: &FaultProxy) -> Result<OktaSource, String> {
    OktaSource::new(
        OktaConfig::new(proxy.base_url(), fixture.credential.clone())
            .page_limit(fixture.page_size as u32)
            .start_ago(Duration::from_secs(2 * 3600))
            .request_timeout(fixture.timeout),
    )
    .map_err(|e| e.to_string())
}
