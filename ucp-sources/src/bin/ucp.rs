//! `ucp connector validate <file>` — check a declarative connector definition.
//! `ucp connector preview <file> --credential <name> [--param name=value]… [--tenant t]
//! [--start-ago 60m] [--limit 10]` — show the first page of records it would collect.
//!
//! Credentials come from the environment (`UCP_CRED__<TENANT>__<NAME>__<FIELD>`, see
//! `ucp_core::credentials::EnvCredentials`), never from the command line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ucp_core::credentials::EnvCredentials;
use ucp_sources::rest::command::{preview, validate, PreviewOptions};

const USAGE: &str = "usage:
  ucp connector validate <definition.json>
  ucp connector preview <definition.json> [--credential <name>] [--param <name>=<value>]... [--tenant <tenant>] [--start-ago <minutes>m] [--limit <n>]

preview reads the credential from the environment: UCP_CRED__<TENANT>__<NAME>__KIND and its fields
(e.g. UCP_CRED__DEFAULT__OKTA__KIND=api_token, UCP_CRED__DEFAULT__OKTA__TOKEN=…).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(text) => {
            eprintln!("{text}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    match args {
        [connector, command, file, rest @ ..] if connector == "connector" => {
            let path = PathBuf::from(file);
            match command.as_str() {
                "validate" if rest.is_empty() => validate(&path),
                "preview" => {
                    let options = options(rest)?;
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("cannot start the runtime: {e}"))?;
                    runtime.block_on(preview(&path, &options, Arc::new(EnvCredentials::new())))
                }
                _ => Err(USAGE.into()),
            }
        }
        _ => Err(USAGE.into()),
    }
}

fn options(args: &[String]) -> Result<PreviewOptions, String> {
    let mut options = PreviewOptions::default();
    let mut parameters = BTreeMap::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--credential" => options.credential = Some(value.clone()),
            "--tenant" => options.tenant = value.clone(),
            "--param" => {
                let (name, text) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--param wants name=value, not '{value}'"))?;
                parameters.insert(name.to_string(), text.to_string());
            }
            "--start-ago" => {
                let minutes: u64 = value
                    .trim_end_matches('m')
                    .parse()
                    .map_err(|_| format!("--start-ago wants minutes such as 60m, not '{value}'"))?;
                options.start_ago = Duration::from_secs(minutes.saturating_mul(60));
            }
            "--limit" => {
                options.limit = value
                    .parse()
                    .map_err(|_| format!("--limit wants a number, not '{value}'"))?
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    options.parameters = parameters;
    Ok(options)
}
