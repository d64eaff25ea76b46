//! `ucpd`: run the server, mint an API key, or run the demo. See the README's "Server".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use ucpd::{demo, Config, Server};

/// A ucp server: every connector, managed through one REST API.
#[derive(Parser)]
#[command(name = "ucpd", version)]
struct Args {
    /// The configuration file (TOML); `UCPD_*` variables override it.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run against a simulated Okta org and emulated products, with a tenant ready to
    /// connect (state in a temporary directory, gone at exit).
    #[arg(long, conflicts_with = "config")]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Mint an API key for a principal: printed once, stored only as a keyed hash.
    ApiKey {
        /// Who the key authenticates (an admin named in the configuration, or a principal
        /// an admin then gives roles to).
        principal: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let done = match (&args.command, args.demo) {
        (Some(_), true) => Err("--demo runs a server; mint keys against a configuration".into()),
        (Some(Command::ApiKey { principal }), false) => api_key(&args, principal).await,
        (None, true) => run_demo().await,
        (None, false) => run(&args).await,
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ucpd: {e}");
            ExitCode::FAILURE
        }
    }
}

type Failure = Box<dyn std::error::Error>;

async fn api_key(args: &Args, principal: &str) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref())?;
    let (id, key) = ucpd::issue_api_key(&config, principal).await?;
    eprintln!(
        "API key {id} for '{principal}' (shown once; send it as `Authorization: Bearer <key>`):"
    );
    println!("{}", key.expose_secret());
    Ok(())
}

async fn run(args: &Args) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref())?;
    let server = Server::start(&config, ucpd::definitions()).await?;
    eprintln!(
        "ucpd: management API on {url} (OpenAPI: {url}/openapi.json), web pages on {url}/ui/",
        url = server.url()
    );
    stopped().await;
    server.shutdown().await?;
    Ok(())
}

async fn run_demo() -> Result<(), Failure> {
    let lab = demo::Lab::start(demo::demo_org()).await?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::load(None)?;
    config.data_dir = dir.path().to_path_buf();
    let server = Server::start(&config, ucpd::definitions()).await?;
    let key = demo::provision(server.manager(), &lab).await?;
    println!(
        "ucpd demo: management API on {url}, the connectors gallery on {url}/ui/ (sign in with the key below, tenant '{tenant}')\n{world}\n  tenant '{tenant}': workspace connected, credentials stored\n\nexport UCP_KEY={key}   # an Owner of '{tenant}'\n\n{walk}\n\nCtrl-C stops it (the demo's state is temporary).",
        url = server.url(),
        world = lab.describe(),
        tenant = demo::TENANT,
        key = key.expose_secret(),
        walk = demo::walkthrough(server.url(), &lab),
    );
    stopped().await;
    server.shutdown().await?;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stopped() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("ucpd: stopping (delivering what is queued, saving cursors)");
}
