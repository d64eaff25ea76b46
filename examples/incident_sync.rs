//! Two-way incident sync between Microsoft Defender XDR and Microsoft Sentinel.
//!
//! ```text
//! cargo run --release --example incident_sync                     # about 30 s, simulated
//! cargo run --release --example incident_sync -- --duration 60
//! ```
//!
//! With no configuration it starts, on 127.0.0.1, a simulated Entra tenant with Microsoft
//! Graph security (200 Defender XDR incidents) and a simulated Sentinel workspace with
//! Microsoft incident creation rules switched on. Time runs 60 times faster for both
//! providers' throttling windows and for ucp's budgets; the sync polls every second. It
//! connects (turning the creation rules off for the products Defender XDR covers), makes a
//! Sentinel twin of every incident, then people work on both sides for the run's duration —
//! renames, status and owner changes, tags and labels, classifications, comments, new
//! alerts, merges, a few concurrent edits of one field — and the sync carries each change to
//! the other side as far as its API allows. It prints progress every five seconds and a
//! summary: incidents synced, changes each way, conflicts resolved, comments copied, edits
//! of one-way fields put back, latency, and whether both sides agree.
//!
//! **Real tenants.** Set `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (an
//! Entra app with the Graph application permission `SecurityIncident.ReadWrite.All` and the
//! Azure roles Microsoft Sentinel Responder and Contributor on the workspace) and
//! `SENTINEL_SUBSCRIPTION`, `SENTINEL_RESOURCE_GROUP`, `SENTINEL_WORKSPACE`: the example then
//! syncs those for the run's duration, polling every 30 s, with its ledger in
//! `./ucp-out/incident_sync/`. For a long-running sync use the `ucp-incident-sync` binary
//! (`cargo run --release -p ucp-sync --bin ucp-incident-sync`), configured the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp::sources::defender::{DefenderConfig, DefenderSource, GraphLimits};
use ucp::sync::sentinel::{ArmLimits, SentinelConfig, SentinelIncidents};
use ucp::sync::{twin_id, IncidentSync, Ledger, SyncConfig, SyncStats};
use ucp::{Clock, Context, RateBudget, Source, SourceContext};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, IncidentEdit, TENANT_ID};
use ucp_testkit::sentinel::{
    IncidentChange, Role, SentinelSimConfig, SentinelSimulator, RESOURCE_GROUP, SUBSCRIPTION,
    WORKSPACE,
};

const TENANT: &str = "contoso";
const CREDENTIAL: &str = "entra-app";
const APP: &str = "incident-sync-app";
const SECRET: &str = "incident-sync-secret";
const OUT: &str = "ucp-out/incident_sync";
const SPEED: f64 = 60.0;
const INCIDENTS: usize = 200;

/// Where the sync reads and writes.
struct Target {
    tenant_id: String,
    client_id: String,
    secret: String,
    token_url: String,
    graph_url: Option<String>,
    arm_url: Option<String>,
    workspace: (String, String, String),
    speed: f64,
    interval: Duration,
}

fn real() -> Option<Target> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let tenant_id = var("AZURE_TENANT_ID")?;
    Some(Target {
        token_url: format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"),
        tenant_id,
        client_id: var("AZURE_CLIENT_ID")?,
        secret: var("AZURE_CLIENT_SECRET")?,
        graph_url: None,
        arm_url: None,
        workspace: (
            var("SENTINEL_SUBSCRIPTION")?,
            var("SENTINEL_RESOURCE_GROUP")?,
            var("SENTINEL_WORKSPACE")?,
        ),
        speed: 1.0,
        interval: Duration::from_secs(30),
    })
}

async fn build(target: &Target, ledger: Ledger) -> Result<IncidentSync, String> {
    let clock = Clock::new();
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new(TENANT, CREDENTIAL),
            Credential::ClientSecret {
                token_url: target.token_url.clone(),
                client_id: target.client_id.clone(),
                secret: SecretString::from(target.secret.clone()),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let context = Context::standalone(TENANT, store, clock).map_err(|e| e.to_string())?;
    let mut defender = DefenderConfig::new(&target.tenant_id, CREDENTIAL)
        .limits(GraphLimits::SECURITY.compressed(target.speed))
        .overlap(Duration::from_secs(300).div_f64(target.speed))
        .start_ago(Duration::from_secs(7 * 24 * 3600));
    if let Some(url) = &target.graph_url {
        defender = defender.graph_url(url);
    }
    let defender = Arc::new(DefenderSource::new(defender).map_err(|e| e.to_string())?);
    let budget = Arc::new(RateBudget::new(defender.describe().budget, clock));
    let cx = SourceContext::new("defender-contoso", budget, context);
    let (subscription, group, workspace) = &target.workspace;
    let mut sentinel = SentinelConfig::new(subscription, group, workspace, CREDENTIAL)
        .limits(ArmLimits::DEFAULT.compressed(target.speed));
    if let Some(url) = &target.arm_url {
        sentinel = sentinel.arm_url(url);
    }
    let sentinel = SentinelIncidents::new(sentinel, clock).map_err(|e| e.to_string())?;
    let mut config = SyncConfig::new("defender-sentinel-sync").interval(target.interval);
    config.sentinel_overlap = config.sentinel_overlap.div_f64(target.speed);
    IncidentSync::new(config, defender, cx, sentinel, ledger).map_err(|e| e.to_string())
}

/// People at work: one change every 100 ms, on one side or the other.
fn work(step: usize, graph: &GraphSimulator, sentinel: &SentinelSimulator, ids: &[String]) {
    let n = (step * 37) % ids.len();
    let id = &ids[n];
    let twin = twin_id(TENANT_ID, id);
    let users = ["ann@contoso.com", "bob@contoso.com", "chen@contoso.com"];
    let user = users[step % users.len()];
    let tags = [vec!["vip"], vec!["finance", "tier-2"], vec![]];
    match step % 12 {
        0 => {
            graph.edit_incident(
                id,
                user,
                IncidentEdit {
                    title: Some(format!("Suspicious sign-ins, case {step}")),
                    ..IncidentEdit::default()
                },
            );
        }
        1 => {
            graph.advance_status(id);
        }
        2 => {
            sentinel.edit_incident(
                &twin,
                user,
                IncidentChange {
                    owner: Some(Some(user.into())),
                    ..IncidentChange::default()
                },
            );
        }
        3 => {
            sentinel.edit_incident(
                &twin,
                user,
                IncidentChange {
                    labels: Some(tags[step % 3].iter().map(|t| t.to_string()).collect()),
                    ..IncidentChange::default()
                },
            );
        }
        4 => {
            graph.comment_on_incident(id, user, &format!("Checked the device timeline ({step})."));
        }
        5 => {
            sentinel.comment_on_incident(&twin, user, &format!("Escalated to tier 2 ({step})."));
        }
        6 => {
            sentinel.edit_incident(
                &twin,
                user,
                IncidentChange {
                    status: Some("Closed".into()),
                    classification: Some((
                        "TruePositive".into(),
                        Some("SuspiciousActivity".into()),
                    )),
                    ..IncidentChange::default()
                },
            );
        }
        7 => {
            graph.add_alert(id);
        }
        8 => {
            // One-way by necessity: put back, reported once per incident.
            sentinel.edit_incident(
                &twin,
                user,
                IncidentChange {
                    title: Some("Renamed in Sentinel".into()),
                    ..IncidentChange::default()
                },
            );
        }
        9 => {
            graph.merge(id, &ids[(n + 1) % ids.len()]);
        }
        10 => {
            // The same field on both sides moments apart: the later one wins.
            graph.edit_incident(
                id,
                user,
                IncidentEdit {
                    assigned_to: Some(Some("ann@contoso.com".into())),
                    ..IncidentEdit::default()
                },
            );
            sentinel.edit_incident(
                &twin,
                user,
                IncidentChange {
                    owner: Some(Some("bob@contoso.com".into())),
                    ..IncidentChange::default()
                },
            );
        }
        _ => {
            graph.open_incident(2);
        }
    }
}

fn summary(stats: &SyncStats, elapsed: Duration) {
    let all = stats.latencies();
    println!("\n=== incident sync: summary after {elapsed:.0?} ===");
    println!(
        "incidents synced (twins made) : {}",
        stats.incidents_created
    );
    println!(
        "changes → Sentinel            : {}",
        stats.changes_to_sentinel
    );
    println!("changes → Defender XDR        : {}", stats.changes_to_xdr);
    println!("conflicts resolved            : {}", stats.conflicts);
    println!("one-way edits put back        : {}", stats.reverted);
    println!(
        "comments copied               : {} → Sentinel, {} → Defender XDR ({} skipped over Sentinel's limits)",
        stats.comments_to_sentinel, stats.comments_to_xdr, stats.comments_skipped
    );
    println!(
        "writes                        : {} to Sentinel ({} met a newer version and were merged again), {} to Defender XDR",
        stats.sentinel_writes, stats.etag_retries, stats.xdr_writes
    );
    println!(
        "latency, change → other side  : p50 {:.1?}, p99 {:.1?} over {} changes",
        SyncStats::quantile(&all, 0.5),
        SyncStats::quantile(&all, 0.99),
        all.len()
    );
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let duration = Duration::from_secs(
        std::env::args()
            .skip_while(|a| a != "--duration")
            .nth(1)
            .and_then(|d| d.parse().ok())
            .unwrap_or(25),
    );
    std::fs::create_dir_all(OUT).expect("the output directory");
    let ledger_path = format!("{OUT}/ledger.sqlite");
    let _ = std::fs::remove_file(&ledger_path);
    let ledger = Ledger::open(&ledger_path).expect("the ledger");

    if let Some(target) = real() {
        println!(
            "syncing tenant {} with workspace {} for {duration:?}",
            target.tenant_id, target.workspace.2
        );
        let sync = build(&target, ledger)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        sync.run(tokio::time::sleep(duration)).await;
        summary(&sync.stats().await, started.elapsed());
        for (_, status, message) in sync.last_messages().await {
            println!("health {status}: {message}");
        }
        return;
    }

    // The simulated tenant and workspace, one Entra app for both.
    let graph = GraphSimulator::start(
        GraphSimConfig::default()
            .incidents(INCIDENTS)
            .alerts(INCIDENTS * 3)
            .speed(SPEED),
    )
    .await
    .expect("the Graph simulator");
    graph.register_app(APP, SECRET, &["SecurityIncident.ReadWrite.All"]);
    let sentinel = SentinelSimulator::start_with(
        SentinelSimConfig::default().speed(SPEED),
        graph.tokens().verifier(),
        |r| r,
    )
    .await
    .expect("the Sentinel simulator");
    sentinel.grant(APP, Role::Contributor);
    for (id, product) in [
        ("mde", "Microsoft Defender Advanced Threat Protection"),
        ("mdi", "Azure Advanced Threat Protection"),
        ("mdca", "Microsoft Cloud App Security"),
    ] {
        sentinel.add_creation_rule(id, product, true);
    }
    let target = Target {
        tenant_id: TENANT_ID.into(),
        client_id: APP.into(),
        secret: SECRET.into(),
        token_url: graph.token_url(),
        graph_url: Some(graph.url().into()),
        arm_url: Some(sentinel.url().into()),
        workspace: (SUBSCRIPTION.into(), RESOURCE_GROUP.into(), WORKSPACE.into()),
        speed: SPEED,
        interval: Duration::from_secs(1),
    };
    println!(
        "Graph security at {}, Sentinel at {}: {INCIDENTS} incidents, time 60× faster, polling every second",
        graph.url(),
        sentinel.url()
    );
    let sync = Arc::new(
        build(&target, ledger)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let connected = sync.connect().await.expect("connects");
    println!(
        "turned off Microsoft incident creation rules: {}",
        connected.disabled.join(", ")
    );

    let started = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let sync = sync.clone();
        tokio::spawn(async move {
            sync.run(async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let ids: Vec<String> = graph
        .incident_versions()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    // Let the twins be made, then people work.
    while sentinel.incidents().len() < INCIDENTS && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} twins made in {:.1?}",
        sentinel.incidents().len(),
        started.elapsed()
    );
    let mut step = 0;
    let mut report = Instant::now();
    while started.elapsed() < duration {
        work(step, &graph, &sentinel, &ids);
        step += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if report.elapsed() >= Duration::from_secs(5) {
            report = Instant::now();
            let s = sync.stats().await;
            println!(
                "[{:>4.0?}] {step} edits made; {} changes → Sentinel, {} → XDR, {} conflicts, {} comments copied",
                started.elapsed(),
                s.changes_to_sentinel,
                s.changes_to_xdr,
                s.conflicts,
                s.comments_to_sentinel + s.comments_to_xdr
            );
        }
    }
    // Let the last changes cross, then stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(());
    let _ = runner.await;
    summary(&sync.stats().await, started.elapsed());
    let twins = sentinel
        .incidents()
        .into_iter()
        .filter(|i| i["properties"]["providerName"] == "Microsoft Defender XDR")
        .count();
    println!(
        "Defender XDR incidents        : {} ; their Sentinel twins: {twins} ; other Sentinel incidents: {}",
        graph.incident_versions().len(),
        sentinel.incidents().len() - twins
    );
    println!("health: {}", sync.status().await);
    for (_, status, message) in sync.last_messages().await.into_iter().rev().take(3) {
        println!("  {status}: {message}");
    }
    println!(
        "audit trail: {} entries in {ledger_path}",
        sync.ledger()
            .audit_trail(None)
            .map(|a| a.len())
            .unwrap_or(0)
    );
}
