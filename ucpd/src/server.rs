//! The server: a running platform, the management layer over it, and its REST API on a
//! socket, all state in the data directory.
//!
//! ```text
//! <data_dir>/manage.sqlite     definitions, instances, workspaces, roles, API keys, audit
//! <data_dir>/ucp-state.sqlite  the platform's cursors and dead letters (its durable store)
//! <data_dir>/health.sqlite     the health table (status and messages per connector)
//! <data_dir>/credentials.enc   the tenants' credentials, encrypted
//! ```

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::oneshot;
use ucp_core::catalog::ConnectorDefinition;
use ucp_core::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp_core::credentials::FileCredentials;
use ucp_core::health::{HealthService, Retention, SqliteHealthTable};
use ucp_core::store::DurableStore;
use ucp_core::{Clock, Platform, RunningPlatform};
use ucp_manage::{
    ApiKeys, Authenticator, JwksSource, JwtConfig, JwtVerifier, Manager, Principal, SqliteStore,
};

use crate::config::Config;
use crate::keys;
use crate::products::AzureProducts;

/// Why the server could not start or stop cleanly; each names the part and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The data directory could not be made.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// A key could not be read or generated.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// A part of the state could not be opened.
    #[error("{part}: {reason}")]
    Open {
        /// Which part.
        part: &'static str,
        /// Why.
        reason: String,
    },
    /// The management layer refused to start.
    #[error("management: {0}")]
    Manage(#[from] ucp_manage::ManageError),
    /// The API's address could not be bound.
    #[error(
        "cannot listen on {address}: {reason} (set listen in the configuration or UCPD_LISTEN)"
    )]
    Listen {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// Shutting the platform down did not finish cleanly.
    #[error("shutdown: {0}")]
    Shutdown(String),
}

fn open(part: &'static str) -> impl Fn(String) -> ServerError {
    move |reason| ServerError::Open { part, reason }
}

/// The connector definitions this server ships: Okta's System Log, Microsoft Defender XDR
/// and the Defender for Identity alerts component connector XDR supersedes. One that does
/// not build is left out, with an error in the log.
pub fn definitions() -> Vec<ConnectorDefinition> {
    use ucp_sources::defender::{mdi_alerts_definition, xdr_definition};
    [
        ("Okta System Log", ucp_sources::okta::definition()),
        ("Defender XDR", xdr_definition()),
        ("Defender for Identity alerts", mdi_alerts_definition()),
    ]
    .into_iter()
    .filter_map(|(what, built)| match built {
        Ok(definition) => Some(definition),
        Err(e) => {
            tracing::error!(definition = what, error = %e, "a definition does not build; it is left out");
            None
        }
    })
    .collect()
}

/// A running server. [`Server::shutdown`] stops it cleanly; dropping it stops serving.
pub struct Server {
    url: String,
    manager: Manager,
    platform: Arc<RunningPlatform>,
    stop: Option<oneshot::Sender<()>>,
    serving: Serving,
}

/// The API's serving task, stopped when dropped.
struct Serving(Option<tokio::task::JoinHandle<()>>);

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl Server {
    /// Open the state in `config.data_dir`, start the platform with every connector in its
    /// stored state, and serve the API on `config.listen`.
    pub async fn start(
        config: &Config,
        definitions: Vec<ConnectorDefinition>,
    ) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let clock = Clock::new();
        let credentials = Arc::new(
            FileCredentials::open(config.credentials_path(), keys::credential_key(config)?)
                .await
                .map_err(|e| open("credential store")(e.to_string()))?,
        );
        let health_table = Arc::new(
            SqliteHealthTable::open(config.health_path(), Retention::default())
                .map_err(|e| open("health table")(e.to_string()))?,
        );
        let health = Arc::new(HealthService::builder().table(health_table).build());
        let durable = DurableStore::open(&config.data_dir)
            .map_err(|e| open("platform state")(e.to_string()))?;
        let fetcher = HttpTokenFetcher::new().map_err(|e| open("token client")(e.to_string()))?;
        let tokens = Arc::new(
            TokenProvider::new(Arc::new(fetcher))
                .with_health(health.clone())
                .with_clock(clock),
        );
        let platform = Platform::builder()
            .credentials(credentials.clone())
            .health(health.clone())
            .durable(durable)
            .tokens(tokens.clone())
            .clock(clock)
            .shutdown_timeout(Duration::from_secs(config.shutdown_timeout_seconds))
            .build()
            .map_err(|e| open("platform")(e.to_string()))?
            .start()
            .await
            .map_err(|e| open("platform")(e.to_string()))?;
        let platform = Arc::new(platform);
        let store = Arc::new(
            SqliteStore::open(config.store_path())
                .map_err(|e| open("management store")(e.to_string()))?,
        );
        let jwt = match &config.jwt {
            Some(j) => Some(
                JwtVerifier::new(JwtConfig::new(
                    &j.issuer,
                    &j.audience,
                    JwksSource::Url(j.jwks_url.clone()),
                ))
                .map_err(open("JWT verifier"))?,
            ),
            None => None,
        };
        let api_keys =
            ApiKeys::new(keys::pepper(config)?).map_err(|e| open("API keys")(e.to_string()))?;
        let auth = Authenticator::new(store.clone(), api_keys, jwt, config.admins.clone());
        let products = Arc::new(AzureProducts::new(tokens));
        let mut builder = Manager::builder(store, platform.clone(), products, credentials, auth)
            .health_service(health)
            .clock(clock);
        for definition in definitions {
            builder = builder.definition(definition);
        }
        let manager = builder.start().await?;

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::Listen {
                address: config.listen.to_string(),
                reason: e.to_string(),
            })?;
        let address = listener.local_addr().map_err(|e| ServerError::Listen {
            address: config.listen.to_string(),
            reason: e.to_string(),
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = ucp_manage::api::router(manager.clone());
        let serve = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the API stopped serving");
            }
        });
        tracing::info!(%address, "ucpd serves the management API and its web pages (/ui/)");
        Ok(Server {
            url: format!("http://{address}"),
            manager,
            platform,
            stop: Some(stop),
            serving: Serving(Some(serve)),
        })
    }

    /// The API's base URL, e.g. `http://127.0.0.1:8640`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The management layer (for a host that embeds the server).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// The running platform.
    pub fn platform(&self) -> &Arc<RunningPlatform> {
        &self.platform
    }

    /// Stop serving (requests in flight finish), then stop the platform: collection stops,
    /// queued batches are delivered within the shutdown timeout, cursors are saved.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.serving.0.take() {
            let _ = task.await;
        }
        let Server {
            manager, platform, ..
        } = self;
        drop(manager);
        match Arc::try_unwrap(platform) {
            Ok(platform) => platform
                .shutdown()
                .await
                .map_err(|e| ServerError::Shutdown(e.to_string())),
            Err(_) => Err(ServerError::Shutdown(
                "the platform is still in use by the host: its cursors are saved as pages are accepted, so nothing is lost".into(),
            )),
        }
    }
}

/// Mint an API key for `principal` in the server's store (the key is printed once by the
/// caller and kept only as a keyed hash), without starting the platform: how the first
/// administrator gets a key. Audited as done by `ucpd-cli`.
pub async fn issue_api_key(
    config: &Config,
    principal: &str,
) -> Result<(String, SecretString), ServerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| ServerError::DataDir {
        path: config.data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let store = SqliteStore::open(config.store_path())
        .map_err(|e| open("management store")(e.to_string()))?;
    let keys = ApiKeys::new(keys::pepper(config)?).map_err(|e| open("API keys")(e.to_string()))?;
    Ok(ucp_manage::issue_api_key(
        &store,
        &keys,
        &Principal::new("ucpd-cli"),
        principal,
        Clock::new().now_utc(),
    )
    .await?)
}
