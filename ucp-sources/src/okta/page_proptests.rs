//! The Okta page parser (`response::records`) under arbitrary bodies (issue 12, item 6).
//!
//! Inputs covered:
//! - arbitrary bytes, and token soup (brackets, braces, commas, colons, the field names,
//!   times, numbers, whitespace in any order): records or an error, never a panic;
//! - JSON arrays of event-shaped items laid out with any whitespace, compact or pretty: an
//!   `uuid` that is text, a number, null, an object or missing; a `published` time in any
//!   RFC 3339 form Okta uses, or invalid, or missing; duplicate fields; extra fields of any
//!   JSON; items that are not objects. A page of good events gives one record per event
//!   with its id and time, and its payload is the event's bytes exactly as they sit in the
//!   body (a slice of it, not a copy); a page with a bad event is refused naming the first
//!   bad one;
//! - the one-pass read (each event's JSON view, kept with its record) takes a page only
//!   when `serde_json` reads it the same way: same records, same ids, times and bytes;
//! - a planted secret anywhere in the body (a field value, a key, a bad time, a string
//!   where an event or the whole page should be) never appears in the error.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

use super::response::{indexed, parsed, records};

const PLANTED: &str = "pl4nted-s3cret-VALUE";

#[derive(Clone, Debug)]
enum Uuid {
    Text(String),
    Other(Value),
    Missing,
}

#[derive(Clone, Debug)]
enum Published {
    Valid(String),
    Invalid(Value),
    Missing,
}

/// One item of the page's array.
#[derive(Clone, Debug)]
enum Item {
    Event {
        uuid: Uuid,
        published: Published,
        extra: Map<String, Value>,
    },
    /// An event whose `uuid` appears twice.
    DuplicateUuid,
    /// A string, number, array or null where an event should be.
    NotAnObject(Value),
}

impl Item {
    fn is_good(&self) -> bool {
        matches!(
            self,
            Item::Event {
                uuid: Uuid::Text(_),
                published: Published::Valid(_),
                ..
            }
        )
    }

    fn text(&self, pretty: bool) -> String {
        let value = match self {
            Item::DuplicateUuid => {
                return r#"{"uuid":"a","published":"2024-01-01T00:00:00Z","uuid":"b"}"#.into()
            }
            Item::NotAnObject(value) => value.clone(),
            Item::Event {
                uuid,
                published,
                extra,
            } => {
                let mut event = extra.clone();
                match uuid {
                    Uuid::Text(id) => event.insert("uuid".into(), Value::from(id.as_str())),
                    Uuid::Other(value) => event.insert("uuid".into(), value.clone()),
                    Uuid::Missing => event.remove("uuid"),
                };
                match published {
                    Published::Valid(time) => {
                        event.insert("published".into(), Value::from(time.as_str()))
                    }
                    Published::Invalid(value) => event.insert("published".into(), value.clone()),
                    Published::Missing => event.remove("published"),
                };
                Value::Object(event)
            }
        };
        if pretty {
            serde_json::to_string_pretty(&value)
        } else {
            serde_json::to_string(&value)
        }
        .expect("a value serializes")
    }
}

fn secretish() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![PLANTED, "", "é", "\"", "\\", "\u{0}"]).prop_map(String::from),
        any::<String>(),
    ]
}

fn small_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        secretish().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            btree_map(secretish(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `published` as Okta writes it (milliseconds, `Z`) and as other RFC 3339 writers do.
fn valid_time() -> impl Strategy<Value = String> {
    (
        0i64..4_102_444_800,
        0u32..1_000_000_000,
        select(vec![
            SecondsFormat::Secs,
            SecondsFormat::Millis,
            SecondsFormat::Micros,
            SecondsFormat::Nanos,
            SecondsFormat::AutoSi,
        ]),
        any::<bool>(),
    )
        .prop_filter_map("a time", |(secs, nanos, format, z)| {
            DateTime::from_timestamp(secs, nanos).map(|t| t.to_rfc3339_opts(format, z))
        })
}

fn item() -> impl Strategy<Value = Item> {
    let uuid = prop_oneof![
        6 => secretish().prop_map(Uuid::Text),
        1 => prop_oneof![
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
            Just(json!({ "id": PLANTED })),
            Just(json!([PLANTED])),
        ]
        .prop_map(Uuid::Other),
        1 => Just(Uuid::Missing),
    ];
    let published = prop_oneof![
        6 => valid_time().prop_map(Published::Valid),
        1 => prop_oneof![
            Just(Value::from(PLANTED)),
            Just(Value::from("")),
            Just(Value::from("2024-13-01T00:00:00Z")),
            Just(Value::from("2024-01-01T25:00:00Z")),
            Just(Value::from("2024-01-01T00:00:00")),
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
            Just(json!({ "at": PLANTED })),
        ]
        .prop_map(Published::Invalid),
        1 => Just(Published::Missing),
    ];
    let extra = btree_map(secretish(), small_json(), 0..4).prop_map(|m| m.into_iter().collect());
    prop_oneof![
        12 => (uuid, published, extra).prop_map(|(uuid, published, extra)| Item::Event {
            uuid,
            published,
            extra,
        }),
        1 => Just(Item::DuplicateUuid),
        1 => prop_oneof![
            Just(Value::from(PLANTED)),
            any::<i64>().prop_map(Value::from),
            Just(json!([PLANTED])),
            Just(Value::Null),
        ]
        .prop_map(Item::NotAnObject),
    ]
}

fn whitespace() -> impl Strategy<Value = String> {
    vec(select(vec![" ", "\n", "\t", "\r\n"]), 0..3).prop_map(|parts| parts.concat())
}

/// A page: the items, laid out with whitespace around every token.
fn page() -> impl Strategy<Value = (Vec<Item>, Vec<String>, Bytes)> {
    (
        vec((item(), any::<bool>(), whitespace(), whitespace()), 0..6),
        whitespace(),
        whitespace(),
    )
        .prop_map(|(items, open, close)| {
            let texts: Vec<String> = items
                .iter()
                .map(|(i, pretty, ..)| i.text(*pretty))
                .collect();
            let mut body = format!("{open}[");
            for (n, ((_, _, before, after), text)) in items.iter().zip(&texts).enumerate() {
                if n > 0 {
                    body.push(',');
                }
                body.push_str(before);
                body.push_str(text);
                body.push_str(after);
            }
            body.push_str(&format!("]{close}"));
            let items = items.into_iter().map(|(item, ..)| item).collect();
            (items, texts, Bytes::from(body))
        })
}

/// Arbitrary orderings of JSON's tokens and the page's vocabulary.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    vec(
        select(vec![
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            " ",
            "\"uuid\"",
            "\"published\"",
            "\"2024-01-01T00:00:00.000Z\"",
            "\"a\"",
            "\"pl4nted-s3cret-VALUE\"",
            "1",
            "-0.5e9",
            "null",
            "true",
            "\"",
            "\\",
        ]),
        0..40,
    )
    .prop_map(|tokens| tokens.concat().into_bytes())
}

/// The payload sits in the body at its own address: a slice, not a copy.
fn is_slice_of(payload: &Bytes, body: &Bytes) -> bool {
    let (start, end) = (body.as_ptr() as usize, body.as_ptr() as usize + body.len());
    let at = payload.as_ptr() as usize;
    at >= start && at + payload.len() <= end
}

/// The one-pass read takes a page only as `serde_json` reads it.
fn one_pass_agrees(body: &Bytes) -> Result<(), TestCaseError> {
    if let Some(fast) = indexed(body) {
        prop_assert_eq!(Ok(fast), parsed(body));
    }
    Ok(())
}

fn check_any(body: Bytes) -> Result<(), TestCaseError> {
    one_pass_agrees(&body)?;
    match records(&body) {
        Ok(found) => {
            for record in &found {
                prop_assert!(is_slice_of(&record.payload, &body));
            }
        }
        Err(why) => prop_assert!(!why.contains(PLANTED), "{}", why),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_give_records_or_an_error(bytes in vec(any::<u8>(), 0..512)) {
        check_any(Bytes::from(bytes))?;
    }

    #[test]
    fn any_token_soup_gives_records_or_an_error(bytes in token_soup()) {
        check_any(Bytes::from(bytes))?;
    }

    #[test]
    fn event_shaped_pages_give_exact_records_or_name_the_first_bad_event(
        (items, texts, body) in page(),
    ) {
        one_pass_agrees(&body)?;
        match items.iter().position(|item| !item.is_good()) {
            None => {
                let found = records(&body);
                prop_assert!(found.is_ok(), "{:?}", found);
                let found = found.unwrap_or_default();
                prop_assert_eq!(found.len(), items.len());
                for ((record, item), text) in found.iter().zip(&items).zip(&texts) {
                    let Item::Event { uuid: Uuid::Text(id), published: Published::Valid(time), .. } = item else {
                        unreachable!("every item is good");
                    };
                    prop_assert_eq!(record.id.as_str(), id.as_str());
                    prop_assert_eq!(Some(record.time), time.parse::<DateTime<Utc>>().ok());
                    prop_assert_eq!(&record.payload[..], text.as_bytes());
                    prop_assert!(is_slice_of(&record.payload, &body));
                }
            }
            Some(bad) => {
                let why = records(&body).err().unwrap_or_default();
                prop_assert!(why.contains(&format!("event #{bad} ")), "item {}: {}", bad, why);
                prop_assert!(!why.contains(PLANTED), "{}", why);
            }
        }
    }

    #[test]
    fn a_secret_as_the_whole_body_stays_out_of_the_error(
        body in prop_oneof![
            Just(json!(PLANTED)),
            Just(json!({ "errorSummary": PLANTED })),
            Just(json!([[PLANTED]])),
            small_json(),
        ],
    ) {
        check_any(Bytes::from(serde_json::to_vec(&body).expect("serializes")))?;
    }
}

/// Found by the properties above: serde quotes a string found where an array or an event
/// should be, so a page or an event that was a bare string reached the error verbatim.
#[test]
fn a_string_where_the_page_or_an_event_should_be_is_not_quoted() {
    for body in [format!("\"{PLANTED}\""), format!("[\"{PLANTED}\"]")] {
        let why = records(&Bytes::from(body)).unwrap_err();
        assert!(!why.contains(PLANTED), "{why}");
        assert!(why.contains("line 1 column"), "{why}");
    }
    let missing = Bytes::from_static(br#"[{"published":"2024-01-01T00:00:00Z"}]"#);
    let why = records(&missing).unwrap_err();
    assert!(
        why.contains("event #0") && why.contains("missing field `uuid`"),
        "{why}"
    );
}
