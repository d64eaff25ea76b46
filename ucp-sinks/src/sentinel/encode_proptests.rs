//! The byte-copying encoder against the tree-building one it replaced, under arbitrary
//! events and mappings: the same rows (as JSON values), the same rejections with the same
//! reasons, the same cut fields; and for events written as serde_json writes them, bodies of
//! the same lengths (only the order of a row's keys differs).
//!
//! Inputs covered: JSON objects with keys that clash with configured columns, nested
//! values, escapes and non-ASCII text, repeated and escaped keys, pretty-printed events,
//! events that are arrays, scalars or not JSON, values over the field limit; mappings that
//! copy, rename (onto each other and onto existing fields), point into the event, add the
//! id and the raw event, and rename the time column, all onto clashing names; small bodies.

use chrono::{DateTime, TimeZone, Utc};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::Value;
use ucp_core::Record;

use super::{ColumnMapping, Encoded, SentinelEncoder};

const NAMES: &[&str] = &[
    "a",
    "b",
    "eventType",
    "id",
    "TimeGenerated",
    "RawData",
    "RecordId",
    "x/y",
    "é",
];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(String::from)
}

fn pointer() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/a",
        "/b",
        "/a/b",
        "/b/0",
        "/eventType",
        "/id",
        "",
        "/x~1y",
        "/missing",
        "/a/a",
    ])
    .prop_map(String::from)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Floats whose decimal text reads back exactly.
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 8.0)),
        "[a-z. ]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(name(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    btree_map(name(), value(), 0..7).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// An event's text: as serde_json writes it (canonical), or otherwise.
fn payload(canonical: bool) -> BoxedStrategy<Vec<u8>> {
    let written = event().prop_map(|e| serde_json::to_vec(&e).unwrap_or_default());
    if canonical {
        return written.boxed();
    }
    prop_oneof![
        4 => written,
        1 => event().prop_map(|e| serde_json::to_vec_pretty(&e).unwrap_or_default()),
        1 => event().prop_map(|e| {
            // A repeated key: the last one counts.
            let text = serde_json::to_string(&e).unwrap_or_default();
            format!("{{\"a\":\"first\",{}", text.trim_start_matches('{')).replace(",}", "}").into_bytes()
        }),
        1 => Just(br#"{"e\u0076entType":"x","a":"\u00e9\ud83d\ude00"}"#.to_vec()),
        1 => value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => Just(b"{\"a\": 1".to_vec()),
        1 => Just(b"not json".to_vec()),
        1 => (1usize..3).prop_map(|n| format!("{{\"a\":\"{}\",\"b\":[\"{}\"]}}", "x".repeat(150 * n), "y".repeat(90)).into_bytes()),
    ]
    .boxed()
}

fn mapping() -> impl Strategy<Value = ColumnMapping> {
    (
        0..3u8,
        vec((name(), name()), 0..3),
        vec((name(), pointer()), 0..3),
        option::of(name()),
        option::of(name()),
        option::weighted(0.2, name()),
    )
        .prop_map(|(base, renames, columns, id, raw, time)| {
            let mut mapping = match base {
                0 => ColumnMapping::copy_top_level(),
                1 => ColumnMapping::empty(),
                _ => ColumnMapping::raw("RawData"),
            };
            for (from, to) in renames {
                mapping = mapping.rename(from, to);
            }
            for (column, pointer) in columns {
                mapping = mapping.column(column, pointer);
            }
            if let Some(id) = id {
                mapping = mapping.with_id(id);
            }
            if let Some(raw) = raw {
                mapping = mapping.with_raw(raw);
            }
            if let Some(time) = time {
                mapping = mapping.time_column(time);
            }
            mapping
        })
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0i64..4_000_000_000, 0u32..1_000_000_000)
            .prop_filter_map("a time", |(s, n)| Utc.timestamp_opt(s, n).single()),
        Just(DateTime::<Utc>::MAX_UTC),
    ]
}

fn records(canonical: bool) -> impl Strategy<Value = Vec<Record>> {
    vec((payload(canonical), time()), 1..8).prop_map(|events| {
        events
            .into_iter()
            .enumerate()
            .map(|(i, (payload, time))| Record::new(format!("r{i}\"\\"), time, payload))
            .collect()
    })
}

fn rows(encoded: &Encoded) -> Result<Vec<Value>, TestCaseError> {
    let mut rows = Vec::new();
    for body in encoded
        .to_bodies(false)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
    {
        let parsed: Vec<Value> = serde_json::from_slice(&body)
            .map_err(|e| TestCaseError::fail(format!("a body that is not a JSON array: {e}")))?;
        rows.extend(parsed);
    }
    Ok(rows)
}

fn rejections(encoded: &Encoded) -> Vec<(String, String)> {
    encoded
        .rejected
        .iter()
        .map(|r| (r.id.to_string(), r.reason.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn copied_rows_are_the_rows_the_tree_built(
        records in records(false),
        mapping in mapping(),
        max_body in prop_oneof![Just(super::MAX_BODY_BYTES), 200usize..2_000],
        max_field in prop_oneof![Just(super::MAX_FIELD_BYTES), 100usize..400],
    ) {
        let encoder = SentinelEncoder::new(mapping)
            .max_body_bytes(max_body)
            .max_field_bytes(max_field);
        let new = encoder.encode(&records);
        let old = encoder.encode_by_tree(&records);
        prop_assert_eq!(rows(&new)?, rows(&old)?);
        prop_assert_eq!(rejections(&new), rejections(&old));
        prop_assert_eq!(new.truncated_fields, old.truncated_fields);
    }

    #[test]
    fn canonical_events_give_bodies_of_the_same_sizes(
        records in records(true),
        mapping in mapping(),
        max_body in prop_oneof![Just(super::MAX_BODY_BYTES), 200usize..2_000],
    ) {
        let encoder = SentinelEncoder::new(mapping).max_body_bytes(max_body);
        let new = encoder.encode(&records);
        let old = encoder.encode_by_tree(&records);
        prop_assert_eq!(rows(&new)?, rows(&old)?);
        prop_assert_eq!(rejections(&new), rejections(&old));
        prop_assert_eq!(new.body_sizes(), old.body_sizes());
        let gzip = new.to_bodies(true).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(gzip.len(), new.bodies());
    }
}
