use super::*;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use ucp_core::http::HttpFailure;

fn org() -> Url {
    Url::parse("https://contoso.okta.com").unwrap()
}

fn request(action: &str, parameters: Value) -> ActionRequest {
    ActionRequest::new(action, parameters)
}

fn parse(action: &str, parameters: Value) -> Result<UserAction, String> {
    UserAction::parse(&request(action, parameters))
}

fn suspend() -> UserAction {
    parse(SUSPEND_USER, json!({"user_id": "00ub0oNGTSWTBKOLGLNR"})).unwrap()
}

fn refusal(status: u16, headers: &[(&str, &str)], body: &str) -> Refusal {
    let mut map = HeaderMap::new();
    map.insert("x-okta-request-id", HeaderValue::from_static("req-7"));
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let received = DateTime::<Utc>::from_timestamp(1_780_000_000, 0).unwrap();
    Refusal {
        failure: HttpFailure::new(
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            received,
        ),
        code: super::super::request::error_code(body.as_bytes()),
    }
}

fn okta_error(code: &str, summary: &str) -> String {
    json!({"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae1", "errorCauses": []})
        .to_string()
}

fn api_token() -> OktaAuth {
    OktaAuth::ApiToken {
        credential: "okta-admin".into(),
    }
}

fn judge(action: &UserAction, refusal: &Refusal) -> Verdict {
    action.judge(
        refusal,
        "contoso.okta.com",
        &api_token(),
        USERS_MANAGE_SCOPE,
    )
}

#[test]
fn each_action_is_its_request() {
    let cases = [
        (
            SUSPEND_USER,
            json!({"user_id": "00u1"}),
            "POST",
            "https://contoso.okta.com/api/v1/users/00u1/lifecycle/suspend",
        ),
        (
            UNSUSPEND_USER,
            json!({"user_id": "00u1"}),
            "POST",
            "https://contoso.okta.com/api/v1/users/00u1/lifecycle/unsuspend",
        ),
        (
            RESET_FACTORS,
            json!({"user_id": "00u1"}),
            "POST",
            "https://contoso.okta.com/api/v1/users/00u1/lifecycle/reset_factors",
        ),
        (
            CLEAR_USER_SESSIONS,
            json!({"user_id": "00u1"}),
            "DELETE",
            "https://contoso.okta.com/api/v1/users/00u1/sessions",
        ),
        (
            CLEAR_USER_SESSIONS,
            json!({"user_id": "00u1", "revoke_oauth_tokens": false}),
            "DELETE",
            "https://contoso.okta.com/api/v1/users/00u1/sessions",
        ),
        (
            CLEAR_USER_SESSIONS,
            json!({"user_id": "00u1", "revoke_oauth_tokens": true}),
            "DELETE",
            "https://contoso.okta.com/api/v1/users/00u1/sessions?oauthTokens=true",
        ),
    ];
    for (name, parameters, method, url) in cases {
        let action = parse(name, parameters).unwrap();
        assert_eq!(action.name(), name);
        let plan = action.plan(&org(), "contoso.okta.com");
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].method, method);
        assert_eq!(plan.requests[0].url, url);
        assert_eq!(plan.requests[0].body, None);
        assert!(
            plan.summary.contains("contoso.okta.com"),
            "{}",
            plan.summary
        );
    }
}

#[test]
fn the_catalogue_declares_every_action_idempotent_with_the_configured_permission() {
    let actions = catalogue("okta.users.manage");
    let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            SUSPEND_USER,
            UNSUSPEND_USER,
            CLEAR_USER_SESSIONS,
            RESET_FACTORS
        ]
    );
    for action in &actions {
        assert!(action.idempotent, "{}", action.name);
        assert_eq!(action.permission, "okta.users.manage");
        assert_eq!(action.parameters["required"], json!(["user_id"]));
        assert_eq!(action.parameters["additionalProperties"], json!(false));
    }
    assert_eq!(
        actions[2].parameters["properties"]["revoke_oauth_tokens"]["type"],
        "boolean"
    );
}

#[test]
fn bad_parameters_are_refused_naming_what_to_fix() {
    let cases = [
        (SUSPEND_USER, json!({}), "user_id is missing"),
        (SUSPEND_USER, Value::Null, "user_id is missing"),
        (SUSPEND_USER, json!("00u1"), "must be a JSON object"),
        (SUSPEND_USER, json!({"user_id": 7}), "must be a string"),
        (SUSPEND_USER, json!({"user_id": ""}), "not an Okta user id"),
        (
            SUSPEND_USER,
            json!({"user_id": "../groups/00g1"}),
            "not an Okta user id",
        ),
        (
            SUSPEND_USER,
            json!({"user_id": "00u1?x=1"}),
            "not an Okta user id",
        ),
        (
            SUSPEND_USER,
            json!({"user_id": "jane@contoso.com"}),
            "a login must be looked up",
        ),
        (
            SUSPEND_USER,
            json!({"user_id": "a".repeat(65)}),
            "not an Okta user id",
        ),
        (
            SUSPEND_USER,
            json!({"user_id": "00u1", "reason": "x"}),
            "unknown parameter 'reason'",
        ),
        (
            SUSPEND_USER,
            json!({"user_id": "00u1", "revoke_oauth_tokens": true}),
            "unknown parameter 'revoke_oauth_tokens'",
        ),
        (
            CLEAR_USER_SESSIONS,
            json!({"user_id": "00u1", "revoke_oauth_tokens": "yes"}),
            "must be true or false",
        ),
        (
            "delete_user",
            json!({"user_id": "00u1"}),
            "no action 'delete_user'",
        ),
    ];
    for (name, parameters, expected) in cases {
        let why = parse(name, parameters.clone()).unwrap_err();
        assert!(why.contains(expected), "{name} {parameters}: {why}");
    }
    assert!(parse(SUSPEND_USER, json!({"user_id": "a".repeat(64)})).is_ok());
}

#[test]
fn okta_s_answers_become_clear_outcomes() {
    let action = suspend();
    let missing = refusal(
        404,
        &[],
        &okta_error(
            "E0000007",
            "Not found: Resource not found: 00ub0oNGTSWTBKOLGLNR (User)",
        ),
    );
    let Verdict::Outcome(ActionOutcome::Refused { reason }) = judge(&action, &missing) else {
        panic!("404 E0000007 is a refusal");
    };
    assert!(
        reason.contains("has no user 00ub0oNGTSWTBKOLGLNR"),
        "{reason}"
    );
    assert!(
        reason.contains("E0000007") && reason.contains("request id req-7"),
        "{reason}"
    );

    let not_active = refusal(
        400,
        &[],
        &okta_error("E0000001", "Api validation failed: user"),
    );
    assert!(matches!(judge(&action, &not_active), Verdict::ReadBack));
    // Only suspend and unsuspend read back: another action's 400 is a refusal as it came.
    let reset = parse(RESET_FACTORS, json!({"user_id": "00u1"})).unwrap();
    let Verdict::Outcome(ActionOutcome::Refused { reason }) = judge(&reset, &not_active) else {
        panic!("400 on reset is a refusal");
    };
    assert!(
        reason.contains("refused to reset the factors of user 00u1"),
        "{reason}"
    );

    let status = refusal(
        403,
        &[],
        &okta_error(
            "E0000038",
            "This operation is not allowed in the user's current status.",
        ),
    );
    let Verdict::Outcome(ActionOutcome::Refused { reason }) = judge(&reset, &status) else {
        panic!("403 E0000038 is about the user, not the credential");
    };
    assert!(reason.contains("current status"), "{reason}");

    let no_permission = refusal(
        403,
        &[("x-rate-limit-remaining", "0")],
        &okta_error(
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
    );
    let Verdict::Error(SourceError::Auth { message }) = judge(&action, &no_permission) else {
        panic!("403 E0000006 is a refused credential");
    };
    assert!(message.contains("credential 'okta-admin'"), "{message}");
    assert!(message.contains("okta.users.manage"), "{message}");
    assert!(message.contains("E0000006"), "{message}");

    let oauth = OktaAuth::OAuth {
        credential: "okta-app".into(),
        scope: "okta.logs.read".into(),
    };
    let Verdict::Error(SourceError::Auth { message }) = action.judge(
        &no_permission,
        "contoso.okta.com",
        &oauth,
        "okta.users.manage",
    ) else {
        panic!("403 E0000006 is a refused credential");
    };
    assert!(
        message.contains(
            "service app behind credential 'okta-app' is granted the okta.users.manage scope"
        ),
        "{message}"
    );

    let revoked = refusal(401, &[], &okta_error("E0000011", "Invalid token provided"));
    let Verdict::Error(SourceError::Auth { message }) = judge(&action, &revoked) else {
        panic!("401 is a refused credential");
    };
    assert!(
        message.contains("credential 'okta-admin' holds a current, unrevoked API token"),
        "{message}"
    );

    let throttled = refusal(
        429,
        &[
            ("x-rate-limit-limit", "1200"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1780000030"),
        ],
        &okta_error(
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        ),
    );
    let Verdict::Error(SourceError::RateLimited { hint, message }) = judge(&action, &throttled)
    else {
        panic!("429 is rate limited");
    };
    assert_eq!(hint.remaining, Some(0));
    assert_eq!(hint.limit, Some(1200));
    assert!(hint.reset.is_some());
    assert!(message.contains("action suspend_user"), "{message}");

    let failing = refusal(503, &[("retry-after", "4")], "");
    let Verdict::Error(SourceError::Retryable { retry_after, .. }) = judge(&action, &failing)
    else {
        panic!("503 is retryable");
    };
    assert_eq!(retry_after, Some(std::time::Duration::from_secs(4)));

    let not_okta = refusal(404, &[], "<html>Not Found</html>");
    assert!(matches!(
        judge(&action, &not_okta),
        Verdict::Error(SourceError::Config { .. })
    ));
}

#[test]
fn the_status_read_back_tells_already_done_from_refused() {
    let refused = refusal(
        400,
        &[],
        &okta_error("E0000001", "Api validation failed: user"),
    );
    let suspend = suspend();
    assert!(matches!(
        suspend.after_read_back("SUSPENDED", &refused, Some("req-8")),
        ActionOutcome::AlreadyDone { detail } if detail["status"] == "SUSPENDED" && detail["okta_request_id"] == "req-8"
    ));
    let ActionOutcome::Refused { reason } =
        suspend.after_read_back("DEPROVISIONED", &refused, None)
    else {
        panic!("a deprovisioned user is refused");
    };
    assert!(
        reason.contains("is DEPROVISIONED: only an ACTIVE user can be suspended"),
        "{reason}"
    );
    assert!(reason.contains("E0000001"), "{reason}");

    let unsuspend = parse(UNSUSPEND_USER, json!({"user_id": "00u1"})).unwrap();
    assert!(matches!(
        unsuspend.after_read_back("ACTIVE", &refused, None),
        ActionOutcome::AlreadyDone { .. }
    ));
    assert!(matches!(
        unsuspend.after_read_back("STAGED", &refused, None),
        ActionOutcome::Refused { reason } if reason.contains("only a SUSPENDED user")
    ));
}

#[test]
fn a_user_s_status_is_read_from_okta_s_user_object() {
    assert_eq!(
        user_status(br#"{"id":"00u1","status":"SUSPENDED","profile":{}}"#),
        Ok("SUSPENDED".into())
    );
    assert_eq!(
        user_status(br#"{"status":"PASSWORD_EXPIRED"}"#),
        Ok("PASSWORD_EXPIRED".into())
    );
    for bad in [
        &br#"{"id":"00u1"}"#[..],
        br#"{"status":"suspended"}"#,
        br#"{"status":""}"#,
        br#"{"status":7}"#,
        br#"{"status":"ACTIVE\nX"}"#,
        br#"[]"#,
        b"not json",
    ] {
        assert!(
            user_status(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn a_success_says_what_was_done() {
    let ActionOutcome::Done { detail } = suspend().done(Some("req-1")) else {
        panic!("done");
    };
    assert_eq!(
        detail,
        json!({"user_id": "00ub0oNGTSWTBKOLGLNR", "status": "SUSPENDED", "okta_request_id": "req-1"})
    );
    let clear = parse(
        CLEAR_USER_SESSIONS,
        json!({"user_id": "00u1", "revoke_oauth_tokens": true}),
    )
    .unwrap();
    let ActionOutcome::Done { detail } = clear.done(None) else {
        panic!("done");
    };
    assert_eq!(detail["oauth_tokens_revoked"], true);
}

proptest! {
    #[test]
    fn any_parameters_give_an_action_under_the_user_or_a_reason(
        action in prop_oneof![
            Just(SUSPEND_USER.to_string()),
            Just(CLEAR_USER_SESSIONS.to_string()),
            "\\PC{0,20}",
        ],
        user in "\\PC{0,70}",
        revoke in prop_oneof![Just(json!(true)), Just(json!("x")), Just(Value::Null)],
    ) {
        let mut parameters = json!({"user_id": user});
        if !revoke.is_null() {
            parameters["revoke_oauth_tokens"] = revoke;
        }
        match parse(&action, parameters) {
            Ok(parsed) => {
                prop_assert_eq!(&parsed.user, &user);
                let url = parsed.url(&org());
                let prefix = format!("/api/v1/users/{user}/");
                prop_assert!(url.path().starts_with(&prefix));
                prop_assert_eq!(url.host_str(), Some("contoso.okta.com"));
            }
            Err(why) => prop_assert!(!why.is_empty() && !why.contains('\n')),
        }
    }

    #[test]
    fn any_user_body_gives_a_status_name_or_a_reason(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(status) = user_status(&body) {
            prop_assert!(status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
        }
    }

    #[test]
    fn any_status_string_is_kept_only_when_okta_shaped(status in "\\PC{0,50}") {
        let body = json!({"status": status}).to_string();
        let shaped = (1..=40).contains(&status.len())
            && status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        prop_assert_eq!(user_status(body.as_bytes()).is_ok(), shaped);
    }
}
