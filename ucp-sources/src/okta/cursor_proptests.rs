//! The Okta source's cursors under arbitrary input (issue 12, item 6).
//!
//! A saved cursor comes back from a checkpoint store, which a person can edit or copy from
//! another org. Inputs covered:
//! - any string as a saved cursor, and URL-shaped cursors built from mixed parts (schemes,
//!   user names and passwords, hosts of this and other orgs, ports, paths near
//!   `/api/v1/logs`, query pairs with zero, one or several `filter`s, fragments): either a
//!   request to this org's System Log carrying exactly the job's filter and the cursor's
//!   other parameters, or a configuration error naming the org that never repeats the
//!   cursor's query, password or fragment;
//! - the first request for any start time, page size and filter: it reads back as itself
//!   and resumes verbatim.

use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use reqwest::Url;
use ucp_core::SourceError;

use super::cursor::{filter_of, first_url, limit_of, resume_url, LOGS_PATH};

/// A value no message may repeat.
const PLANTED: &str = "pl4nted-s3cret-VALUE";

/// The orgs a source may read: Okta's own host, and a simulator on a loopback port.
fn org() -> impl Strategy<Value = (Url, String)> {
    select(vec![
        ("https://contoso.okta.com", "contoso.okta.com"),
        ("http://127.0.0.1:8081", "127.0.0.1:8081"),
    ])
    .prop_map(|(url, name)| (Url::parse(url).expect("an org URL"), name.to_string()))
}

fn filter() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        select(vec![
            r#"eventType eq "user.session.start""#,
            r#"eventType sw "user." and outcome.result eq "FAILURE""#,
            "",
            "a&b=c#d",
        ])
        .prop_map(|f| Some(f.to_string())),
        any::<String>().prop_map(Some),
    ]
}

/// Query pairs, `filter` among them as often as not.
fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = select(vec![
        "since",
        "until",
        "limit",
        "after",
        "sortOrder",
        "filter",
        "filter",
        "FILTER",
        "access_token",
        "",
    ]);
    let value = prop_oneof![
        select(vec![
            "1000",
            "0",
            "-1",
            "18446744073709551616",
            "1_2",
            "ASCENDING",
            r#"eventType eq "a""#,
            PLANTED,
        ])
        .prop_map(String::from),
        any::<String>(),
    ];
    vec((key.prop_map(String::from), value), 0..5)
}

/// A cursor assembled from parts, most of which look like a `next` link of some org.
fn url_cursor() -> impl Strategy<Value = String> {
    (
        select(vec!["https", "http", "HTTPS", "ftp", "file", "okta"]),
        select(vec![
            "",
            "user@",
            "user:pl4nted-s3cret-VALUE@",
            ":pl4nted-s3cret-VALUE@",
        ]),
        select(vec![
            "contoso.okta.com",
            "CONTOSO.okta.com",
            "contoso.okta.com.",
            "fabrikam.okta.com",
            "contoso.okta.com.evil.example",
            "127.0.0.1",
            "[::1]",
            "",
        ]),
        select(vec![
            "", ":443", ":80", ":8081", ":8443", ":0", ":99999", ":",
        ]),
        select(vec![
            "/api/v1/logs",
            "/api/v1/logs/",
            "/api/v1/./logs",
            "/api/v1/x/../logs",
            "/API/V1/LOGS",
            "/api%2Fv1%2Flogs",
            "/api/v1/users",
            "",
        ]),
        query(),
        select(vec!["", "#", "#pl4nted-s3cret-VALUE"]),
        any::<bool>(),
    )
        .prop_map(
            |(scheme, userinfo, host, port, path, pairs, fragment, encode)| {
                let query = if encode {
                    let mut encoded = Url::parse("http://x/").expect("a URL");
                    encoded.query_pairs_mut().extend_pairs(&pairs);
                    encoded.query().unwrap_or_default().to_string()
                } else {
                    pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&")
                };
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                format!("{scheme}://{userinfo}{host}{port}{path}{query}{fragment}")
            },
        )
}

fn cursor() -> impl Strategy<Value = String> {
    prop_oneof![3 => url_cursor(), 1 => any::<String>()]
}

fn message(error: SourceError) -> Result<String, TestCaseError> {
    match error {
        SourceError::Config { message } => Ok(message),
        other => Err(TestCaseError::fail(format!(
            "not a config error: {other:?}"
        ))),
    }
}

fn pairs_without_filter(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "filter")
        .collect()
}

fn filters(url: &Url) -> Vec<String> {
    url.query_pairs()
        .into_owned()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| v)
        .collect()
}

fn since() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
        (0i64..4_102_444_800).prop_filter_map("a time", |s| DateTime::from_timestamp(s, 0)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_saved_cursor_resumes_this_org_with_the_jobs_filter_or_is_refused(
        (org, org_name) in org(),
        cursor in cursor(),
        filter in filter(),
    ) {
        match resume_url(&org, &org_name, &cursor, filter.as_deref()) {
            Ok(url) => {
                let saved = Url::parse(&cursor).expect("an accepted cursor is a URL");
                prop_assert_eq!(url.scheme(), org.scheme());
                prop_assert_eq!(url.host_str(), org.host_str());
                prop_assert_eq!(url.port_or_known_default(), org.port_or_known_default());
                prop_assert_eq!(url.path(), LOGS_PATH);
                prop_assert!(url.username().is_empty() && url.password().is_none(), "{}", url);
                prop_assert_eq!(filters(&url), filter.iter().cloned().collect::<Vec<_>>());
                prop_assert_eq!(filter_of(&url), filter.clone());
                prop_assert_eq!(pairs_without_filter(&url), pairs_without_filter(&saved));
                // An unchanged filter leaves Okta's link exactly as Okta wrote it.
                if filters(&saved) == filters(&url) {
                    prop_assert_eq!(url.as_str(), saved.as_str());
                }
                let _ = limit_of(&url);
            }
            Err(error) => {
                let message = message(error)?;
                prop_assert!(message.contains(&org_name), "{}", message);
                prop_assert!(!message.contains(PLANTED), "{}", message);
            }
        }
    }

    #[test]
    fn a_cursor_of_another_org_is_refused_naming_this_one(
        (org, org_name) in org(),
        host in select(vec!["fabrikam.okta.com", "contoso.oktapreview.com", "10.0.0.1", "localhost"]),
        pairs in query(),
        filter in filter(),
    ) {
        let mut other = Url::parse(&format!("https://{host}{LOGS_PATH}")).expect("a URL");
        other.query_pairs_mut().extend_pairs(&pairs);
        let error = resume_url(&org, &org_name, other.as_str(), filter.as_deref()).unwrap_err();
        let message = message(error)?;
        prop_assert!(message.contains(&org_name) && message.contains(host), "{}", message);
        prop_assert!(!message.contains(PLANTED), "{}", message);
    }

    #[test]
    fn the_first_request_reads_back_and_resumes_verbatim(
        (org, org_name) in org(),
        since in since(),
        limit in any::<u32>(),
        filter in filter(),
        other_filter in filter(),
    ) {
        let first = first_url(&org, since, limit, filter.as_deref());
        prop_assert_eq!(first.path(), LOGS_PATH);
        prop_assert_eq!(limit_of(&first), limit as usize);
        prop_assert_eq!(filter_of(&first), filter.clone());
        let resumed = resume_url(&org, &org_name, first.as_str(), filter.as_deref()).unwrap();
        prop_assert_eq!(resumed.as_str(), first.as_str());
        let refiltered = resume_url(&org, &org_name, first.as_str(), other_filter.as_deref()).unwrap();
        prop_assert_eq!(filter_of(&refiltered), other_filter);
        prop_assert_eq!(pairs_without_filter(&refiltered), pairs_without_filter(&first));
    }
}
