//! Reading Okta responses: the page of events, sliced from the body without re-encoding.
//! The headers (rate limit, `Link`, request id) are read by the HTTP kit
//! ([`ucp_core::http`]); the tests below pin what it reads of Okta's.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use ucp_core::json::{array_views, Json};
use ucp_core::Record;

/// The records of a page: id = `uuid`, time = `published`, payload = the event's exact bytes
/// (a slice of `body`, not a copy). Errors say what is wrong, for the caller to name the page.
///
/// Each event is read once: the JSON view that checks it and finds its `uuid` and `published`
/// goes with the record, for every product filter, column mapping and partition key to reuse.
/// A page that pass cannot take as it is (a bad event, an escaped or repeated key) is read
/// again by `serde_json`, which says what is wrong or takes what is unusual.
pub fn records(body: &Bytes) -> Result<Vec<Record>, String> {
    match indexed(body) {
        Some(records) => Ok(records),
        None => parsed(body),
    }
}

/// The one-pass read of a page of plain events; `None` at anything else.
pub(super) fn indexed(body: &Bytes) -> Option<Vec<Record>> {
    let items = array_views(body)?;
    let mut records = Vec::with_capacity(items.len());
    for (range, view) in items {
        let payload = body.slice(range);
        let view = Arc::new(view);
        let (id, time) = {
            let json = Json::with_view(&payload, view.clone());
            // An object whose keys are its fields (no escape, none twice), as `Head` reads it.
            if !json.is_object() || !json.has_plain_keys() {
                return None;
            }
            let id = json.pointer("/uuid")?.as_str()?.into_owned();
            let time = json
                .pointer("/published")?
                .as_str()?
                .parse::<DateTime<FixedOffset>>()
                .ok()?
                .with_timezone(&Utc);
            (id, time)
        };
        records.push(Record::with_view(id, time, payload, view));
    }
    Some(records)
}

/// The page as `serde_json` reads it: every event's `uuid` and `published`, or what is wrong.
pub(super) fn parsed(body: &Bytes) -> Result<Vec<Record>, String> {
    #[derive(Deserialize)]
    struct Head {
        uuid: String,
        published: DateTime<Utc>,
    }
    let events: Vec<&RawValue> = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a JSON array of events ({})", unquoted(&e)))?;
    events
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let head: Head = serde_json::from_str(raw.get()).map_err(|e| {
                format!(
                    "event #{index} has no usable uuid and published time ({})",
                    unquoted(&e)
                )
            })?;
            Ok(Record::new(
                head.uuid,
                head.published,
                body.slice_ref(raw.get().as_bytes()),
            ))
        })
        .collect()
}

/// What is wrong with a JSON text, without quoting it: serde's data errors quote the value
/// of the wrong type (`invalid type: string "…"`), which can be anything an event holds.
fn unquoted(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match e.classify() {
        serde_json::error::Category::Data if !message.starts_with("missing field") => format!(
            "a value of the wrong type or form at line {} column {}",
            e.line(),
            e.column()
        ),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, LINK, RETRY_AFTER};
    use ucp_core::http;

    /// When the test responses arrived (they carry no `Date` header).
    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn rate_limit_headers_become_a_hint() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-limit", HeaderValue::from_static("600"));
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("598"));
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1700000060"));
        let hint = http::rate_limit_hint(&h, received()).unwrap();
        assert_eq!(hint.limit, Some(600));
        assert_eq!(hint.remaining, Some(598));
        assert_eq!(hint.reset, DateTime::from_timestamp(1_700_000_060, 0));
        assert_eq!(http::rate_limit_hint(&HeaderMap::new(), received()), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(http::retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Mon, 01 Jan 2024 00:00:30 GMT"),
        );
        assert_eq!(http::retry_after(&h, now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn next_link_is_found_in_separate_or_combined_headers() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(r#"<https://o.okta.com/api/v1/logs?limit=2>; rel="self""#),
        );
        h.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://o.okta.com/api/v1/logs?after=9_1&limit=2>; rel="next""#,
            ),
        );
        assert_eq!(
            http::next_link(&h).as_deref(),
            Some("https://o.okta.com/api/v1/logs?after=9_1&limit=2")
        );
        let mut one = HeaderMap::new();
        one.insert(
            LINK,
            HeaderValue::from_static(
                r#"<https://a/self>; rel="self", <https://a/next?x=1>; rel=next"#,
            ),
        );
        assert_eq!(http::next_link(&one).as_deref(), Some("https://a/next?x=1"));
        let mut none = HeaderMap::new();
        none.insert(
            LINK,
            HeaderValue::from_static(r#"<https://a/self>; rel="self""#),
        );
        assert_eq!(http::next_link(&none), None);
    }

    #[test]
    fn okta_s_request_id_is_the_request_id() {
        let mut h = HeaderMap::new();
        h.insert("x-okta-request-id", HeaderValue::from_static("XkQ7aB3-cd"));
        assert_eq!(http::request_id(&h).as_deref(), Some("XkQ7aB3-cd"));
    }

    #[test]
    fn records_keep_the_exact_bytes_of_each_event() {
        let body = Bytes::from_static(
            br#"[ {"uuid":"a","published":"2024-01-01T00:00:00.000Z", "x" : [1, 2]} ,{"published":"2024-01-01T00:00:01Z","uuid":"b"}]"#,
        );
        let records = records(&body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].id.as_str(), "a");
        assert_eq!(
            &records[0].payload[..],
            br#"{"uuid":"a","published":"2024-01-01T00:00:00.000Z", "x" : [1, 2]}"#
        );
        assert_eq!(records[1].time.timestamp(), 1_704_067_201);
    }

    #[test]
    fn a_page_of_plain_events_is_read_in_one_pass_and_unusual_ones_by_serde() {
        let plain = Bytes::from_static(
            br#"[{"uuid":"a","published":"2024-01-01T00:00:00.000Z","x":"\"q\""},
                 {"published":"2024-01-01T00:00:01+02:00","uuid":"b\u0041"}]"#,
        );
        let fast = indexed(&plain).expect("plain events take the one pass");
        assert_eq!(fast[1].id.as_str(), "bA");
        assert_eq!(fast[1].time.timestamp(), 1_704_060_001);
        assert_eq!(Ok(fast), parsed(&plain));
        // An escaped key is left to serde_json, which reads it as `uuid`.
        let escaped =
            Bytes::from_static(br#"[{"\u0075uid":"a","published":"2024-01-01T00:00:00Z"}]"#);
        assert!(indexed(&escaped).is_none());
        assert_eq!(records(&escaped).unwrap()[0].id.as_str(), "a");
    }

    #[test]
    fn malformed_pages_are_refused_with_a_reason() {
        let missing = Bytes::from_static(br#"[{"published":"2024-01-01T00:00:00Z"}]"#);
        assert!(records(&missing).unwrap_err().contains("event #0"));
        let truncated = Bytes::from_static(br#"[{"uuid":"a","published":"2024-01-01T00:0"#);
        assert!(records(&truncated)
            .unwrap_err()
            .contains("not a JSON array"));
        assert!(records(&Bytes::from_static(b"{}")).is_err());
    }
}
