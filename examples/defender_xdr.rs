//! Microsoft Defender XDR, collected once through Microsoft Graph security, delivered to
//! Sentinel and to a data lake.
//!
//! ```text
//! cargo run --release --example defender_xdr                     # about 20 s, simulated tenant
//! cargo run --release --example defender_xdr -- --duration 60
//! ```
//!
//! With no configuration it starts a simulated Entra tenant on 127.0.0.1: Graph security with
//! 500 incidents, 2,500 alerts and two hours of rows in the 21 advanced hunting tables, its
//! Entra token endpoint, and changes as time passes (incidents move on, get alerts, merge).
//! Throttling windows are compressed 60 times (Graph's minute lasts a second), for the tenant
//! and ucp's budgets alike. Two sources collect the tenant for every product:
//!
//! | source | streams | budget |
//! |---|---|---|
//! | `defender-contoso` | `incidents`, `alerts` | `microsoft-graph-security`: 50/min and 1,500/h, at 90 % |
//! | `defender-contoso-hunting` | one per hunting table | `microsoft-graph-hunting`: 45/min and 1,500/h, at 90 % |
//!
//! Products: Sentinel (a Logs Ingestion API emulator with one DCR stream for incidents, one
//! for alerts and one per table) and a data lake (Parquet files under
//! `./ucp-out/defender_xdr/lake/`) that takes everything. It prints progress every second and
//! ends with a summary (Graph calls and 429s, records per stream group, rows per Sentinel
//! stream, data lake files) and the connector page's volume chart: one line each for
//! incidents, alerts and events (`./ucp-out/defender_xdr/volumes.svg`).
//!
//! **A real tenant.** Set `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (an
//! Entra app granted the Graph application permissions `SecurityIncident.Read.All`,
//! `SecurityAlert.Read.All` and `ThreatHunting.Read.All`, with admin consent) and the sources
//! read that tenant instead, incidents and alerts from 7 days back and hunting from one hour
//! back, at Graph's real limits; the products stay the local emulator and data lake. The
//! secret lives only in the credential store and is never printed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use ucp::credentials::token::{entra_token_url, HttpTokenFetcher, TokenProvider, ENTRA_AUTHORITY};
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp::health::{
    render_volume_svg, BinSize, HealthService, MemoryHealthTable, Retention, VolumeQuery,
};
use ucp::sinks::datalake::{DataLakeConfig, DataLakeSink};
use ucp::sinks::sentinel::{ColumnMapping, SentinelConfig, SentinelSink};
use ucp::sources::defender::{
    xdr_volume_lines, DefenderConfig, DefenderHuntingSource, DefenderSource, GraphLimits,
    HuntingConfig, ALERTS, HUNTING_TABLES, INCIDENTS,
};
use ucp::store::MemoryCheckpoints;
use ucp::{Platform, PlatformStats, Subscription};
use ucp_testkit::azure::LogsIngestion;
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator};
use ucp_testkit::token_endpoint::TokenEndpoint;

const TENANT: &str = "contoso";
const XDR: &str = "defender-contoso";
const HUNTING: &str = "defender-contoso-hunting";
const GRAPH_APP: &str = "graph-app";
const SENTINEL_APP: &str = "sentinel-app";
const DCR: &str = "dcr-defenderxdr00000000000000000001";
const OUT: &str = "ucp-out/defender_xdr";
/// Throttling windows of the simulated tenant and of ucp's budgets run this much faster.
const SPEED: f64 = 60.0;

/// The tenant: simulated, or a real one from the environment.
enum Tenant {
    Simulated(GraphSimulator),
    Real { tenant_id: String },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let duration = std::env::args()
        .skip_while(|a| a != "--duration")
        .nth(1)
        .and_then(|d| d.parse().ok())
        .unwrap_or(20u64);
    if let Err(error) = run(duration).await {
        eprintln!("defender_xdr failed: {error}");
        std::process::exit(1);
    }
}

async fn run(duration: u64) -> Result<(), Box<dyn std::error::Error>> {
    let started = Utc::now();
    let _ = std::fs::remove_dir_all(OUT);
    let credentials = Arc::new(MemoryCredentials::new());

    // The tenant and the app's credential, stored once.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (tenant, graph_url, tenant_id, speed) = match (
        env("AZURE_TENANT_ID"),
        env("AZURE_CLIENT_ID"),
        env("AZURE_CLIENT_SECRET"),
    ) {
        (Some(tenant_id), Some(client), Some(secret)) => {
            let credential = Credential::ClientSecret {
                token_url: entra_token_url(ENTRA_AUTHORITY, &tenant_id),
                client_id: client,
                secret: SecretString::from(secret),
            };
            credentials
                .put(CredentialRef::new(TENANT, GRAPH_APP), credential)
                .await?;
            (
                Tenant::Real {
                    tenant_id: tenant_id.clone(),
                },
                ucp::sources::defender::GRAPH_URL.to_string(),
                tenant_id,
                1.0,
            )
        }
        (None, None, None) => {
            let sim = GraphSimulator::start(
                GraphSimConfig::default()
                    .incidents(500)
                    .alerts(2_500)
                    .hunting(600.0, Duration::from_secs(7_200))
                    .churn_per_minute(30.0)
                    .speed(SPEED),
            )
            .await?;
            sim.register_app(
                "defender-connector",
                "example-graph-secret",
                &[
                    "SecurityIncident.Read.All",
                    "SecurityAlert.Read.All",
                    "ThreatHunting.Read.All",
                ],
            );
            let credential = Credential::ClientSecret {
                token_url: sim.token_url(),
                client_id: "defender-connector".into(),
                secret: SecretString::from("example-graph-secret".to_string()),
            };
            credentials
                .put(CredentialRef::new(TENANT, GRAPH_APP), credential)
                .await?;
            let url = sim.url().to_string();
            (
                Tenant::Simulated(sim),
                url,
                ucp_testkit::graph::TENANT_ID.to_string(),
                SPEED,
            )
        }
        _ => {
            return Err(
                "set all of AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or none"
                    .into(),
            )
        }
    };

    // The products' endpoints: a Logs Ingestion emulator (its own Entra app) and a local lake.
    let monitor_tokens = TokenEndpoint::start().await?;
    monitor_tokens.register_secret_client(SENTINEL_APP, "example-sentinel-secret");
    let logs = LogsIngestion::start(monitor_tokens.verifier()).await?;
    logs.grant(DCR, SENTINEL_APP);
    credentials
        .put(
            CredentialRef::new(TENANT, SENTINEL_APP),
            Credential::ClientSecret {
                token_url: monitor_tokens.entra_token_url("contoso-monitor"),
                client_id: SENTINEL_APP.into(),
                secret: SecretString::from("example-sentinel-secret".to_string()),
            },
        )
        .await?;

    let health = Arc::new(
        HealthService::builder()
            .table(Arc::new(MemoryHealthTable::new(Retention::default())))
            .build(),
    );
    let tokens = Arc::new(TokenProvider::new(Arc::new(HttpTokenFetcher::new()?)));
    let (xdr_config, hunting_config) = match &tenant {
        Tenant::Simulated(sim) => (
            DefenderConfig::new(&tenant_id, GRAPH_APP)
                .graph_url(&graph_url)
                .limits(GraphLimits::SECURITY.compressed(speed)),
            HuntingConfig::new(&tenant_id, GRAPH_APP)
                .graph_url(&graph_url)
                .start_at(sim.hunting_origin())
                .windows(Duration::from_secs(1800), Duration::ZERO)
                .limits(GraphLimits::HUNTING.compressed(speed)),
        ),
        Tenant::Real { .. } => (
            DefenderConfig::new(&tenant_id, GRAPH_APP)
                .start_ago(Duration::from_secs(7 * 24 * 3600)),
            HuntingConfig::new(&tenant_id, GRAPH_APP),
        ),
    };
    let lake = Arc::new(DataLakeSink::local(
        format!("{OUT}/lake"),
        DataLakeConfig::new("defender"),
    )?);
    let every = Duration::from_millis(500);
    let mut builder = Platform::builder()
        .credentials(credentials)
        .health(health.clone())
        .tokens(tokens.clone())
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, XDR, Arc::new(DefenderSource::new(xdr_config)?))
        .tenant_source(
            TENANT,
            HUNTING,
            Arc::new(DefenderHuntingSource::new(hunting_config)?),
        )
        .tenant_sink(TENANT, "datalake", lake.clone());
    let mut streams: Vec<(&str, String)> = vec![(XDR, INCIDENTS.into()), (XDR, ALERTS.into())];
    streams.extend(HUNTING_TABLES.iter().map(|t| (HUNTING, t.name.to_string())));
    for (source, stream) in &streams {
        let (dcr_stream, mapping) = sentinel_stream(stream);
        logs.add_stream(DCR, &dcr_stream);
        let mut config = SentinelConfig::new(logs.url(), DCR, dcr_stream, SENTINEL_APP);
        config.product = format!("sentinel/{stream}");
        config.gzip = true;
        config.mapping = mapping;
        let sink = Arc::new(SentinelSink::new(config, tokens.clone()));
        builder = builder
            .tenant_sink(TENANT, format!("sentinel/{stream}"), sink)
            .subscribe(
                Subscription::new(format!("sentinel/{stream}"), *source, stream.as_str())
                    .every(every),
            )
            .subscribe(Subscription::new("datalake", *source, stream.as_str()).every(every * 2));
    }
    let running = builder.build()?.start().await?;
    match &tenant {
        Tenant::Simulated(sim) => println!(
            "simulated tenant: Graph at {}, time compressed {SPEED}×",
            sim.url()
        ),
        Tenant::Real { tenant_id } => println!("tenant {tenant_id} through Microsoft Graph"),
    }
    println!(
        "Sentinel (Logs Ingestion emulator) at {}; data lake under {OUT}/lake\n",
        logs.url()
    );

    for second in 1..=duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stats = running.stats().await;
        let (incidents, alerts, events) = groups(&stats);
        let graph = match &tenant {
            Tenant::Simulated(sim) => {
                let c = sim.counts();
                format!(
                    "graph calls {:>5}, 429s {}",
                    c.requests.values().sum::<u64>(),
                    c.throttled
                )
            }
            Tenant::Real { .. } => String::new(),
        };
        println!("[{second:>3}s] incidents {incidents:>6}  alerts {alerts:>6}  events {events:>7}  {graph}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = running.stats().await;
    running.shutdown().await?;
    // The lake writes a partition's file once its parts reach 64 MiB or 5 minutes: a short
    // run ends before either, so its staged parts become files now.
    lake.flush(Utc::now()).await?;

    println!("\nsummary");
    let (incidents, alerts, events) = groups(&stats);
    println!("  collected once: {incidents} incident versions, {alerts} alert versions, {events} hunting rows");
    for (_, stream) in &streams {
        let (dcr_stream, _) = sentinel_stream(stream);
        let rows = logs.rows(DCR, &dcr_stream).len();
        if rows > 0 {
            println!("  sentinel {dcr_stream:<32} {rows:>7} rows");
        }
    }
    let lake_stats = lake.stats();
    println!(
        "  data lake: {} Parquet files, {} rows",
        lake_stats.files_written, lake_stats.rows_written
    );
    if let Tenant::Simulated(sim) = &tenant {
        let (c, p) = (sim.counts(), sim.peak_use());
        println!(
            "  graph: {} calls, {} × 429; busiest minute {}/50 (security) {}/45 (hunting)",
            c.requests.values().sum::<u64>(),
            c.throttled,
            p.security_minute,
            p.hunting_minute
        );
    }

    // The connector page's chart: incidents, alerts and events (all tables added up).
    let end = Utc::now() + chrono::Duration::minutes(1);
    let mut series = Vec::new();
    for connector in [XDR, HUNTING] {
        series.extend(health.volumes().query(&VolumeQuery::collected(
            TENANT,
            connector,
            BinSize::Minute,
            started,
            end,
        ))?);
    }
    let svg = render_volume_svg(
        &xdr_volume_lines(XDR, &series),
        "Microsoft Defender XDR: records per minute",
    )?;
    std::fs::create_dir_all(OUT)?;
    std::fs::write(format!("{OUT}/volumes.svg"), svg)?;
    println!("  volume chart (incidents, alerts, events): {OUT}/volumes.svg");
    Ok(())
}

/// Records collected so far: incidents, alerts, hunting rows.
fn groups(stats: &PlatformStats) -> (u64, u64, u64) {
    let of =
        |source: &str, stream: &str| stats.job(source, stream).map_or(0, |j| j.records_collected);
    let events = HUNTING_TABLES.iter().map(|t| of(HUNTING, t.name)).sum();
    (of(XDR, INCIDENTS), of(XDR, ALERTS), events)
}

/// The DCR stream of `stream` and how its events become rows: incidents and alerts get
/// typed columns, hunting rows keep theirs.
fn sentinel_stream(stream: &str) -> (String, ColumnMapping) {
    let common = |m: ColumnMapping| {
        m.column("LastUpdateDateTime", "/lastUpdateDateTime")
            .column("Status", "/status")
            .column("Severity", "/severity")
            .column("Classification", "/classification")
            .column("Determination", "/determination")
            .with_id("VersionId")
    };
    match stream {
        INCIDENTS => (
            "Custom-DefenderIncidents".into(),
            common(ColumnMapping::empty())
                .column("IncidentId", "/id")
                .column("Title", "/displayName")
                .column("RedirectIncidentId", "/redirectIncidentId")
                .column("Alerts", "/alerts"),
        ),
        ALERTS => (
            "Custom-DefenderAlerts".into(),
            common(ColumnMapping::empty())
                .column("AlertId", "/id")
                .column("IncidentId", "/incidentId")
                .column("Title", "/title")
                .column("ServiceSource", "/serviceSource")
                .column("Evidence", "/evidence"),
        ),
        table => (format!("Custom-{table}"), ColumnMapping::copy_top_level()),
    }
}
