//! Errors, rate limits, auth and checks of the Okta source against the simulator.

mod okta_support;

use std::time::Duration;

use okta_support::*;
use secrecy::SecretString;
use ucp_core::credentials::Credential;
use ucp_core::{BudgetKey, Cursor, Filter, Source, SourceError};
use ucp_sources::okta::{OktaAuth, OktaSource};
use ucp_testkit::okta::{Fault, OktaSimConfig};

#[tokio::test]
async fn describe_names_the_org_budget_with_half_the_quota() {
    let sim = org(OktaSimConfig::default().clock(clock())).await;
    let info = OktaSource::new(source_config(&sim)).unwrap().describe();
    assert_eq!(info.provider, "okta");
    assert!(info.stream("system_log").is_some());
    assert!(info.capabilities.server_side_filter);
    assert_eq!(info.budget.key, BudgetKey::new("okta", sim.host()));
    assert_eq!(info.budget.share, 0.5);
    assert_eq!(info.budget.per, Duration::from_secs(60));
}

#[tokio::test]
async fn every_response_s_rate_limit_headers_become_the_page_hint() {
    let clock = clock();
    let sim = org(OktaSimConfig::default()
        .clock(clock)
        .backlog(30)
        .rate_limit(50))
    .await;
    let source = OktaSource::new(source_config(&sim).page_limit(10)).unwrap();
    let cx = context(&source, clock).await;
    let mut cursor = Cursor::start();
    for remaining in [49, 48, 47] {
        let page = collect(&source, &cx, &cursor, None).await.unwrap();
        let hint = page.hint.unwrap();
        assert_eq!(hint.limit, Some(50));
        assert_eq!(hint.remaining, Some(remaining));
        let reset = hint.reset.unwrap();
        assert_eq!(
            reset.timestamp() % 60,
            0,
            "reset is the end of the minute window"
        );
        assert!(reset > sim.now() && reset - sim.now() <= chrono::Duration::seconds(60));
        cursor = page.next;
    }
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_reset_and_the_cursor_stays() {
    let clock = clock();
    let sim = org(OktaSimConfig::default()
        .clock(clock)
        .backlog(30)
        .rate_limit(2))
    .await;
    let source = OktaSource::new(source_config(&sim).page_limit(10)).unwrap();
    let cx = context(&source, clock).await;
    let first = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    let second = collect(&source, &cx, &first.next, None).await.unwrap();
    let err = collect(&source, &cx, &second.next, None).await.unwrap_err();
    let SourceError::RateLimited { message, hint } = &err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(hint.remaining, Some(0));
    let reset = hint.reset.unwrap();
    assert_eq!(reset.timestamp() % 60, 0);
    assert!(reset > sim.now());
    assert!(message.contains("E0000047"), "{message}");
    assert!(message.contains(sim.host()), "{message}");
    assert_eq!(sim.throttled(), 1);

    // Fed to the org's budget, the hint pauses every call until the reset.
    cx.budget().observe(hint);
    let paused = cx.budget().paused_until().expect("the budget pauses");
    assert!(paused >= clock.instant_at(reset));

    // Once the window has passed, the same cursor gives the next page.
    sim.advance(Duration::from_secs(61));
    let third = collect(&source, &cx, &second.next, None).await.unwrap();
    assert_eq!(third.records.len(), 10);
    assert_eq!(sim.requests_with(TOKEN), 4);
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_naming_the_org_but_not_the_token() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(5)).await;
    let source = OktaSource::new(source_config(&sim)).unwrap();
    let wrong = "00wrongTokenValue123";
    let cx = context_with(&source, Some(api_token(wrong)), clock).await;
    let err = collect(&source, &cx, &Cursor::start(), None)
        .await
        .unwrap_err();
    let SourceError::Auth { message } = &err else {
        panic!("expected Auth, got {err:?}");
    };
    assert!(
        message.starts_with(&format!(
            "Okta rejected the API token for org {}",
            sim.host()
        )),
        "{message}"
    );
    assert!(
        message.contains("E0000011") && message.contains("check"),
        "{message}"
    );
    assert!(
        !format!("{err} {err:?}").contains(wrong),
        "the token never appears"
    );
    assert_eq!(sim.requests_with(wrong), 1);
    assert_eq!(sim.unauthorized(), 1);

    // Check fails the same way with exactly one call; with the right token it passes.
    assert!(matches!(
        source.check(&cx).await,
        Err(SourceError::Auth { .. })
    ));
    assert_eq!(sim.requests_with(wrong), 2);
    let good = context(&source, clock).await;
    source.check(&good).await.unwrap();
    assert_eq!(sim.requests_with(TOKEN), 1);
}

#[tokio::test]
async fn a_bearer_access_token_is_accepted_once_the_org_knows_it() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(5)).await;
    let config = source_config(&sim).auth(OktaAuth::AccessToken {
        credential: CREDENTIAL.into(),
    });
    let source = OktaSource::new(config).unwrap();
    let cx = context_with(&source, Some(api_token("access-123")), clock).await;
    let err = collect(&source, &cx, &Cursor::start(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Okta rejected the OAuth access token"),
        "{err}"
    );
    sim.allow_bearer("access-123");
    let page = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    assert_eq!(page.records.len(), 5);
}

#[tokio::test]
async fn a_missing_or_wrong_kind_of_credential_is_a_config_error() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock)).await;
    let source = OktaSource::new(source_config(&sim)).unwrap();
    let none = context_with(&source, None, clock).await;
    let err = collect(&source, &none, &Cursor::start(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains(CREDENTIAL));
    let basic = Credential::Basic {
        user: "u".into(),
        password: SecretString::from("p".to_string()),
    };
    let wrong_kind = context_with(&source, Some(basic), clock).await;
    let err = collect(&source, &wrong_kind, &Cursor::start(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("api token"), "{err}");
    assert_eq!(sim.requests(), 0, "no call without a usable credential");
}

#[tokio::test]
async fn a_filter_the_org_refuses_is_a_config_error_naming_it() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(5)).await;
    let source = OktaSource::new(source_config(&sim)).unwrap();
    let cx = context(&source, clock).await;
    let typo = Filter::equals("/eventTyp", "user.session.start");
    let err = collect(&source, &cx, &Cursor::start(), Some(&typo))
        .await
        .unwrap_err();
    let SourceError::Config { message } = &err else {
        panic!("expected Config, got {err:?}");
    };
    assert!(
        message.contains(r#"`eventTyp eq "user.session.start"`"#),
        "{message}"
    );
    assert!(message.contains(sim.host()), "{message}");
}

#[tokio::test]
async fn malformed_and_truncated_pages_name_the_org_and_page_and_do_not_advance() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(40)).await;
    let source = OktaSource::new(source_config(&sim).page_limit(10)).unwrap();
    let cx = context(&source, clock).await;
    let first = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    let cursor = first.next;
    for fault in [Fault::Malformed, Fault::Truncated] {
        sim.push_fault(fault);
        let err = collect(&source, &cx, &cursor, None).await.unwrap_err();
        let SourceError::Malformed { message } = &err else {
            panic!("expected Malformed, got {err:?}");
        };
        assert!(
            message.contains(&format!("Okta org {}", sim.host())),
            "{message}"
        );
        assert!(message.contains("page http://"), "{message}");
        assert!(message.contains("after="), "names the page: {message}");
    }
    // The cursor was not advanced: collecting it again yields the page that follows `first`.
    let page = collect(&source, &cx, &cursor, None).await.unwrap();
    let expected: Vec<String> = sim.visible_events()[10..20]
        .iter()
        .map(|e| e.uuid.clone())
        .collect();
    assert_eq!(
        page.records
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retryable() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock).backlog(5)).await;
    let source =
        OktaSource::new(source_config(&sim).request_timeout(Duration::from_millis(300))).unwrap();
    let cx = context(&source, clock).await;
    sim.push_fault(Fault::ServerError {
        status: 503,
        retry_after: Some(7),
    });
    match collect(&source, &cx, &Cursor::start(), None).await {
        Err(SourceError::Retryable {
            message,
            retry_after,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(
                message.contains("503") && message.contains(sim.host()),
                "{message}"
            );
        }
        other => panic!("expected Retryable, got {other:?}"),
    }
    sim.push_fault(Fault::Latency(Duration::from_secs(3)));
    match collect(&source, &cx, &Cursor::start(), None).await {
        Err(SourceError::Retryable { message, .. }) => {
            assert!(message.contains("timeout"), "{message}");
            // It names the setting that bounds it.
            assert!(
                message.contains(&format!("Okta org {} did not answer in time", sim.host())),
                "{message}"
            );
            assert!(
                message.ends_with("the request timeout is 300ms (OktaConfig::request_timeout)"),
                "{message}"
            );
        }
        other => panic!("expected Retryable, got {other:?}"),
    }
    let page = collect(&source, &cx, &Cursor::start(), None).await.unwrap();
    assert_eq!(page.records.len(), 5);
}

#[tokio::test]
async fn a_cursor_of_another_org_is_refused_without_a_call() {
    let clock = clock();
    let sim = org(OktaSimConfig::default().clock(clock)).await;
    let source = OktaSource::new(source_config(&sim)).unwrap();
    let cx = context(&source, clock).await;
    let foreign = Cursor::new("https://fabrikam.okta.com/api/v1/logs?after=1_2&limit=1000");
    let err = collect(&source, &cx, &foreign, None).await.unwrap_err();
    assert!(matches!(err, SourceError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("fabrikam.okta.com"));
    let unknown = source
        .collect(
            &cx,
            ucp_core::CollectRequest {
                stream: "users".into(),
                cursor: Cursor::start(),
                filter: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(unknown, SourceError::Config { .. }));
    assert_eq!(sim.requests(), 0);
}

#[tokio::test]
async fn bad_configurations_are_refused_by_name() {
    for (config, needle) in [
        (
            ucp_sources::OktaConfig::new("contoso.okta.com", "c"),
            "not a URL",
        ),
        (
            ucp_sources::OktaConfig::new("ftp://contoso.okta.com", "c"),
            "http(s)",
        ),
        (
            ucp_sources::OktaConfig::new("https://contoso.okta.com", "c").page_limit(0),
            "page limit",
        ),
        (
            ucp_sources::OktaConfig::new("https://contoso.okta.com", "c").page_limit(1001),
            "page limit",
        ),
        (
            ucp_sources::OktaConfig::new("https://contoso.okta.com", "c").quota_share(0.0),
            "quota share",
        ),
    ] {
        let err = OktaSource::new(config).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    let ok = OktaSource::new(ucp_sources::OktaConfig::new(
        "https://contoso.okta.com/",
        "c",
    ))
    .unwrap();
    assert_eq!(ok.org_name(), "contoso.okta.com");
}
