//! Loading definitions: a mistake names the file, the JSON path of the field and what is
//! wrong; secrets are refused in the file; CCF field names match without regard to case;
//! the catalog's facts (id, version, config schema) and `dcrConfig` come out of the file; and
//! no definition text or response body makes the loader or the reader panic (fuzzed).

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use ucp_core::{Clock, Cursor, Source, SourceError};
use ucp_sources::rest::{load, load_file, shipped, RestConfig, RestSource};

mod rest_support;
use rest_support::answering;

fn base() -> Value {
    json!({
        "kind": "RestApiPoller",
        "properties": {
            "connectorDefinitionName": "Demo",
            "auth": {"type": "APIKey", "apiKeyName": "X-Key", "apiKey": "{{apikey}}"},
            "request": {"apiEndpoint": "https://{{host}}/events", "startTimeAttributeName": "from", "endTimeAttributeName": "to"},
            "paging": {"pagingType": "NextPageToken", "nextPageTokenJsonPath": "$.next", "nextPageParaName": "token"},
            "response": {"eventsJsonPaths": ["$.events"]}
        }
    })
}

/// `base()` changed by `edit`, loaded as `demo.json`: the error's path and problem.
fn error_of(edit: impl FnOnce(&mut Value)) -> (String, String) {
    let mut value = base();
    edit(&mut value);
    let error = load("demo.json", &value.to_string()).expect_err("a mistake");
    assert_eq!(error.origin, "demo.json");
    assert!(error.to_string().starts_with("demo.json: "), "{error}");
    (error.path, error.problem)
}

/// A change to the base definition.
type Edit = Box<dyn FnOnce(&mut Value)>;

#[test]
fn mistakes_name_the_file_the_json_path_and_what_is_wrong() {
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|v| v["properties"]["paging"]["pagingType"] = "Cursor".into()),
            "$.properties.paging.pagingType",
            "unknown paging type 'Cursor'",
        ),
        (
            Box::new(|v| {
                v["properties"]["request"]
                    .as_object_mut()
                    .unwrap()
                    .remove("apiEndpoint");
            }),
            "$.properties.request.apiEndpoint",
            "is required",
        ),
        (
            Box::new(|v| {
                v["properties"]["request"]["apiEndpoint"] = "https://{{host/events".into()
            }),
            "$.properties.request.apiEndpoint",
            "not closed",
        ),
        (
            Box::new(|v| {
                v["properties"]["request"]["queryParametersTemplate"] = "{_QueryWindowBegin}".into()
            }),
            "$.properties.request.queryParametersTemplate",
            "unknown variable",
        ),
        (
            Box::new(|v| v["properties"]["auth"]["apiKey"] = "hunter2".into()),
            "$.properties.auth.apiKey",
            "secrets come from the credential store",
        ),
        (
            Box::new(|v| v["properties"]["auth"]["type"] = "AWS".into()),
            "$.properties.auth.type",
            "not supported",
        ),
        (
            Box::new(
                |v| v["properties"]["auth"] = json!({"type": "OAuth2", "grantType": "authorization_code", "clientId": "{{clientId}}", "clientSecret": "{{clientSecret}}", "tokenEndpoint": "https://x/t"}),
            ),
            "$.properties.auth.grantType",
            "client_credentials",
        ),
        (
            Box::new(|v| {
                v["properties"]["request"]
                    .as_object_mut()
                    .unwrap()
                    .remove("endTimeAttributeName");
            }),
            "$.properties.request.endTimeAttributeName",
            "is required when startTimeAttributeName",
        ),
        (
            Box::new(|v| v["properties"]["request"]["retryCount"] = 9.into()),
            "$.properties.request.retryCount",
            "from 1 to 6",
        ),
        (
            Box::new(|v| v["properties"]["request"]["queryTimeFormat"] = "yyyy-QQ".into()),
            "$.properties.request.queryTimeFormat",
            "QQ",
        ),
        (
            Box::new(|v| {
                v["properties"]["response"]["eventsJsonPaths"] = json!(["$.events[", "$"])
            }),
            "$.properties.response.eventsJsonPaths[0]",
            "not a JSONPath",
        ),
        (
            Box::new(|v| v["properties"]["response"]["eventsJsonPaths"] = json!([])),
            "$.properties.response.eventsJsonPaths",
            "at least one",
        ),
        (
            Box::new(|v| v["properties"]["response"]["format"] = "xml".into()),
            "$.properties.response.format",
            "xml is not supported",
        ),
        (
            Box::new(|v| {
                v["properties"]["paging"]
                    .as_object_mut()
                    .unwrap()
                    .remove("nextPageParaName");
            }),
            "$.properties.paging.nextPageParaName",
            "how the token is sent",
        ),
        (
            Box::new(|v| {
                v["properties"]["paging"] = json!({"pagingType": "Offset", "offsetParaName": "o"})
            }),
            "$.properties.paging.pageSize",
            "is required with Offset",
        ),
        (
            Box::new(
                |v| v["properties"]["dcrConfig"] = json!({"dataCollectionEndpoint": "https://d", "dataCollectionRuleImmutableId": "dcr-1", "streamName": "Okta"}),
            ),
            "$.properties.dcrConfig.streamName",
            "Custom-",
        ),
        (
            Box::new(|v| v["kind"] = "GCS".into()),
            "$.kind",
            "only RestApiPoller",
        ),
        (
            Box::new(|v| v["properties"]["request"] = json!([1])),
            "$.properties.request",
            "must be an object",
        ),
        (
            Box::new(|v| v["properties"]["ucp"] = json!({"lateArrival": {"lookbackInMin": 0}})),
            "$.properties.ucp.lateArrival.lookbackInMin",
            "from 1",
        ),
    ];
    for (edit, path, says) in cases {
        let (at, problem) = error_of(edit);
        assert_eq!(at, path, "{problem}");
        assert!(problem.contains(says), "{path}: {problem}");
    }
    let broken = load("broken.json", "{\"properties\": {").unwrap_err();
    assert_eq!(
        (broken.path.as_str(), broken.origin.as_str()),
        ("$", "broken.json")
    );
    assert!(broken.problem.starts_with("not JSON"), "{broken}");
    let missing = load_file(std::path::Path::new("/nonexistent/okta.json")).unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("/nonexistent/okta.json: $: cannot read the file"),
        "{missing}"
    );
}

#[test]
fn field_names_match_without_case_and_unused_ones_are_warnings() {
    let mut value = base();
    let properties = value["properties"].as_object_mut().unwrap();
    let name = properties.remove("connectorDefinitionName").unwrap();
    properties.insert("ConnectorDefinitionName".into(), name);
    properties["auth"] = json!({"TYPE": "apikey", "ApiKeyName": "X-Key", "APIKEY": "{{apikey}}"});
    properties["paging"] = json!({"PAGINGTYPE": "nextpagetoken", "NextPageTokenJsonPath": "$.next", "nextpageparaname": "token"});
    properties["response"] = json!({"EventsJsonPaths": ["$.events"], "logResponseContent": true});
    let text = value.to_string();
    let definition = load("demo.json", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(definition.connector_definition_name, "Demo");
    assert_eq!(definition.warnings.len(), 1, "{:?}", definition.warnings);
    assert!(definition.warnings[0].starts_with("$.properties.response.logResponseContent"));
}

#[test]
fn catalog_facts_config_schema_and_dcr_config() {
    let okta = shipped::okta_system_log().unwrap();
    assert_eq!(
        (okta.meta.id.as_str(), okta.meta.version.as_str()),
        ("okta-system-log", "1.0.0")
    );
    let schema = okta.config_schema();
    assert_eq!(schema["properties"]["pageSize"]["default"], "1000");
    assert_eq!(schema["required"], json!(["orgUrl", "credential"]));
    assert_eq!(okta.parameters(), ["orgUrl", "pageSize"]);

    let mut value = base();
    value["properties"]["dcrConfig"] = json!({"dataCollectionEndpoint": "https://dce.ingest.monitor.azure.com", "dataCollectionRuleImmutableId": "dcr-0123", "streamName": "Custom-Demo_CL"});
    let definition = load("demo.json", &value.to_string()).unwrap();
    let dcr = definition.dcr.unwrap();
    assert_eq!(
        (dcr.rule_id.as_str(), dcr.stream.as_str()),
        ("dcr-0123", "Custom-Demo_CL")
    );
}

#[test]
fn an_instance_without_its_parameters_or_credential_is_refused_by_name() {
    let definition = Arc::new(load("demo.json", &base().to_string()).unwrap());
    let error = RestSource::new(definition.clone(), RestConfig::new("c")).unwrap_err();
    assert!(
        error.to_string().contains("set parameter(s) host"),
        "{error}"
    );
    let error = RestSource::new(
        definition.clone(),
        RestConfig::anonymous().parameter("host", "h"),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("name the credential its APIKey auth uses"),
        "{error}"
    );
    let source = RestSource::new(
        definition,
        RestConfig::new("c").parameter("host", "api.example.com"),
    )
    .unwrap();
    assert_eq!(source.describe().budget.key.account, "api.example.com");
    let error = source.cursor_at("other", chrono::Utc::now()).unwrap_err();
    assert!(matches!(error, SourceError::Config { .. }));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9${}_.'\\[\\]:/ -]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("pagingType".to_string()),
                    Just("apiEndpoint".to_string()),
                    Just("eventsJsonPaths".to_string()),
                    Just("auth".to_string()),
                    Just("request".to_string()),
                    Just("paging".to_string()),
                    Just("response".to_string()),
                    Just("ucp".to_string()),
                    Just("queryTimeFormat".to_string()),
                    Just("format".to_string()),
                    "[a-zA-Z]{1,12}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in ".{0,400}") {
        let _ = load("fuzz.json", &text);
    }

    #[test]
    fn arbitrary_definitions_give_a_definition_or_a_typed_error(section in json_value(), at in 0usize..6) {
        let mut value = base();
        let slot = ["auth", "request", "paging", "response", "ucp", "dcrConfig"][at];
        value["properties"][slot] = section;
        if let Err(error) = load("fuzz.json", &value.to_string()) {
            prop_assert!(error.path.starts_with('$'));
            prop_assert!(!error.problem.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_response_bodies_give_pages_or_typed_errors(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            "[a-z0-9,;\"\n]{0,200}".prop_map(String::into_bytes),
        ],
        status in prop_oneof![Just(200u16), Just(200), Just(429), Just(500), Just(401), Just(404)],
        shape in 0usize..3,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let url = answering(status, "application/json", body).await;
            let mut value = base();
            match shape {
                0 => {}
                1 => {
                    value["properties"]["response"] = json!({"eventsJsonPaths": ["$"], "format": "csv", "isGzipCompressed": true});
                    value["properties"]["paging"] = json!({"pagingType": "CountBasedPaging", "pageNumberParaName": "p", "totalResultsJsonPath": "$.total"});
                }
                _ => {
                    value["properties"]["response"] = json!({"eventsJsonPaths": ["$..items[?@.x > 1]"], "successStatusJsonPath": "$.s", "successStatusValue": "ok"});
                    value["properties"]["ucp"] = json!({"recordIdJsonPath": "$.id", "recordTimeJsonPath": "$.t", "lateArrival": {"lookbackInMin": 5}});
                }
            }
            value["properties"]["request"]["apiEndpoint"] = format!("{url}/events").into();
            let definition = Arc::new(load("fuzz.json", &value.to_string()).unwrap());
            let source = RestSource::new(definition, ucp_sources::rest::RestConfig::new("c")).unwrap();
            let store = Arc::new(ucp_core::credentials::MemoryCredentials::new());
            ucp_core::credentials::CredentialStore::put(
                store.as_ref(),
                ucp_core::credentials::CredentialRef::new("t", "c"),
                ucp_core::credentials::Credential::ApiToken { token: secrecy::SecretString::from("k".to_string()) },
            ).await.unwrap();
            let clock = Clock::new();
            let budget = Arc::new(ucp_core::RateBudget::new(source.describe().budget, clock));
            let cx = ucp_core::SourceContext::new("fuzz", budget, ucp_core::Context::standalone("t", store, clock).unwrap());
            let request = ucp_core::CollectRequest { stream: "events".into(), cursor: Cursor::start(), filter: None };
            match source.collect(&cx, request).await {
                Ok(page) => assert!(page.records.iter().all(|r| !r.id.as_str().is_empty())),
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_saved_cursors_give_pages_or_typed_errors(
        start in prop_oneof![
            Just(chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis()),
            Just(chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis()),
            any::<i64>(),
            -1_000_000i64..4_000_000_000_000,
        ],
        end in prop_oneof![Just(None), Just(None), any::<i64>().prop_map(Some)],
        text in prop_oneof![Just(None), Just(None), Just(None), ".{0,40}".prop_map(Some)],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let url = answering(200, "application/json", br#"{"events":[]}"#.to_vec()).await;
            let mut value = base();
            value["properties"]["request"]["apiEndpoint"] = format!("{url}/events").into();
            value["properties"]["ucp"] = json!({"lateArrival": {"lookbackInMin": 10080}, "catchUpWindowInMin": 44640});
            let definition = Arc::new(load("fuzz.json", &value.to_string()).unwrap());
            let source = RestSource::new(definition, RestConfig::new("c")).unwrap();
            let store = Arc::new(ucp_core::credentials::MemoryCredentials::new());
            ucp_core::credentials::CredentialStore::put(
                store.as_ref(),
                ucp_core::credentials::CredentialRef::new("t", "c"),
                ucp_core::credentials::Credential::ApiToken { token: secrecy::SecretString::from("k".to_string()) },
            ).await.unwrap();
            let clock = Clock::new();
            let budget = Arc::new(ucp_core::RateBudget::new(source.describe().budget, clock));
            let cx = ucp_core::SourceContext::new("fuzz", budget, ucp_core::Context::standalone("t", store, clock).unwrap());
            let cursor = match &text {
                Some(text) => Cursor::new(text.clone()),
                None => {
                    let mut saved = json!({"v": 1, "start": start});
                    if let Some(end) = end {
                        saved["end"] = end.into();
                    }
                    Cursor::new(saved.to_string())
                }
            };
            let request = ucp_core::CollectRequest { stream: "events".into(), cursor, filter: None };
            let outcome = source.collect(&cx, request).await;
            match outcome {
                Ok(page) => assert!(page.records.is_empty()),
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        });
    }
}
