//! A partner's product on ucp: its own Okta System Log collection into its own Microsoft
//! Sentinel workspace, built from `ucp` with only the `okta` and `sentinel` features.
//!
//! [`okta_to_sentinel`] is the whole integration: one source, one sink, one subscription.
//! `src/main.rs` runs it against a real org and workspace; the test runs it against the
//! testkit's simulators over loopback.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ucp::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp::credentials::CredentialStore;
use ucp::health::MemoryHealth;
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink};
use ucp::sources::okta::{OktaConfig, OktaSource};
use ucp::store::MemoryCheckpoints;
use ucp::{ConfigError, Platform, PlatformError, RunningPlatform, Subscription};

/// The tenant name the partner's credentials are stored under.
pub const TENANT: &str = "partner";
/// The credential (in [`TENANT`]) holding the Okta API token or OAuth client.
pub const OKTA_CREDENTIAL: &str = "okta";
/// The credential (in [`TENANT`]) holding the Entra client that writes to Sentinel.
pub const ENTRA_CREDENTIAL: &str = "entra";

/// Where the partner's data comes from and goes to.
#[derive(Clone, Debug)]
pub struct Integration {
    /// The Okta org, e.g. `https://contoso.okta.com`.
    pub okta_url: String,
    /// How far back the first collection starts.
    pub start_ago: Duration,
    /// How often the System Log is read.
    pub every: Duration,
    /// The data collection endpoint of the Sentinel workspace.
    pub dce_url: String,
    /// The data collection rule's immutable id.
    pub dcr_id: String,
    /// The DCR stream the rows go to.
    pub stream: String,
}

/// Why the integration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    /// The Okta source refused its configuration.
    #[error("the Okta source: {0}")]
    Okta(#[from] ucp::SourceError),
    /// The Sentinel sink's token client could not be made.
    #[error("the token client: {0}")]
    Tokens(String),
    /// The platform refused the plan.
    #[error("the plan: {0}")]
    Config(#[from] ConfigError),
    /// The platform did not start.
    #[error("the platform: {0}")]
    Platform(#[from] PlatformError),
}

/// Starts the collection: the org's System Log, read every [`Integration::every`], lands in
/// the Sentinel stream. Credentials come from `credentials` ([`OKTA_CREDENTIAL`] and
/// [`ENTRA_CREDENTIAL`] in [`TENANT`]).
pub async fn okta_to_sentinel(
    integration: &Integration,
    credentials: Arc<dyn CredentialStore>,
) -> Result<RunningPlatform, PartnerError> {
    let okta = OktaSource::new(
        OktaConfig::new(integration.okta_url.clone(), OKTA_CREDENTIAL)
            .start_ago(integration.start_ago),
    )?;
    let fetcher = HttpTokenFetcher::new().map_err(|e| PartnerError::Tokens(e.to_string()))?;
    let tokens = Arc::new(TokenProvider::new(Arc::new(fetcher)));
    let mut sentinel = SentinelConfig::new(
        &integration.dce_url,
        &integration.dcr_id,
        &integration.stream,
        ENTRA_CREDENTIAL,
    );
    sentinel.gzip = true;
    let running = Platform::builder()
        .credentials(credentials)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .tokens(tokens.clone())
        .tenant_source(TENANT, "okta", Arc::new(okta))
        .tenant_sink(
            TENANT,
            "sentinel",
            Arc::new(SentinelSink::new(sentinel, tokens)),
        )
        .subscribe(
            Subscription::new("sentinel", "okta", ucp::sources::okta::SYSTEM_LOG)
                .every(integration.every),
        )
        .build()?
        .start()
        .await?;
    Ok(running)
}
