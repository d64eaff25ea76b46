//! Zero leaks: run every credential and token flow against the simulator with TRACE logging
//! captured, then look for every secret value in everything the run emitted.
//!
//! Current-thread runtime on purpose: the capture subscriber is the thread's default, so it
//! sees every task, the simulator's included.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use ucp_core::credentials::token::{
    Attempt, HttpTokenFetcher, TokenConfig, TokenProvider, TokenRequest,
};
use ucp_core::credentials::{
    Credential, CredentialRef, CredentialStore, EnvCredentials, FileCredentials, FileKey,
    JwtAlgorithm, KdfParams, MemoryCredentials, TenantCredentials,
};
use ucp_core::health::{HealthReporter, HealthService, MemoryHealth};
use ucp_testkit::leak::{LeakScanner, TraceCapture};
use ucp_testkit::token_endpoint::{test_keys, KeyAlgorithm, TokenEndpoint};

const CLIENT_SECRET: &str = "entra-client-secret-Zq8~x.Yv";
const ROTATED_SECRET: &str = "entra-rotated-secret-Wd3_kP";
const WRONG_SECRET: &str = "entra-wrong-secret-Hh5-Lm";
const SSWS_TOKEN: &str = "00aBcD-okta-ssws-token-9876";
const SAS_KEY: &str = "sas-key-base64-AbCdEf123456==";
const PASSWORD: &str = "basic-password-P@ssw0rd!";
const PASSPHRASE: &str = "file-store-passphrase-correct-horse";
const ENV_SECRET: &str = "env-provided-client-secret-77";

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_string())
}

/// Everything a run emitted, with a name for each piece.
#[derive(Default)]
struct Emitted {
    texts: Vec<(String, String)>,
}

impl Emitted {
    fn debug_display<T: std::fmt::Debug + std::fmt::Display>(&mut self, name: &str, value: &T) {
        self.texts
            .push((format!("Debug of {name}"), format!("{value:?}")));
        self.texts
            .push((format!("pretty Debug of {name}"), format!("{value:#?}")));
        self.texts
            .push((format!("Display of {name}"), value.to_string()));
    }

    fn debug<T: std::fmt::Debug>(&mut self, name: &str, value: &T) {
        self.texts
            .push((format!("Debug of {name}"), format!("{value:?}")));
        self.texts
            .push((format!("pretty Debug of {name}"), format!("{value:#?}")));
    }

    fn text(&mut self, name: &str, text: String) {
        self.texts.push((name.to_string(), text));
    }
}

#[tokio::test]
async fn no_secret_appears_in_anything_a_full_run_emits() {
    let capture = TraceCapture::new();
    let guard = capture.set_default();
    let mut out = Emitted::default();

    let sim = TokenEndpoint::start().await.unwrap();
    sim.register_secret_client("entra-app", CLIENT_SECRET);
    sim.register_key_client("rsa-app", test_keys::RSA_PUBLIC_PEM, KeyAlgorithm::RS256)
        .unwrap();
    sim.register_key_client("okta-app", test_keys::EC_PUBLIC_PEM, KeyAlgorithm::ES256)
        .unwrap();

    let credentials = [
        (
            "entra",
            Credential::ClientSecret {
                token_url: sim.entra_token_url("contoso-directory"),
                client_id: "entra-app".into(),
                secret: secret(CLIENT_SECRET),
            },
        ),
        (
            "entra-cert",
            Credential::PrivateKeyJwt {
                token_url: sim.entra_token_url("contoso-directory"),
                client_id: "rsa-app".into(),
                private_key_pem: secret(test_keys::RSA_PRIVATE_PEM),
                key_id: Some("rsa-kid".into()),
                algorithm: JwtAlgorithm::RS256,
            },
        ),
        (
            "okta",
            Credential::PrivateKeyJwt {
                token_url: sim.okta_token_url(),
                client_id: "okta-app".into(),
                private_key_pem: secret(test_keys::EC_PRIVATE_PEM),
                key_id: None,
                algorithm: JwtAlgorithm::ES256,
            },
        ),
        (
            "entra-wrong",
            Credential::ClientSecret {
                token_url: sim.entra_token_url("contoso-directory"),
                client_id: "entra-app".into(),
                secret: secret(WRONG_SECRET),
            },
        ),
        (
            "okta-ssws",
            Credential::ApiToken {
                token: secret(SSWS_TOKEN),
            },
        ),
        (
            "eventhubs",
            Credential::SharedAccessKey {
                key_name: "send".into(),
                key: secret(SAS_KEY),
            },
        ),
        (
            "legacy",
            Credential::Basic {
                user: "svc".into(),
                password: secret(PASSWORD),
            },
        ),
    ];

    // Stores: memory, file (passphrase), environment.
    let store = Arc::new(MemoryCredentials::new());
    let dir = tempfile::tempdir().unwrap();
    let file_path = dir.path().join("credentials.ucp");
    let file = FileCredentials::open_with_params(
        &file_path,
        FileKey::passphrase(PASSPHRASE),
        KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
    )
    .await
    .unwrap();
    for (name, credential) in &credentials {
        out.debug(&format!("credential {name}"), credential);
        store
            .put(CredentialRef::new("contoso", *name), credential.clone())
            .await
            .unwrap();
        file.put(CredentialRef::new("contoso", *name), credential.clone())
            .await
            .unwrap();
    }
    out.text(
        "encrypted credential file",
        String::from_utf8_lossy(&std::fs::read(&file_path).unwrap()).into_owned(),
    );
    out.debug("file store", &file);
    out.debug("memory store", &*store);
    out.debug("file key", &FileKey::passphrase(PASSPHRASE));
    for error in [
        FileCredentials::open(&file_path, FileKey::passphrase("wrong passphrase"))
            .await
            .unwrap_err(),
        FileCredentials::open(&file_path, FileKey::key_file(dir.path().join("missing")))
            .await
            .unwrap_err(),
    ] {
        out.debug_display("file store error", &error);
    }
    let reopened = FileCredentials::open(&file_path, FileKey::passphrase(PASSPHRASE))
        .await
        .unwrap();
    out.debug(
        "reopened credential",
        &reopened
            .get(&CredentialRef::new("contoso", "entra"))
            .await
            .unwrap(),
    );

    let env = EnvCredentials::from_vars([
        ("UCP_CRED__CONTOSO__ENV__KIND", "client_secret"),
        ("UCP_CRED__CONTOSO__ENV__CLIENT_SECRET", ENV_SECRET),
    ]);
    out.debug("env store", &env);
    let env_error = env
        .get(&CredentialRef::new("contoso", "env"))
        .await
        .unwrap_err();
    out.debug_display("env store error", &env_error);

    // Token flows through the shared provider.
    let health = Arc::new(MemoryHealth::new());
    let provider = TokenProvider::new(Arc::new(HttpTokenFetcher::new().unwrap()))
        .with_health(health.clone())
        .with_config(TokenConfig {
            backoff_base: Duration::from_millis(300),
            ..TokenConfig::default()
        });
    let creds = TenantCredentials::new("contoso", store.clone());
    out.debug("tenant credentials", &creds);
    let graph = "https://graph.example/.default";
    let http = reqwest::Client::new();
    let resource = sim.resource_url();
    let call = |token: ucp_core::credentials::token::AccessToken| {
        let http = http.clone();
        let resource = resource.clone();
        async move {
            let status = http
                .get(&resource)
                .bearer_auth(token.secret().expose_secret())
                .send()
                .await
                .unwrap()
                .status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                Attempt::Unauthorized
            } else {
                Attempt::Done(status)
            }
        }
    };

    for (name, scope) in [
        ("entra", graph),
        ("entra-cert", graph),
        ("okta", "okta.logs.read"),
    ] {
        let request = TokenRequest::named(&creds, name, scope);
        out.debug("token request", &request);
        let token = provider.token(&request).await.unwrap();
        out.debug("access token", &token);
        let status = provider.with_token(&request, call).await.unwrap();
        assert!(status.is_success());
    }
    // 401 → refresh → retry once.
    sim.revoke_all();
    let entra = TokenRequest::named(&creds, "entra", graph);
    assert!(provider
        .with_token(&entra, call)
        .await
        .unwrap()
        .is_success());
    // Failures: refused secret, unsupported kind, cross tenant, endpoint down, back-off.
    let refused = provider
        .token(&TokenRequest::named(&creds, "entra-wrong", graph))
        .await
        .unwrap_err();
    out.debug_display("refused token error", &refused);
    let unsupported = provider
        .token(&TokenRequest::named(&creds, "okta-ssws", "okta.logs.read"))
        .await
        .unwrap_err();
    out.debug_display("unsupported token error", &unsupported);
    let fabrikam = TenantCredentials::new("fabrikam", store.clone());
    let cross = provider
        .token(&TokenRequest::reference(
            &fabrikam,
            CredentialRef::new("contoso", "entra"),
            graph,
        ))
        .await
        .unwrap_err();
    out.debug_display("cross-tenant token error", &cross);
    sim.fail_next(1, 503);
    let rotated_request = TokenRequest::named(&creds, "entra", graph);
    sim.register_secret_client("entra-app", ROTATED_SECRET);
    store
        .put(
            CredentialRef::new("contoso", "entra"),
            Credential::ClientSecret {
                token_url: sim.entra_token_url("contoso-directory"),
                client_id: "entra-app".into(),
                secret: secret(ROTATED_SECRET),
            },
        )
        .await
        .unwrap();
    let unavailable = provider.token(&rotated_request).await.unwrap_err();
    out.debug_display("unavailable token error", &unavailable);
    let backing_off = provider.token(&rotated_request).await.unwrap_err();
    out.debug_display("back-off token error", &backing_off);
    tokio::time::sleep(Duration::from_millis(400)).await;
    provider.token(&rotated_request).await.unwrap();
    out.debug("token provider", &provider);

    // Health events: Debug, message and serialized form.
    let events = health.events();
    assert!(
        events.len() >= 4,
        "expected Ok/Warning/Error transitions, got {}",
        events.len()
    );
    for event in &events {
        out.debug("health event", event);
        out.text("health message", event.message.clone());
        out.text(
            "serialized health event",
            serde_json::to_string(event).unwrap(),
        );
    }
    // The same events through the health service: its Prometheus metrics.
    let service = HealthService::builder().build();
    for event in &events {
        service.report(event.clone()).await;
    }
    out.text("prometheus metrics", service.metrics().encode());
    out.text(
        "serialized credential references",
        serde_json::to_string(&store.list(None).await.unwrap()).unwrap(),
    );

    drop(guard);
    let trace = capture.text();
    assert!(
        trace.contains("requesting a token"),
        "the capture saw the token flows"
    );
    assert!(trace.contains("TRACE") || trace.contains("DEBUG"));
    out.text("tracing output at TRACE", trace);

    // Every secret of the run, the ones the simulator minted or received included.
    let mut scanner = LeakScanner::new();
    for (label, value) in [
        ("client secret", CLIENT_SECRET),
        ("rotated client secret", ROTATED_SECRET),
        ("wrong client secret", WRONG_SECRET),
        ("okta api token", SSWS_TOKEN),
        ("shared-access key", SAS_KEY),
        ("basic password", PASSWORD),
        ("file passphrase", PASSPHRASE),
        ("env client secret", ENV_SECRET),
        ("rsa private key", test_keys::RSA_PRIVATE_PEM),
        ("ec private key", test_keys::EC_PRIVATE_PEM),
    ] {
        scanner.secret(label, value);
    }
    let tokens = sim.issued_tokens();
    let assertions = sim.received_assertions();
    assert!(tokens.len() >= 5 && assertions.len() >= 2);
    for (i, token) in tokens.iter().enumerate() {
        scanner.secret(format!("access token #{i}"), token);
    }
    for (i, assertion) in assertions.iter().enumerate() {
        scanner.secret(format!("client assertion #{i}"), assertion);
    }

    // The scanner would see a leak here: a positive control.
    let mut control = LeakScanner::new();
    control.secret("access token", &tokens[0]);
    assert_eq!(control.scan("control", &format!("Bearer {}", tokens[0])), 1);

    for (name, text) in &out.texts {
        scanner.scan(name.clone(), text);
    }
    assert!(scanner.scanned() > 50, "scanned {}", scanner.scanned());
    scanner.assert_clean();
}
