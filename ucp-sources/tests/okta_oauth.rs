//! The Okta source as an OAuth 2.0 service app (`client_credentials` + `private_key_jwt`,
//! scope `okta.logs.read`) against the simulated org, which serves its own token endpoint
//! at `{org}/oauth2/v1/token` and checks each signed assertion. Real time over loopback.

mod okta_support;

use std::sync::Arc;
use std::time::Duration;

use okta_support::{clock, collect, round, t0, TENANT};
use secrecy::SecretString;
use tokio::time::Instant;
use ucp_core::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp_core::credentials::JwtAlgorithm;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::{HealthEvent, HealthKind, MemoryHealth, Status};
use ucp_core::store::MemoryCheckpoints;
use ucp_core::Context;
use ucp_core::{
    CheckOutcome, Clock, Cursor, Platform, RateBudget, Source, SourceContext, SourceError,
    Subscription,
};
use ucp_sources::okta::{OktaAuth, OktaConfig, OktaSource, LOGS_SCOPE, SYSTEM_LOG};
use ucp_testkit::leak::{LeakScanner, TraceCapture};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::token_endpoint::{test_keys, KeyAlgorithm};
use ucp_testkit::RecordingSink;

/// The service app's client id and its credential's name in the store.
const CLIENT_ID: &str = "0oaServiceAppLogs";
const CREDENTIAL: &str = "okta-service-app";

/// An org whose authorization server knows the service app by its public key and grants
/// it `scopes`.
async fn org(config: OktaSimConfig, algorithm: KeyAlgorithm, scopes: &[&str]) -> OktaSimulator {
    let sim = OktaSimulator::start(config).await.unwrap();
    let public = match algorithm {
        KeyAlgorithm::RS256 => test_keys::RSA_PUBLIC_PEM,
        KeyAlgorithm::ES256 => test_keys::EC_PUBLIC_PEM,
    };
    sim.oauth()
        .register_key_client(CLIENT_ID, public, algorithm)
        .unwrap();
    sim.oauth().allow_scopes(CLIENT_ID, scopes);
    sim
}

/// The service app's credential, signing with `private_key_pem`.
fn service_app(sim: &OktaSimulator, private_key_pem: &str, algorithm: JwtAlgorithm) -> Credential {
    Credential::PrivateKeyJwt {
        token_url: sim.token_url(),
        client_id: CLIENT_ID.into(),
        private_key_pem: SecretString::from(private_key_pem.to_string()),
        key_id: Some("kid-logs-1".into()),
        algorithm,
    }
}

fn es256_app(sim: &OktaSimulator) -> Credential {
    service_app(sim, test_keys::EC_PRIVATE_PEM, JwtAlgorithm::ES256)
}

fn oauth_config(sim: &OktaSimulator) -> OktaConfig {
    OktaConfig::oauth(sim.base_url(), CREDENTIAL)
        .start_at(t0() - chrono::Duration::hours(2))
        .request_timeout(Duration::from_secs(10))
}

async fn store_with(tenant: &str, credential: Credential) -> Arc<MemoryCredentials> {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(CredentialRef::new(tenant, CREDENTIAL), credential)
        .await
        .unwrap();
    store
}

/// A context with its own token provider (the one `SourceContext::new` makes).
async fn context(source: &OktaSource, credential: Credential, clock: Clock) -> SourceContext {
    let budget = Arc::new(RateBudget::new(source.describe().budget, clock));
    let store = store_with(TENANT, credential).await;
    SourceContext::new(
        "okta-contoso",
        budget,
        Context::standalone(TENANT, store, clock).expect("a standalone context"),
    )
}

fn auth_message(error: SourceError) -> String {
    match error {
        SourceError::Auth { message } => message,
        other => panic!("expected an auth error, got {other:?}"),
    }
}

/// Wait (real time) until `done`, failing after `limit`.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_service_app_collects_the_system_log_with_one_bearer_token() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(45),
        KeyAlgorithm::RS256,
        &[LOGS_SCOPE],
    )
    .await;
    let source = OktaSource::new(oauth_config(&sim).page_limit(20)).unwrap();
    let cx = context(
        &source,
        service_app(&sim, test_keys::RSA_PRIVATE_PEM, JwtAlgorithm::RS256),
        clock,
    )
    .await;

    source.check(&cx).await.unwrap();
    let (records, _, pages) = round(&source, &cx, Cursor::start(), None).await;

    let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    let expected: Vec<String> = sim.visible_events().into_iter().map(|e| e.uuid).collect();
    assert_eq!(ids, expected);
    assert_eq!(pages, 3);
    // One token, minted once, carried by the check and every page.
    assert_eq!(sim.oauth().token_requests(), 1);
    assert_eq!(sim.oauth().rejections(), Vec::<String>::new());
    let issued = sim.oauth().issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(sim.requests_with(&issued[0]), 1 + pages as u64);
    assert_eq!(sim.requests(), 1 + pages as u64);
    assert_eq!(sim.unauthorized(), 0);
    let introspected = sim.oauth().introspect(&issued[0]).unwrap();
    assert_eq!(introspected.client_id, CLIENT_ID);
    assert_eq!(introspected.scopes, vec![LOGS_SCOPE.to_string()]);
}

#[tokio::test]
async fn a_token_request_is_a_call_on_the_org_budget() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default()
            .clock(clock)
            .backlog(10)
            .token("00aSswsTokenOfTheSameOrg"),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;

    // SSWS: the source itself draws nothing (the scheduler pays for each collect).
    let ssws = OktaSource::new(
        OktaConfig::new(sim.base_url(), CREDENTIAL).start_at(t0() - chrono::Duration::hours(2)),
    )
    .unwrap();
    let ssws_cx = context(
        &ssws,
        Credential::ApiToken {
            token: SecretString::from("00aSswsTokenOfTheSameOrg".to_string()),
        },
        clock,
    )
    .await;
    collect(&ssws, &ssws_cx, &Cursor::start(), None)
        .await
        .unwrap();
    assert_eq!(ssws_cx.budget().status().calls, 0);

    // OAuth: the token request to {org}/oauth2/v1/token draws one permit of the org budget;
    // later calls reuse the cached token and draw nothing more.
    let source = OktaSource::new(oauth_config(&sim)).unwrap();
    let cx = context(&source, es256_app(&sim), clock).await;
    assert_eq!(source.describe().budget.key, ssws.describe().budget.key);
    let page = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    assert_eq!(cx.budget().status().calls, 1);
    collect(&source, &cx, &page.next, None).await.unwrap();
    assert_eq!(cx.budget().status().calls, 1);
    assert_eq!(sim.oauth().token_requests(), 1);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_call_succeeds() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(30),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    let source = OktaSource::new(oauth_config(&sim).page_limit(10)).unwrap();
    let cx = context(&source, es256_app(&sim), clock).await;
    let first = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    assert_eq!(first.records.len(), 10);

    // The org revokes the token (an admin, a key rotation): the next call gets 401.
    sim.oauth().revoke_all();
    let second = collect(&source, &cx, &first.next, None).await.unwrap();
    assert_eq!(second.records.len(), 10);
    assert_ne!(second.records[0].id, first.records[0].id);

    let issued = sim.oauth().issued_tokens();
    assert_eq!(issued.len(), 2, "one refresh");
    assert_eq!(sim.oauth().token_requests(), 2);
    assert_eq!(sim.unauthorized(), 1, "one 401, then success");
    assert_eq!(sim.requests_with(&issued[0]), 2);
    assert_eq!(sim.requests_with(&issued[1]), 1);
    // Two token requests and the retried call drew from the org budget.
    assert_eq!(cx.budget().status().calls, 3);

    // The fresh token is cached: the next page makes no token request.
    collect(&source, &cx, &second.next, None).await.unwrap();
    assert_eq!(sim.oauth().token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_one_org_authenticate_once_through_the_platform() {
    let sim = Arc::new(
        org(
            OktaSimConfig::default().seed(21).backlog(60),
            KeyAlgorithm::ES256,
            &[LOGS_SCOPE],
        )
        .await,
    );
    let store = store_with(TENANT, es256_app(&sim)).await;
    let source = || {
        Arc::new(
            OktaSource::new(
                OktaConfig::oauth(sim.base_url(), CREDENTIAL)
                    .start_ago(Duration::from_secs(3 * 3600))
                    .page_limit(25)
                    .request_timeout(Duration::from_secs(10)),
            )
            .unwrap(),
        )
    };
    let key = source().describe().budget.key;
    let (sentinel, mdi) = (RecordingSink::new("sentinel"), RecordingSink::new("mdi"));
    // One round each (3 pages), then quiet: no call is in flight when counting.
    let every = Duration::from_secs(600);
    let running = Platform::builder()
        .credentials(store)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .tenant_source(TENANT, "okta-a", source())
        .tenant_source(TENANT, "okta-b", source())
        .tenant_sink(TENANT, "sentinel", Arc::new(sentinel.clone()))
        .tenant_sink(TENANT, "mdi", Arc::new(mdi.clone()))
        .subscribe(Subscription::new("sentinel", "okta-a", SYSTEM_LOG).every(every))
        .subscribe(Subscription::new("mdi", "okta-b", SYSTEM_LOG).every(every))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let budget = running.budget(&key).await.unwrap();
    eventually("both instances to deliver", Duration::from_secs(10), || {
        let (sentinel, mdi) = (sentinel.clone(), mdi.clone());
        async move { sentinel.ids().len() == 60 && mdi.ids().len() == 60 }
    })
    .await;
    let stats = running.stats().await;
    running.shutdown().await.unwrap();

    assert_eq!(sim.oauth().token_requests(), 1, "authenticate once");
    let pages: u64 = stats.jobs.iter().map(|j| j.pages).sum();
    assert_eq!(pages, 6, "three pages per instance");
    let issued = sim.oauth().issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(sim.requests_with(&issued[0]), sim.requests());
    assert!(sim.requests() >= 6, "both instances paged with the token");
    // Every call to the org, the token request included, drew one permit of its budget.
    assert_eq!(
        budget.status().calls,
        sim.requests() + sim.oauth().token_requests()
    );
    let expected: Vec<String> = sim.visible_events().into_iter().map(|e| e.uuid).collect();
    assert_eq!(sentinel.ids(), expected);
    assert_eq!(mdi.ids(), expected);
}

#[tokio::test]
async fn a_token_without_the_logs_scope_is_forbidden_like_okta() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(5),
        KeyAlgorithm::ES256,
        &["okta.users.read"],
    )
    .await;

    // The token endpoint grants okta.users.read; the System Log refuses that token with 403.
    let config = oauth_config(&sim).auth(OktaAuth::OAuth {
        credential: CREDENTIAL.into(),
        scope: "okta.users.read".into(),
    });
    let source = OktaSource::new(config).unwrap();
    let cx = context(&source, es256_app(&sim), clock).await;
    let message = auth_message(
        collect(&source, &cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(sim.forbidden(), 1);
    assert_eq!(sim.oauth().token_requests(), 1, "a 403 is not retried");
    assert!(message.contains("HTTP 403, E0000006"), "{message}");
    assert!(message.contains(LOGS_SCOPE), "{message}");
    assert!(message.contains(CREDENTIAL), "{message}");
    assert!(message.contains(sim.host()), "{message}");

    // Asking for okta.logs.read, which the app is not granted, fails at the token endpoint.
    let source = OktaSource::new(oauth_config(&sim)).unwrap();
    let cx = context(&source, es256_app(&sim), clock).await;
    let message = auth_message(
        collect(&source, &cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    assert!(message.contains("invalid_scope"), "{message}");
    assert!(message.contains(CREDENTIAL), "{message}");
    assert_eq!(sim.requests(), 1, "no System Log call without a token");
}

#[tokio::test]
async fn a_rejected_assertion_is_an_auth_error_naming_the_credential() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(5),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    let source = OktaSource::new(oauth_config(&sim)).unwrap();
    // Signed with a key the org does not know for this app.
    let wrong = service_app(&sim, test_keys::EC_OTHER_PRIVATE_PEM, JwtAlgorithm::ES256);
    let cx = context(&source, wrong, clock).await;
    let message = auth_message(source.check(&cx).await.unwrap_err());
    assert!(message.contains(CREDENTIAL), "{message}");
    assert!(message.contains(sim.host()), "{message}");
    assert!(message.contains("HTTP 401"), "{message}");
    assert!(message.contains("invalid_client"), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");
    assert_eq!(sim.requests(), 0, "no System Log call without a token");
    assert!(sim.oauth().rejections()[0].contains("InvalidSignature"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_assertion_shows_in_health_as_an_auth_error() {
    let sim = org(
        OktaSimConfig::default().seed(5).backlog(5),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    let store = store_with(
        TENANT,
        service_app(&sim, test_keys::EC_OTHER_PRIVATE_PEM, JwtAlgorithm::ES256),
    )
    .await;
    let health = Arc::new(MemoryHealth::new());
    let sink = RecordingSink::new("sentinel");
    let running = Platform::builder()
        .credentials(store)
        .health(health.clone())
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .max_jitter(Duration::ZERO)
        .tenant_source(
            TENANT,
            "okta",
            Arc::new(OktaSource::new(oauth_config(&sim)).unwrap()),
        )
        .tenant_sink(TENANT, "sentinel", Arc::new(sink.clone()))
        .subscribe(Subscription::new("sentinel", "okta", SYSTEM_LOG).every(Duration::from_secs(1)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let check = running.check().await;
    let source_check = check.iter().find_map(|o| match o {
        CheckOutcome::Source { name, result } if name == "okta" => Some(result),
        _ => None,
    });
    assert!(
        matches!(source_check, Some(Err(SourceError::Auth { .. }))),
        "{source_check:?}"
    );
    let auth_error = |events: &[HealthEvent], connector: &str| {
        events
            .iter()
            .find(|e| {
                e.status == Status::Error
                    && e.kind == HealthKind::Auth
                    && e.component.connector == connector
            })
            .cloned()
    };
    eventually(
        "the source's auth error in health",
        Duration::from_secs(5),
        || async { auth_error(&health.events(), "okta").is_some() },
    )
    .await;
    running.shutdown().await.unwrap();

    let source_event = auth_error(&health.events(), "okta").unwrap();
    assert!(
        source_event.message.contains(CREDENTIAL),
        "{}",
        source_event.message
    );
    assert!(
        source_event.message.contains(sim.host()),
        "{}",
        source_event.message
    );
    // The shared token provider reports the credential itself too.
    let credential_event =
        auth_error(&health.events(), &format!("credential:{CREDENTIAL}")).unwrap();
    assert_eq!(credential_event.component.tenant, TENANT);
    for event in health.events() {
        assert!(!event.message.contains("PRIVATE KEY"), "{}", event.message);
    }
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn a_token_endpoint_outage_is_retryable_and_recovers() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(5),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    sim.oauth().fail_next(1, 503);
    let source = OktaSource::new(oauth_config(&sim)).unwrap();
    let cx = context(&source, es256_app(&sim), clock).await;

    let down = collect(&source, &cx, &Cursor::start(), None)
        .await
        .unwrap_err();
    let SourceError::Retryable { message, .. } = &down else {
        panic!("expected a retryable error, got {down:?}");
    };
    assert!(
        message.contains(CREDENTIAL) && message.contains(sim.host()),
        "{message}"
    );
    assert!(message.contains("HTTP 503"), "{message}");
    // Within the provider's back-off no request is made, and the wait is the retry hint.
    let backing_off = collect(&source, &cx, &Cursor::start(), None)
        .await
        .unwrap_err();
    let SourceError::Retryable { retry_after, .. } = &backing_off else {
        panic!("expected a retryable error, got {backing_off:?}");
    };
    let wait = retry_after.expect("the back-off is the retry hint");
    assert!(wait <= Duration::from_secs(1), "{wait:?}");
    assert_eq!(sim.oauth().token_requests(), 1);

    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    let page = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    assert_eq!(page.records.len(), 5);
    assert_eq!(sim.oauth().token_requests(), 2);
}

#[tokio::test]
async fn an_api_token_credential_cannot_act_as_a_service_app() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    let source = OktaSource::new(oauth_config(&sim)).unwrap();
    let ssws = Credential::ApiToken {
        token: SecretString::from("00aNotAServiceApp".to_string()),
    };
    let cx = context(&source, ssws, clock).await;
    let error = collect(&source, &cx, &Cursor::start(), None)
        .await
        .unwrap_err();
    let SourceError::Config { message } = &error else {
        panic!("expected a config error, got {error:?}");
    };
    assert!(message.contains(CREDENTIAL), "{message}");
    assert!(message.contains("api token"), "{message}");
    assert!(!message.contains("00aNotAServiceApp"), "{message}");
    assert_eq!(sim.oauth().token_requests(), 0);
    assert_eq!(sim.requests(), 0);
}

#[tokio::test]
async fn two_contexts_sharing_a_provider_share_the_token() {
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(5),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    let provider = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().unwrap(),
    )));
    let source = OktaSource::new(oauth_config(&sim)).unwrap();
    let store = store_with(TENANT, es256_app(&sim)).await;
    let budget = Arc::new(RateBudget::new(source.describe().budget, clock));
    let cx = |instance: &str| {
        SourceContext::new(
            instance,
            budget.clone(),
            Context::standalone(TENANT, store.clone(), clock)
                .expect("a standalone context")
                .with_tokens(provider.clone()),
        )
    };
    collect(&source, &cx("a"), &Cursor::start(), None)
        .await
        .unwrap();
    collect(&source, &cx("b"), &Cursor::start(), None)
        .await
        .unwrap();
    assert_eq!(sim.oauth().token_requests(), 1);

    // Another tenant's credential of the same name is another token.
    let other_store = store_with("fabrikam", es256_app(&sim)).await;
    let other = SourceContext::new(
        "c",
        budget.clone(),
        Context::standalone("fabrikam", other_store, clock)
            .expect("a standalone context")
            .with_tokens(provider.clone()),
    );
    collect(&source, &other, &Cursor::start(), None)
        .await
        .unwrap();
    assert_eq!(sim.oauth().token_requests(), 2);
}

/// Current-thread runtime on purpose: the capture is the thread's default subscriber, so it
/// sees every task, the simulator's included.
#[tokio::test]
async fn no_secret_of_the_oauth_flow_reaches_errors_health_or_trace_logs() {
    let capture = TraceCapture::new();
    let guard = capture.set_default();
    let mut scanner = LeakScanner::new();
    let clock = clock();
    let sim = org(
        OktaSimConfig::default().clock(clock).backlog(25),
        KeyAlgorithm::ES256,
        &[LOGS_SCOPE],
    )
    .await;
    let health = Arc::new(MemoryHealth::new());
    let provider = Arc::new(
        TokenProvider::new(Arc::new(HttpTokenFetcher::new().unwrap()))
            .with_health(health.clone())
            .with_clock(clock),
    );
    let source = OktaSource::new(oauth_config(&sim).page_limit(10)).unwrap();
    let budget = Arc::new(RateBudget::new(source.describe().budget, clock));
    let good = store_with(TENANT, es256_app(&sim)).await;
    let cx = SourceContext::new(
        "okta",
        budget.clone(),
        Context::standalone(TENANT, good.clone(), clock)
            .expect("a standalone context")
            .with_tokens(provider.clone()),
    );
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut errors: Vec<SourceError> = Vec::new();

    // Collect, lose the token, refresh, go on.
    let page = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    sim.oauth().revoke_all();
    let page = collect(&source, &cx, &page.next, None).await.unwrap();
    texts.push(("page".into(), format!("{page:?}")));
    // A rejected assertion (another key), a forbidden scope and an endpoint outage.
    let wrong = store_with(
        "fabrikam",
        service_app(&sim, test_keys::EC_OTHER_PRIVATE_PEM, JwtAlgorithm::ES256),
    )
    .await;
    let wrong_cx = SourceContext::new(
        "okta-f",
        budget.clone(),
        Context::standalone("fabrikam", wrong.clone(), clock)
            .expect("a standalone context")
            .with_tokens(provider.clone()),
    );
    errors.push(
        collect(&source, &wrong_cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    let narrow = OktaSource::new(oauth_config(&sim).auth(OktaAuth::OAuth {
        credential: CREDENTIAL.into(),
        scope: format!("{LOGS_SCOPE} okta.users.read"),
    }))
    .unwrap();
    errors.push(
        collect(&narrow, &cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    sim.oauth().fail_next(1, 503);
    let fresh = store_with("northwind", es256_app(&sim)).await;
    let fresh_cx = SourceContext::new(
        "okta-n",
        budget,
        Context::standalone("northwind", fresh.clone(), clock)
            .expect("a standalone context")
            .with_tokens(provider.clone()),
    );
    errors.push(
        collect(&source, &fresh_cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    errors.push(
        collect(&source, &fresh_cx, &Cursor::start(), None)
            .await
            .unwrap_err(),
    );
    drop(guard);

    assert!(
        matches!(errors[0], SourceError::Auth { .. }),
        "{:?}",
        errors[0]
    );
    assert!(
        matches!(errors[1], SourceError::Auth { .. }),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(errors[2], SourceError::Retryable { .. }),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(errors[3], SourceError::Retryable { .. }),
        "{:?}",
        errors[3]
    );
    let issued = sim.oauth().issued_tokens();
    let assertions = sim.oauth().received_assertions();
    assert!(issued.len() >= 2 && assertions.len() >= 3);
    scanner
        .secret("service app private key", test_keys::EC_PRIVATE_PEM)
        .secret("other private key", test_keys::EC_OTHER_PRIVATE_PEM);
    for (n, token) in issued.iter().enumerate() {
        scanner.secret(format!("access token #{n}"), token);
    }
    for (n, assertion) in assertions.iter().enumerate() {
        scanner.secret(format!("client assertion #{n}"), assertion);
    }
    for (n, error) in errors.iter().enumerate() {
        scanner.scan_debug(&format!("error #{n}"), error);
        scanner.scan_display(&format!("error #{n}"), error);
    }
    for (name, text) in &texts {
        scanner.scan(name.clone(), text);
    }
    scanner.scan_debug("source", &source);
    scanner.scan_debug("context", &cx);
    scanner.scan_debug("provider", &*provider);
    scanner.scan_debug("store", &*good);
    scanner.scan_debug(
        "credential",
        &good
            .get(&CredentialRef::new(TENANT, CREDENTIAL))
            .await
            .unwrap(),
    );
    for (n, event) in health.events().iter().enumerate() {
        scanner.scan_debug(&format!("health event #{n}"), event);
    }
    let trace = capture.text();
    assert!(
        trace.contains("token minted") && trace.contains("okta request"),
        "the capture saw the flow"
    );
    scanner.scan("TRACE log", &trace);
    scanner.assert_clean();
    assert!(scanner.scanned() > 20);
}
