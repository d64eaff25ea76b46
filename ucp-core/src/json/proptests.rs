//! The JSON view against `serde_json` under arbitrary input: any text is valid exactly when
//! `serde_json` reads it into a `Value`, and every pointer finds what `Value::pointer` finds,
//! with the same text for filters.
//!
//! Inputs covered: arbitrary JSON values (escaped and non-ASCII strings, integers, floats,
//! nesting, keys that repeat across levels) written compact, pretty and with escaped keys,
//! duplicate keys and `\u` escapes spliced in; those texts with bytes inserted, removed or
//! replaced (UTF-8's edge cases among them); arbitrary bytes. Arrays of such texts with any whitespace, edited the same way,
//! for [`array_views`]: a page is read as `serde_json` reads it, and each item's view is the
//! one its bytes alone give.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};

use serde_json::value::RawValue;

use super::{array_views, Json, JsonView};

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "eventType", "id", "x/y", "t~n", ""]).prop_map(String::from),
        1 => any::<String>(),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z.]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Texts of valid JSON in several shapes, with the value they mean.
fn text() -> impl Strategy<Value = (Vec<u8>, Value)> {
    (value(), 0..4usize).prop_map(|(v, shape)| {
        let text = match shape {
            0 => serde_json::to_vec(&v).unwrap_or_default(),
            1 => serde_json::to_vec_pretty(&v).unwrap_or_default(),
            // Every key and string with its first character escaped as \uXXXX.
            2 => escape_first_chars(&serde_json::to_string(&v).unwrap_or_default()).into_bytes(),
            // A repeated key in front (the last one wins, as in serde_json).
            _ => match &v {
                Value::Object(m) if !m.is_empty() => {
                    let compact = serde_json::to_string(&v).unwrap_or_default();
                    let first = m.keys().next().cloned().unwrap_or_default();
                    let key = serde_json::to_string(&first).unwrap_or_default();
                    format!("{{{key}:[\"shadowed\"],{}", &compact[1..]).into_bytes()
                }
                _ => serde_json::to_vec(&v).unwrap_or_default(),
            },
        };
        (text, v)
    })
}

/// `"ab"` → `"\u0061b"`: the same string spelled with an escape.
fn escape_first_chars(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut chars = compact.chars().peekable();
    let mut in_string = false;
    let mut escaped = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            if let Some(&next) = chars.peek() {
                if next.is_ascii_alphanumeric() {
                    chars.next();
                    out.push_str(&format!("\\u{:04x}", next as u32));
                }
            }
        }
    }
    out
}

/// Every pointer into `v`, and some that miss.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let token = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{token}"), out);
            }
            out.push(format!("{at}/missing"));
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
            out.push(format!("{at}/{}", a.len()));
            out.push(format!("{at}/01"));
        }
        _ => out.push(format!("{at}/0")),
    }
}

/// A scalar's text as the filters compared it before the view: serde's.
fn serde_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn agrees_with_serde(text: &[u8]) -> Result<(), TestCaseError> {
    let json = Json::new(text);
    let parsed = serde_json::from_slice::<Value>(text);
    prop_assert_eq!(
        json.is_valid(),
        parsed.is_ok(),
        "{}",
        String::from_utf8_lossy(text)
    );
    if let Ok(doc) = parsed {
        prop_assert_eq!(json.is_object(), doc.is_object());
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        for pointer in all {
            let ours = json.pointer(&pointer);
            let theirs = doc.pointer(&pointer);
            let ours_value = ours.and_then(|v| v.to_value());
            prop_assert_eq!(ours_value.as_ref(), theirs, "pointer {}", pointer);
            prop_assert_eq!(
                ours.and_then(|v| v.scalar_text()).map(|t| t.into_owned()),
                theirs.and_then(serde_text),
                "text at {}",
                pointer
            );
        }
        if json.has_plain_keys() {
            let mut fields = Map::new();
            for field in json.fields() {
                let key = std::str::from_utf8(field.key)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let value = field.value.to_value();
                prop_assert!(value.is_some(), "field {} has a JSON value", key);
                prop_assert!(fields
                    .insert(key.to_string(), value.unwrap_or_default())
                    .is_none());
            }
            prop_assert_eq!(Value::Object(fields), doc);
        }
    }
    Ok(())
}

/// Bytes spliced into valid texts: the grammar's, and UTF-8's edges — a two-byte `é`, a
/// lone continuation byte, bytes that start only overlong forms (`\xc0`) or code points past
/// U+10FFFF (`\xf4\x90`), a surrogate's lead (`\xed\xa0`), a four-byte lead, a byte never
/// in UTF-8.
const EDIT_BYTES: &[u8] =
    b"{}[]\",:\\ 0123456789eE.+-tfnu\x01\xc3\xa9\x80\xc0\xed\xa0\xf0\xf4\x90\xff";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_texts_read_as_serde_reads_them((text, value) in text()) {
        prop_assert!(Json::new(&text).is_valid(), "{:?} as {}", value, String::from_utf8_lossy(&text));
        agrees_with_serde(&text)?;
    }

    #[test]
    fn edited_texts_are_valid_exactly_when_serde_says_so(
        (text, _) in text(),
        edits in vec((any::<prop::sample::Index>(), 0..3u8, prop::sample::select(
            EDIT_BYTES.to_vec())), 1..4),
    ) {
        let mut text = text;
        for (at, kind, byte) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                0 => text.insert(i, byte),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = byte,
                _ => text.push(byte),
            }
        }
        agrees_with_serde(&text)?;
    }

    #[test]
    fn array_views_read_pages_as_serde_does_and_each_item_as_alone(
        items in vec(text(), 0..5),
        gaps in vec(prop::sample::select(vec!["", " ", "\n  ", "\t", "\r\n"]), 8),
        edits in vec((any::<prop::sample::Index>(), 0..4u8, prop::sample::select(
            b"[],\" 1{}\xc3\xa9\xed\xa0\x80\xf0\xf4\x90\xc0".to_vec())), 0..3),
    ) {
        let gap = |n: usize| gaps[n % gaps.len()];
        let mut text = format!("{}[{}", gap(0), gap(1)).into_bytes();
        for (n, (item, _)) in items.iter().enumerate() {
            if n > 0 {
                text.extend_from_slice(format!("{},{}", gap(n + 2), gap(n + 3)).as_bytes());
            }
            text.extend_from_slice(item);
        }
        text.extend_from_slice(format!("{}]{}", gap(7), gap(6)).as_bytes());
        for (at, kind, byte) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                0 => text.insert(i, byte),
                1 if i < text.len() => { text.remove(i); }
                2 if i < text.len() => text[i] = byte,
                _ => {}
            }
        }
        let ours = array_views(&text);
        for (range, view) in ours.iter().flatten() {
            let item = text.get(range.clone()).unwrap_or_default();
            prop_assert_eq!(view, &JsonView::of(item));
        }
        let ours = ours.filter(|items| items.iter().all(|(_, view)| view.valid));
        // The page as `serde_json` reads it into values (a raw value does not check a
        // number's range), and where its items lie.
        let serde: Option<Vec<&RawValue>> = serde_json::from_slice::<Vec<Value>>(&text)
            .ok()
            .and_then(|_| serde_json::from_slice(&text).ok());
        match (ours, serde) {
            (Some(items), Some(raw)) => {
                let ours: Vec<&[u8]> = items.into_iter().filter_map(|(r, _)| text.get(r)).collect();
                let serde: Vec<&[u8]> = raw.iter().map(|r| r.get().as_bytes()).collect();
                prop_assert_eq!(ours, serde);
            }
            (None, None) => {}
            (ours, serde) => prop_assert!(false, "ours {:?}, serde {:?} for {:?}",
                ours.map(|i| i.len()), serde.map(|r| r.len()), String::from_utf8_lossy(&text)),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_agree(bytes in vec(any::<u8>(), 0..64)) {
        agrees_with_serde(&bytes)?;
    }
}
