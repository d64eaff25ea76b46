//! The filter language under arbitrary input (issue 12, item 6).
//!
//! Inputs covered:
//! - filter definitions as a product's configuration gives them: arbitrary bytes, and
//!   filter-shaped JSON (the variant names and fields, with wrong types, extra keys and
//!   nesting mixed in), through `Filter`'s `Deserialize`: a value or a typed error, and a
//!   parsed filter serializes back to itself;
//! - arbitrary filters built with the constructors (`equals`, `starts_with`, `is_in`, `and`,
//!   `or`, `not`, any JSON Pointer, any text) evaluated with `matches` on arbitrary JSON
//!   documents: no panic, and the combinators mean what they say;
//! - `Filter::union` over arbitrary subscriber filters: it selects exactly what any of them
//!   selects, or everything.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};
use ucp_core::Filter;

/// JSON Pointers: well-formed ones into the documents below, escapes (`~0`, `~1`, a bad
/// `~2`), array indices, `-`, no leading slash, and anything at all.
fn pointer() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "", "/", "/a", "/b", "/n", "/a/b", "/a/b/c", "/arr", "/arr/0", "/arr/1", "/arr/-",
            "/arr/01", "/a~1b", "/~0", "/x/~2", "a", "/a/", "//",
        ])
        .prop_map(String::from),
        "(/[ab~01n-]{0,3}){0,4}",
        any::<String>(),
    ]
}

/// Field values and filter operands: a small pool so that comparisons often hit, the text
/// forms of numbers and booleans, and any string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "x", "xy", "y", "", "1", "-1", "1.5", "true", "false", "null", "é"
        ])
        .prop_map(String::from),
        any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["a", "b", "c", "n", "arr", "a/b", "~", "0"]).prop_map(String::from),
        any::<String>(),
    ]
}

/// Any JSON document, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(key(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn leaf_filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (pointer(), text()).prop_map(|(p, v)| Filter::equals(p, v)),
        (pointer(), text()).prop_map(|(p, v)| Filter::starts_with(p, v)),
        (pointer(), vec(text(), 0..4)).prop_map(|(p, v)| Filter::is_in(p, v)),
    ]
}

/// Any filter the constructors can build.
fn filter() -> impl Strategy<Value = Filter> {
    leaf_filter().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Filter::And),
            vec(inner.clone(), 0..4).prop_map(Filter::Or),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(Filter::not),
        ]
    })
}

/// `{"<name>": value}`.
fn tagged(name: &str, value: Value) -> Value {
    Value::Object(Map::from_iter([(name.to_string(), value)]))
}

/// JSON that looks like a filter definition, with the mistakes a hand-written one has:
/// unknown variant names, missing or extra fields, wrong types, stray arrays.
fn filter_like_json() -> impl Strategy<Value = Value> {
    let names = select(vec![
        "equals",
        "starts_with",
        "in",
        "and",
        "or",
        "not",
        "Equals",
        "eq",
    ]);
    let fields = select(vec!["path", "value", "prefix", "values", "extra"]);
    let scalar = prop_oneof![
        text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
        vec(text().prop_map(Value::from), 0..3).prop_map(Value::Array),
    ];
    let leaf = prop_oneof![
        2 => leaf_filter().prop_map(|f| serde_json::to_value(f).expect("a filter serializes")),
        2 => (names.clone(), btree_map(fields, scalar.clone(), 0..4)).prop_map(|(name, body)| {
            let body = body.into_iter().map(|(k, v)| (k.to_string(), v));
            tagged(name, Value::Object(body.collect()))
        }),
        1 => scalar,
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            3 => (select(vec!["and", "or"]), vec(inner.clone(), 0..4))
                .prop_map(|(name, parts)| tagged(name, Value::Array(parts))),
            2 => inner.clone().prop_map(|part| tagged("not", part)),
            1 => (names.clone(), vec(inner.clone(), 0..4))
                .prop_map(|(name, parts)| tagged(name, Value::Array(parts))),
            1 => (names.clone(), inner.clone()).prop_map(|(name, part)| tagged(name, part)),
            1 => vec(inner, 0..3).prop_map(Value::Array),
        ]
    })
}

/// The field's text form as the filter language defines it (strings as they are, numbers
/// and booleans as JSON text, nothing for the rest).
fn text_form(field: &Value) -> Option<String> {
    match field {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_parse_to_a_filter_or_an_error(bytes in vec(any::<u8>(), 0..256)) {
        if let Ok(filter) = serde_json::from_slice::<Filter>(&bytes) {
            let again: Filter = serde_json::from_str(&serde_json::to_string(&filter).unwrap()).unwrap();
            prop_assert_eq!(again, filter);
        }
    }

    #[test]
    fn filter_shaped_json_parses_to_a_filter_that_round_trips_or_an_error(value in filter_like_json()) {
        let text = serde_json::to_string(&value).unwrap();
        match serde_json::from_str::<Filter>(&text) {
            Ok(filter) => {
                let written = serde_json::to_value(&filter).unwrap();
                prop_assert_eq!(serde_json::from_value::<Filter>(written).unwrap(), filter);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn every_filter_serializes_and_parses_back_to_itself(filter in filter()) {
        let text = serde_json::to_string(&filter).unwrap();
        prop_assert_eq!(serde_json::from_str::<Filter>(&text).unwrap(), filter);
    }

    #[test]
    fn matches_never_panics_and_the_combinators_compose(f in filter(), g in filter(), doc in json()) {
        let (a, b) = (f.matches(&doc), g.matches(&doc));
        prop_assert_eq!(f.clone().not().matches(&doc), !a);
        prop_assert_eq!(f.clone().and(g.clone()).matches(&doc), a && b);
        prop_assert_eq!(f.clone().or(g.clone()).matches(&doc), a || b);
        prop_assert!(Filter::And(vec![]).matches(&doc));
        prop_assert!(!Filter::Or(vec![]).matches(&doc));
    }

    #[test]
    fn leaves_compare_the_text_form_of_the_field_at_the_pointer(
        doc in json(),
        path in pointer(),
        value in text(),
        values in vec(text(), 0..4),
    ) {
        let field = doc.pointer(&path).and_then(text_form);
        prop_assert_eq!(
            Filter::equals(path.clone(), value.clone()).matches(&doc),
            field.as_deref() == Some(value.as_str())
        );
        prop_assert_eq!(
            Filter::is_in(path.clone(), values.clone()).matches(&doc),
            field.as_ref().is_some_and(|f| values.contains(f))
        );
        let string = doc.pointer(&path).and_then(Value::as_str);
        prop_assert_eq!(
            Filter::starts_with(path.clone(), value.clone()).matches(&doc),
            string.is_some_and(|s| s.starts_with(value.as_str()))
        );
        // A field's own text always equals itself.
        if let Some(own) = field {
            prop_assert!(Filter::equals(path, own).matches(&doc));
        }
    }

    #[test]
    fn union_selects_exactly_what_any_subscriber_selects(
        wanted in vec(prop::option::weighted(0.9, filter()), 0..5),
        docs in vec(json(), 1..6),
    ) {
        let union = Filter::union(wanted.iter().map(Option::as_ref));
        match &union {
            None => {
                // Everything: someone wants everything, or no filter selects anything at all.
                prop_assert!(
                    wanted.iter().any(Option::is_none)
                        || wanted.iter().all(|w| matches!(w, Some(Filter::Or(any)) if any.is_empty()))
                );
            }
            Some(union) => {
                prop_assert!(wanted.iter().all(Option::is_some));
                for doc in &docs {
                    let any = wanted.iter().flatten().any(|w| w.matches(doc));
                    prop_assert_eq!(union.matches(doc), any, "union {:?} on {}", union, doc);
                }
            }
        }
        // A union of one filter with itself changes nothing.
        let once = Filter::union(wanted.iter().map(Option::as_ref));
        let twice = Filter::union(wanted.iter().chain(wanted.iter()).map(Option::as_ref));
        prop_assert_eq!(once, twice);
    }
}

/// serde_json stops a definition nested deeper than its recursion limit with an error, so a
/// hostile configuration cannot overflow the stack while it is parsed.
#[test]
fn a_deeply_nested_definition_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let text = format!(
        "{}{}{}",
        r#"{"not":"#.repeat(depth),
        r#"{"equals":{"path":"/a","value":"x"}}"#,
        "}".repeat(depth)
    );
    let error = serde_json::from_str::<Filter>(&text).unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");
}
