//! Runs the partner integration against a real Okta org and Sentinel workspace until Ctrl-C.
//!
//! Settings come from the environment (secrets never from the command line):
//! `OKTA_URL`, `OKTA_API_TOKEN`, `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`,
//! `SENTINEL_DCE_URL`, `SENTINEL_DCR_ID`, `SENTINEL_STREAM`.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use ucp::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_partner_example::{
    okta_to_sentinel, Integration, ENTRA_CREDENTIAL, OKTA_CREDENTIAL, TENANT,
};

fn setting(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name} (see src/main.rs for the full list)"))
}

async fn run() -> Result<(), String> {
    let integration = Integration {
        okta_url: setting("OKTA_URL")?,
        start_ago: Duration::from_secs(3600),
        every: Duration::from_secs(60),
        dce_url: setting("SENTINEL_DCE_URL")?,
        dcr_id: setting("SENTINEL_DCR_ID")?,
        stream: setting("SENTINEL_STREAM")?,
    };
    let store = Arc::new(MemoryCredentials::new());
    let token = SecretString::from(setting("OKTA_API_TOKEN")?);
    store
        .put(
            CredentialRef::new(TENANT, OKTA_CREDENTIAL),
            Credential::ApiToken { token },
        )
        .await
        .map_err(|e| e.to_string())?;
    let directory = setting("AZURE_TENANT_ID")?;
    let entra = Credential::ClientSecret {
        token_url: format!("https://login.microsoftonline.com/{directory}/oauth2/v2.0/token"),
        client_id: setting("AZURE_CLIENT_ID")?,
        secret: SecretString::from(setting("AZURE_CLIENT_SECRET")?),
    };
    store
        .put(CredentialRef::new(TENANT, ENTRA_CREDENTIAL), entra)
        .await
        .map_err(|e| e.to_string())?;
    let running = okta_to_sentinel(&integration, store)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "collecting {} into {}; Ctrl-C stops",
        integration.okta_url, integration.stream
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    running.shutdown().await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("partner example: {why}");
            ExitCode::FAILURE
        }
    }
}
