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
//! `--output <products|files>` (default `products`, see below), `--health-to sentinel` (see
//! "The platform's health" below).
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
//! **The platform's health.** With `--health-to sentinel`, the platform's health is one more
//! stream: a health source for the tenant (`ucp-health`) offers `health_events`, every status
//! transition of the connector and the products, once, and Sentinel subscribes to it every
//! demo minute like to any stream, through a second Sentinel sink into the DCR stream
//! `Custom-UcpHealth_CL` (`SENTINEL_HEALTH_STREAM` for a real rule) with the columns of
//! `ucp::sinks::sentinel::health`. The summary lists the rows Sentinel holds: the org's
//! throttling and its recovery, the products' first deliveries, the health stream's own.
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
//!
//! **How this example is laid out**, one concept per file:
//!
//! - `main.rs`: the flow: parse the flags, start the org and the products, build the
//!   platform, run it for `--duration` seconds, report;
//! - `args.rs`: the command-line flags;
//! - `demo_time.rs`: compressed demo time (`--speed`);
//! - `org.rs`: the simulated or real Okta org, its credential and its System Log source;
//! - `products.rs`: the three products, their filters, intervals and sinks;
//! - `endpoints.rs`: where the products' data goes (emulated or real Azure endpoints) and the
//!   credentials those take;
//! - `landed.rs`: what each product holds at the end;
//! - `health_feed.rs`: the platform's health as a stream into Sentinel (`--health-to`);
//! - `report.rs`: everything printed: the setup, progress, summary, health and volume chart.

mod args;
mod demo_time;
mod endpoints;
mod health_feed;
mod landed;
mod org;
mod products;
mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::health::Retention;
use ucp::sources::okta::SYSTEM_LOG;
use ucp::*;

use args::{parse_args, Args, Output};
use demo_time::{DemoHealth, DemoTime};
use endpoints::{Endpoints, ENTRA_CREDENTIAL, HUBS_CREDENTIAL};
use health_feed::HealthFeed;
use org::Org;
use products::{endpoint_sinks, file_sinks, products};
use ucp::credentials::CredentialStore;
use ucp::credentials::{CredentialRef, MemoryCredentials};
use ucp::health::{HealthReporter, HealthService, MemoryHealthTable};
use ucp::store::{DurableStore, MemoryCheckpoints};

/// The tenant that owns the connector, the credentials and the products.
const TENANT: &str = "contoso";
/// The one connector every product subscribes through.
const CONNECTOR: &str = "okta-contoso";
/// Where the volume chart (and, with `--output files`, the products' files) go.
const OUT: &str = "ucp-out/okta_unified";

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

/// The demo, start to end.
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

    // The org, and its credential stored once, for every product; the connector only names it.
    let (org, credential) = Org::start(args.speed).await?;
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new(TENANT, org.credential_name()),
            credential,
        )
        .await?;

    let health = Arc::new(
        HealthService::builder()
            .table(Arc::new(MemoryHealthTable::new(Retention::default())))
            .build(),
    );
    let source = org.source(args.speed)?;
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

    // The platform: one connector, three subscriptions; it plans them into one job.
    let mut builder = Platform::builder()
        .credentials(credentials)
        .health(reporter)
        .tokens(tokens.clone())
        .tenant_source(TENANT, CONNECTOR, source)
        .max_jitter(Duration::ZERO);
    // Durable: cursors, a disk queue per product and dead letters in one store; otherwise
    // everything in memory.
    let store = match &args.durable {
        Some(dir) => {
            let store = DurableStore::open(dir)?;
            report::resume(&store, &products).await?;
            builder = builder.durable(store.clone());
            Some(store)
        }
        None => {
            builder = builder.checkpoints(Arc::new(MemoryCheckpoints::new()));
            None
        }
    };
    // --health-to sentinel: the platform's health, one more stream Sentinel subscribes to.
    let feed = match (&args.health_to, &endpoints) {
        (Some(_), Some(endpoints)) => Some(HealthFeed::new(
            health.clone(),
            builder.inventory(),
            &endpoints.targets(),
            &tokens,
            time,
        )),
        _ => None,
    };
    if let Some(feed) = &feed {
        builder = feed.register(builder, store.is_some());
    }
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
    report::setup(
        &org,
        endpoints.as_ref(),
        &out,
        &args,
        &products,
        &platform.plan(),
    );
    if let Some(feed) = &feed {
        println!("{}", feed.describe());
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
                burst = Some(tokio::spawn(org::drain_quota(sim.clone(), burst_for)));
            }
        }
        let stats = running.stats().await;
        report::progress(second, &org, &stats, &products, args.speed);
    }
    if let Some(task) = burst {
        task.abort();
    }

    // Let the last deliveries land, then report what every product holds.
    let stats = report::settled_stats(&running).await;
    running.shutdown().await?;
    let mut landed = Vec::new();
    for p in &products {
        landed.push(landed::landed_at(p, endpoints.as_ref()).await?);
    }
    let end = time.at(Utc::now());
    report::summary(
        &org,
        &stats,
        &products,
        &landed,
        endpoints.as_ref(),
        &budget_key,
        &args,
    );
    report::health(&health).await?;
    if let (Some(feed), Some(endpoints)) = (&feed, &endpoints) {
        feed.summary(&health, endpoints).await?;
    }
    report::volume_chart(&health, &products, &out, time.start, end)?;
    Ok(())
}
