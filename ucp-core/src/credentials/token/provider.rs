//! The shared token cache: per-key single flight, refresh ahead, rotation, 401 invalidation
//! and back-off with health events.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{AccessToken, TokenEndpointOptions, TokenError, TokenFetcher};
use crate::budget::RateBudget;
use crate::clock::Clock;
use crate::credentials::{Credential, CredentialRef, TenantCredentials};
use crate::health::{Component, HealthKind, HealthReporter, Status, StatusTracker};

/// Timing of refreshes and back-off.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenConfig {
    /// Share of a token's lifetime after which it is refreshed, in (0, 1]. Default 0.8.
    pub refresh_ratio: f64,
    /// Wait after the first failed token request. Doubles per failure.
    pub backoff_base: Duration,
    /// Longest wait between failed token requests.
    pub backoff_max: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            refresh_ratio: 0.8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// What a connector asks a token for: which credential of its tenant, which scope, and
/// which rate budget the token request counts against.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    credentials: TenantCredentials,
    reference: CredentialRef,
    scope: String,
    budget: Option<Arc<RateBudget>>,
    endpoint: TokenEndpointOptions,
}

impl TokenRequest {
    /// The credential `name` of the tenant behind `credentials`, for `scope`.
    pub fn named(credentials: &TenantCredentials, name: &str, scope: impl Into<String>) -> Self {
        TokenRequest {
            reference: CredentialRef::new(credentials.tenant(), name),
            credentials: credentials.clone(),
            scope: scope.into(),
            budget: None,
            endpoint: TokenEndpointOptions::default(),
        }
    }

    /// The credential under `reference`; refused unless it belongs to the view's tenant.
    pub fn reference(
        credentials: &TenantCredentials,
        reference: CredentialRef,
        scope: impl Into<String>,
    ) -> Self {
        TokenRequest {
            credentials: credentials.clone(),
            reference,
            scope: scope.into(),
            budget: None,
            endpoint: TokenEndpointOptions::default(),
        }
    }

    /// Draw a permit from `budget` before each token request (the provider account's budget).
    pub fn with_budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Ask the token endpoint with these headers, query parameters or Basic client
    /// credentials (see [`TokenEndpointOptions`]).
    pub fn with_endpoint(mut self, options: TokenEndpointOptions) -> Self {
        self.endpoint = options;
        self
    }

    /// The credential asked for.
    pub fn credential(&self) -> &CredentialRef {
        &self.reference
    }

    /// The scope asked for.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

/// What one call with a token came to, for [`TokenProvider::with_token`].
#[derive(Debug)]
pub enum Attempt<T> {
    /// The call is finished (successfully or with an error unrelated to the token).
    Done(T),
    /// The provider answered 401: the token is no longer accepted.
    Unauthorized,
}

type SlotKey = (CredentialRef, String);

/// Mints, caches and refreshes access tokens for every connector of a platform.
///
/// One provider is shared by all connectors, so each (credential, scope) has one token at a
/// time, whoever uses it. See the [module docs](super) for the behaviour.
pub struct TokenProvider {
    fetcher: Arc<dyn TokenFetcher>,
    health: Option<Arc<dyn HealthReporter>>,
    config: TokenConfig,
    clock: Clock,
    fingerprints: RandomState,
    generation: AtomicU64,
    slots: SyncMutex<HashMap<SlotKey, Arc<Mutex<Slot>>>>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TokenProvider")
            .field("config", &self.config)
            .field("cached_keys", &slots)
            .finish_non_exhaustive()
    }
}

/// One (credential, scope): its token and failure state. Its mutex is the single flight.
struct Slot {
    token: Option<Cached>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    /// Whether that failure may pass by itself (endpoint down) or needs a person (refused).
    last_error_retryable: bool,
    tracker: StatusTracker,
}

struct Cached {
    token: AccessToken,
    fingerprint: u64,
    refresh_at: Instant,
}

impl TokenProvider {
    /// A provider that gets tokens through `fetcher` (usually an [`HttpTokenFetcher`](super::HttpTokenFetcher)).
    pub fn new(fetcher: Arc<dyn TokenFetcher>) -> Self {
        TokenProvider {
            fetcher,
            health: None,
            config: TokenConfig::default(),
            clock: Clock::new(),
            fingerprints: RandomState::new(),
            generation: AtomicU64::new(0),
            slots: SyncMutex::new(HashMap::new()),
        }
    }

    /// Report token endpoint failures and recoveries here.
    pub fn with_health(mut self, health: Arc<dyn HealthReporter>) -> Self {
        self.health = Some(health);
        self
    }

    /// Use other refresh and back-off timings.
    pub fn with_config(mut self, config: TokenConfig) -> Self {
        self.config = config;
        self
    }

    /// Stamp health events with this clock (the platform's).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// A valid token for `request`, from the cache or freshly minted.
    ///
    /// Concurrent callers for the same credential and scope wait for one token request. A
    /// token is refreshed once `refresh_ratio` of its lifetime has passed; if that refresh
    /// fails while the token is still valid, the old token is returned. A changed credential
    /// (rotation) drops the cached token at once.
    pub async fn token(&self, request: &TokenRequest) -> Result<AccessToken, TokenError> {
        let credential = request.credentials.get(&request.reference).await?;
        let fingerprint = self.fingerprint(&credential);
        let slot = self.slot(request);
        let mut slot = slot.lock().await;
        let now = Instant::now();

        if let Some(cached) = &slot.token {
            if cached.fingerprint != fingerprint {
                tracing::info!(credential = %request.reference, scope = %request.scope,
                    "credential changed: dropping the token minted from its previous secret");
                slot.token = None;
                slot.failures = 0;
                slot.retry_at = None;
            } else if now < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        if let Some(retry_at) = slot.retry_at.filter(|at| now < *at) {
            if let Some(token) = still_valid(&slot, now) {
                return Ok(token);
            }
            return Err(TokenError::BackingOff {
                reference: request.reference.clone(),
                retry_in: retry_at - now,
                cause: slot.last_error.clone().unwrap_or_default(),
                cause_retryable: slot.last_error_retryable,
            });
        }

        if let Some(budget) = &request.budget {
            budget.acquire().await;
        }
        tracing::debug!(credential = %request.reference, scope = %request.scope, "requesting a token");
        let requested_at = Instant::now();
        match self
            .fetcher
            .fetch_with(
                &request.reference,
                &credential,
                &request.scope,
                &request.endpoint,
            )
            .await
        {
            Ok(fetched) => {
                let lifetime = fetched.expires_in;
                let token = AccessToken {
                    secret: fetched.token,
                    generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
                    expires_at: requested_at + lifetime,
                };
                let refresh_after = lifetime.mul_f64(self.config.refresh_ratio.clamp(0.0, 1.0));
                slot.token = Some(Cached {
                    token: token.clone(),
                    fingerprint,
                    refresh_at: requested_at + refresh_after,
                });
                slot.failures = 0;
                slot.retry_at = None;
                slot.last_error = None;
                tracing::debug!(credential = %request.reference, scope = %request.scope,
                    expires_in_secs = lifetime.as_secs(), generation = token.generation, "token minted");
                self.observe(&mut slot, &request.reference, Ok(())).await;
                Ok(token)
            }
            Err(error) => {
                slot.failures = slot.failures.saturating_add(1);
                let delay = self.backoff(slot.failures);
                slot.retry_at = Some(Instant::now() + delay);
                slot.last_error = Some(error.to_string());
                slot.last_error_retryable = error.is_retryable();
                tracing::warn!(credential = %request.reference, scope = %request.scope,
                    failures = slot.failures, retry_in_ms = delay.as_millis() as u64,
                    error = %error, "token request failed");
                let message = format!(
                    "token request for credential {} failed ({} in a row), next attempt in {:?}: {}",
                    request.reference, slot.failures, delay, error
                );
                let status = if error.is_retryable() {
                    Status::Warning
                } else {
                    Status::Error
                };
                self.observe(&mut slot, &request.reference, Err((status, message)))
                    .await;
                match still_valid(&slot, Instant::now()) {
                    Some(token) => Ok(token),
                    None => Err(error),
                }
            }
        }
    }

    /// Drop `token` from the cache because the provider answered 401 to it. Other handles
    /// of the same token see a fresh one at their next call; a newer token is kept.
    pub async fn invalidate(&self, request: &TokenRequest, token: &AccessToken) {
        let slot = self.slot(request);
        let mut slot = slot.lock().await;
        if slot
            .token
            .as_ref()
            .is_some_and(|c| c.token.generation == token.generation)
        {
            tracing::debug!(credential = %request.reference, scope = %request.scope,
                generation = token.generation, "token invalidated after a 401");
            slot.token = None;
            slot.retry_at = None;
        }
    }

    /// Drop every cached token of `reference` (all scopes), e.g. right after removing it.
    pub async fn forget(&self, reference: &CredentialRef) {
        let slots: Vec<_> = {
            let mut map = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<_> = map
                .keys()
                .filter(|(r, _)| r == reference)
                .cloned()
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for slot in slots {
            slot.lock().await.token = None;
        }
    }

    /// Run `call` with a token; if it reports [`Attempt::Unauthorized`], invalidate the
    /// token and run it once more with a fresh one. A second 401 is [`TokenError::Rejected`].
    pub async fn with_token<T, F, Fut>(
        &self,
        request: &TokenRequest,
        mut call: F,
    ) -> Result<T, TokenError>
    where
        F: FnMut(AccessToken) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let token = self.token(request).await?;
        if let Attempt::Done(value) = call(token.clone()).await {
            return Ok(value);
        }
        tracing::debug!(credential = %request.reference, "provider answered 401: retrying once with a fresh token");
        self.invalidate(request, &token).await;
        let fresh = self.token(request).await?;
        match call(fresh).await {
            Attempt::Done(value) => Ok(value),
            Attempt::Unauthorized => {
                let error = TokenError::Rejected {
                    reference: request.reference.clone(),
                };
                let slot = self.slot(request);
                let mut slot = slot.lock().await;
                self.observe(
                    &mut slot,
                    &request.reference,
                    Err((Status::Error, error.to_string())),
                )
                .await;
                Err(error)
            }
        }
    }

    fn slot(&self, request: &TokenRequest) -> Arc<Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry((request.reference.clone(), request.scope.clone()))
            .or_insert_with(|| {
                Arc::new(Mutex::new(Slot {
                    token: None,
                    failures: 0,
                    retry_at: None,
                    last_error: None,
                    last_error_retryable: true,
                    tracker: StatusTracker::new(component(&request.reference), 1),
                }))
            })
            .clone()
    }

    fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.config
            .backoff_base
            .saturating_mul(factor)
            .min(self.config.backoff_max)
    }

    /// A per-process keyed hash of everything in the credential, to notice rotation.
    fn fingerprint(&self, credential: &Credential) -> u64 {
        let mut h = self.fingerprints.build_hasher();
        credential.kind().hash(&mut h);
        match credential {
            Credential::ApiToken { token } => token.expose_secret().hash(&mut h),
            Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            } => (token_url, client_id, secret.expose_secret()).hash(&mut h),
            Credential::PrivateKeyJwt {
                token_url,
                client_id,
                private_key_pem,
                key_id,
                algorithm,
            } => (
                token_url,
                client_id,
                private_key_pem.expose_secret(),
                key_id,
                algorithm,
            )
                .hash(&mut h),
            Credential::SharedAccessKey { key_name, key } => {
                (key_name, key.expose_secret()).hash(&mut h)
            }
            Credential::Basic { user, password } => (user, password.expose_secret()).hash(&mut h),
        }
        h.finish()
    }

    async fn observe(
        &self,
        slot: &mut Slot,
        reference: &CredentialRef,
        outcome: Result<(), (Status, String)>,
    ) {
        let now = self.clock.now_utc();
        let event = match outcome {
            Ok(()) => slot.tracker.observe(
                Status::Ok,
                HealthKind::Auth,
                || format!("token endpoint answered for credential {reference}"),
                now,
            ),
            Err((status, message)) => {
                slot.tracker
                    .observe(status, HealthKind::Auth, || message, now)
            }
        };
        if let (Some(event), Some(health)) = (event, &self.health) {
            health.report(event).await;
        }
    }
}

fn still_valid(slot: &Slot, now: Instant) -> Option<AccessToken> {
    slot.token
        .as_ref()
        .filter(|c| now < c.token.expires_at)
        .map(|c| c.token.clone())
}

/// The health component of a credential: its tenant, and `credential:<name>` as connector.
fn component(reference: &CredentialRef) -> Component {
    Component {
        tenant: reference.tenant.clone(),
        connector: format!("credential:{}", reference.name),
        product: None,
        stream: None,
    }
}
