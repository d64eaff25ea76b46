//! The Defender XDR connector through the whole platform, against the simulated Graph
//! security API and the Logs Ingestion emulator over loopback (real time, throttling windows
//! compressed): a tenant of 2,000 incidents, 10,000 alerts and 21 hunting tables lands in
//! Sentinel exactly, across a restart and through changes; a product subscribed to 3 tables
//! gets only those. (The budget's use of Graph's limits: `defender_budget.rs`.)

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use tokio::time::Instant;
use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp::health::MemoryHealth;
use ucp::sinks::sentinel::{ColumnMapping, SentinelConfig, SentinelSink};
use ucp::sources::defender::{
    DefenderConfig, DefenderHuntingSource, DefenderSource, GraphLimits, HuntingConfig, ALERTS,
    HUNTING_TABLES, INCIDENTS,
};
use ucp::store::MemoryCheckpoints;
use ucp::{Platform, RunningPlatform, Subscription};
use ucp_testkit::azure::LogsIngestion;
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};
use ucp_testkit::RecordingSink;

const TENANT: &str = "contoso";
const GRAPH_APP: &str = "graph-app";
const SENTINEL_APP: &str = "sentinel-app";
const DCR: &str = "dcr-defender0000000000000000000001";
const XDR: &str = "defender-contoso";
const HUNTING: &str = "defender-contoso-hunting";
const MDI_TABLES: [&str; 3] = [
    "IdentityDirectoryEvents",
    "IdentityLogonEvents",
    "IdentityQueryEvents",
];

/// Throttling windows run this many times faster than real time, for the tenant and the
/// sources alike: Graph's minute lasts a second.
const SPEED: f64 = 60.0;

struct Lab {
    sim: GraphSimulator,
    logs: LogsIngestion,
    credentials: Arc<MemoryCredentials>,
    tokens: Arc<TokenProvider>,
    checkpoints: Arc<MemoryCheckpoints>,
}

fn secret_credential(token_url: String, client: &str, secret: &str) -> Credential {
    Credential::ClientSecret {
        token_url,
        client_id: client.into(),
        secret: SecretString::from(secret.to_string()),
    }
}

async fn lab(config: GraphSimConfig) -> Lab {
    let sim = GraphSimulator::start(config).await.unwrap();
    sim.register_app(
        GRAPH_APP,
        "graph-secret",
        &[
            "SecurityIncident.Read.All",
            "SecurityAlert.Read.All",
            "ThreatHunting.Read.All",
        ],
    );
    sim.tokens()
        .register_secret_client(SENTINEL_APP, "sentinel-secret");
    let logs = LogsIngestion::start(sim.tokens().verifier()).await.unwrap();
    for stream in sentinel_streams() {
        logs.add_stream(DCR, &stream);
    }
    logs.grant(DCR, SENTINEL_APP);
    let credentials = Arc::new(MemoryCredentials::new());
    for (name, client, secret) in [
        (GRAPH_APP, GRAPH_APP, "graph-secret"),
        (SENTINEL_APP, SENTINEL_APP, "sentinel-secret"),
    ] {
        credentials
            .put(
                CredentialRef::new(TENANT, name),
                secret_credential(sim.token_url(), client, secret),
            )
            .await
            .unwrap();
    }
    Lab {
        sim,
        logs,
        credentials,
        tokens: Arc::new(TokenProvider::new(Arc::new(
            HttpTokenFetcher::new().unwrap(),
        ))),
        checkpoints: Arc::new(MemoryCheckpoints::new()),
    }
}

fn sentinel_streams() -> Vec<String> {
    let mut streams = vec![
        "Custom-DefenderIncidents".to_string(),
        "Custom-DefenderAlerts".to_string(),
    ];
    streams.extend(HUNTING_TABLES.iter().map(|t| format!("Custom-{}", t.name)));
    streams
}

/// Incidents and alerts get their own DCR streams with typed columns; hunting rows keep
/// their columns as they are.
fn mapping(stream: &str) -> ColumnMapping {
    let common = |m: ColumnMapping| {
        m.column("LastUpdateDateTime", "/lastUpdateDateTime")
            .column("CreatedDateTime", "/createdDateTime")
            .column("Status", "/status")
            .column("Severity", "/severity")
            .column("Classification", "/classification")
            .column("Determination", "/determination")
            .column("AssignedTo", "/assignedTo")
            .with_id("VersionId")
    };
    match stream {
        INCIDENTS => common(ColumnMapping::empty())
            .column("IncidentId", "/id")
            .column("Title", "/displayName")
            .column("RedirectIncidentId", "/redirectIncidentId")
            .column("IncidentUrl", "/incidentWebUrl")
            .column("Alerts", "/alerts"),
        ALERTS => common(ColumnMapping::empty())
            .column("AlertId", "/id")
            .column("IncidentId", "/incidentId")
            .column("Title", "/title")
            .column("ServiceSource", "/serviceSource")
            .column("Evidence", "/evidence"),
        _ => ColumnMapping::copy_top_level().with_id("RowId"),
    }
}

fn sentinel_sink(lab: &Lab, stream: &str) -> Arc<SentinelSink> {
    let dcr_stream = match stream {
        INCIDENTS => "Custom-DefenderIncidents".to_string(),
        ALERTS => "Custom-DefenderAlerts".to_string(),
        table => format!("Custom-{table}"),
    };
    let mut config = SentinelConfig::new(lab.logs.url(), DCR, dcr_stream, SENTINEL_APP);
    config.product = format!("sentinel/{stream}");
    config.gzip = true;
    config.mapping = mapping(stream);
    Arc::new(SentinelSink::new(config, lab.tokens.clone()))
}

fn xdr_config(lab: &Lab) -> DefenderConfig {
    DefenderConfig::new(TENANT_ID, GRAPH_APP)
        .graph_url(lab.sim.url())
        .pages(50, 200)
        .limits(GraphLimits::SECURITY.compressed(SPEED))
        .request_timeout(Duration::from_secs(30))
}

fn hunting_config(lab: &Lab) -> HuntingConfig {
    HuntingConfig::new(TENANT_ID, GRAPH_APP)
        .graph_url(lab.sim.url())
        .start_at(lab.sim.hunting_origin())
        .windows(Duration::from_secs(1800), Duration::ZERO)
        .limits(GraphLimits::HUNTING.compressed(SPEED))
        .request_timeout(Duration::from_secs(30))
}

/// The platform: incidents and alerts to Sentinel, every table to its own Sentinel stream,
/// and an identity product subscribed to the three Defender for Identity tables.
async fn start(lab: &Lab, mdi: &RecordingSink) -> RunningPlatform {
    let every = Duration::from_millis(300);
    let mut builder = Platform::builder()
        .credentials(lab.credentials.clone())
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(lab.checkpoints.clone())
        .tokens(lab.tokens.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(
            TENANT,
            XDR,
            Arc::new(DefenderSource::new(xdr_config(lab)).unwrap()),
        )
        .tenant_source(
            TENANT,
            HUNTING,
            Arc::new(DefenderHuntingSource::new(hunting_config(lab)).unwrap()),
        )
        .tenant_sink(TENANT, "mdi", Arc::new(mdi.clone()));
    for stream in [INCIDENTS, ALERTS] {
        builder = builder
            .tenant_sink(
                TENANT,
                format!("sentinel/{stream}"),
                sentinel_sink(lab, stream),
            )
            .subscribe(Subscription::new(format!("sentinel/{stream}"), XDR, stream).every(every));
    }
    for table in HUNTING_TABLES.iter().map(|t| t.name) {
        builder = builder
            .tenant_sink(
                TENANT,
                format!("sentinel/{table}"),
                sentinel_sink(lab, table),
            )
            .subscribe(Subscription::new(format!("sentinel/{table}"), HUNTING, table).every(every));
    }
    for table in MDI_TABLES {
        builder = builder.subscribe(Subscription::new("mdi", HUNTING, table).every(every));
    }
    builder.build().unwrap().start().await.unwrap()
}

/// Wait (real time) until `done`, failing after `limit`.
async fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn versions_of(lab: &Lab, stream: &str) -> Vec<String> {
    lab.logs
        .rows(DCR, stream)
        .iter()
        .map(|row| row["VersionId"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn expected_incidents(sim: &GraphSimulator) -> BTreeSet<String> {
    sim.incident_versions()
        .into_iter()
        .map(|(id, t)| format!("{id}@{t}"))
        .collect()
}

fn expected_alerts(sim: &GraphSimulator) -> BTreeSet<String> {
    sim.alert_versions()
        .into_iter()
        .map(|(id, t, _)| format!("{id}@{t}"))
        .collect()
}

fn hunting_rows_landed(lab: &Lab, table: &str) -> Vec<Value> {
    lab.logs.rows(DCR, &format!("Custom-{table}"))
}

/// Every table's Sentinel stream holds each row of the table once, from the origin up to
/// its latest row, none missing.
fn assert_hunting_exact(lab: &Lab) {
    let origin = lab.sim.hunting_origin();
    for table in HUNTING_TABLES.iter().map(|t| t.name) {
        let rows = hunting_rows_landed(lab, table);
        let ids: BTreeSet<&str> = rows.iter().filter_map(|r| r["RowId"].as_str()).collect();
        assert_eq!(ids.len(), rows.len(), "{table}: a row landed twice");
        let latest = rows
            .iter()
            .filter_map(|r| r["Timestamp"].as_str())
            .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .max()
            .unwrap()
            .to_utc();
        let expected =
            lab.sim
                .hunting_rows(table, origin, latest + chrono::Duration::milliseconds(1));
        assert_eq!(rows.len() as u64, expected, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_lands_in_sentinel_exactly_across_a_restart_and_through_changes() {
    let lab = lab(GraphSimConfig::default()
        .incidents(2_000)
        .alerts(10_000)
        .hunting(60.0, Duration::from_secs(7_200))
        .speed(SPEED))
    .await;
    let mdi = RecordingSink::new("mdi");

    // First run: stopped part way through the incident backlog.
    let running = start(&lab, &mdi).await;
    eventually(
        "part of the incident backlog",
        Duration::from_secs(60),
        || versions_of(&lab, "Custom-DefenderIncidents").len() >= 600,
    )
    .await;
    running.shutdown().await.unwrap();
    let before_restart = versions_of(&lab, "Custom-DefenderIncidents").len();
    assert!(
        before_restart < 2_000,
        "the restart must come mid-backlog ({before_restart})"
    );

    // Second run: the same checkpoints, a new platform.
    let running = start(&lab, &mdi).await;
    let incidents = expected_incidents(&lab.sim);
    let alerts = expected_alerts(&lab.sim);
    assert_eq!((incidents.len(), alerts.len()), (2_000, 10_000));
    eventually(
        "the whole backlog in Sentinel",
        Duration::from_secs(120),
        || {
            versions_of(&lab, "Custom-DefenderIncidents").len() >= 2_000
                && versions_of(&lab, "Custom-DefenderAlerts").len() >= 10_000
        },
    )
    .await;

    // Changes: statuses, new alerts, merges, new incidents, all at once.
    lab.sim.churn(40);
    let mut incidents_after = incidents.clone();
    incidents_after.extend(expected_incidents(&lab.sim));
    let mut alerts_after = alerts.clone();
    alerts_after.extend(expected_alerts(&lab.sim));
    assert!(incidents_after.len() > 2_000 + 20);
    eventually(
        "the changed versions in Sentinel",
        Duration::from_secs(60),
        || {
            versions_of(&lab, "Custom-DefenderIncidents").len() >= incidents_after.len()
                && versions_of(&lab, "Custom-DefenderAlerts").len() >= alerts_after.len()
        },
    )
    .await;
    // Let a few more rounds run: they must add nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = running.stats().await;
    running.shutdown().await.unwrap();

    for (stream, expected) in [
        ("Custom-DefenderIncidents", &incidents_after),
        ("Custom-DefenderAlerts", &alerts_after),
    ] {
        let landed = versions_of(&lab, stream);
        let unique: BTreeSet<String> = landed.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            landed.len(),
            "{stream}: a version landed twice"
        );
        assert_eq!(&unique, expected, "{stream}: exactly every version");
    }
    assert_hunting_exact(&lab);

    // The identity product got its three tables, all of their rows, and nothing else.
    let got: HashMap<String, usize> = mdi.ids().iter().fold(HashMap::new(), |mut by, id| {
        *by.entry(id.split(':').next().unwrap().to_string())
            .or_default() += 1;
        by
    });
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        MDI_TABLES.iter().map(|t| t.to_string()).collect()
    );
    for table in MDI_TABLES {
        assert_eq!(
            got[table],
            hunting_rows_landed(&lab, table).len(),
            "{table}"
        );
    }
    // Collected once: the MDI tables' jobs served two products each.
    assert_eq!(lab.sim.counts().throttled, 0, "{stats:?}");
}

/// The `.parquet` files under `dir`, outside the staging folder.
fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("_staging") {
                    folders.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found
}

/// The example's data lake (issue 16: "a data lake subscription gets everything as
/// Parquet"): a run shorter than the lake's roll age writes its files when flushed at the
/// end, every incident and alert version in them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_lake_subscription_gets_every_incident_and_alert_version_as_parquet_files() {
    use ucp::sinks::datalake::{DataLakeConfig, DataLakeSink};
    let lab = lab(GraphSimConfig::default()
        .seed(161)
        .incidents(60)
        .alerts(300)
        .speed(SPEED))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Arc::new(
        DataLakeSink::local(dir.path().join("lake"), DataLakeConfig::new("defender")).unwrap(),
    );
    let every = Duration::from_millis(300);
    let running = Platform::builder()
        .credentials(lab.credentials.clone())
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(lab.checkpoints.clone())
        .tokens(lab.tokens.clone())
        .max_jitter(Duration::ZERO)
        .tenant_source(
            TENANT,
            XDR,
            Arc::new(DefenderSource::new(xdr_config(&lab)).unwrap()),
        )
        .tenant_sink(TENANT, "datalake", lake.clone())
        .subscribe(Subscription::new("datalake", XDR, INCIDENTS).every(every))
        .subscribe(Subscription::new("datalake", XDR, ALERTS).every(every))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let expected = (expected_incidents(&lab.sim).len() + expected_alerts(&lab.sim).len()) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = running.stats().await;
        let delivered: u64 = stats
            .subscriptions
            .iter()
            .map(|s| s.records_delivered)
            .sum();
        if delivered == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {delivered} of {expected} delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.shutdown().await.unwrap();
    assert_eq!(
        lake.stats().files_written,
        0,
        "nothing rolled before the flush"
    );
    let written = lake.flush(chrono::Utc::now()).await.unwrap();
    let files = parquet_files(&dir.path().join("lake"));
    assert!(written > 0);
    assert_eq!(files.len(), written);
    assert_eq!(lake.stats().files_written, written as u64);
    assert_eq!(lake.stats().rows_written, expected);
    assert_eq!(lake.staged_parts().await, 0);
}
