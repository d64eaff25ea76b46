//! The answer of `runHuntingQuery` (`huntingQueryResults`): `schema` (column `name` and
//! `type`) and `results` (one object per row). The docs spell the keys both `name`/`type`
//! and `Name`/`Type`, so every key is matched without regard to case, top-level ones too.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One row: its `Timestamp` and its JSON as sent.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub timestamp: DateTime<Utc>,
    pub timestamp_text: String,
    pub payload: Bytes,
}

/// The value of `key` among `entries`, matched without regard to case (an exact match first).
fn field<'a, V: 'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a V)> + Clone,
    key: &str,
) -> Option<&'a V> {
    let mut entries = entries.into_iter();
    let mut fallback = None;
    for (k, v) in entries.by_ref() {
        if k == key {
            return Some(v);
        }
        if fallback.is_none() && k.eq_ignore_ascii_case(key) {
            fallback = Some(v);
        }
    }
    fallback
}

/// The rows of `body`; an error says what is wrong (never quoting a row).
pub(crate) fn parse(body: &[u8]) -> Result<Vec<Row>, String> {
    let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a huntingQueryResults object: {e}"))?;
    let schema: Vec<Value> = field(raw.iter(), "schema")
        .and_then(|s| serde_json::from_str(s.get()).ok())
        .ok_or("the answer has no 'schema' list")?;
    let column = schema
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|c| field(c.iter(), "name").and_then(Value::as_str))
        .find(|name| name.eq_ignore_ascii_case("Timestamp"))
        .ok_or("the answer's schema has no Timestamp column")?
        .to_string();
    let results = field(raw.iter(), "results").ok_or("the answer has no 'results' list")?;
    let rows: Vec<Box<RawValue>> =
        serde_json::from_str(results.get()).map_err(|e| format!("'results' is not a list: {e}"))?;
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let object: Map<String, Value> = serde_json::from_str(row.get())
            .map_err(|e| format!("row {n} is not an object: {e}"))?;
        let text = field(object.iter(), &column)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("row {n} has no text {column}"))?;
        let timestamp = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("row {n} has {column} '{text}', not an ISO 8601 time: {e}"))?
            .to_utc();
        out.push(Row {
            timestamp,
            timestamp_text: text.to_string(),
            payload: Bytes::copy_from_slice(row.get().as_bytes()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn schema_keys_in_either_case() {
        for body in [
            r#"{"schema":[{"name":"Timestamp","type":"DateTime"},{"name":"FileName","type":"String"}],"results":[{"Timestamp":"2024-03-26T09:39:50.7688641Z","FileName":"a.exe"}]}"#,
            r#"{"Schema":[{"Name":"Timestamp","Type":"DateTime"}],"Results":[{"Timestamp":"2024-03-26T09:39:50.7688641Z","FileName":"a.exe"}]}"#,
            r#"{"SCHEMA":[{"NAME":"timestamp","TYPE":"DateTime"}],"results":[{"TimeStamp":"2024-03-26T09:39:50.7688641Z","FileName":"a.exe"}]}"#,
        ] {
            let rows = parse(body.as_bytes()).unwrap();
            assert_eq!(rows.len(), 1, "{body}");
            assert_eq!(rows[0].timestamp_text, "2024-03-26T09:39:50.7688641Z");
            assert!(rows[0].payload.ends_with(b"\"FileName\":\"a.exe\"}"));
        }
    }

    #[test]
    fn broken_answers_say_what_is_wrong() {
        assert!(parse(b"{}").unwrap_err().contains("schema"));
        assert!(parse(br#"{"schema":[{"name":"X"}],"results":[]}"#)
            .unwrap_err()
            .contains("Timestamp"));
        assert!(
            parse(br#"{"schema":[{"name":"Timestamp"}],"results":[{"Timestamp":5}]}"#).is_err()
        );
        assert!(parse(br#"{"schema":[{"name":"Timestamp"}],"results":[1]}"#).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_give_rows_or_an_error(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&body);
        }

        #[test]
        fn any_timestamps_give_rows_or_an_error(t in ".{0,40}") {
            let body = serde_json::json!({"schema": [{"name": "Timestamp"}], "results": [{"Timestamp": t}]}).to_string();
            let _ = parse(body.as_bytes());
        }
    }
}
