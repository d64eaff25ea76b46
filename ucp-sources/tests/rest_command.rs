//! `ucp connector validate` and `ucp connector preview`: the binary itself on the shipped
//! definitions and on a broken one, and a preview of the first page against the Globex
//! simulator with the credential from the environment.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ucp_core::credentials::EnvCredentials;
use ucp_core::Clock;
use ucp_sources::rest::command::{preview, validate, PreviewOptions};
use ucp_testkit::rest::{RestApi, RestApiConfig};

fn definitions() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions")
}

fn ucp(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ucp"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn validate_describes_a_good_definition_and_names_the_field_of_a_bad_one() {
    let okta = definitions().join("okta_system_log.json");
    let (ok, out, _) = ucp(&["connector", "validate", okta.to_str().unwrap()]);
    assert!(ok);
    assert!(out.contains("okta_system_log.json: valid"), "{out}");
    assert!(
        out.contains("connector okta-system-log 1.0.0 (OktaSSOv2)"),
        "{out}"
    );
    assert!(
        out.contains("reaching back 10 min for late events"),
        "{out}"
    );
    assert!(
        out.contains("parameters: orgUrl (required), pageSize (default 1000)"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        ucp_sources::rest::shipped::ACME_ALERTS.replace("NextPageToken", "NextPage"),
    )
    .unwrap();
    let (ok, _, err) = ucp(&["connector", "validate", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("bad.json: $.properties.paging.pagingType: unknown paging type 'NextPage'"),
        "{err}"
    );
    let (ok, _, err) = ucp(&["connector", "frobnicate"]);
    assert!(!ok && err.contains("usage:"));
    for (name, _) in ucp_sources::rest::shipped::ALL {
        assert!(validate(&definitions().join(name)).is_ok(), "{name}");
    }
}

#[tokio::test]
async fn preview_shows_the_first_page_with_the_credential_from_the_environment() {
    let clock = Clock::new();
    let api = RestApi::start(RestApiConfig::globex_audit(), clock)
        .await
        .unwrap();
    let now = clock.now_utc();
    let ids = api.add_between(
        5,
        now - chrono::Duration::minutes(20),
        now - chrono::Duration::seconds(5),
    );
    let credentials = EnvCredentials::from_vars([
        ("UCP_CRED__DEFAULT__GLOBEX__KIND", "api_token"),
        ("UCP_CRED__DEFAULT__GLOBEX__TOKEN", "globex-key-31c4"),
    ]);
    let mut options = PreviewOptions {
        credential: Some("globex".into()),
        limit: 3,
        start_ago: Duration::from_secs(3600),
        ..PreviewOptions::default()
    };
    options
        .parameters
        .insert("baseUrl".into(), api.base_url().into());
    let text = preview(
        &definitions().join("globex_audit_export.json"),
        &options,
        Arc::new(credentials),
    )
    .await
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, id) in lines[..3].iter().zip(&ids) {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["id"], id.as_str());
        assert_eq!(record["event"]["event_id"], id.as_str());
    }
    assert!(
        lines[3].starts_with("# 5 records on the first page (3 shown), more: false"),
        "{text}"
    );
    assert!(!text.contains("globex-key-31c4"));

    let error = preview(
        &definitions().join("globex_audit_export.json"),
        &PreviewOptions::default(),
        Arc::new(EnvCredentials::from_vars([("X", "y")])),
    )
    .await
    .unwrap_err();
    assert!(error.contains("baseUrl"), "{error}");
}
