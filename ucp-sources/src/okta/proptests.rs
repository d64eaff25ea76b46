//! Properties of the Okta source under arbitrary input (a page body, a saved cursor, a
//! time): a value or a reason, never a panic.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use reqwest::Url;

use super::cursor::{filter_of, first_url, limit_of, resume_url};
use super::response::records;

fn org() -> Url {
    Url::parse("https://contoso.okta.com").unwrap()
}

/// Bodies: raw bytes, and JSON arrays of event-like objects with odd fields.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just(r#""uuid":"a""#.to_string()),
        Just(r#""published":"2024-01-01T00:00:00Z""#.to_string()),
        Just(r#""published":"+262143-12-31T23:59:59Z""#.to_string()),
        Just(r#""published":-1"#.to_string()),
        Just(r#""uuid":null"#.to_string()),
        r#""[a-z]{1,6}":[0-9]{1,25}"#,
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec(proptest::collection::vec(field, 0..4), 0..6).prop_map(
            |events| {
                let events: Vec<String> = events
                    .into_iter()
                    .map(|fields| format!("{{{}}}", fields.join(",")))
                    .collect();
                format!("[{}]", events.join(",")).into_bytes()
            }
        ),
    ]
}

/// Cursors: text, and URLs of the org with arbitrary queries.
fn cursor() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        r#"https://contoso\.okta\.com(:[0-9]{1,6})?/api/v1/logs\?[a-z=&%0-9+_-]{0,60}"#,
        r#"https://contoso\.okta\.com/api/v1/logs\?limit=-?[0-9]{1,30}&filter=[a-z%"+ ]{0,20}"#,
    ]
}

proptest! {
    #[test]
    fn any_body_gives_records_or_a_reason(body in body()) {
        let body = Bytes::from(body);
        match records(&body) {
            Ok(records) => {
                for record in &records {
                    // Every payload is a slice of the body, as sent.
                    let start = record.payload.as_ptr() as usize - body.as_ptr() as usize;
                    prop_assert!(start + record.payload.len() <= body.len());
                }
            }
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn any_saved_cursor_resumes_or_is_refused_by_name(
        saved in cursor(),
        filter in proptest::option::of("[a-z \"]{0,12}"),
    ) {
        match resume_url(&org(), "contoso.okta.com", &saved, filter.as_deref()) {
            Ok(url) => {
                prop_assert_eq!(url.host_str(), Some("contoso.okta.com"));
                prop_assert_eq!(filter_of(&url), filter);
                let _ = limit_of(&url);
            }
            Err(error) => prop_assert!(error.to_string().contains("contoso.okta.com")),
        }
    }

    #[test]
    fn any_start_time_gives_a_first_request(
        secs in any::<i64>(),
        limit in any::<u32>(),
    ) {
        let since = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let url = first_url(&org(), since, limit, None);
        prop_assert!(url.query().is_some_and(|q| q.contains("since=")));
        prop_assert_eq!(limit_of(&url), usize::try_from(limit).unwrap_or(100));
    }
}
