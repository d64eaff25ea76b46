//! Okta response actions through the running platform (`RunningPlatform::act`) against the
//! simulated org over loopback, on tokio's paused clock: every action verified by reading the
//! user back, one idempotency key → one call at Okta, 503s retried within bounds, refusals
//! as clear results, a throttled action waiting for Okta's reset, the credential's
//! permission named, the dry run, and no secret anywhere.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{json, Value};
use ucp_core::credentials::JwtAlgorithm;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::{HealthKind, MemoryHealth, Status};
use ucp_core::{
    ActOptions, ActionError, ActionOutcome, ActionRequest, ActionResult, Clock, Platform,
    RunningPlatform,
};
use ucp_sources::okta::{
    OktaConfig, OktaSource, CLEAR_USER_SESSIONS, LOGS_SCOPE, RESET_FACTORS, SUSPEND_USER,
    UNSUSPEND_USER, USERS_MANAGE_SCOPE,
};
use ucp_testkit::faults::{Fault, Faults};
use ucp_testkit::leak::{LeakScanner, TraceCapture};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator, OktaUser, RateBucket, UserCall, UserStatus};
use ucp_testkit::token_endpoint::{test_keys, KeyAlgorithm};

const TOKEN: &str = "00aActionsAdminTokenOfTheOrg";
const READ_ONLY_TOKEN: &str = "00aReadOnlyAdminTokenOfTheOrg";
const TENANT: &str = "contoso";
const CREDENTIAL: &str = "okta-admin";
const SOURCE: &str = "okta";
const CLIENT_ID: &str = "0oaServiceAppActions";

/// A user every test can act on: active, two sessions, two tokens, two factors.
const TARGET: &str = "00uActionTarget00001";

/// A simulated org behind a fault layer, and a platform whose Okta source acts on it. No
/// subscription: every call the org counts is an action's.
struct Org {
    sim: OktaSimulator,
    faults: Faults,
    running: RunningPlatform,
    health: Arc<MemoryHealth>,
}

impl Org {
    async fn start(
        sim_config: OktaSimConfig,
        source: impl FnOnce(&OktaSimulator) -> OktaConfig,
        credential: impl FnOnce(&OktaSimulator) -> Credential,
    ) -> Org {
        let clock = Clock::new();
        let faults = Faults::new().clock(clock);
        let layer = faults.layer();
        let sim = OktaSimulator::start_wrapped(sim_config.clock(clock).token(TOKEN), |router| {
            router.layer(layer)
        })
        .await
        .unwrap();
        sim.allow_read_only_ssws(READ_ONLY_TOKEN);
        let mut target = OktaUser::active(TARGET, "target@example.com", sim.now());
        target.sessions = 2;
        target.oauth_tokens = 2;
        target.factors = vec!["push".into(), "token:software:totp".into()];
        sim.put_user(target);
        let store = Arc::new(MemoryCredentials::new());
        store
            .put(CredentialRef::new(TENANT, CREDENTIAL), credential(&sim))
            .await
            .unwrap();
        let health = Arc::new(MemoryHealth::new());
        let okta = OktaSource::new(source(&sim).request_timeout(Duration::from_secs(10))).unwrap();
        let running = Platform::builder()
            .clock(clock)
            .credentials(store)
            .health(health.clone())
            .tenant_source(TENANT, SOURCE, Arc::new(okta))
            .build()
            .unwrap()
            .start()
            .await
            .unwrap();
        Org {
            sim,
            faults,
            running,
            health,
        }
    }

    /// An org whose source acts with the admin API token.
    async fn with_token(token: &str) -> Org {
        Org::start(
            OktaSimConfig::default(),
            |sim| OktaConfig::new(sim.base_url(), CREDENTIAL),
            |_| api_token(token),
        )
        .await
    }

    async fn act(&self, action: &str, parameters: Value) -> Result<ActionResult, ActionError> {
        self.running
            .act(
                SOURCE,
                ActionRequest::new(action, parameters),
                ActOptions::default(),
            )
            .await
    }

    /// The outcome of an action that must get an answer in one attempt.
    async fn answer(&self, action: &str, user: &str) -> ActionOutcome {
        let result = self
            .act(action, json!({"user_id": user}))
            .await
            .unwrap_or_else(|e| panic!("{action} {user}: {e}"));
        assert_eq!(result.attempts, 1, "{action} {user}: {result:?}");
        result.outcome
    }

    /// The user as Okta returns it, read over HTTP like any client would.
    async fn read_user(&self, id: &str) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/users/{id}", self.sim.base_url()))
            .header("Authorization", format!("SSWS {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET user {id}");
        response.json().await.unwrap()
    }

    fn user(&self, id: &str) -> OktaUser {
        self.sim.user(id).expect("the user exists")
    }

    /// The first seeded user with `status`.
    fn seeded(&self, status: UserStatus) -> String {
        self.sim.users_with_status(status)[0].id.clone()
    }
}

fn api_token(token: &str) -> Credential {
    Credential::ApiToken {
        token: SecretString::from(token.to_string()),
    }
}

fn detail(outcome: &ActionOutcome) -> &Value {
    match outcome {
        ActionOutcome::Done { detail } | ActionOutcome::AlreadyDone { detail } => detail,
        ActionOutcome::Refused { reason } => panic!("refused: {reason}"),
    }
}

fn refused(outcome: ActionOutcome) -> String {
    match outcome {
        ActionOutcome::Refused { reason } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn each_action_changes_the_user_as_reading_it_back_shows() {
    let org = Org::with_token(TOKEN).await;

    let suspended = org.answer(SUSPEND_USER, TARGET).await;
    assert!(
        matches!(suspended, ActionOutcome::Done { .. }),
        "{suspended:?}"
    );
    assert_eq!(detail(&suspended)["status"], "SUSPENDED");
    assert!(detail(&suspended)["okta_request_id"].is_string());
    let user = org.read_user(TARGET).await;
    assert_eq!(user["status"], "SUSPENDED");
    assert!(user["_links"]["unsuspend"].is_object(), "{user}");

    let unsuspended = org.answer(UNSUSPEND_USER, TARGET).await;
    assert!(matches!(unsuspended, ActionOutcome::Done { .. }));
    assert_eq!(org.read_user(TARGET).await["status"], "ACTIVE");

    // Sessions end; the OAuth tokens only when asked.
    let cleared = org.answer(CLEAR_USER_SESSIONS, TARGET).await;
    assert_eq!(detail(&cleared)["oauth_tokens_revoked"], false);
    assert_eq!(org.user(TARGET).sessions, 0);
    assert_eq!(org.user(TARGET).oauth_tokens, 2);
    let revoked = org
        .act(
            CLEAR_USER_SESSIONS,
            json!({"user_id": TARGET, "revoke_oauth_tokens": true}),
        )
        .await
        .unwrap();
    assert_eq!(detail(&revoked.outcome)["oauth_tokens_revoked"], true);
    assert_eq!(org.user(TARGET).oauth_tokens, 0);

    // Factors are unenrolled; the user stays active (and has nothing left to reset).
    assert!(org.read_user(TARGET).await["_links"]["resetFactors"].is_object());
    let reset = org.answer(RESET_FACTORS, TARGET).await;
    assert!(matches!(reset, ActionOutcome::Done { .. }));
    let user = org.read_user(TARGET).await;
    assert_eq!(user["status"], "ACTIVE");
    assert!(user["_links"].get("resetFactors").is_none(), "{user}");
    assert!(org.user(TARGET).factors.is_empty());

    // One call each, all in Okta's "most other API actions" bucket.
    for (call, expected) in [
        (UserCall::Suspend, 1),
        (UserCall::Unsuspend, 1),
        (UserCall::ClearSessions, 2),
        (UserCall::ResetFactors, 1),
    ] {
        assert_eq!(org.sim.user_calls(call), expected, "{call:?}");
    }
    assert_eq!(org.sim.bucket_calls(RateBucket::Other), 5);
    assert_eq!(org.sim.bucket_calls(RateBucket::Logs), 0);
    let rows = org.health.events();
    let last = rows
        .iter()
        .rfind(|e| e.kind == HealthKind::Action)
        .expect("actions report to health");
    assert_eq!(last.status, Status::Ok, "{last:?}");
}

#[tokio::test(start_paused = true)]
async fn one_idempotency_key_is_one_call_at_okta() {
    let org = Org::with_token(TOKEN).await;
    let options = ActOptions::default().idempotency_key("incident-4711/suspend");
    let request = ActionRequest::new(SUSPEND_USER, json!({"user_id": TARGET}));
    let first = org
        .running
        .act(SOURCE, request.clone(), options.clone())
        .await
        .unwrap();
    let again = org
        .running
        .act(SOURCE, request.clone(), options.clone())
        .await
        .unwrap();
    assert!(matches!(first.outcome, ActionOutcome::Done { .. }));
    assert_eq!(again.outcome, first.outcome, "the first result, replayed");
    assert!(again.replayed && again.attempts == 0);
    assert_eq!(org.sim.user_calls(UserCall::Suspend), 1);

    // Five at once with another key: still one call.
    let other = org.seeded(UserStatus::Active);
    let running = Arc::new(org.running);
    let options = ActOptions::default().idempotency_key("incident-4712/clear");
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let (running, options) = (running.clone(), options.clone());
            let request = ActionRequest::new(CLEAR_USER_SESSIONS, json!({"user_id": other}));
            tokio::spawn(async move { running.act(SOURCE, request, options).await })
        })
        .collect();
    let mut replayed = 0;
    for call in calls {
        let result = call.await.unwrap().unwrap();
        assert!(matches!(result.outcome, ActionOutcome::Done { .. }));
        replayed += usize::from(result.replayed);
    }
    assert_eq!(replayed, 4);
    assert_eq!(org.sim.user_calls(UserCall::ClearSessions), 1);
}

#[tokio::test(start_paused = true)]
async fn a_503_is_retried_within_bounds() {
    let org = Org::with_token(TOKEN).await;
    org.faults.push_next(Fault::ServerError(503));
    org.faults.push_next(Fault::ServerError(503));
    let done = org
        .act(SUSPEND_USER, json!({"user_id": TARGET}))
        .await
        .expect("the third attempt gets through");
    assert_eq!(done.attempts, 3);
    assert!(matches!(done.outcome, ActionOutcome::Done { .. }));
    assert_eq!(org.faults.requests(), 3, "two 503s, then Okta");
    assert_eq!(org.sim.user_calls(UserCall::Suspend), 1);

    // Three 503s are the bound: three attempts, then a failure that says so.
    let other = org.seeded(UserStatus::Active);
    for _ in 0..3 {
        org.faults.push_next(Fault::ServerError(503));
    }
    let failed = org
        .act(SUSPEND_USER, json!({"user_id": other}))
        .await
        .expect_err("three failures are the limit");
    assert_eq!(org.faults.requests(), 6);
    let text = failed.to_string();
    assert!(text.contains("after 3 attempts"), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert_eq!(org.user(&other).status, UserStatus::Active);
    let warning = org
        .health
        .events()
        .into_iter()
        .rfind(|e| e.kind == HealthKind::Action)
        .expect("a health event");
    assert_eq!(warning.status, Status::Warning, "{warning:?}");
    assert!(
        warning.message.contains(SUSPEND_USER),
        "{}",
        warning.message
    );
}

#[tokio::test(start_paused = true)]
async fn refusals_and_states_are_clear_results_not_an_error_loop() {
    let org = Org::with_token(TOKEN).await;
    let gone = org.seeded(UserStatus::Deprovisioned);
    let reason = refused(org.answer(SUSPEND_USER, &gone).await);
    assert!(
        reason.contains(&format!("user {gone} is DEPROVISIONED")),
        "{reason}"
    );
    assert!(
        reason.contains("only an ACTIVE user can be suspended"),
        "{reason}"
    );
    assert!(reason.contains("E0000001"), "{reason}");
    // One refused suspend and one read of the user; no retry.
    assert_eq!(org.sim.user_calls(UserCall::Suspend), 1);
    assert_eq!(org.sim.user_calls(UserCall::GetUser), 1);
    assert_eq!(org.sim.bucket_calls(RateBucket::UserRead), 1);

    let asleep = org.seeded(UserStatus::Suspended);
    let already = org.answer(SUSPEND_USER, &asleep).await;
    assert!(
        matches!(&already, ActionOutcome::AlreadyDone { detail } if detail["status"] == "SUSPENDED"),
        "{already:?}"
    );
    let awake = org.answer(UNSUSPEND_USER, TARGET).await;
    assert!(
        matches!(&awake, ActionOutcome::AlreadyDone { detail } if detail["status"] == "ACTIVE"),
        "{awake:?}"
    );
    let reason = refused(org.answer(UNSUSPEND_USER, &gone).await);
    assert!(
        reason.contains("only a SUSPENDED user can be unsuspended"),
        "{reason}"
    );

    let reads = org.sim.user_calls(UserCall::GetUser);
    let reason = refused(org.answer(SUSPEND_USER, "00uNoSuchUser0000001").await);
    assert!(
        reason.contains("has no user 00uNoSuchUser0000001"),
        "{reason}"
    );
    assert!(reason.contains("E0000007"), "{reason}");
    assert_eq!(
        org.sim.user_calls(UserCall::GetUser),
        reads,
        "nothing to read"
    );

    let reason = refused(org.answer(RESET_FACTORS, &gone).await);
    assert!(reason.contains("E0000038"), "{reason}");
    assert!(reason.contains("current status"), "{reason}");
    let reason = refused(
        org.answer(CLEAR_USER_SESSIONS, "00uNoSuchUser0000001")
            .await,
    );
    assert!(reason.contains("has no user"), "{reason}");

    // A refusal is an answer: the actions' health stays Ok.
    assert!(org
        .health
        .events()
        .iter()
        .filter(|e| e.kind == HealthKind::Action)
        .all(|e| e.status == Status::Ok));
}

#[tokio::test(start_paused = true)]
async fn a_throttled_action_waits_for_okta_s_reset_and_goes_through() {
    let org = Org::start(
        OktaSimConfig::default().other_rate_limit(1),
        |sim| OktaConfig::new(sim.base_url(), CREDENTIAL),
        |_| api_token(TOKEN),
    )
    .await;
    let first = org.answer(CLEAR_USER_SESSIONS, TARGET).await;
    assert!(matches!(first, ActionOutcome::Done { .. }));
    let window_end = org.sim.rate_window_end();
    let second = org
        .act(SUSPEND_USER, json!({"user_id": TARGET}))
        .await
        .expect("done after the reset");
    assert_eq!(second.attempts, 2, "a 429, then after the reset");
    assert!(matches!(second.outcome, ActionOutcome::Done { .. }));
    assert_eq!(org.sim.throttled(), 1);
    assert!(
        org.sim.now() >= window_end,
        "the retry waited for Okta's reset ({} < {window_end})",
        org.sim.now()
    );
    assert_eq!(org.user(TARGET).status, UserStatus::Suspended);
}

#[tokio::test(start_paused = true)]
async fn a_credential_that_may_not_manage_users_fails_once_naming_the_permission() {
    let org = Org::with_token(READ_ONLY_TOKEN).await;
    let error = org
        .act(SUSPEND_USER, json!({"user_id": TARGET}))
        .await
        .expect_err("a read-only admin cannot suspend");
    let ActionError::Failed {
        message,
        what_to_do,
        ..
    } = &error
    else {
        panic!("expected Failed, got {error:?}");
    };
    assert!(message.contains("E0000006"), "{message}");
    assert!(message.contains("credential 'okta-admin'"), "{message}");
    assert!(message.contains(USERS_MANAGE_SCOPE), "{message}");
    assert!(what_to_do.contains("permissions"), "{what_to_do}");
    assert_eq!(org.sim.user_calls(UserCall::Suspend), 1, "not retried");
    assert_eq!(org.user(TARGET).status, UserStatus::Active);
    let last = org.health.events().into_iter().last().expect("health");
    assert_eq!(
        (last.kind, last.status),
        (HealthKind::Action, Status::Error)
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_app_acts_with_a_token_of_its_action_scope() {
    let credential = |sim: &OktaSimulator| Credential::PrivateKeyJwt {
        token_url: sim.token_url(),
        client_id: CLIENT_ID.into(),
        private_key_pem: SecretString::from(test_keys::EC_PRIVATE_PEM.to_string()),
        key_id: Some("kid-actions-1".into()),
        algorithm: JwtAlgorithm::ES256,
    };
    let register = |sim: &OktaSimulator| {
        sim.oauth()
            .register_key_client(CLIENT_ID, test_keys::EC_PUBLIC_PEM, KeyAlgorithm::ES256)
            .unwrap();
        sim.oauth().allow_scopes(
            CLIENT_ID,
            &[LOGS_SCOPE, "okta.users.read", USERS_MANAGE_SCOPE],
        );
    };
    let org = Org::start(
        OktaSimConfig::default(),
        |sim| {
            register(sim);
            OktaConfig::oauth(sim.base_url(), CREDENTIAL)
        },
        credential,
    )
    .await;
    let done = org.answer(SUSPEND_USER, TARGET).await;
    assert!(matches!(done, ActionOutcome::Done { .. }), "{done:?}");
    assert_eq!(org.sim.oauth().token_requests(), 1);
    let tokens = org.sim.oauth().issued_tokens();
    let scopes = org.sim.oauth().introspect(&tokens[0]).unwrap().scopes;
    assert_eq!(
        scopes,
        [USERS_MANAGE_SCOPE],
        "the action scope, not the log's"
    );
    // The token is kept for the next action.
    org.answer(UNSUSPEND_USER, TARGET).await;
    assert_eq!(org.sim.oauth().token_requests(), 1);

    // A source configured with a scope that cannot manage users gets a clear auth error.
    let narrow = Org::start(
        OktaSimConfig::default(),
        |sim| {
            register(sim);
            OktaConfig::oauth(sim.base_url(), CREDENTIAL).action_scope("okta.users.read")
        },
        credential,
    )
    .await;
    let error = narrow
        .act(SUSPEND_USER, json!({"user_id": TARGET}))
        .await
        .expect_err("okta.users.read cannot suspend");
    let text = error.to_string();
    assert!(text.contains("E0000006"), "{text}");
    assert!(
        text.contains(
            "is granted the okta.users.manage scope (the source asks for: okta.users.read"
        ),
        "{text}"
    );
    assert_eq!(narrow.user(TARGET).status, UserStatus::Active);
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_shows_the_exact_request_and_sends_nothing() {
    let org = Org::with_token(TOKEN).await;
    let offered = org.running.actions(SOURCE).await.unwrap();
    assert_eq!(offered.len(), 4);
    assert!(offered
        .iter()
        .all(|a| a.idempotent && a.permission == USERS_MANAGE_SCOPE));

    let plan = org
        .running
        .plan_action(
            SOURCE,
            &ActionRequest::new(
                CLEAR_USER_SESSIONS,
                json!({"user_id": TARGET, "revoke_oauth_tokens": true}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(plan.requests.len(), 1);
    assert_eq!(plan.requests[0].method, "DELETE");
    assert_eq!(
        plan.requests[0].url,
        format!(
            "{}/api/v1/users/{TARGET}/sessions?oauthTokens=true",
            org.sim.base_url()
        )
    );
    assert!(
        plan.summary.contains("revoke the OAuth tokens"),
        "{}",
        plan.summary
    );
    let plan = org
        .running
        .plan_action(
            SOURCE,
            &ActionRequest::new(SUSPEND_USER, json!({"user_id": TARGET})),
        )
        .await
        .unwrap();
    assert_eq!(plan.requests[0].method, "POST");
    assert!(plan.requests[0]
        .url
        .ends_with(&format!("/api/v1/users/{TARGET}/lifecycle/suspend")));

    for (parameters, expected) in [
        (json!({}), "user_id is missing"),
        (
            json!({"user_id": "00u1/../../groups"}),
            "not an Okta user id",
        ),
        (
            json!({"user_id": TARGET, "force": true}),
            "unknown parameter 'force'",
        ),
    ] {
        let error = org
            .running
            .plan_action(SOURCE, &ActionRequest::new(SUSPEND_USER, parameters))
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(expected), "{error}");
        // Acting with them is refused the same way, before any call.
    }
    let error = org
        .act(SUSPEND_USER, json!({"user_id": "jane@example.com"}))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("not an Okta user id"), "{error}");
    match org.act("delete_user", json!({"user_id": TARGET})).await {
        Err(ActionError::UnknownAction { offered, .. }) => assert_eq!(
            offered,
            "suspend_user, unsuspend_user, clear_user_sessions, reset_factors"
        ),
        other => panic!("expected UnknownAction, got {other:?}"),
    }
    assert_eq!(org.faults.requests(), 0, "nothing reached the org");
    assert_eq!(org.user(TARGET).status, UserStatus::Active);
}

/// Current-thread runtime (the paused clock's): the capture is the thread's default
/// subscriber, so it sees the simulator's tasks too.
#[tokio::test(start_paused = true)]
async fn no_secret_reaches_results_errors_health_or_logs() {
    let capture = TraceCapture::new();
    let guard = capture.set_default();
    let mut scanner = LeakScanner::new();
    scanner
        .secret("admin API token", TOKEN)
        .secret("read-only API token", READ_ONLY_TOKEN);
    let org = Org::with_token(TOKEN).await;
    let denied = Org::with_token(READ_ONLY_TOKEN).await;
    let mut texts: Vec<(String, String)> = Vec::new();

    let gone = org.seeded(UserStatus::Deprovisioned);
    for (action, user) in [
        (SUSPEND_USER, TARGET),
        (SUSPEND_USER, TARGET),
        (SUSPEND_USER, gone.as_str()),
        (RESET_FACTORS, gone.as_str()),
        (CLEAR_USER_SESSIONS, "00uNoSuchUser0000001"),
    ] {
        let result = org.act(action, json!({"user_id": user})).await;
        texts.push((format!("{action} {user}"), format!("{result:?}")));
    }
    org.faults.push_next(Fault::ServerError(503));
    org.faults.push_next(Fault::ServerError(503));
    org.faults.push_next(Fault::ServerError(503));
    let failed = org.act(UNSUSPEND_USER, json!({"user_id": TARGET})).await;
    texts.push(("after 503s".into(), format!("{failed:?}")));
    let error = denied
        .act(SUSPEND_USER, json!({"user_id": TARGET}))
        .await
        .expect_err("read-only");
    texts.push(("denied".into(), format!("{error} {error:?}")));
    let plan = org
        .running
        .plan_action(
            SOURCE,
            &ActionRequest::new(SUSPEND_USER, json!({"user_id": TARGET})),
        )
        .await;
    texts.push(("plan".into(), format!("{plan:?}")));
    for org in [&org, &denied] {
        for event in org.health.events() {
            texts.push(("health".into(), format!("{event:?}")));
        }
    }
    drop(guard);
    texts.push(("trace".into(), capture.text()));
    assert!(
        capture.text().contains("okta request failed"),
        "the capture saw the source's logs"
    );
    for (what, text) in &texts {
        scanner.scan(what.clone(), text);
    }
    scanner.assert_clean();
}
