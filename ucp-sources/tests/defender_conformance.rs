//! The Defender XDR source passes the testkit's source suite against the Graph security
//! simulator, on its incidents and its alerts streams.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use ucp_core::credentials::Credential;
use ucp_core::{Cursor, Source};
use ucp_sources::defender::{DefenderConfig, DefenderSource, ALERTS, INCIDENTS};
use ucp_testkit::conformance::{
    checks, source_suite, Outcome, ProviderSetup, RateLimitDialect, SourceFixture,
};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};

const CREDENTIAL: &str = "graph-app";
const CLIENT: &str = "conformance-app";
const SECRET: &str = "conformance-graph-secret-7Hq~2";
const PAGE: usize = 10;
const TIMEOUT: Duration = Duration::from_secs(2);

/// A fresh simulated tenant per check; `stream` is the stream under test. Each tenant has
/// its own token endpoint: the credentials name the one of the tenant started last (the
/// suite runs its checks one after the other).
struct GraphFixture {
    stream: &'static str,
    token_url: std::sync::Mutex<String>,
}

fn config(sim: &GraphSimulator) -> DefenderConfig {
    DefenderConfig::new(TENANT_ID, CREDENTIAL)
        .graph_url(sim.url())
        .pages(PAGE as u32, PAGE as u32)
        .request_timeout(TIMEOUT)
}

fn secret(sim_token_url: String, secret: &str) -> Credential {
    Credential::ClientSecret {
        token_url: sim_token_url,
        client_id: CLIENT.into(),
        secret: SecretString::from(secret.to_string()),
    }
}

#[async_trait]
impl SourceFixture for GraphFixture {
    type Provider = GraphSimulator;

    async fn start(&self, setup: ProviderSetup) -> Result<GraphSimulator, String> {
        // One alert per incident: both streams hold `setup.events` items.
        let config = GraphSimConfig::default()
            .incidents(setup.events)
            .alerts(setup.events);
        let layer = setup.faults.layer();
        let sim = GraphSimulator::start_wrapped(config, |router| router.layer(layer))
            .await
            .map_err(|e| format!("the Graph simulator did not start: {e}"))?;
        sim.register_app(
            CLIENT,
            SECRET,
            &["SecurityIncident.Read.All", "SecurityAlert.Read.All"],
        );
        *self.token_url.lock().unwrap() = sim.token_url();
        Ok(sim)
    }

    async fn emit(&self, sim: &GraphSimulator, count: usize) -> Result<Vec<String>, String> {
        let mut opened = Vec::new();
        for _ in 0..count {
            opened.push(sim.open_incident(1));
            // Distinct creation times, so the newest-first order is the reverse of this one.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ids: Vec<String> = match self.stream {
            INCIDENTS => {
                let versions = sim.incident_versions();
                opened
                    .iter()
                    .map(|id| {
                        let (_, t) = versions
                            .iter()
                            .find(|(i, _)| i == id)
                            .ok_or("an opened incident is listed")?;
                        Ok(format!("{id}@{t}"))
                    })
                    .collect::<Result<_, String>>()?
            }
            _ => {
                let all = sim.alert_versions();
                all[all.len() - count..]
                    .iter()
                    .map(|(id, t, _)| format!("{id}@{t}"))
                    .collect()
            }
        };
        Ok(ids.into_iter().rev().collect())
    }

    fn stream(&self) -> String {
        self.stream.into()
    }

    fn page_size(&self) -> usize {
        PAGE
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        vec![(
            CREDENTIAL.into(),
            secret(self.token_url.lock().unwrap().clone(), SECRET),
        )]
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        vec![(
            CREDENTIAL.into(),
            secret(
                self.token_url.lock().unwrap().clone(),
                "a-revoked-secret-99",
            ),
        )]
    }

    fn future_cursor(&self, sim: &GraphSimulator) -> Option<Cursor> {
        let source = DefenderSource::new(config(sim)).ok()?;
        source
            .cursor_at(self.stream, sim.now() + chrono::Duration::days(1))
            .ok()
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }

    /// Graph states no quota on its answers; a 429 carries `Retry-After` in seconds
    /// (`2.128`), which HTTP also allows as a date.
    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        vec![
            RateLimitDialect::RetryAfterSeconds,
            RateLimitDialect::RetryAfterDate,
        ]
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        (check == checks::AUTH_EXPIRY_IS_AUTH_ERROR).then(|| {
            "Graph takes OAuth access tokens: a 401 drops the token and the call is made once more with a fresh one, which the simulator accepts, so one injected 401 is not an error; a refused credential is checked by collect_auth_error_with_bad_credentials, and a token refused twice by defender_signals.rs".to_string()
        })
    }
}

async fn passes(stream: &'static str) {
    let report = source_suite(
        |sim: &GraphSimulator| DefenderSource::new(config(sim)),
        GraphFixture {
            stream,
            token_url: Default::default(),
        },
    )
    .await;
    println!("{report}");
    report.assert_all_passed();
    let skipped: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Passed))
        .map(|c| c.name)
        .collect();
    assert_eq!(skipped, [checks::AUTH_EXPIRY_IS_AUTH_ERROR], "{report}");
}

#[tokio::test]
async fn the_incidents_stream_passes_the_source_suite() {
    passes(INCIDENTS).await;
}

#[tokio::test]
async fn the_alerts_stream_passes_the_source_suite() {
    passes(ALERTS).await;
}
