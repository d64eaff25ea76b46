//! A ucp cluster node: collects the Okta System Log of the tenants whose jobs it holds and
//! fans it out to each tenant's three products, coordinated with the other nodes through
//! PostgreSQL.
//!
//! ```text
//! cargo run -p ucp-cluster --bin ucp-node -- --database-url postgres://ucp@127.0.0.1:5432/ucp --world world.txt
//! ```
//!
//! The world file lists the tenants (`TENANT <i> <org url> <token>`) and the products
//! endpoint (`PRODUCTS <url> <token url>`), as the testkit's `scale_world` prints them.
//! Every node registers every tenant's job; each job runs on one node at a time. SIGTERM or
//! Ctrl-C hands the node's jobs over and leaves.

#![forbid(unsafe_code)]

mod world;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clap::Parser;
use secrecy::SecretString;
use tokio::sync::Mutex;
use ucp_cluster::{
    Db, DbConfig, FencedCheckpoints, Holdings, JobRunner, Leases, Node, PgBudget, PgDeadLetters,
    PgHealthTable,
};
use ucp_core::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::{HealthService, Retention};
use ucp_core::{Filter, Platform, RunningPlatform, Sink, Source, StreamKey, Subscription};
use ucp_sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp_sources::okta::{OktaConfig, OktaSource};

use world::{Tenant, World};

/// The stream every tenant's source collects.
const STREAM: &str = "system_log";
/// The Logs Ingestion stream of every product's rule.
const PRODUCT_STREAM: &str = "Custom-OktaSystemLog_CL";
/// Each tenant's products and the `eventType` prefixes they take (none: all).
const PRODUCTS: [(&str, &[&str]); 3] = [
    ("siem", &[]),
    ("identity", &["user."]),
    ("posture", &["group.", "application.", "system."]),
];
/// The products' client at the world's token endpoint.
const PRODUCT_CLIENT: (&str, &str) = ("lab-app", "lab-secret");

#[derive(Parser, Debug)]
#[command(
    name = "ucp-node",
    about = "A ucp cluster node coordinated through PostgreSQL"
)]
struct Args {
    /// The cluster's PostgreSQL database (default: the UCP_DATABASE_URL variable).
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the cluster's tables in this schema (several clusters in one database).
    #[arg(long)]
    schema: Option<String>,
    /// The tenants and products (see the binary's docs).
    #[arg(long)]
    world: std::path::PathBuf,
    /// This node's id (default: host name and process id).
    #[arg(long)]
    node: Option<String>,
    /// Collection interval of every subscription, milliseconds.
    #[arg(long, default_value_t = 2000)]
    interval_ms: u64,
    /// Lease TTL, milliseconds.
    #[arg(long, default_value_t = 4000)]
    ttl_ms: u64,
    /// Heartbeat and rebalance period, milliseconds (default: a quarter of the TTL).
    #[arg(long)]
    tick_ms: Option<u64>,
    /// Calls each org allows per window (the budget's limit, learnt again from headers).
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// The orgs' rate-limit window, milliseconds.
    #[arg(long, default_value_t = 60_000)]
    rate_window_ms: u64,
    /// Share of each org's limit the cluster may use.
    #[arg(long, default_value_t = 1.0)]
    quota_share: f64,
}

/// A node's platform: jobs start by registering the tenant's source, sinks and
/// subscriptions (the first time) or resuming the source; they stop by pausing it until it
/// has drained.
struct PlatformRunner {
    platform: RunningPlatform,
    tenants: HashMap<String, Tenant>,
    world_products: (String, String),
    tokens: Arc<TokenProvider>,
    registered: Mutex<std::collections::HashSet<String>>,
    args: Args,
}

fn source_name(index: usize) -> String {
    format!("okta-{index:05}")
}

impl PlatformRunner {
    async fn register(&self, tenant: &Tenant) -> Result<(), String> {
        let name = source_name(tenant.index);
        let tenant_id = format!("tenant-{:05}", tenant.index);
        let config = OktaConfig::new(&tenant.url, "okta")
            .start_ago(Duration::from_secs(3600))
            .rate_limit_per_minute(self.args.rate_limit)
            .rate_limit_window(Duration::from_millis(self.args.rate_window_ms))
            .quota_share(self.args.quota_share);
        let source: Arc<dyn Source> = Arc::new(OktaSource::new(config).map_err(|e| e.to_string())?);
        self.platform
            .add_source(&name, &tenant_id, source)
            .await
            .map_err(|e| e.to_string())?;
        let mut subscriptions = Vec::new();
        for (product, prefixes) in PRODUCTS {
            let sink_name = format!("{product}-{:05}", tenant.index);
            let dcr = format!("dcr-{:05}-{product}", tenant.index);
            let mut config =
                SentinelConfig::new(&self.world_products.0, &dcr, PRODUCT_STREAM, "entra");
            config.gzip = true;
            config.product = sink_name.clone();
            let sink: Arc<dyn Sink> = Arc::new(SentinelSink::new(config, self.tokens.clone()));
            self.platform
                .add_sink(&sink_name, &tenant_id, sink)
                .await
                .map_err(|e| e.to_string())?;
            let mut subscription = Subscription::new(&sink_name, &name, STREAM)
                .every(Duration::from_millis(self.args.interval_ms));
            if let Some(filter) = prefixes
                .iter()
                .map(|p| Filter::starts_with("/eventType", *p))
                .reduce(Filter::or)
            {
                subscription = subscription.filter(filter);
            }
            subscriptions.push(subscription);
        }
        self.platform
            .subscribe_all(subscriptions)
            .await
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl JobRunner for PlatformRunner {
    async fn start(&self, job: &StreamKey) -> Result<(), String> {
        let name = job.source.to_string();
        let tenant = self
            .tenants
            .get(&name)
            .ok_or_else(|| format!("no tenant for job {job}"))?;
        let mut registered = self.registered.lock().await;
        if registered.contains(&name) {
            self.platform
                .resume_source(&name)
                .await
                .map_err(|e| e.to_string())
        } else {
            self.register(tenant).await?;
            registered.insert(name);
            Ok(())
        }
    }

    async fn stop(&self, job: &StreamKey) {
        if let Err(error) = self.platform.pause_source_and_drain(&job.source).await {
            tracing::warn!(job = %job, %error, "job not stopped");
        }
    }
}

async fn credentials(world: &World) -> Result<Arc<MemoryCredentials>, String> {
    let store = Arc::new(MemoryCredentials::new());
    for tenant in &world.tenants {
        let id = format!("tenant-{:05}", tenant.index);
        store
            .put(
                CredentialRef::new(id.clone(), "okta"),
                Credential::ApiToken {
                    token: tenant.token.clone(),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        store
            .put(
                CredentialRef::new(id, "entra"),
                Credential::ClientSecret {
                    token_url: world.token_url.clone(),
                    client_id: PRODUCT_CLIENT.0.into(),
                    secret: SecretString::from(PRODUCT_CLIENT.1),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(store)
}

async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,ucp_cluster=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let world = World::parse(&std::fs::read_to_string(&args.world)?)?;
    let node_id = args.node.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let url = match args.database_url.clone() {
        Some(url) => url,
        None => std::env::var("UCP_DATABASE_URL")
            .map_err(|_| "give --database-url or set UCP_DATABASE_URL")?,
    };
    let mut config = DbConfig::new(SecretString::from(url));
    if let Some(schema) = &args.schema {
        config = config.schema(schema.clone())?;
    }
    let db = Db::open(config).await?;
    let ttl = Duration::from_millis(args.ttl_ms);
    let leases = Leases::new(db.clone(), node_id.clone(), ttl);
    let jobs: Vec<StreamKey> = world
        .tenants
        .iter()
        .map(|t| StreamKey::new(source_name(t.index), STREAM))
        .collect();
    leases.register(&jobs).await?;

    let holdings = Holdings::new();
    let tokens = Arc::new(TokenProvider::new(Arc::new(HttpTokenFetcher::new()?)));
    let interval = Duration::from_millis(args.interval_ms);
    let platform = Platform::builder()
        .credentials(credentials(&world).await?)
        .checkpoints(Arc::new(FencedCheckpoints::new(
            db.clone(),
            node_id.clone(),
            holdings.clone(),
        )))
        .dead_letters(Arc::new(PgDeadLetters::new(db.clone())))
        .health(Arc::new(
            HealthService::builder()
                .table(Arc::new(PgHealthTable::new(
                    db.clone(),
                    Retention::default(),
                )))
                .build(),
        ))
        .shared_budget(Arc::new(
            PgBudget::new(db.clone()).gated_by(holdings.clone()),
        ))
        .tokens(tokens.clone())
        .max_jitter(interval / 4)
        .shutdown_timeout(ttl / 2)
        .finish_call_on_stop(true)
        .build()?
        .start()
        .await?;
    let products = (world.products_url.clone(), world.token_url.clone());
    let tenants = world
        .tenants
        .into_iter()
        .map(|t| (source_name(t.index), t))
        .collect();
    let tick = Duration::from_millis(args.tick_ms.unwrap_or(args.ttl_ms / 4).max(1));
    let runner = Arc::new(PlatformRunner {
        platform,
        tenants,
        world_products: products,
        tokens,
        registered: Mutex::new(Default::default()),
        args,
    });
    tracing::info!(node = %node_id, jobs = jobs.len(), "node joined the cluster");
    println!("NODE {node_id}");
    let node = Node::new(leases, holdings, runner.clone());
    node.run(tick, stop_signal()).await;
    tracing::info!(node = %node_id, "node left the cluster");
    Ok(())
}
