//! The shared token cache under tokio's paused clock, with an in-process fetcher (no HTTP,
//! so no real-time timeout can fire early).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use ucp_core::credentials::token::{
    Attempt, FetchedToken, TokenConfig, TokenError, TokenFetcher, TokenProvider, TokenRequest,
};
use ucp_core::credentials::{
    Credential, CredentialError, CredentialRef, CredentialStore, MemoryCredentials,
    TenantCredentials,
};
use ucp_core::health::{MemoryHealth, Status};
use ucp_core::Clock;
use ucp_core::{BudgetKey, BudgetSpec, RateBudget};

/// Hands out numbered tokens after a short delay; can be told to fail.
struct FakeFetcher {
    calls: AtomicU64,
    failing: AtomicU32,
    lifetime: Duration,
    secrets_seen: Mutex<Vec<String>>,
}

impl FakeFetcher {
    fn new(lifetime: Duration) -> Arc<Self> {
        Arc::new(FakeFetcher {
            calls: AtomicU64::new(0),
            failing: AtomicU32::new(0),
            lifetime,
            secrets_seen: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenFetcher for FakeFetcher {
    async fn fetch(
        &self,
        reference: &CredentialRef,
        credential: &Credential,
        _scope: &str,
    ) -> Result<FetchedToken, TokenError> {
        // A token request takes a while: concurrent callers pile up behind it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Credential::ClientSecret { secret, .. } = credential {
            self.secrets_seen
                .lock()
                .unwrap()
                .push(secret.expose_secret().to_string());
        }
        if self.failing.load(Ordering::SeqCst) > 0 {
            return Err(TokenError::Unavailable {
                reference: reference.clone(),
                detail: "HTTP 503".into(),
            });
        }
        Ok(FetchedToken {
            token: SecretString::from(format!("token-{n}")),
            expires_in: self.lifetime,
        })
    }
}

fn client_secret(secret: &str) -> Credential {
    Credential::ClientSecret {
        token_url: "https://login.example/contoso/oauth2/v2.0/token".into(),
        client_id: "app".into(),
        secret: SecretString::from(secret.to_string()),
    }
}

struct Setup {
    store: Arc<MemoryCredentials>,
    creds: TenantCredentials,
    fetcher: Arc<FakeFetcher>,
    health: Arc<MemoryHealth>,
    provider: Arc<TokenProvider>,
    request: TokenRequest,
}

async fn setup(lifetime: Duration) -> Setup {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new("contoso", "entra"),
            client_secret("first"),
        )
        .await
        .unwrap();
    let creds = TenantCredentials::new("contoso", store.clone());
    let fetcher = FakeFetcher::new(lifetime);
    let health = Arc::new(MemoryHealth::new());
    let provider = Arc::new(
        TokenProvider::new(fetcher.clone())
            .with_health(health.clone())
            .with_config(TokenConfig::default()),
    );
    let request = TokenRequest::named(&creds, "entra", "https://graph.example/.default");
    Setup {
        store,
        creds,
        fetcher,
        health,
        provider,
        request,
    }
}

#[tokio::test(start_paused = true)]
async fn hundred_concurrent_callers_cause_one_token_request() {
    let s = setup(Duration::from_secs(100)).await;
    let calls = (0..100).map(|_| s.provider.token(&s.request));
    let tokens: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    assert_eq!(s.fetcher.calls(), 1);
    assert!(tokens
        .iter()
        .all(|t| t.generation() == tokens[0].generation()));

    // During a refresh too: 100 callers after the refresh point, one request.
    tokio::time::advance(Duration::from_secs(81)).await;
    let calls = (0..100).map(|_| s.provider.token(&s.request));
    let refreshed: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    assert_eq!(s.fetcher.calls(), 2);
    assert!(refreshed
        .iter()
        .all(|t| t.generation() == refreshed[0].generation()));
    assert_ne!(refreshed[0].generation(), tokens[0].generation());
}

#[tokio::test(start_paused = true)]
async fn token_is_refreshed_at_80_percent_of_its_lifetime() {
    let s = setup(Duration::from_secs(100)).await;
    let first = s.provider.token(&s.request).await.unwrap();
    // The request took 200 ms; refresh is due 80 s after it was sent.
    tokio::time::advance(Duration::from_secs(79)).await;
    let same = s.provider.token(&s.request).await.unwrap();
    assert_eq!(same.generation(), first.generation());
    assert_eq!(s.fetcher.calls(), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    let fresh = s.provider.token(&s.request).await.unwrap();
    assert_ne!(fresh.generation(), first.generation());
    assert_eq!(s.fetcher.calls(), 2);
    assert_eq!(fresh.secret().expose_secret(), "token-2");
}

#[tokio::test(start_paused = true)]
async fn failing_endpoint_backs_off_serves_the_valid_token_and_reports_health() {
    let s = setup(Duration::from_secs(100)).await;
    let first = s.provider.token(&s.request).await.unwrap();
    s.fetcher.failing.store(1, Ordering::SeqCst);

    // Refresh due but failing: the still-valid token is served.
    tokio::time::advance(Duration::from_secs(85)).await;
    let served = s.provider.token(&s.request).await.unwrap();
    assert_eq!(served.generation(), first.generation());
    assert_eq!(s.fetcher.calls(), 2);
    let warning = s.health.events().into_iter().last().unwrap();
    assert_eq!(warning.status, Status::Warning);
    assert!(
        warning.message.contains("contoso/entra"),
        "{}",
        warning.message
    );
    assert_eq!(warning.component.connector, "credential:entra");

    // Within the back-off (1 s), no new request.
    s.provider.token(&s.request).await.unwrap();
    assert_eq!(s.fetcher.calls(), 2);

    // Past expiry and still failing: the error names the credential; back-off doubles.
    tokio::time::advance(Duration::from_secs(20)).await;
    let error = s.provider.token(&s.request).await.unwrap_err();
    assert!(matches!(error, TokenError::Unavailable { .. }));
    assert!(error.to_string().contains("contoso/entra"));
    assert_eq!(s.fetcher.calls(), 3);
    let backing_off = s.provider.token(&s.request).await.unwrap_err();
    match &backing_off {
        TokenError::BackingOff { retry_in, .. } => {
            assert!(*retry_in <= Duration::from_secs(2) && *retry_in > Duration::from_secs(1))
        }
        other => panic!("expected back-off, got {other}"),
    }
    assert_eq!(s.fetcher.calls(), 3);

    // Endpoint recovers: after the back-off a request goes out and health says Ok.
    s.fetcher.failing.store(0, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(2)).await;
    let recovered = s.provider.token(&s.request).await.unwrap();
    assert_ne!(recovered.generation(), first.generation());
    assert_eq!(s.health.events().last().unwrap().status, Status::Ok);
}

#[tokio::test(start_paused = true)]
async fn rotation_takes_effect_at_the_next_call_and_drops_the_old_token() {
    let s = setup(Duration::from_secs(3600)).await;
    let old = s.provider.token(&s.request).await.unwrap();
    s.store
        .put(
            CredentialRef::new("contoso", "entra"),
            client_secret("second"),
        )
        .await
        .unwrap();
    let new = s.provider.token(&s.request).await.unwrap();
    assert_ne!(new.generation(), old.generation());
    assert_eq!(
        *s.fetcher.secrets_seen.lock().unwrap(),
        vec!["first".to_string(), "second".to_string()]
    );
    // The old token is gone for good: further calls keep the new one.
    let again = s.provider.token(&s.request).await.unwrap();
    assert_eq!(again.generation(), new.generation());
    assert_eq!(s.fetcher.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_401_invalidates_and_retries_once() {
    let s = setup(Duration::from_secs(3600)).await;
    let first = s.provider.token(&s.request).await.unwrap();
    let attempts = AtomicU32::new(0);
    let result = s
        .provider
        .with_token(&s.request, |token| {
            attempts.fetch_add(1, Ordering::SeqCst);
            let stale = token.generation() == first.generation();
            async move {
                if stale {
                    Attempt::Unauthorized
                } else {
                    Attempt::Done(token.generation())
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_ne!(result, first.generation());
    assert_eq!(s.fetcher.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_second_401_is_rejected_without_a_third_try() {
    let s = setup(Duration::from_secs(3600)).await;
    let attempts = AtomicU32::new(0);
    let error = s
        .provider
        .with_token(&s.request, |_token| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Attempt::<()>::Unauthorized }
        })
        .await
        .unwrap_err();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert!(matches!(error, TokenError::Rejected { .. }));
    assert!(error.to_string().contains("contoso/entra"));
    assert_eq!(s.health.events().last().unwrap().status, Status::Error);
}

#[tokio::test(start_paused = true)]
async fn concurrent_401s_on_one_token_cause_one_refresh() {
    let s = setup(Duration::from_secs(3600)).await;
    let first = s.provider.token(&s.request).await.unwrap();
    let calls = (0..20).map(|_| {
        s.provider.with_token(&s.request, |token| {
            let stale = token.generation() == first.generation();
            async move {
                if stale {
                    Attempt::Unauthorized
                } else {
                    Attempt::Done(())
                }
            }
        })
    });
    for result in join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(s.fetcher.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn another_tenants_credential_is_refused_before_any_request() {
    let s = setup(Duration::from_secs(3600)).await;
    let fabrikam = TenantCredentials::new("fabrikam", s.store.clone());
    let request = TokenRequest::reference(
        &fabrikam,
        CredentialRef::new("contoso", "entra"),
        "https://graph.example/.default",
    );
    let error = s.provider.token(&request).await.unwrap_err();
    assert!(matches!(
        error,
        TokenError::Credential(CredentialError::CrossTenant { .. })
    ));
    assert_eq!(s.fetcher.calls(), 0);
    // The tenant's own view reaches it.
    assert!(s.provider.token(&s.request).await.is_ok());
    assert_eq!(s.creds.tenant(), "contoso");
}

#[tokio::test(start_paused = true)]
async fn token_requests_draw_from_the_rate_budget_cache_hits_do_not() {
    let s = setup(Duration::from_secs(100)).await;
    let budget = Arc::new(RateBudget::new(
        BudgetSpec::new(
            BudgetKey::new("entra", "contoso"),
            100,
            Duration::from_secs(60),
        ),
        Clock::new(),
    ));
    let request = s.request.clone().with_budget(budget.clone());
    for _ in 0..5 {
        s.provider.token(&request).await.unwrap();
    }
    assert_eq!(budget.status().calls, 1);
    tokio::time::advance(Duration::from_secs(90)).await;
    s.provider.token(&request).await.unwrap();
    assert_eq!(budget.status().calls, 2);
}
