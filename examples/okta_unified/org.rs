//! The Okta org the example polls: a simulated developer org on 127.0.0.1 (the default), or a
//! real one named by `OKTA_ORG_URL` with an SSWS API token or an OAuth service app. It reads
//! the `OKTA_*` variables, hands back the org's credential for the credential store, builds
//! the System Log source for the org, and plays the other application that drains the
//! simulated org's quota part way through the run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use ucp::credentials::token::okta_token_url;
use ucp::credentials::Credential;
use ucp::credentials::JwtAlgorithm;
use ucp::sources::okta::{OktaAuth, OktaConfig, OktaSource};
use ucp::*;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

/// The org's credential: an SSWS API token (the simulated org's, or a real one).
const CREDENTIAL: &str = "okta-api-token";
/// A real org's OAuth service app (its private key).
const SERVICE_APP: &str = "okta-service-app";
/// The token the simulated org accepts.
const DEMO_TOKEN: &str = "00demoSimulatedOrgToken";

/// The org the connector polls.
pub enum Org {
    /// Started in this process on 127.0.0.1, anew at every run.
    Simulated(Arc<OktaSimulator>),
    /// A real org, and how the source authenticates (naming its credential).
    Real { url: String, auth: OktaAuth },
}

/// How to authenticate to a real org, as the environment says.
enum RealAuth {
    ApiToken(SecretString),
    ServiceApp {
        client_id: String,
        key_file: PathBuf,
        key_id: Option<String>,
        es256: bool,
    },
}

/// Credential variables that only mean something next to `OKTA_ORG_URL`.
const REAL_VARS: [&str; 5] = [
    "OKTA_API_TOKEN",
    "OKTA_CLIENT_ID",
    "OKTA_PRIVATE_KEY_FILE",
    "OKTA_KEY_ID",
    "OKTA_KEY_ALGORITHM",
];

/// The real org to poll, if `OKTA_ORG_URL` is set; `var` reads one (non-empty) variable.
fn real_org(var: impl Fn(&str) -> Option<String>) -> Result<Option<(String, RealAuth)>, String> {
    let Some(url) = var("OKTA_ORG_URL") else {
        return match REAL_VARS.iter().find(|name| var(name).is_some()) {
            Some(name) => Err(format!("{name} is set but OKTA_ORG_URL is not: set OKTA_ORG_URL to poll a real org, or unset {name} for the simulated one")),
            None => Ok(None),
        };
    };
    let es256 = match var("OKTA_KEY_ALGORITHM").as_deref() {
        None | Some("RS256") => false,
        Some("ES256") => true,
        Some(other) => {
            return Err(format!(
                "OKTA_KEY_ALGORITHM '{other}' is not supported: use RS256 or ES256"
            ))
        }
    };
    let auth = match (var("OKTA_API_TOKEN"), var("OKTA_CLIENT_ID"), var("OKTA_PRIVATE_KEY_FILE")) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => return Err("both OKTA_API_TOKEN and an OAuth service app (OKTA_CLIENT_ID, OKTA_PRIVATE_KEY_FILE) are set: keep one".into()),
        (Some(token), None, None) => RealAuth::ApiToken(SecretString::from(token)),
        (None, Some(client_id), Some(key_file)) => RealAuth::ServiceApp {
            client_id,
            key_file: PathBuf::from(key_file),
            key_id: var("OKTA_KEY_ID"),
            es256,
        },
        (None, Some(_), None) => return Err("OKTA_CLIENT_ID is set but OKTA_PRIVATE_KEY_FILE is not: a service app needs its private key (PEM file)".into()),
        (None, None, Some(_)) => return Err("OKTA_PRIVATE_KEY_FILE is set but OKTA_CLIENT_ID is not: a service app needs its client id".into()),
        (None, None, None) => return Err("OKTA_ORG_URL is set without credentials: set OKTA_API_TOKEN, or OKTA_CLIENT_ID and OKTA_PRIVATE_KEY_FILE for an OAuth service app".into()),
    };
    Ok(Some((url, auth)))
}

impl Org {
    /// The org from `OKTA_ORG_URL` and its credentials, or a simulated one; with the credential
    /// to store.
    pub async fn start(speed: f64) -> Result<(Org, Credential), Box<dyn std::error::Error>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match real_org(var)? {
            Some((url, RealAuth::ApiToken(token))) => Ok((
                Org::Real {
                    url,
                    auth: OktaAuth::ApiToken {
                        credential: CREDENTIAL.into(),
                    },
                },
                Credential::ApiToken { token },
            )),
            Some((
                url,
                RealAuth::ServiceApp {
                    client_id,
                    key_file,
                    key_id,
                    es256,
                },
            )) => {
                // Only the path goes into messages, never the key.
                let pem = std::fs::read_to_string(&key_file).map_err(|e| {
                    format!(
                        "cannot read OKTA_PRIVATE_KEY_FILE {}: {e}",
                        key_file.display()
                    )
                })?;
                let algorithm = if es256 || pem.contains("BEGIN EC PRIVATE KEY") {
                    JwtAlgorithm::ES256
                } else {
                    JwtAlgorithm::RS256
                };
                let credential = Credential::PrivateKeyJwt {
                    token_url: okta_token_url(&url),
                    client_id,
                    private_key_pem: SecretString::from(pem),
                    key_id,
                    algorithm,
                };
                Ok((
                    Org::Real {
                        url,
                        auth: OktaAuth::oauth(SERVICE_APP),
                    },
                    credential,
                ))
            }
            None => {
                // One event per demo second, two hours of it already in the log, every 40th
                // event persisted 90 demo seconds late; 20 calls per demo minute.
                let sim = OktaSimulator::start(
                    OktaSimConfig::default()
                        .token(DEMO_TOKEN)
                        .seed(2026)
                        .backlog(7_200)
                        .backlog_span(Duration::from_secs(7_200))
                        .live(speed)
                        .late(40, Duration::from_secs(90).div_f64(speed))
                        .rate_limit(20)
                        .speed(speed),
                )
                .await?;
                let token = SecretString::from(DEMO_TOKEN);
                Ok((
                    Org::Simulated(Arc::new(sim)),
                    Credential::ApiToken { token },
                ))
            }
        }
    }

    /// The name under which the org's credential is stored (the connector only names it).
    pub fn credential_name(&self) -> &str {
        match self {
            Org::Real { auth, .. } => auth.credential(),
            Org::Simulated(_) => CREDENTIAL,
        }
    }

    /// The System Log source for this org.
    pub fn source(&self, speed: f64) -> Result<Arc<dyn Source>, Box<dyn std::error::Error>> {
        Ok(match self {
            // Two hours of backlog: start a little before it.
            Org::Simulated(sim) => Arc::new(DemoPace {
                okta: OktaSource::new(
                    OktaConfig::new(sim.base_url(), CREDENTIAL)
                        .start_ago(Duration::from_secs(2 * 3600 + 60))
                        .rate_limit_per_minute(20)
                        // The simulated org's rate-limit minute lasts `60 s / speed`.
                        .rate_limit_window(Duration::from_secs(60).div_f64(speed)),
                )?,
                base_url: sim.base_url().to_string(),
            }),
            Org::Real { url, auth } => Arc::new(OktaSource::new(
                OktaConfig::new(url.clone(), CREDENTIAL)
                    .auth(auth.clone())
                    .start_ago(Duration::from_secs(3600)),
            )?),
        })
    }
}

/// The simulated org is started anew, on a new port, at every run (with the same seeded
/// history): a cursor saved by an earlier run (`--durable`) is moved onto this run's address.
struct DemoPace {
    okta: OktaSource,
    base_url: String,
}

impl DemoPace {
    fn on_this_org(&self, mut req: CollectRequest) -> CollectRequest {
        let moved = req.cursor.as_str().and_then(|next| {
            let path = next.strip_prefix("http://")?.split_once('/')?.1;
            let here = format!("{}/{path}", self.base_url);
            (here != next).then_some(here)
        });
        if let Some(next) = moved {
            req.cursor = Cursor::new(next);
        }
        req
    }
}

#[async_trait]
impl Source for DemoPace {
    fn describe(&self) -> SourceInfo {
        self.okta.describe()
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        self.okta.check(cx).await
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        self.okta.collect(cx, self.on_this_org(req)).await
    }
}

/// Another application spending the simulated org's quota, window after window.
pub async fn drain_quota(sim: Arc<OktaSimulator>, for_: Duration) {
    let end = tokio::time::Instant::now() + for_;
    while tokio::time::Instant::now() < end {
        sim.consume_quota(1_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_real_org_takes_an_api_token_or_a_service_app() {
        assert!(real_org(env(&[])).unwrap().is_none());
        let url = ("OKTA_ORG_URL", "https://contoso.okta.com");
        let ssws = real_org(env(&[url, ("OKTA_API_TOKEN", "00a")])).unwrap();
        assert!(matches!(ssws, Some((_, RealAuth::ApiToken(_)))));
        let app = real_org(env(&[
            url,
            ("OKTA_CLIENT_ID", "0oa1"),
            ("OKTA_PRIVATE_KEY_FILE", "app.pem"),
            ("OKTA_KEY_ID", "kid-1"),
        ]))
        .unwrap();
        let Some((
            org,
            RealAuth::ServiceApp {
                client_id,
                key_file,
                key_id,
                es256,
            },
        )) = app
        else {
            panic!("expected a service app");
        };
        assert_eq!(org, "https://contoso.okta.com");
        assert_eq!(
            (client_id.as_str(), key_id.as_deref(), es256),
            ("0oa1", Some("kid-1"), false)
        );
        assert_eq!(key_file, PathBuf::from("app.pem"));

        let error = |pairs: &[(&str, &str)]| real_org(env(pairs)).err().unwrap();
        assert!(error(&[("OKTA_CLIENT_ID", "0oa1")]).contains("OKTA_ORG_URL is not"));
        assert!(error(&[url]).contains("without credentials"));
        assert!(error(&[url, ("OKTA_CLIENT_ID", "0oa1")]).contains("OKTA_PRIVATE_KEY_FILE is not"));
        assert!(
            error(&[url, ("OKTA_API_TOKEN", "00a"), ("OKTA_CLIENT_ID", "0oa1")])
                .contains("keep one")
        );
        assert!(error(&[
            url,
            ("OKTA_API_TOKEN", "00a"),
            ("OKTA_KEY_ALGORITHM", "HS256")
        ])
        .contains("HS256"));
    }
}
