//! Every auth, request, paging and response variant of a declarative definition, each
//! against the REST API simulator over loopback: the source reads every event of the window
//! exactly once, in order, or fails with the error that says why.

mod rest_support;

use std::sync::Arc;
use std::time::Duration;

use rest_support::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use ucp_core::credentials::Credential;
use ucp_core::{Clock, Cursor, SourceError};
use ucp_sources::rest::{load, RestConfig, RestSource};
use ucp_testkit::rest::{RestApi, RestApiConfig, SimAuth, SimFormat, SimPaging, SimTime};

/// A definition of `api`'s events endpoint with these sections.
fn definition(
    config: &RestApiConfig,
    auth: Value,
    request: Value,
    paging: Option<Value>,
    response: Value,
) -> Value {
    let mut request_object = json!({
        "apiEndpoint": format!("{{{{baseUrl}}}}{}", config.path),
        "httpMethod": if config.post { "POST" } else { "GET" },
        "queryWindowInMin": 60,
        "timeoutInSeconds": 10,
    });
    if let Some((start, end)) = &config.window {
        if !config.post {
            request_object["startTimeAttributeName"] = start.clone().into();
            request_object["endTimeAttributeName"] = end.clone().into();
        }
    }
    for (k, v) in request.as_object().unwrap() {
        request_object[k] = v.clone();
    }
    let mut properties = json!({
        "connectorDefinitionName": "Variant",
        "auth": auth,
        "request": request_object,
        "response": response,
        "ucp": {
            "provider": "variant", "stream": "events",
            "recordIdJsonPath": format!("$.{}", config.id_field),
            "recordTimeJsonPath": format!("$.{}", config.time_field),
        },
    });
    if let Some(paging) = paging {
        properties["paging"] = paging;
    }
    json!({ "kind": "RestApiPoller", "properties": properties })
}

fn json_events() -> Value {
    json!({"eventsJsonPaths": ["$"]})
}

async fn serve(config: RestApiConfig, events: usize) -> (RestApi, Vec<String>) {
    let clock = Clock::new();
    let api = RestApi::start(config, clock).await.unwrap();
    let now = clock.now_utc();
    let ids = api.add_between(
        events,
        now - chrono::Duration::minutes(30),
        now - chrono::Duration::seconds(2),
    );
    (api, ids)
}

fn source(api: &RestApi, definition: &Value) -> RestSource {
    let loaded = load("variant.json", &definition.to_string()).unwrap_or_else(|e| panic!("{e}"));
    RestSource::new(
        Arc::new(loaded),
        RestConfig::new(CREDENTIAL)
            .parameter("baseUrl", api.base_url())
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap()
}

/// One round with `credential`; the ids read.
async fn read(source: &RestSource, credential: Credential) -> Vec<String> {
    let cx = context_at(source, store(credential).await, Clock::new().now_utc());
    let (records, _) = round(source, &cx, Cursor::start()).await;
    ids(&records)
}

async fn first_error(source: &RestSource, credential: Credential) -> SourceError {
    let cx = context_at(source, store(credential).await, Clock::new().now_utc());
    collect(source, &cx, &Cursor::start()).await.unwrap_err()
}

fn token(value: &str) -> Credential {
    api_token(value)
}

fn basic(user: &str, password: &str) -> Credential {
    Credential::Basic {
        user: user.into(),
        password: SecretString::from(password.to_string()),
    }
}

fn paged(mut config: RestApiConfig, paging: SimPaging) -> RestApiConfig {
    config.paging = paging;
    config.default_page_size = 7;
    config
}

// ---- auth ---------------------------------------------------------------------------------

#[tokio::test]
async fn auth_none_and_basic() {
    let (api, expected) = serve(RestApiConfig::basic(), 12).await;
    let d = definition(
        &RestApiConfig::basic(),
        json!({"type": "None"}),
        json!({}),
        None,
        json_events(),
    );
    let anonymous = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous()
            .parameter("baseUrl", api.base_url())
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap();
    let cx = context_at(
        &anonymous,
        store(token("unused")).await,
        Clock::new().now_utc(),
    );
    assert_eq!(
        ids(&round(&anonymous, &cx, Cursor::start()).await.0),
        expected
    );

    let mut config = RestApiConfig::basic();
    config.auth = SimAuth::Basic {
        user: "svc".into(),
        password: "pa:ss w0rd".into(),
    };
    let (api, expected) = serve(config.clone(), 5).await;
    let d = definition(
        &config,
        json!({"type": "Basic", "userName": "{{username}}", "password": "{{password}}"}),
        json!({}),
        None,
        json_events(),
    );
    let s = source(&api, &d);
    assert_eq!(read(&s, basic("svc", "pa:ss w0rd")).await, expected);
    assert!(matches!(
        first_error(&s, basic("svc", "wrong")).await,
        SourceError::Auth { .. }
    ));
}

#[tokio::test]
async fn auth_api_key_in_a_header_with_an_identifier_and_in_the_post_payload() {
    let mut config = RestApiConfig::basic();
    config.auth = SimAuth::ApiKeyHeader {
        header: "Authorization".into(),
        prefix: Some("SSWS".into()),
        key: "k-123".into(),
    };
    let (api, expected) = serve(config.clone(), 9).await;
    let d = definition(
        &config,
        json!({"type": "APIKey", "apiKeyName": "Authorization", "apiKeyIdentifier": "SSWS", "apiKey": "{{apikey}}"}),
        json!({}),
        None,
        json_events(),
    );
    assert_eq!(read(&source(&api, &d), token("k-123")).await, expected);

    let mut config = RestApiConfig::basic();
    config.post = true;
    config.auth = SimAuth::ApiKeyBody {
        field: "api_key".into(),
        key: "body-key".into(),
    };
    let (api, expected) = serve(config.clone(), 6).await;
    let d = definition(
        &config,
        json!({"type": "APIKey", "apiKeyName": "api_key", "apiKey": "{{apikey}}", "isApiKeyInPostPayload": true}),
        json!({"startTimeAttributeName": "since", "endTimeAttributeName": "until", "isPostPayloadJson": true}),
        None,
        json_events(),
    );
    assert_eq!(read(&source(&api, &d), token("body-key")).await, expected);
    let body = &api.seen_requests()[0].1;
    assert!(
        body.contains("\"api_key\":\"body-key\"") && body.contains("\"since\""),
        "{body}"
    );
}

fn oauth_config(basic_auth: bool) -> RestApiConfig {
    let mut config = RestApiConfig::basic();
    config.auth = SimAuth::OAuth {
        client_id: "cid".into(),
        secret: "csecret".into(),
        basic: basic_auth,
        required_header: None,
        required_query: Some(("audience".into(), "events".into())),
        scope: "events.read".into(),
    };
    config
}

fn oauth_definition(config: &RestApiConfig, in_header: bool) -> Value {
    definition(
        config,
        json!({
            "type": "OAuth2", "grantType": "client_credentials", "clientId": "{{clientId}}", "clientSecret": "{{clientSecret}}",
            "tokenEndpoint": "{{baseUrl}}/oauth/token", "scope": "events.read", "isCredentialsInHeaders": in_header,
            "tokenEndpointQueryParameters": {"audience": "events"}
        }),
        json!({}),
        None,
        json_events(),
    )
}

fn client(api: &RestApi, secret: &str) -> Credential {
    Credential::ClientSecret {
        token_url: api.token_url(),
        client_id: "cid".into(),
        secret: SecretString::from(secret.to_string()),
    }
}

#[tokio::test]
async fn auth_oauth2_mints_once_refreshes_after_a_401_and_keeps_the_secret_at_its_token_url() {
    let config = oauth_config(false);
    let (api, expected) = serve(config.clone(), 8).await;
    let s = source(&api, &oauth_definition(&config, false));
    let cx = context_at(
        &s,
        store(client(&api, "csecret")).await,
        Clock::new().now_utc(),
    );
    assert_eq!(ids(&round(&s, &cx, Cursor::start()).await.0), expected);
    collect(&s, &cx, &Cursor::start()).await.unwrap();
    assert_eq!(
        api.tokens_issued(),
        1,
        "one token for every call of the credential"
    );

    // The API forgets its tokens: one 401, a fresh token, the same call again.
    api.revoke_tokens();
    let page = collect(&s, &cx, &Cursor::start()).await.unwrap();
    assert_eq!(page.records.len(), 8);
    assert_eq!(api.tokens_issued(), 2);

    assert!(matches!(
        first_error(&s, client(&api, "wrong")).await,
        SourceError::Auth { .. }
    ));
    let elsewhere = Credential::ClientSecret {
        token_url: "http://127.0.0.1:9/other/token".into(),
        client_id: "cid".into(),
        secret: SecretString::from("csecret".to_string()),
    };
    let error = first_error(&s, elsewhere).await;
    assert!(
        matches!(error, SourceError::Config { .. })
            && error
                .to_string()
                .contains("only sent to its credential's token URL"),
        "{error}"
    );

    let config = oauth_config(true);
    let (api, expected) = serve(config.clone(), 3).await;
    assert_eq!(
        read(
            &source(&api, &oauth_definition(&config, true)),
            client(&api, "csecret")
        )
        .await,
        expected
    );
}

fn login_config(
    token_header: Option<&str>,
    send_header: &str,
    prepend: Option<&str>,
) -> RestApiConfig {
    let mut config = RestApiConfig::basic();
    config.auth = SimAuth::Login {
        user_field: "username".into(),
        password_field: "pwd".into(),
        user: "reader".into(),
        password: "s3cret".into(),
        token_header: token_header.map(str::to_string),
        send_header: send_header.into(),
        prepend: prepend.map(str::to_string),
    };
    config
}

#[tokio::test]
async fn auth_jwt_token_from_the_body_or_a_header_and_a_fresh_login_after_a_401() {
    let config = login_config(None, "Authorization", Some("Bearer"));
    let (api, expected) = serve(config.clone(), 5).await;
    let d = definition(
        &config,
        json!({"type": "JwtToken", "tokenEndpoint": "{{baseUrl}}/login", "userName": {"key": "username", "value": "{{username}}"},
               "password": {"key": "pwd", "value": "{{password}}"}, "isJsonRequest": true, "jwtTokenJsonPath": "$.token"}),
        json!({}),
        None,
        json_events(),
    );
    let s = source(&api, &d);
    let cx = context_at(
        &s,
        store(basic("reader", "s3cret")).await,
        Clock::new().now_utc(),
    );
    assert_eq!(ids(&round(&s, &cx, Cursor::start()).await.0), expected);
    collect(&s, &cx, &Cursor::start()).await.unwrap();
    assert_eq!(api.logins(), 1, "the token is kept");
    api.revoke_tokens();
    collect(&s, &cx, &Cursor::start()).await.unwrap();
    assert_eq!(api.logins(), 2, "a 401 logs in again once");
    assert!(matches!(
        first_error(&source(&api, &d), basic("reader", "nope")).await,
        SourceError::Auth { .. }
    ));

    let config = login_config(Some("X-Auth-Token"), "Authorization", None);
    let (api, expected) = serve(config.clone(), 4).await;
    let d = definition(
        &config,
        json!({"type": "JwtToken", "tokenEndpoint": "{{baseUrl}}/login", "userName": {"key": "username", "value": "{{username}}"},
               "password": {"key": "pwd", "value": "{{password}}"}, "jwtTokenInResponseHeader": true, "jwtTokenHeaderName": "X-Auth-Token",
               "noAccessTokenPrepend": true}),
        json!({}),
        None,
        json_events(),
    );
    assert_eq!(
        read(&source(&api, &d), basic("reader", "s3cret")).await,
        expected
    );
}

#[tokio::test]
async fn auth_session_id_from_the_login_answer() {
    let config = login_config(Some("X-Session-Id"), "X-Session-Id", None);
    let (api, expected) = serve(config.clone(), 6).await;
    let d = definition(
        &config,
        json!({"type": "Session", "sessionLoginRequestUri": "{{baseUrl}}/login", "sessionIdName": "X-Session-Id", "sessionTimeoutInMinutes": 30,
               "userName": {"key": "username", "value": "{{username}}"}, "password": {"key": "pwd", "value": "{{password}}"}}),
        json!({}),
        None,
        json_events(),
    );
    assert_eq!(
        read(&source(&api, &d), basic("reader", "s3cret")).await,
        expected
    );
    assert_eq!(api.logins(), 1);
}

// ---- request ------------------------------------------------------------------------------

#[tokio::test]
async fn request_time_formats_interval_parameters_and_form_posts() {
    for (time, format) in [
        (SimTime::UnixSeconds, "UnixTimestamp"),
        (SimTime::UnixMillis, "UnixTimestampInMills"),
        (SimTime::Iso, "yyyy-MM-dd'T'HH:mm:ss.fffK"),
    ] {
        let mut config = RestApiConfig::basic();
        config.time = time;
        let (api, expected) = serve(config.clone(), 5).await;
        let d = definition(
            &config,
            json!({"type": "None"}),
            json!({"queryTimeFormat": format, "headers": {"X-Tenant": "{{tenant}}"}, "queryParameters": {"sort": "asc"}}),
            None,
            json_events(),
        );
        let loaded = Arc::new(load("v.json", &d.to_string()).unwrap());
        let s = RestSource::new(
            loaded,
            RestConfig::anonymous()
                .parameter("baseUrl", api.base_url())
                .parameter("tenant", "t1")
                .start_ago(Duration::from_secs(3600)),
        )
        .unwrap();
        let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
        assert_eq!(
            ids(&round(&s, &cx, Cursor::start()).await.0),
            expected,
            "{format}"
        );
        assert!(api.seen_requests()[0].0.contains("sort=asc"));
    }

    let mut config = RestApiConfig::basic();
    config.window = None;
    config.interval = Some(("interval".into(), "time:".into(), "..".into()));
    let (api, expected) = serve(config.clone(), 5).await;
    let d = definition(
        &config,
        json!({"type": "None"}),
        json!({"queryTimeIntervalAttributeName": "interval", "queryTimeIntervalPrepend": "time:", "queryTimeIntervalDelimiter": ".."}),
        None,
        json_events(),
    );
    let s = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous()
            .parameter("baseUrl", api.base_url())
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    assert_eq!(ids(&round(&s, &cx, Cursor::start()).await.0), expected);

    let mut config = RestApiConfig::basic();
    config.post = true;
    let (api, expected) = serve(config.clone(), 5).await;
    let d = definition(
        &config,
        json!({"type": "None"}),
        json!({"startTimeAttributeName": "since", "endTimeAttributeName": "until", "isPostPayloadJson": false}),
        None,
        json_events(),
    );
    let s = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous()
            .parameter("baseUrl", api.base_url())
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    assert_eq!(ids(&round(&s, &cx, Cursor::start()).await.0), expected);
    assert!(
        api.seen_requests()[0].1.starts_with("since="),
        "a form body"
    );
}

// ---- paging -------------------------------------------------------------------------------

async fn paged_read(
    config: RestApiConfig,
    paging: Value,
    response: Value,
) -> (Vec<String>, Vec<String>, u64) {
    let (api, expected) = serve(config.clone(), 23).await;
    let d = definition(
        &config,
        json!({"type": "None"}),
        json!({"queryParameters": {"limit": "7"}}),
        Some(paging),
        response,
    );
    let s = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous()
            .parameter("baseUrl", api.base_url())
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    let got = ids(&round(&s, &cx, Cursor::start()).await.0);
    (got, expected, api.requests())
}

fn enveloped(config: RestApiConfig) -> RestApiConfig {
    RestApiConfig {
        format: SimFormat::Json {
            events_path: vec!["data".into(), "items".into()],
            gzip: false,
        },
        ..config
    }
}

#[tokio::test]
async fn paging_link_header_link_in_body_and_next_page_url() {
    let (got, expected, requests) = paged_read(
        paged(RestApiConfig::basic(), SimPaging::LinkHeader),
        json!({"pagingType": "LinkHeader"}),
        json_events(),
    )
    .await;
    assert_eq!(got, expected);
    assert_eq!(requests, 4);
    let (got, expected, _) = paged_read(
        enveloped(paged(RestApiConfig::basic(), SimPaging::LinkInBody)),
        json!({"pagingType": "LinkHeader", "linkHeaderTokenJsonPath": "$.links.next"}),
        json!({"eventsJsonPaths": ["$.data.items"]}),
    )
    .await;
    assert_eq!(got, expected);
    let (got, expected, _) = paged_read(
        enveloped(paged(RestApiConfig::basic(), SimPaging::NextUrlInBody)),
        json!({"pagingType": "NextPageUrl", "nextPageTokenJsonPath": "$.next"}),
        json!({"eventsJsonPaths": ["$.data.items"]}),
    )
    .await;
    assert_eq!(got, expected);
}

#[tokio::test]
async fn paging_tokens_in_the_body_or_headers() {
    let (got, expected, _) = paged_read(
        enveloped(paged(RestApiConfig::basic(), SimPaging::TokenInBody { token_param: "pageToken".into() })),
        json!({"pagingType": "NextPageToken", "nextPageTokenJsonPath": "$.paging.nextPageToken", "nextPageParaName": "pageToken", "hasNextFlagJsonPath": "$.paging.hasMore"}),
        json!({"eventsJsonPaths": ["$.data.items"]}),
    )
    .await;
    assert_eq!(got, expected);
    let (got, expected, _) = paged_read(
        paged(RestApiConfig::basic(), SimPaging::TokenInHeader),
        json!({"pagingType": "NextPageToken", "nextPageTokenResponseHeader": "X-Next-Page-Token", "nextPageRequestHeader": "X-Page-Token"}),
        json_events(),
    )
    .await;
    assert_eq!(got, expected);
}

#[tokio::test]
async fn paging_persistent_token_carries_on_across_rounds() {
    let config = enveloped(paged(
        RestApiConfig::basic(),
        SimPaging::TokenInBody {
            token_param: "pageToken".into(),
        },
    ));
    let (api, expected) = serve(
        RestApiConfig {
            window: None,
            ..config.clone()
        },
        10,
    )
    .await;
    let d = definition(
        &RestApiConfig {
            window: None,
            ..config
        },
        json!({"type": "None"}),
        json!({"queryParameters": {"limit": "7"}}),
        Some(
            json!({"pagingType": "PersistentToken", "nextPageTokenJsonPath": "$.paging.nextPageToken", "nextPageParaName": "pageToken"}),
        ),
        json!({"eventsJsonPaths": ["$.data.items"]}),
    );
    let s = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous().parameter("baseUrl", api.base_url()),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    let first = collect(&s, &cx, &Cursor::start()).await.unwrap();
    assert_eq!(ids(&first.records), expected[..7]);
    assert!(first.more);
    let second = collect(&s, &cx, &first.next).await.unwrap();
    assert_eq!(ids(&second.records), expected[7..]);
    // The last token is kept: the next round asks from it, not from the start.
    assert!(
        second.next.as_str().unwrap().contains("pg_"),
        "{}",
        second.next
    );
}

#[tokio::test]
async fn paging_offsets_and_page_numbers() {
    let (got, expected, _) = paged_read(
        paged(RestApiConfig::basic(), SimPaging::Offset),
        json!({"pagingType": "Offset", "offsetParaName": "offset", "pageSize": 7, "pageSizeParameterName": "limit"}),
        json_events(),
    )
    .await;
    assert_eq!(got, expected);
    for (zero_based, stop) in [
        (false, json!({"hasNextFlagJsonPath": "$.hasMore"})),
        (false, json!({"totalResultsJsonPath": "$.total"})),
        (true, json!({"pageCountJsonPath": "$.pageCount"})),
        (false, json!({})),
    ] {
        let mut paging = json!({"pagingType": "CountBasedPaging", "pageNumberParaName": "page", "pageSize": 7, "zeroBasedIndexing": zero_based});
        for (k, v) in stop.as_object().unwrap() {
            paging[k] = v.clone();
        }
        let (got, expected, requests) = paged_read(
            enveloped(paged(
                RestApiConfig::basic(),
                SimPaging::PageNumber { zero_based },
            )),
            paging.clone(),
            json!({"eventsJsonPaths": ["$.data.items"]}),
        )
        .await;
        assert_eq!(got, expected, "{paging}");
        assert_eq!(requests, 4, "{paging}");
    }
}

// ---- response -----------------------------------------------------------------------------

#[tokio::test]
async fn responses_csv_gzip_json_filters_success_status_content_ids_and_attributes() {
    for (gzip, delimiter) in [(false, b';'), (true, b',')] {
        let config = RestApiConfig {
            format: SimFormat::Csv { gzip, delimiter },
            ..RestApiConfig::basic()
        };
        let (api, expected) = serve(config.clone(), 6).await;
        let mut response = json!({"eventsJsonPaths": ["$"], "format": "csv", "csvDelimiter": (delimiter as char).to_string(), "hasCsvHeader": true});
        if gzip {
            response["isGzipCompressed"] = true.into();
        }
        let d = definition(&config, json!({"type": "None"}), json!({}), None, response);
        let s = RestSource::new(
            Arc::new(load("v.json", &d.to_string()).unwrap()),
            RestConfig::anonymous()
                .parameter("baseUrl", api.base_url())
                .start_ago(Duration::from_secs(3600)),
        )
        .unwrap();
        let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
        let (records, _) = round(&s, &cx, Cursor::start()).await;
        assert_eq!(ids(&records), expected);
        let first: Value = serde_json::from_slice(&records[0].payload).unwrap();
        assert_eq!(
            first["actor"], "Doe, Jane",
            "quoted CSV fields keep their delimiter"
        );
    }

    let config = RestApiConfig {
        format: SimFormat::Json {
            events_path: vec!["data".into(), "items".into()],
            gzip: true,
        },
        ..RestApiConfig::basic()
    };
    let (api, expected) = serve(config.clone(), 8).await;
    let mut d = definition(
        &config,
        json!({"type": "None"}),
        json!({}),
        None,
        json!({"eventsJsonPaths": ["$.data.items[?@.action == 'login']"], "isGzipCompressed": true, "successStatusJsonPath": "$.status", "successStatusValue": "ok"}),
    );
    d["properties"]["addOnAttributes"] = json!({"Region": "{{region}}"});
    d["properties"]["ucp"]
        .as_object_mut()
        .unwrap()
        .remove("recordIdJsonPath");
    let s = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous()
            .parameter("baseUrl", api.base_url())
            .parameter("region", "eu")
            .start_ago(Duration::from_secs(3600)),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    let (records, _) = round(&s, &cx, Cursor::start()).await;
    let events = api.events();
    let logins: Vec<_> = events.iter().filter(|e| e.action == "login").collect();
    assert_eq!(records.len(), logins.len());
    assert!(expected.len() > records.len());
    for (record, event) in records.iter().zip(&logins) {
        let payload: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(payload["id"], event.id.as_str());
        assert_eq!(payload["Region"], "eu");
        assert_eq!(
            record.id.as_str().len(),
            32,
            "a content hash without an id path"
        );
    }
    api.set_status("degraded");
    let error = collect(&s, &cx, &Cursor::start()).await.unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed { .. }) && error.to_string().contains("$.status"),
        "{error}"
    );
}

#[tokio::test]
async fn request_timeout_rate_qps_and_paging_parameters_only() {
    // timeoutInSeconds is the timeout of every request: a slower answer is Retryable.
    let url = answering_after(
        200,
        "application/json",
        b"[]".to_vec(),
        Duration::from_secs(3),
    )
    .await;
    let d = json!({"properties": {
        "connectorDefinitionName": "Slow", "auth": {"type": "None"},
        "request": {"apiEndpoint": format!("{url}/e"), "timeoutInSeconds": 1, "rateLimitQPS": 2},
        "response": {"eventsJsonPaths": ["$"]}
    }});
    let s = RestSource::new(
        Arc::new(load("slow.json", &d.to_string()).unwrap()),
        RestConfig::anonymous(),
    )
    .unwrap();
    use ucp_core::Source;
    let budget = s.describe().budget;
    assert_eq!(
        (budget.limit, budget.per),
        (120, Duration::from_secs(60)),
        "rateLimitQPS 2 is 120 calls a minute"
    );
    let error = first_error(&s, token("x")).await;
    assert!(
        matches!(error, SourceError::Retryable { .. })
            && error.to_string().contains("did not answer in time"),
        "{error}"
    );

    // pagingQueryParamOnly: next-page requests carry only the paging parameters.
    let config = enveloped(paged(
        RestApiConfig {
            window: None,
            ..RestApiConfig::basic()
        },
        SimPaging::TokenInBody {
            token_param: "pageToken".into(),
        },
    ));
    let (api, expected) = serve(config.clone(), 10).await;
    let d = definition(
        &config,
        json!({"type": "None"}),
        json!({"queryParameters": {"limit": "7", "filter": "all"}}),
        Some(
            json!({"pagingType": "NextPageToken", "nextPageTokenJsonPath": "$.paging.nextPageToken", "nextPageParaName": "pageToken", "pagingQueryParamOnly": true}),
        ),
        json!({"eventsJsonPaths": ["$.data.items"]}),
    );
    let s = RestSource::new(
        Arc::new(load("v.json", &d.to_string()).unwrap()),
        RestConfig::anonymous().parameter("baseUrl", api.base_url()),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    assert_eq!(
        ids(&round(&s, &cx, Cursor::start()).await.0)[..7],
        expected[..7]
    );
    let seen = api.seen_requests();
    assert!(
        seen[0].0.contains("filter=all") && seen[0].0.contains("limit=7"),
        "{:?}",
        seen[0]
    );
    assert!(
        seen[1].0.starts_with("pageToken=") && !seen[1].0.contains("filter"),
        "{:?}",
        seen[1]
    );
}

#[tokio::test]
async fn responses_deflate_and_csv_boundaries() {
    use std::io::Write;
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    zlib.write_all(br#"{"result":[{"id":"a","t":"2026-03-02T09:00:00Z"},{"id":"b","t":"2026-03-02T09:00:01Z"}]}"#).unwrap();
    let url = answering(200, "application/octet-stream", zlib.finish().unwrap()).await;
    let d = json!({"properties": {
        "connectorDefinitionName": "Deflate", "auth": {"type": "None"},
        "request": {"apiEndpoint": format!("{url}/e")},
        "response": {"eventsJsonPaths": ["$.result"], "isGzipCompressed": true, "compressionAlgo": "deflate"},
        "ucp": {"recordIdJsonPath": "$.id", "recordTimeJsonPath": "$.t"}
    }});
    let s = RestSource::new(
        Arc::new(load("d.json", &d.to_string()).unwrap()),
        RestConfig::anonymous(),
    )
    .unwrap();
    let cx = context_at(&s, store(token("x")).await, Clock::new().now_utc());
    assert_eq!(
        ids(&collect(&s, &cx, &Cursor::start()).await.unwrap().records),
        ["a", "b"]
    );

    let url = answering(
        200,
        "text/csv",
        b"--boundary-7\r\nid|t\r\nx|2026-03-02T09:00:00Z\r\n--boundary-7\r\n".to_vec(),
    )
    .await;
    let d = json!({"properties": {
        "connectorDefinitionName": "Boundary", "auth": {"type": "None"},
        "request": {"apiEndpoint": format!("{url}/e")},
        "response": {"eventsJsonPaths": ["$"], "format": "csv", "csvDelimiter": "|", "hasCsvBoundary": true},
        "ucp": {"recordIdJsonPath": "$.id", "recordTimeJsonPath": "$.t"}
    }});
    let s = RestSource::new(
        Arc::new(load("b.json", &d.to_string()).unwrap()),
        RestConfig::anonymous(),
    )
    .unwrap();
    assert_eq!(
        ids(&collect(&s, &cx, &Cursor::start()).await.unwrap().records),
        ["x"]
    );
}
