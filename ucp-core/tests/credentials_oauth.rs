//! Token flows over real HTTP against the token endpoint simulator (real time: no paused
//! clock, so reqwest's timeouts behave).

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use ucp_core::credentials::token::{
    Attempt, HttpTokenFetcher, TokenConfig, TokenError, TokenProvider, TokenRequest,
};
use ucp_core::credentials::{
    Credential, CredentialRef, CredentialStore, JwtAlgorithm, MemoryCredentials, TenantCredentials,
};
use ucp_core::health::{MemoryHealth, Status};
use ucp_testkit::token_endpoint::{test_keys, KeyAlgorithm, TokenEndpoint};

const GRAPH_SCOPE: &str = "https://graph.example/.default";

struct Lab {
    sim: TokenEndpoint,
    store: Arc<MemoryCredentials>,
    creds: TenantCredentials,
    health: Arc<MemoryHealth>,
    provider: TokenProvider,
    http: reqwest::Client,
}

async fn lab() -> Lab {
    let sim = TokenEndpoint::start().await.unwrap();
    let store = Arc::new(MemoryCredentials::new());
    let creds = TenantCredentials::new("contoso", store.clone());
    let health = Arc::new(MemoryHealth::new());
    let provider = TokenProvider::new(Arc::new(HttpTokenFetcher::new().unwrap()))
        .with_health(health.clone())
        .with_config(TokenConfig {
            backoff_base: Duration::from_millis(500),
            ..TokenConfig::default()
        });
    Lab {
        sim,
        store,
        creds,
        health,
        provider,
        http: reqwest::Client::new(),
    }
}

impl Lab {
    async fn put(&self, name: &str, credential: Credential) {
        self.store
            .put(CredentialRef::new("contoso", name), credential)
            .await
            .unwrap();
    }

    fn entra_secret(&self, secret: &str) -> Credential {
        Credential::ClientSecret {
            token_url: self.sim.entra_token_url("contoso-directory"),
            client_id: "entra-app".into(),
            secret: SecretString::from(secret.to_string()),
        }
    }

    fn key_client(&self, token_url: String, pem: &str, algorithm: JwtAlgorithm) -> Credential {
        Credential::PrivateKeyJwt {
            token_url,
            client_id: "key-app".into(),
            private_key_pem: SecretString::from(pem.to_string()),
            key_id: Some("kid-1".into()),
            algorithm,
        }
    }

    /// GET the protected resource; 401 becomes `Attempt::Unauthorized`.
    async fn call_resource(&self, token: &str) -> Attempt<reqwest::StatusCode> {
        let response = self
            .http
            .get(self.sim.resource_url())
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        match response.status() {
            reqwest::StatusCode::UNAUTHORIZED => Attempt::Unauthorized,
            status => Attempt::Done(status),
        }
    }
}

#[tokio::test]
async fn entra_client_secret_token_opens_the_resource() {
    let lab = lab().await;
    lab.sim.register_secret_client("entra-app", "entra-secret");
    lab.put("entra", lab.entra_secret("entra-secret")).await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);
    let token = lab.provider.token(&request).await.unwrap();
    let status = lab.call_resource(token.secret().expose_secret()).await;
    assert!(matches!(status, Attempt::Done(s) if s.is_success()));
    assert_eq!(lab.sim.token_requests(), 1);
    assert!(lab.sim.rejections().is_empty());
}

#[tokio::test]
async fn entra_signed_assertion_rs256_is_accepted() {
    let lab = lab().await;
    lab.sim
        .register_key_client("key-app", test_keys::RSA_PUBLIC_PEM, KeyAlgorithm::RS256)
        .unwrap();
    let url = lab.sim.entra_token_url("contoso-directory");
    lab.put(
        "entra-cert",
        lab.key_client(url, test_keys::RSA_PRIVATE_PEM, JwtAlgorithm::RS256),
    )
    .await;
    let request = TokenRequest::named(&lab.creds, "entra-cert", GRAPH_SCOPE);
    lab.provider.token(&request).await.unwrap();
    assert_eq!(lab.sim.rejections(), Vec::<String>::new());
    assert_eq!(lab.sim.received_assertions().len(), 1);
}

#[tokio::test]
async fn okta_private_key_jwt_es256_with_granted_and_ungranted_scopes() {
    let lab = lab().await;
    lab.sim
        .register_key_client("key-app", test_keys::EC_PUBLIC_PEM, KeyAlgorithm::ES256)
        .unwrap();
    lab.sim.allow_scopes("key-app", &["okta.logs.read"]);
    let url = lab.sim.okta_token_url();
    lab.put(
        "okta",
        lab.key_client(url, test_keys::EC_PRIVATE_PEM, JwtAlgorithm::ES256),
    )
    .await;
    let granted = TokenRequest::named(&lab.creds, "okta", "okta.logs.read");
    let token = lab.provider.token(&granted).await.unwrap();
    assert!(matches!(
        lab.call_resource(token.secret().expose_secret()).await,
        Attempt::Done(s) if s.is_success()
    ));

    let ungranted = TokenRequest::named(&lab.creds, "okta", "okta.users.read");
    let error = lab.provider.token(&ungranted).await.unwrap_err();
    assert_eq!(
        error,
        TokenError::Refused {
            reference: CredentialRef::new("contoso", "okta"),
            status: 400,
            code: Some("invalid_scope".into()),
        }
    );
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_and_reported() {
    let lab = lab().await;
    lab.sim
        .register_key_client("key-app", test_keys::EC_PUBLIC_PEM, KeyAlgorithm::ES256)
        .unwrap();
    let url = lab.sim.okta_token_url();
    lab.put(
        "okta",
        lab.key_client(url, test_keys::EC_OTHER_PRIVATE_PEM, JwtAlgorithm::ES256),
    )
    .await;
    let request = TokenRequest::named(&lab.creds, "okta", "okta.logs.read");
    let error = lab.provider.token(&request).await.unwrap_err();
    assert!(
        matches!(error, TokenError::Refused { status: 401, .. }),
        "{error}"
    );
    assert!(
        lab.sim.rejections()[0].contains("InvalidSignature"),
        "{:?}",
        lab.sim.rejections()
    );
    let event = lab.health.events().pop().unwrap();
    assert_eq!(event.status, Status::Error);
    assert!(event.message.contains("contoso/okta"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let lab = lab().await;
    lab.sim.register_secret_client("entra-app", "right");
    lab.put("entra", lab.entra_secret("wrong")).await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);
    let error = lab.provider.token(&request).await.unwrap_err();
    assert_eq!(
        error,
        TokenError::Refused {
            reference: CredentialRef::new("contoso", "entra"),
            status: 401,
            code: Some("invalid_client".into()),
        }
    );
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_and_the_call_retried_once() {
    let lab = lab().await;
    lab.sim.register_secret_client("entra-app", "entra-secret");
    lab.put("entra", lab.entra_secret("entra-secret")).await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);
    let first = lab.provider.token(&request).await.unwrap();
    lab.sim.revoke_all();

    let lab_ref = &lab;
    let status = lab
        .provider
        .with_token(&request, |token| async move {
            lab_ref.call_resource(token.secret().expose_secret()).await
        })
        .await
        .unwrap();
    assert!(status.is_success());
    assert_eq!(lab.sim.token_requests(), 2);
    assert_eq!(lab.sim.resource_requests(), 2);
    let current = lab.provider.token(&request).await.unwrap();
    assert_ne!(current.generation(), first.generation());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_make_one_http_token_request() {
    let lab = lab().await;
    lab.sim.register_secret_client("entra-app", "entra-secret");
    lab.sim.set_delay(Duration::from_millis(200));
    lab.put("entra", lab.entra_secret("entra-secret")).await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);
    let calls = (0..100).map(|_| lab.provider.token(&request));
    for token in join_all(calls).await {
        token.unwrap();
    }
    assert_eq!(lab.sim.token_requests(), 1);
}

#[tokio::test]
async fn rotation_takes_effect_without_a_restart() {
    let lab = lab().await;
    lab.sim.register_secret_client("entra-app", "old-secret");
    lab.put("entra", lab.entra_secret("old-secret")).await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);
    let old = lab.provider.token(&request).await.unwrap();

    // The app's secret is rotated at the provider and in the store; old tokens die.
    lab.sim.register_secret_client("entra-app", "new-secret");
    lab.sim.revoke_all();
    lab.put("entra", lab.entra_secret("new-secret")).await;

    let new = lab.provider.token(&request).await.unwrap();
    assert_ne!(new.generation(), old.generation());
    assert!(matches!(
        lab.call_resource(new.secret().expose_secret()).await,
        Attempt::Done(s) if s.is_success()
    ));
    assert_eq!(lab.sim.token_requests(), 2);
    assert!(
        lab.sim.rejections().is_empty(),
        "the old secret was never sent again"
    );
}

#[tokio::test]
async fn endpoint_failures_back_off_and_surface_as_health_naming_the_credential() {
    let lab = lab().await;
    lab.sim.register_secret_client("entra-app", "entra-secret");
    lab.sim.fail_next(1, 503);
    lab.put("entra", lab.entra_secret("entra-secret")).await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);

    let error = lab.provider.token(&request).await.unwrap_err();
    assert!(matches!(error, TokenError::Unavailable { .. }), "{error}");
    assert!(error.to_string().contains("contoso/entra"));
    let backing_off = lab.provider.token(&request).await.unwrap_err();
    assert!(matches!(backing_off, TokenError::BackingOff { .. }));
    assert_eq!(
        lab.sim.token_requests(),
        1,
        "no request during the back-off"
    );
    let warning = lab.health.events().pop().unwrap();
    assert_eq!(warning.status, Status::Warning);
    assert!(warning.message.contains("contoso/entra"));
    assert!(!warning.message.contains("entra-secret"));

    tokio::time::sleep(Duration::from_millis(600)).await;
    lab.provider.token(&request).await.unwrap();
    assert_eq!(lab.sim.token_requests(), 2);
    assert_eq!(lab.health.events().pop().unwrap().status, Status::Ok);
}

#[tokio::test]
async fn an_api_token_cannot_mint_oauth_tokens() {
    let lab = lab().await;
    lab.put(
        "okta-ssws",
        Credential::ApiToken {
            token: SecretString::from("ssws".to_string()),
        },
    )
    .await;
    let request = TokenRequest::named(&lab.creds, "okta-ssws", "okta.logs.read");
    assert!(matches!(
        lab.provider.token(&request).await,
        Err(TokenError::Unsupported {
            kind: "api token",
            ..
        })
    ));
    assert_eq!(lab.sim.token_requests(), 0);
}

#[tokio::test]
async fn a_secret_is_never_sent_to_a_plain_http_token_url() {
    let lab = lab().await;
    lab.put(
        "entra",
        Credential::ClientSecret {
            token_url: "http://login.example.invalid/contoso/oauth2/v2.0/token".into(),
            client_id: "entra-app".into(),
            secret: SecretString::from("never-sent".to_string()),
        },
    )
    .await;
    let request = TokenRequest::named(&lab.creds, "entra", GRAPH_SCOPE);
    let error = lab.provider.token(&request).await.unwrap_err();
    assert!(matches!(error, TokenError::InsecureUrl { .. }), "{error}");
    assert!(error.to_string().contains("contoso/entra"));
}
