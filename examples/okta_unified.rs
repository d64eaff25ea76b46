//! One Okta System Log, collected once, delivered to three security products.
//!
//! ```text
//! cargo run --release --example okta_unified                      # about 30 s
//! cargo run --release --example okta_unified -- --duration 5      # a short run
//! cargo run --release --example okta_unified -- --speed 120       # faster demo time
//! ```
//!
//! With no configuration it starts a simulated Okta org on 127.0.0.1: a developer org with two
//! hours of backlog, one new event per (demo) second, some events persisted late, and a rate
//! limit of 20 calls a minute, of which ucp uses at most half. Three products subscribe to
//! the org's System Log with their own rules:
//!
//! | product  | events                                               | every  |
//! |----------|------------------------------------------------------|--------|
//! | sentinel | everything                                           | 5 min  |
//! | mdi      | `user.authentication*`, `user.session*`              | 5 min  |
//! | xspm     | `user.account*`, `group.*`, `application.*`          | 10 min |
//!
//! The platform turns them into one collection job, so the org sees one call per round for
//! all three. Time is compressed: `--speed 60` (the default) makes one real second one demo
//! minute, so intervals are divided by 60 and the simulated org's rate-limit minute lasts one
//! second. Part way through, another application of the org uses up the quota for three
//! demo minutes; the org answers 429 and ucp pauses every call until the reset.
//!
//! Flags: `--duration <seconds>` (real seconds, default 30), `--speed <factor>` (default 60),
//! `--durable <state-dir>`: keep cursors, a disk queue per product and dead letters there, and
//! resume from them at the next run (the simulated org restarts with the same seeded history),
//! `--output <products|files>` (default `products`, see below).
//!
//! Each product gets its data through its own ingestion point, by the shipped product sinks
//! speaking the real wire protocols. With no configuration those endpoints are emulators
//! started in this process on 127.0.0.1, next to an Entra ID token endpoint:
//!
//! | product  | sink             | endpoint                                                   | auth               |
//! |----------|------------------|------------------------------------------------------------|--------------------|
//! | sentinel | `SentinelSink`   | Logs Ingestion API, DCR stream `Custom-OktaSystemLog`, gzip | Entra bearer token |
//! | mdi      | `EventHubsSink`  | Event Hubs, hub `mdi`, partition key `/actor/id`           | SAS (policy key)   |
//! | xspm     | `EventHubsSink`  | Event Hubs, hub `xspm`                                     | Entra bearer token |
//!
//! Two product credentials are stored once in the credential store: the Entra app's client
//! secret (Sentinel and XSPM; one token per scope, minted once and shared) and the Event Hubs
//! shared access policy key (MDI signs its SAS tokens with it).
//!
//! It prints progress every second and ends with a summary: the API calls the org received
//! and the 429s it sent, records collected, records delivered per product with its filter
//! next to what each product endpoint holds (rows in the DCR stream's table, messages per
//! hub, as counted by the emulators) and the calls each endpoint received, health per
//! connector (status and last messages from the health service), and a volume chart,
//! `./ucp-out/okta_unified/volumes.svg`.
//!
//! `--output files` writes NDJSON files per product under `./ucp-out/okta_unified/` instead
//! (the `FileSink`), and the summary names them.
//!
//! **Real product endpoints.** Set all of these and the products are the real ones (the
//! summary then shows what the sinks counted as accepted):
//!
//! - `SENTINEL_DCE_URL`: the data collection endpoint's logs ingestion URL
//!   (`https://….ingest.monitor.azure.com`), `SENTINEL_DCR_ID`: the rule's immutable id
//!   (`dcr-…`), and optionally `SENTINEL_STREAM` (default `Custom-OktaSystemLog`);
//! - `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`: an Entra app with
//!   "Monitoring Metrics Publisher" on the rule and "Azure Event Hubs Data Sender" on the
//!   XSPM hub;
//! - `EVENTHUBS_NAMESPACE` (`contoso-hubs`, or its host name), `EVENTHUBS_KEY_NAME` and
//!   `EVENTHUBS_KEY`: a shared access policy with Send on the MDI hub; optionally
//!   `EVENTHUBS_MDI_HUB` and `EVENTHUBS_XSPM_HUB` (defaults `mdi` and `xspm`).
//!
//! Setting only some of them is an error that names the missing ones.
//!
//! With `--durable`, the products' queues resume at the next run, but the emulators start
//! empty at every run: a resumed run's endpoints hold what was still queued plus what is new.
//!
//! **A real org.** Set `OKTA_ORG_URL` (e.g. `https://contoso.okta.com`) and credentials of
//! the org, and the example polls that org instead, starting one hour back. Either:
//!
//! - `OKTA_API_TOKEN`: an SSWS API token of an admin who may read the System Log; or
//! - an OAuth 2.0 service app (API Services app with public-key client authentication,
//!   granted the `okta.logs.read` scope and an admin role that may read the System Log):
//!   `OKTA_CLIENT_ID` (its client id), `OKTA_PRIVATE_KEY_FILE` (path to its private key,
//!   PEM; RS256, or ES256 for an `EC PRIVATE KEY` or with `OKTA_KEY_ALGORITHM=ES256`) and,
//!   optionally, `OKTA_KEY_ID` (the key's `kid` in the app's JWKS). ucp signs a
//!   `private_key_jwt` assertion, asks `{OKTA_ORG_URL}/oauth2/v1/token` for a
//!   `client_credentials` token with scope `okta.logs.read` and sends it as a bearer token;
//!   the token is cached and refreshed by the platform's token provider, and its requests
//!   draw from the org's budget.
//!
//! ```text
//! OKTA_ORG_URL=https://contoso.okta.com OKTA_CLIENT_ID=0oa1b2c3d4 \
//!   OKTA_PRIVATE_KEY_FILE=okta-app.pem cargo run --release --example okta_unified
//! ```
//!
//! The org's budget is its real one, learned from the `X-Rate-Limit-*` headers (ucp uses at
//! most half), so the intervals divided by `--speed` never overdraw it; use `--speed 1
//! --duration 1800` for the real 5- and 10-minute rounds. The token and the private key
//! only live in the credential store and are never printed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use ucp::credentials::token::okta_token_url;
use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::credentials::JwtAlgorithm;
use ucp::health::Retention;
use ucp::plan::SubscriptionId;
use ucp::sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp::sinks::{FileSink, FileSinkConfig};
use ucp::sources::okta::{OktaAuth, OktaConfig, OktaSource, SYSTEM_LOG};
use ucp::*;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

#[path = "okta_unified/endpoints.rs"]
mod endpoints;
use endpoints::{Endpoints, Targets, ENTRA_CREDENTIAL, HUBS_CREDENTIAL};

const TENANT: &str = "contoso";
const CONNECTOR: &str = "okta-contoso";
const CREDENTIAL: &str = "okta-api-token";
const SERVICE_APP: &str = "okta-service-app";
const DEMO_TOKEN: &str = "00demoSimulatedOrgToken";
const OUT: &str = "ucp-out/okta_unified";

// ---------------------------------------------------------------- flags

struct Args {
    duration: u64,
    speed: f64,
    /// Keep cursors, product queues and dead letters here, and resume from them.
    durable: Option<PathBuf>,
    output: Output,
}

/// Where the products' data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// Their ingestion endpoints: emulated, or real when configured.
    Products,
    /// NDJSON files per product.
    Files,
}

const USAGE: &str = "usage: okta_unified [--duration <seconds>] [--speed <factor>] [--durable <state-dir>] [--output <products|files>]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        duration: 30,
        speed: 60.0,
        durable: None,
        output: Output::Products,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--duration" => {
                let v = value("--duration")?;
                parsed.duration = v
                    .parse::<u64>()
                    .ok()
                    .filter(|d| (1..=86_400).contains(d))
                    .ok_or_else(|| {
                        format!(
                            "--duration '{v}' must be a whole number of seconds from 1 to 86400"
                        )
                    })?;
            }
            "--speed" => {
                let v = value("--speed")?;
                parsed.speed = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && (1.0..=600.0).contains(s))
                    .ok_or_else(|| {
                        format!("--speed '{v}' must be a number from 1 to 600 (60: one real second is one demo minute)")
                    })?;
            }
            "--durable" => parsed.durable = Some(PathBuf::from(value("--durable")?)),
            "--output" => {
                parsed.output = match value("--output")?.as_str() {
                    "products" => Output::Products,
                    "files" => Output::Files,
                    other => {
                        return Err(format!(
                            "--output '{other}' must be 'products' (their endpoints) or 'files' (NDJSON files)"
                        ))
                    }
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(parsed)
}

// ---------------------------------------------------------------- demo time

/// Demo time: real time since the start, times `speed`.
#[derive(Clone, Copy)]
struct DemoTime {
    start: DateTime<Utc>,
    speed: f64,
}

impl DemoTime {
    fn at(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed = (real - self.start).num_milliseconds().max(0) as f64;
        self.start + chrono::Duration::milliseconds((elapsed * self.speed) as i64)
    }

    fn real(&self, demo: Duration) -> Duration {
        demo.div_f64(self.speed)
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

/// Puts volume samples on the demo time line, so the volume chart has one point per demo
/// minute. Status events keep their real times (their messages quote real reset times).
struct DemoHealth {
    service: Arc<HealthService>,
    time: DemoTime,
}

#[async_trait]
impl HealthReporter for DemoHealth {
    async fn report(&self, event: HealthEvent) {
        self.service.report(event).await;
    }

    fn record_volume(&self, mut sample: VolumeSample) {
        sample.time = self.time.at(sample.time);
        self.service.record_volume(sample);
    }
}

// ---------------------------------------------------------------- the org

enum Org {
    Simulated(Arc<OktaSimulator>),
    /// A real org, and how the source authenticates (naming its credential).
    Real {
        url: String,
        auth: OktaAuth,
    },
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

/// The org from `OKTA_ORG_URL` and its credentials, or a simulated one; with the credential
/// to store.
async fn org(speed: f64) -> Result<(Org, Credential), Box<dyn std::error::Error>> {
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

// ---------------------------------------------------------------- products

struct Product {
    name: &'static str,
    rule: &'static str,
    filter: Option<Filter>,
    every: Duration,
    sink: ProductSink,
}

/// One product's sink; the handle shares the sink's counters.
#[derive(Clone)]
enum ProductSink {
    File(FileSink),
    Sentinel {
        sink: SentinelSink,
        stream: String,
    },
    Hub {
        sink: EventHubsSink,
        hub: String,
        /// How it authenticates, for the summary.
        auth: &'static str,
    },
}

impl ProductSink {
    fn shared(&self) -> Arc<dyn Sink> {
        match self {
            ProductSink::File(s) => Arc::new(s.clone()),
            ProductSink::Sentinel { sink, .. } => Arc::new(sink.clone()),
            ProductSink::Hub { sink, .. } => Arc::new(sink.clone()),
        }
    }

    /// Where it delivers, for the start of the demo.
    fn target(&self) -> String {
        match self {
            ProductSink::File(_) => "NDJSON files".into(),
            ProductSink::Sentinel { stream, .. } => format!("Logs Ingestion, DCR stream {stream}"),
            ProductSink::Hub { hub, auth, .. } => format!("Event Hubs, hub {hub} ({auth})"),
        }
    }
}

/// The sinks of sentinel, mdi and xspm, in that order.
type Sinks = [ProductSink; 3];

/// NDJSON files per product under `out`.
fn file_sinks(out: &Path, time: DemoTime) -> Result<Sinks, Box<dyn std::error::Error>> {
    let sink = |name: &str| {
        FileSink::open(
            FileSinkConfig::new(name, out)
                // One file per 10 demo minutes, or per 16 MiB.
                .max_age(time.real(Duration::from_secs(600)))
                .max_bytes(16 * 1024 * 1024),
        )
        .map(ProductSink::File)
    };
    Ok([sink("sentinel")?, sink("mdi")?, sink("xspm")?])
}

/// The product sinks: Sentinel through the Logs Ingestion API (gzip), MDI through its event
/// hub with SAS, XSPM through its event hub with an Entra token; tokens from the platform's
/// one provider.
fn endpoint_sinks(
    to: &Targets,
    tokens: &Arc<TokenProvider>,
) -> Result<Sinks, Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let sentinel = SentinelConfig {
        gzip: true,
        ..SentinelConfig::new(&to.dce_url, &to.dcr_id, &to.stream, ENTRA_CREDENTIAL)
    };
    let mdi = EventHubsConfig::new(
        "mdi",
        &to.namespace_url,
        &to.mdi_hub,
        EventHubsAuth::SharedAccessKey {
            credential: HUBS_CREDENTIAL.into(),
        },
    )
    .partition_key("/actor/id");
    let xspm = EventHubsConfig::new(
        "xspm",
        &to.namespace_url,
        &to.xspm_hub,
        EventHubsAuth::Entra {
            credential: ENTRA_CREDENTIAL.into(),
        },
    );
    Ok([
        ProductSink::Sentinel {
            sink: SentinelSink::new(sentinel, tokens.clone(), client.clone()),
            stream: to.stream.clone(),
        },
        ProductSink::Hub {
            sink: EventHubsSink::new(mdi, tokens.clone(), client.clone()),
            hub: to.mdi_hub.clone(),
            auth: "SAS",
        },
        ProductSink::Hub {
            sink: EventHubsSink::new(xspm, tokens.clone(), client),
            hub: to.xspm_hub.clone(),
            auth: "Entra token",
        },
    ])
}

fn products(time: DemoTime, sinks: Sinks) -> Vec<Product> {
    let prefix = |p: &str| Filter::starts_with("/eventType", p);
    let [sentinel, mdi, xspm] = sinks;
    vec![
        Product {
            name: "sentinel",
            rule: "everything",
            filter: None,
            every: time.real(Duration::from_secs(300)),
            sink: sentinel,
        },
        Product {
            name: "mdi",
            rule: "user.authentication*, user.session*",
            filter: Some(prefix("user.authentication").or(prefix("user.session"))),
            every: time.real(Duration::from_secs(300)),
            sink: mdi,
        },
        Product {
            name: "xspm",
            rule: "user.account*, group.*, application.*",
            filter: Some(
                prefix("user.account")
                    .or(prefix("group."))
                    .or(prefix("application.")),
            ),
            every: time.real(Duration::from_secs(600)),
            sink: xspm,
        },
    ]
}

// ---------------------------------------------------------------- running it

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(args).await {
        eprintln!("okta_unified failed: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let time = DemoTime {
        start: Utc::now(),
        speed: args.speed,
    };
    let out = PathBuf::from(OUT);
    // A durable run resumes: its products keep their files.
    if out.exists() && args.durable.is_none() {
        std::fs::remove_dir_all(&out)?;
    }
    let (org, credential) = org(args.speed).await?;

    // The credential is stored once, for every product; the connector only names it.
    let credential_name = match &org {
        Org::Real { auth, .. } => auth.credential(),
        Org::Simulated(_) => CREDENTIAL,
    };
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(CredentialRef::new(TENANT, credential_name), credential)
        .await?;

    let health = Arc::new(
        HealthService::builder()
            .table(Arc::new(MemoryHealthTable::new(Retention::default())))
            .build(),
    );
    let source: Arc<dyn Source> = match &org {
        // Two hours of backlog: start a little before it.
        Org::Simulated(sim) => Arc::new(DemoPace {
            okta: OktaSource::new(
                OktaConfig::new(sim.base_url(), CREDENTIAL)
                    .start_ago(Duration::from_secs(2 * 3600 + 60))
                    .rate_limit_per_minute(20)
                    // The simulated org's rate-limit minute lasts `60 s / speed`.
                    .rate_limit_window(Duration::from_secs(60).div_f64(args.speed)),
            )?,
            base_url: sim.base_url().to_string(),
        }),
        Org::Real { url, auth } => Arc::new(OktaSource::new(
            OktaConfig::new(url.clone(), CREDENTIAL)
                .auth(auth.clone())
                .start_ago(Duration::from_secs(3600)),
        )?),
    };
    let budget_key = source.describe().budget.key;
    let reporter: Arc<dyn HealthReporter> = Arc::new(DemoHealth {
        service: health.clone(),
        time,
    });
    // One token provider for the platform and the product sinks: a token per credential
    // and scope, minted once for every product that uses it.
    let tokens = Arc::new(
        TokenProvider::new(Arc::new(HttpTokenFetcher::new()?)).with_health(reporter.clone()),
    );

    // The products' endpoints (emulated unless configured) and their credentials, stored
    // once; the sinks only name them.
    let endpoints = match args.output {
        Output::Products => {
            let endpoints = Endpoints::from_env().await?;
            let (entra, sas) = endpoints.credentials();
            credentials
                .put(CredentialRef::new(TENANT, ENTRA_CREDENTIAL), entra)
                .await?;
            credentials
                .put(CredentialRef::new(TENANT, HUBS_CREDENTIAL), sas)
                .await?;
            Some(endpoints)
        }
        Output::Files => None,
    };
    let sinks = match &endpoints {
        Some(endpoints) => endpoint_sinks(&endpoints.targets(), &tokens)?,
        None => file_sinks(&out, time)?,
    };
    let products = products(time, sinks);

    let mut builder = Platform::builder()
        .credentials(credentials)
        .health(reporter)
        .tokens(tokens)
        .tenant_source(TENANT, CONNECTOR, source)
        .max_jitter(Duration::ZERO);
    // Durable: cursors, a disk queue per product and dead letters in one store; otherwise
    // everything in memory.
    let store = match &args.durable {
        Some(dir) => {
            let store = DurableStore::open(dir)?;
            resume_report(&store, &products).await?;
            builder = builder.durable(store.clone());
            Some(store)
        }
        None => {
            builder = builder.checkpoints(Arc::new(MemoryCheckpoints::new()));
            None
        }
    };
    for p in &products {
        builder = builder.tenant_sink(TENANT, p.name, p.sink.shared());
        let mut subscription = Subscription::new(p.name, CONNECTOR, SYSTEM_LOG).every(p.every);
        if store.is_some() {
            subscription = subscription.durable(256 << 20);
        }
        if let Some(filter) = &p.filter {
            subscription = subscription.filter(filter.clone());
        }
        builder = builder.subscribe(subscription);
    }
    let platform = builder.build()?;

    match &org {
        Org::Simulated(sim) => println!(
            "Okta org (simulated) at {}: developer org, 20 calls/min, ucp uses at most half",
            sim.base_url()
        ),
        Org::Real { url, auth } => println!(
            "Okta org {url} (real, {}; budget learned from its headers)",
            match auth {
                OktaAuth::OAuth { .. } => "OAuth service app, scope okta.logs.read",
                _ => "SSWS API token",
            }
        ),
    }
    match &endpoints {
        Some(endpoints) => println!("{}", endpoints.describe()),
        None => println!("products: NDJSON files under {}", out.display()),
    }
    println!(
        "demo time runs at {}x: {} real seconds = {:.0} demo minutes",
        args.speed,
        args.duration,
        args.duration as f64 * args.speed / 60.0
    );
    for p in &products {
        println!(
            "subscribe {:<8} every {:>2} demo min  {:<38} -> {}",
            p.name,
            (p.every.as_secs_f64() * args.speed / 60.0).round(),
            p.rule,
            p.sink.target()
        );
    }
    for job in &platform.plan().jobs {
        println!(
            "plan: ONE job collects {} every {:.1} s for {}",
            job.stream,
            job.effective_interval.as_secs_f64(),
            job.subscribers.join(", ")
        );
    }

    let running = platform.start().await?;
    for outcome in running.check().await {
        match outcome {
            CheckOutcome::Source {
                name,
                result: Err(e),
            } => println!("check {name}: {e}"),
            CheckOutcome::Sink {
                name,
                result: Err(e),
            } => println!("check {name}: {e}"),
            _ => {}
        }
    }

    // Part way through, another application of the org uses the whole quota for three demo
    // minutes: the org answers 429 and every ucp call waits for the reset.
    let burst_at = args.duration as f64 * 0.4;
    let burst_for = time.real(Duration::from_secs(180));
    let mut burst = None;

    println!();
    let started = tokio::time::Instant::now();
    for second in 1..=args.duration {
        tokio::time::sleep_until(started + Duration::from_secs(second)).await;
        if let (Org::Simulated(sim), None) = (&org, &burst) {
            if second as f64 >= burst_at {
                println!("      another application of the org starts using its whole quota");
                burst = Some(tokio::spawn(drain_quota(sim.clone(), burst_for)));
            }
        }
        let stats = running.stats().await;
        progress(second, &org, &stats, &products, args.speed);
    }
    if let Some(task) = burst {
        task.abort();
    }

    let stats = settled_stats(&running).await;
    running.shutdown().await?;
    let mut landed = Vec::new();
    for p in &products {
        landed.push(landed_at(p, endpoints.as_ref()).await?);
    }
    let end = time.at(Utc::now());
    summary(&org, &stats, &products, &landed, &budget_key, &args);
    if let Some(Endpoints::Emulated(e)) = &endpoints {
        println!(
            "  {:<9} {:<58} {} token requests (one per scope, shared by sentinel's and xspm's calls)",
            "entra",
            "Entra ID token endpoint",
            e.tokens.token_requests()
        );
    }
    health_report(&health).await?;

    std::fs::create_dir_all(&out)?;
    let svg_path = out.join("volumes.svg");
    let mut series = health.volumes().query(
        &VolumeQuery::collected(TENANT, CONNECTOR, BinSize::Minute, time.start, end)
            .expect_streams([SYSTEM_LOG]),
    )?;
    for p in &products {
        series.extend(
            health.volumes().query(
                &VolumeQuery::collected(TENANT, CONNECTOR, BinSize::Minute, time.start, end)
                    .delivered_to(p.name)
                    .expect_streams([SYSTEM_LOG]),
            )?,
        );
    }
    let svg = render_volume_svg(&series, "Okta System Log: records per demo minute")?;
    std::fs::write(&svg_path, svg)?;
    println!(
        "\nvolume chart (records per demo minute, collected and per product; the time axis is demo time): {}",
        svg_path.display()
    );
    Ok(())
}

/// What a durable run starts from: the saved cursor and what each product has queued.
async fn resume_report(
    store: &DurableStore,
    products: &[Product],
) -> Result<(), Box<dyn std::error::Error>> {
    let cursor = store.load(&StreamKey::new(CONNECTOR, SYSTEM_LOG)).await?;
    match cursor {
        Some(cursor) => println!(
            "durable state {}: resuming after {cursor}",
            store.path().display()
        ),
        None => println!("durable state {}: first run", store.path().display()),
    }
    if let Some(recovery) = store.recovery() {
        println!("  {recovery}");
    }
    for p in products {
        let id = SubscriptionId {
            product: p.name.to_string(),
            stream: StreamKey::new(CONNECTOR, SYSTEM_LOG),
        };
        let queued = store.queue_len(&id).await?;
        if queued > 0 {
            println!(
                "  {} resumes with {queued} batches still queued for it",
                p.name
            );
        }
    }
    Ok(())
}

/// Another application spending the simulated org's quota, window after window.
async fn drain_quota(sim: Arc<OktaSimulator>, for_: Duration) {
    let end = tokio::time::Instant::now() + for_;
    while tokio::time::Instant::now() < end {
        sim.consume_quota(1_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn delivered(stats: &PlatformStats, product: &str) -> u64 {
    stats
        .subscription(product, CONNECTOR, SYSTEM_LOG)
        .map_or(0, |s| s.records_delivered)
}

fn progress(second: u64, org: &Org, stats: &PlatformStats, products: &[Product], speed: f64) {
    let job = stats.job(CONNECTOR, SYSTEM_LOG);
    let (calls, throttled) = match org {
        Org::Simulated(sim) => (sim.requests(), sim.throttled()),
        Org::Real { .. } => (
            job.map_or(0, |j| j.source_calls),
            job.map_or(0, |j| j.throttled),
        ),
    };
    let paused = stats.budgets.iter().any(|b| b.paused_until.is_some());
    let mut line = format!(
        "[{second:>3}s | demo {:>4.0} min] okta calls {calls:>3} (429: {throttled}) | collected {:>6}",
        second as f64 * speed / 60.0,
        job.map_or(0, |j| j.records_collected)
    );
    for p in products {
        line.push_str(&format!(" | {} {:>6}", p.name, delivered(stats, p.name)));
    }
    if paused {
        line.push_str(" | budget paused until the org's reset");
    }
    println!("{line}");
}

fn summary(
    org: &Org,
    stats: &PlatformStats,
    products: &[Product],
    landed: &[Landed],
    budget_key: &BudgetKey,
    args: &Args,
) {
    let job = stats.job(CONNECTOR, SYSTEM_LOG);
    let budget = stats.budgets.iter().find(|b| &b.key == budget_key);
    println!(
        "\nsummary ({} s real, {:.0} demo minutes)",
        args.duration,
        args.duration as f64 * args.speed / 60.0
    );
    match org {
        Org::Simulated(sim) => {
            println!(
                "  source API calls     {:>8}   (counted by the org; ucp's job made {}, the check 1)",
                sim.requests(),
                job.map_or(0, |j| j.source_calls)
            );
            println!("  429s received        {:>8}", sim.throttled());
        }
        Org::Real { .. } => {
            println!(
                "  source API calls     {:>8}   (collection calls, plus 1 check)",
                job.map_or(0, |j| j.source_calls)
            );
            println!(
                "  calls on the budget  {:>8}   (with the check and any OAuth token requests)",
                budget.map_or(0, |b| b.calls)
            );
            println!(
                "  429s received        {:>8}",
                job.map_or(0, |j| j.throttled)
            );
        }
    }
    println!(
        "  calls saved          {:>8}   (what two more per-product connectors would have made)",
        job.map_or(0, |j| j.calls_saved)
    );
    if let Some(b) = budget {
        let demo_minute = 60.0 / args.speed;
        println!(
            "  budget {}: ucp may make {} calls per {:.1} s ({:.0} per demo minute)",
            b.key,
            b.allowed,
            b.per.as_secs_f64(),
            b.allowed as f64 * demo_minute / b.per.as_secs_f64()
        );
    }
    println!(
        "  records collected    {:>8}   (duplicates dropped: {})",
        job.map_or(0, |j| j.records_collected),
        job.map_or(0, |j| j.duplicates_dropped)
    );
    let truth = match org {
        Org::Simulated(sim) => Some(sim.visible_events()),
        Org::Real { .. } => None,
    };
    let header = match landed.first() {
        Some(Landed::Endpoint { .. }) => "at the product",
        _ => "output",
    };
    println!(
        "\n  {:<9} {:<38} {:>9} {:>7}  {header}",
        "product", "filter", "delivered", "in org"
    );
    for (p, landed) in products.iter().zip(landed) {
        let in_org = truth.as_ref().map_or("-".to_string(), |events| {
            events
                .iter()
                .filter(|e| {
                    p.filter.as_ref().is_none_or(|f| {
                        serde_json::from_str(&e.json).is_ok_and(|doc| f.matches(&doc))
                    })
                })
                .count()
                .to_string()
        });
        let output = match landed {
            Landed::Files(files) => files_line(files),
            Landed::Endpoint { count, unit, .. } => format!("{count:>7} {unit}"),
        };
        println!(
            "  {:<9} {:<38} {:>9} {:>7}  {output}",
            p.name,
            p.rule,
            delivered(stats, p.name),
            in_org
        );
    }
    if truth.is_some() {
        println!("  (\"in org\": matching events the org holds now, including the last second's, not yet collected)");
    }
    let endpoints: Vec<_> = products
        .iter()
        .zip(landed)
        .filter_map(|(p, landed)| match landed {
            Landed::Endpoint {
                place,
                calls,
                emulated,
                ..
            } => Some((p.name, place, calls, *emulated)),
            Landed::Files(_) => None,
        })
        .collect();
    match endpoints.first() {
        Some((.., true)) => println!("\n  product endpoints (emulated on 127.0.0.1, empty at the start of every run; counted by them)"),
        Some((.., false)) => println!("\n  product endpoints (real; calls made and rows or messages accepted, as the sinks counted their answers)"),
        None => {}
    }
    for (name, place, calls, _) in endpoints {
        println!("  {name:<9} {place:<58} {calls}");
    }
}

fn files_line(files: &[PathBuf]) -> String {
    match files {
        [] => "no file written".to_string(),
        [one] => one.display().to_string(),
        [first, .., last] => format!(
            "{} files: {} .. {}",
            files.len(),
            first.display(),
            last.file_name().map_or("".into(), |n| n.to_string_lossy())
        ),
    }
}

/// Where one product's records landed.
enum Landed {
    /// NDJSON files, complete.
    Files(Vec<PathBuf>),
    /// A product endpoint: how many rows or messages it holds, where, and its calls.
    Endpoint {
        count: u64,
        unit: &'static str,
        place: String,
        calls: String,
        emulated: bool,
    },
}

/// What one product endpoint holds (counted by the emulator; for a real one, as the sink
/// counted its answers), or the product's files.
async fn landed_at(
    p: &Product,
    endpoints: Option<&Endpoints>,
) -> Result<Landed, Box<dyn std::error::Error>> {
    let emulated = match endpoints {
        Some(Endpoints::Emulated(e)) => Some(e),
        _ => None,
    };
    Ok(match (&p.sink, emulated) {
        (ProductSink::File(sink), _) => {
            sink.close().await?;
            Landed::Files(sink.completed_files()?)
        }
        (ProductSink::Sentinel { sink, stream }, Some(e)) => {
            let dcr = endpoints.map(|e| e.targets().dcr_id).unwrap_or_default();
            let splits = match sink.stats().splits {
                0 => String::new(),
                n => format!(", {n} split after 413"),
            };
            Landed::Endpoint {
                count: e.logs.rows(&dcr, stream).len() as u64,
                unit: "rows",
                place: format!("Logs Ingestion, DCR stream {stream} (gzip{splits})"),
                calls: by_status(e.logs.calls().iter().map(|c| c.status)),
                emulated: true,
            }
        }
        (ProductSink::Hub { hub, auth, .. }, Some(e)) => {
            let messages = e.hubs.messages(hub);
            let keys: HashSet<_> = messages
                .iter()
                .filter_map(|m| m.partition_key.as_deref())
                .collect();
            let keys = match keys.len() {
                0 => String::new(),
                n => format!(", {n} partition keys"),
            };
            let calls = e.hubs.calls();
            Landed::Endpoint {
                count: messages.len() as u64,
                unit: "messages",
                place: format!("Event Hubs, hub {hub} ({auth}{keys})"),
                calls: by_status(calls.iter().filter(|c| &c.hub == hub).map(|c| c.status)),
                emulated: true,
            }
        }
        (ProductSink::Sentinel { sink, stream }, None) => {
            let stats = sink.stats();
            Landed::Endpoint {
                count: stats.rows_accepted,
                unit: "rows",
                place: format!("Logs Ingestion, DCR stream {stream} (gzip)"),
                calls: format!("{} calls", stats.calls),
                emulated: false,
            }
        }
        (ProductSink::Hub { sink, hub, auth }, None) => {
            let stats = sink.stats();
            Landed::Endpoint {
                count: stats.messages_accepted,
                unit: "messages",
                place: format!("Event Hubs, hub {hub} ({auth})"),
                calls: format!("{} calls", stats.calls),
                emulated: false,
            }
        }
    })
}

/// `14 calls (204 ×14)`, `16 calls (204 ×14, 429 ×2)`, `no calls`.
fn by_status(statuses: impl Iterator<Item = u16>) -> String {
    let mut counts = std::collections::BTreeMap::<u16, u64>::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    if total == 0 {
        return "no calls".into();
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
    format!("{total} calls ({})", parts.join(", "))
}

/// The stats once deliveries settle (every product queue empty and nothing new delivered
/// for 100 ms; at most 2 s), so that they match what the endpoints hold.
async fn settled_stats(running: &RunningPlatform) -> PlatformStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut last = running.stats().await;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = running.stats().await;
        let same = now
            .subscriptions
            .iter()
            .zip(&last.subscriptions)
            .all(|(a, b)| a.queue_depth == 0 && a.records_delivered == b.records_delivered);
        if same || tokio::time::Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

async fn health_report(health: &HealthService) -> Result<(), Box<dyn std::error::Error>> {
    println!("\nhealth (from the health service's table; real times)");
    for (connector, rows) in health.table().last_messages_per_connector(4).await? {
        println!(
            "  {}/{}: {}",
            connector.tenant, connector.connector, connector.status
        );
        for part in &connector.parts {
            println!(
                "    {:<22} {:<8} since {}  {}",
                part.product.as_deref().unwrap_or("(collection)"),
                part.status.to_string(),
                part.since.format("%H:%M:%S"),
                part.message
            );
        }
        println!("    last messages:");
        for row in rows {
            println!(
                "      {} {:<8} {:<10} {}",
                row.time.format("%H:%M:%S"),
                row.status.to_string(),
                row.kind.to_string(),
                row.message
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

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

    #[test]
    fn calls_are_counted_per_status() {
        assert_eq!(
            by_status([204, 429, 204].into_iter()),
            "3 calls (204 ×2, 429 ×1)"
        );
        assert_eq!(by_status(std::iter::empty()), "no calls");
    }

    #[test]
    fn flags_parse_and_bad_values_are_named() {
        let a = args(&["--duration", "5", "--speed", "120"]).unwrap();
        assert!(a.durable.is_none());
        let d = args(&["--durable", "./ucp-state"]).unwrap();
        assert_eq!(d.durable, Some(PathBuf::from("./ucp-state")));
        assert_eq!((a.duration, a.speed), (5, 120.0));
        let d = args(&[]).unwrap();
        assert_eq!((d.duration, d.speed), (30, 60.0));
        assert_eq!(d.output, Output::Products);
        assert_eq!(args(&["--output", "files"]).unwrap().output, Output::Files);
        assert_eq!(
            args(&["--output", "products"]).unwrap().output,
            Output::Products
        );
        assert!(args(&["--output", "ndjson"])
            .err()
            .unwrap()
            .contains("--output 'ndjson'"));
        assert!(args(&["--duration", "x"]).err().unwrap().contains("'x'"));
        assert!(args(&["--speed", "0"])
            .err()
            .unwrap()
            .contains("--speed '0'"));
        assert!(args(&["--speed"]).err().unwrap().contains("needs a value"));
        assert!(args(&["--fast"])
            .err()
            .unwrap()
            .contains("unknown argument '--fast'"));
    }
}
