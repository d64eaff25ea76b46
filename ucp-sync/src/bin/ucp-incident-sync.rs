//! `ucp-incident-sync`: one tenant's Defender XDR ↔ Sentinel incident sync as a process,
//! configured by environment variables, its state in one SQLite file. Stop it any way you
//! like (Ctrl-C, SIGTERM, kill -9): it resumes from its ledger.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `AZURE_TENANT_ID` | the Entra directory (tenant) id | required |
//! | `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` | the Entra app (Graph `SecurityIncident.ReadWrite.All`, Sentinel Responder, and Contributor to turn creation rules off) | required |
//! | `AZURE_TOKEN_URL` | the token endpoint | `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` |
//! | `SENTINEL_SUBSCRIPTION`, `SENTINEL_RESOURCE_GROUP`, `SENTINEL_WORKSPACE` | the workspace | required |
//! | `GRAPH_URL`, `ARM_URL` | the APIs' origins | Microsoft's public cloud |
//! | `UCP_SYNC_STATE` | the ledger file | `ucp-incident-sync.sqlite` |
//! | `UCP_SYNC_INTERVAL_MS` | polling interval | 30000 |
//! | `UCP_SYNC_KEEP_CREATION_RULES` | `1`: the opt-out (creation rules stay on; duplicates expected) | off |
//! | `UCP_SYNC_START` | RFC 3339 time XDR incidents are read from on the first run | 30 days ago |
//! | `UCP_SYNC_SPEED` | compress the providers' throttling windows and the polls' overlaps (simulators only) | 1 |
//! | `UCP_SYNC_EXIT_WHEN_IDLE` | exit after this many cycles in a row with nothing to do | never |

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{Clock, Context, RateBudget, Source, SourceContext};
use ucp_sources::defender::{DefenderConfig, DefenderSource, GraphLimits};
use ucp_sync::sentinel::{ArmLimits, SentinelConfig, SentinelIncidents};
use ucp_sync::{IncidentSync, Ledger, SyncConfig};

const TENANT: &str = "default";
const CREDENTIAL: &str = "entra-app";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &str) -> Result<String, String> {
    var(name).ok_or_else(|| format!("set {name} (see the table in this program's documentation)"))
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a number")),
    }
}

async fn sync() -> Result<IncidentSync, String> {
    let tenant_id = required("AZURE_TENANT_ID")?;
    let client_id = required("AZURE_CLIENT_ID")?;
    let secret = SecretString::from(required("AZURE_CLIENT_SECRET")?);
    let token_url = var("AZURE_TOKEN_URL").unwrap_or_else(|| {
        format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
    });
    let speed: f64 = number("UCP_SYNC_SPEED", 1.0)?;
    let interval = Duration::from_millis(number("UCP_SYNC_INTERVAL_MS", 30_000u64)?);
    let clock = Clock::new();
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new(TENANT, CREDENTIAL),
            Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let context = Context::standalone(TENANT, store, clock).map_err(|e| e.to_string())?;
    let compressed = |d: Duration| {
        if speed.is_finite() && speed >= 1.0 {
            d.div_f64(speed)
        } else {
            d
        }
    };
    let mut defender = DefenderConfig::new(&tenant_id, CREDENTIAL)
        .limits(GraphLimits::SECURITY.compressed(speed))
        .overlap(compressed(Duration::from_secs(300)))
        .request_timeout(Duration::from_secs(60));
    if let Some(url) = var("GRAPH_URL") {
        defender = defender.graph_url(url);
    }
    if let Some(start) = var("UCP_SYNC_START") {
        let at = chrono::DateTime::parse_from_rfc3339(&start)
            .map_err(|e| format!("UCP_SYNC_START={start:?}: {e}"))?;
        defender = defender.start_at(at.to_utc());
    }
    let defender = Arc::new(DefenderSource::new(defender).map_err(|e| e.to_string())?);
    let budget = Arc::new(RateBudget::new(defender.describe().budget, clock));
    let cx = SourceContext::new("defender", budget, context);
    let mut sentinel = SentinelConfig::new(
        required("SENTINEL_SUBSCRIPTION")?,
        required("SENTINEL_RESOURCE_GROUP")?,
        required("SENTINEL_WORKSPACE")?,
        CREDENTIAL,
    )
    .limits(ArmLimits::DEFAULT.compressed(speed));
    if let Some(url) = var("ARM_URL") {
        sentinel = sentinel.arm_url(url);
    }
    let sentinel = SentinelIncidents::new(sentinel, clock).map_err(|e| e.to_string())?;
    let ledger =
        Ledger::open(var("UCP_SYNC_STATE").unwrap_or_else(|| "ucp-incident-sync.sqlite".into()))
            .map_err(|e| e.to_string())?;
    let mut config = SyncConfig::new("defender-sentinel-sync").interval(interval);
    config.sentinel_overlap = compressed(config.sentinel_overlap);
    if var("UCP_SYNC_KEEP_CREATION_RULES").as_deref() == Some("1") {
        config = config.keep_creation_rules();
    }
    IncidentSync::new(config, defender, cx, sentinel, ledger).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let sync = match sync().await {
        Ok(sync) => sync,
        Err(why) => {
            eprintln!("ucp-incident-sync: {why}");
            return std::process::ExitCode::from(2);
        }
    };
    let idle_exit: Option<u32> = match var("UCP_SYNC_EXIT_WHEN_IDLE").map(|v| v.parse()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            eprintln!("ucp-incident-sync: UCP_SYNC_EXIT_WHEN_IDLE must be a number");
            return std::process::ExitCode::from(2);
        }
    };
    match idle_exit {
        None => {
            sync.run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        }
        Some(quiet_needed) => {
            // Run until `quiet_needed` cycles in a row found nothing to do.
            let _ = sync.connect().await;
            let mut quiet = 0;
            let interval =
                Duration::from_millis(number("UCP_SYNC_INTERVAL_MS", 30_000u64).unwrap_or(30_000));
            while quiet < quiet_needed {
                match sync.cycle().await {
                    Ok(c)
                        if c.writes == 0
                            && c.failed.is_empty()
                            && c.xdr_changed == 0
                            && c.sentinel_changed == 0 =>
                    {
                        quiet += 1
                    }
                    _ => quiet = 0,
                }
                tokio::time::sleep(interval).await;
            }
        }
    }
    let stats = sync.stats().await;
    println!(
        "ucp-incident-sync: {} twins made; {} changes → Sentinel, {} → XDR; {} conflicts resolved; {} comments → Sentinel, {} → XDR",
        stats.incidents_created,
        stats.changes_to_sentinel,
        stats.changes_to_xdr,
        stats.conflicts,
        stats.comments_to_sentinel,
        stats.comments_to_xdr
    );
    std::process::ExitCode::SUCCESS
}
