//! A record's JSON read where it lies: the payload is checked once (it is JSON exactly when
//! `serde_json` would read it into a `Value`) and the byte ranges of its top-level fields
//! are noted ([`JsonView`]); filters, column mappings and partition keys then look values
//! up by JSON Pointer over those ranges ([`Json::pointer`]) and copy the provider's bytes
//! ([`JsonSlice::raw`]) instead of building a tree per product.
//!
//! [`Record::json`](crate::Record::json) builds the view on first use and keeps it with the
//! record, so every product sharing the record (the fan-out shares records, not copies)
//! uses one view: a payload is read at most once per batch.
//!
//! ```
//! use ucp_core::json::Json;
//! let json = Json::new(br#"{"eventType":"user.session.start","actor":{"id":"00u1"}}"#);
//! assert!(json.is_valid());
//! assert_eq!(json.pointer("/actor/id").unwrap().raw(), br#""00u1""#);
//! assert!(json.pointer("/eventType").unwrap().str_starts_with("user."));
//! ```

mod scan;

#[cfg(test)]
mod proptests;

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use scan::{Span, Verdict};

/// What one pass over a payload found: whether it is JSON and, for an object, where its
/// top-level fields are. Build it with [`JsonView::of`]; read it with [`Json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonView {
    valid: bool,
    object: bool,
    plain_keys: bool,
    spans: Box<[Span]>,
    /// Which text this view describes (address and length), so a record whose payload was
    /// replaced after its view was built is read again rather than misread.
    address: usize,
    len: usize,
}

thread_local! {
    /// Spans are gathered here and copied once into the view: one allocation per payload.
    static SPANS: std::cell::RefCell<Vec<Span>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl JsonView {
    /// Check `text` and note its top-level fields.
    pub fn of(text: &[u8]) -> JsonView {
        SPANS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut spans) => {
                spans.clear();
                Self::build(text, &mut spans)
            }
            Err(_) => Self::build(text, &mut Vec::new()),
        })
    }

    fn build(text: &[u8], spans: &mut Vec<Span>) -> JsonView {
        let verdict = scan::check(text, spans);
        let (valid, object, plain_keys) = match verdict {
            Verdict::Valid { object, plain_keys } => (true, object, plain_keys),
            Verdict::Invalid => (false, false, false),
            Verdict::Unsure => match serde_json::from_slice::<Value>(text) {
                Ok(value) => {
                    // The checking pass may have stopped early: walk the checked text.
                    spans.clear();
                    let object = value.is_object() && reindex(text, spans);
                    let plain = object
                        && spans.iter().all(|s| {
                            text.get(s.key_start as usize..s.key_end as usize)
                                .is_some_and(|key| !key.contains(&b'\\'))
                        })
                        && !has_repeated(text, spans);
                    (true, object, plain)
                }
                Err(_) => (false, false, false),
            },
        };
        if !object {
            spans.clear();
        }
        JsonView {
            valid,
            object,
            plain_keys,
            spans: spans.as_slice().into(),
            address: text.as_ptr() as usize,
            len: text.len(),
        }
    }

    /// True when this view was built from `text` (the same bytes in memory).
    pub fn describes(&self, text: &[u8]) -> bool {
        self.address == text.as_ptr() as usize && self.len == text.len()
    }
}

/// A JSON array checked in one pass, item by item: where each item lies in `text` and its
/// [`JsonView`], the view [`JsonView::of`] builds for those bytes. A source reading a page of
/// events uses it to read each event once and hands the view on with
/// [`Record::with_view`](crate::Record::with_view). `None` when `text` is not a JSON array
/// (whitespace around it allowed), or when only `serde_json` could say (nesting near its
/// limit); an item only `serde_json` can judge (a `\u` escape, a number's range) gets the
/// view `serde_json`'s answer gives, valid or not.
///
/// ```
/// use ucp_core::json::{array_views, Json};
/// use std::sync::Arc;
/// let text = br#" [ {"a":[1,"]"]} , 2 ] "#;
/// let items = array_views(text).unwrap();
/// assert_eq!(&text[items[0].0.clone()], br#"{"a":[1,"]"]}"#);
/// let first = Json::with_view(&text[items[0].0.clone()], Arc::new(items[0].1.clone()));
/// assert_eq!(first.pointer("/a/1").unwrap().raw(), br#""]""#);
/// assert!(array_views(b"[1,]").is_none() && array_views(b"[1 2]").is_none());
/// ```
pub fn array_views(text: &[u8]) -> Option<Vec<(std::ops::Range<usize>, JsonView)>> {
    let mut spans = Vec::new();
    let items = scan::check_items(text, &mut spans)?;
    let views = items
        .into_iter()
        .map(|item| {
            let bytes = text.get(item.range.clone()).unwrap_or_default();
            let view = if item.unsure {
                JsonView::of(bytes)
            } else {
                JsonView {
                    valid: true,
                    object: item.object,
                    plain_keys: item.plain_keys,
                    spans: spans.get(item.spans).unwrap_or_default().into(),
                    address: bytes.as_ptr() as usize,
                    len: bytes.len(),
                }
            };
            (item.range, view)
        })
        .collect();
    Some(views)
}

/// The spans of a checked object's members; false when they do not fit in 32 bits.
fn reindex(text: &[u8], spans: &mut Vec<Span>) -> bool {
    let start = scan::skip_ws(text, 0);
    for member in scan::members(text, start) {
        let (Ok(key_start), Ok(key_end), Ok(value_start), Ok(value_end)) = (
            u32::try_from(member.key.start),
            u32::try_from(member.key.end),
            u32::try_from(member.value.start),
            u32::try_from(member.value.end),
        ) else {
            return false;
        };
        spans.push(Span {
            key_start,
            key_end,
            value_start,
            value_end,
        });
    }
    true
}

fn has_repeated(text: &[u8], spans: &[Span]) -> bool {
    let key = |s: &Span| text.get(s.key_start as usize..s.key_end as usize);
    spans
        .iter()
        .enumerate()
        .any(|(n, later)| spans[..n].iter().any(|earlier| key(earlier) == key(later)))
}

/// A JSON text with its [`JsonView`]: what filters, mappings and partition keys read.
#[derive(Clone, Debug)]
pub struct Json<'a> {
    text: &'a [u8],
    view: Arc<JsonView>,
}

/// One top-level field of a JSON object, as it lies in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The key's bytes inside its quotes (escapes, if any, as written).
    pub key: &'a [u8],
    /// The value.
    pub value: JsonSlice<'a>,
}

impl<'a> Json<'a> {
    /// Check `text` and index it (not cached: [`Record::json`](crate::Record::json) caches).
    pub fn new(text: &'a [u8]) -> Json<'a> {
        Json {
            text,
            view: Arc::new(JsonView::of(text)),
        }
    }

    /// `text` with a view already built for it; a view of other bytes is replaced by a
    /// fresh one.
    pub fn with_view(text: &'a [u8], view: Arc<JsonView>) -> Json<'a> {
        if view.describes(text) {
            Json { text, view }
        } else {
            Json::new(text)
        }
    }

    /// The whole text.
    pub fn text(&self) -> &'a [u8] {
        self.text
    }

    /// True when the text is JSON (exactly when `serde_json` reads it into a `Value`).
    pub fn is_valid(&self) -> bool {
        self.view.valid
    }

    /// True when the text is a JSON object (whose fields [`fields`](Self::fields) lists).
    pub fn is_object(&self) -> bool {
        self.view.object
    }

    /// True for an object whose top-level keys hold no escape and none of which appears
    /// twice: each raw key is then the field's name, and the fields are the object's.
    pub fn has_plain_keys(&self) -> bool {
        self.view.plain_keys
    }

    /// The top-level fields of an object in the order of the text (empty for other texts).
    pub fn fields(&self) -> impl ExactSizeIterator<Item = Field<'a>> + '_ {
        self.view.spans.iter().map(|s| self.field(s))
    }

    fn field(&self, span: &Span) -> Field<'a> {
        let text = self.text;
        Field {
            key: text
                .get(span.key_start as usize..span.key_end as usize)
                .unwrap_or_default(),
            value: JsonSlice(
                text.get(span.value_start as usize..span.value_end as usize)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The value at a JSON Pointer (RFC 6901: `/actor/id`, `/target/0`; `""` is the whole
    /// text), as `serde_json::Value::pointer` finds it: a repeated key's last value, array
    /// indexes without sign or leading zeros. `None` when absent or when the text is not JSON.
    pub fn pointer(&self, pointer: &str) -> Option<JsonSlice<'a>> {
        if !self.view.valid {
            return None;
        }
        let root = scan::skip_ws(self.text, 0);
        if pointer.is_empty() {
            let end = scan::skip_value(self.text, root)?;
            return Some(JsonSlice(self.text.get(root..end)?));
        }
        let mut tokens = pointer.strip_prefix('/')?.split('/').map(unescape_token);
        let first = tokens.next()?;
        let (mut start, mut end) = if self.view.object {
            // The index: the last field of that name. Plain keys are their names: compare
            // bytes, without looking for escapes in every key passed.
            let plain = self.view.plain_keys;
            let span = self.view.spans.iter().rev().find(|s| {
                let key = s.key_start as usize..s.key_end as usize;
                if plain {
                    self.text.get(key) == Some(first.as_bytes())
                } else {
                    key_is(self.text, key, &first)
                }
            })?;
            (span.value_start as usize, span.value_end as usize)
        } else {
            let end = scan::skip_value(self.text, root)?;
            child(self.text, root, end, &first)?
        };
        for token in tokens {
            (start, end) = child(self.text, start, end, &token)?;
        }
        Some(JsonSlice(self.text.get(start..end)?))
    }

    /// The text as a `serde_json::Value` (a tree: for rare paths and error messages).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(self.text)
    }
}

/// `~1` is `/` and `~0` is `~` in a pointer token.
fn unescape_token(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Does the key at `range` (inside its quotes) name `token`?
fn key_is(text: &[u8], range: std::ops::Range<usize>, token: &str) -> bool {
    let Some(raw) = text.get(range.clone()) else {
        return false;
    };
    if !raw.contains(&b'\\') {
        return raw == token.as_bytes();
    }
    // An escaped key: compare what it means.
    text.get(range.start.saturating_sub(1)..range.end + 1)
        .and_then(|quoted| serde_json::from_slice::<String>(quoted).ok())
        .is_some_and(|key| key == token)
}

/// The child named by `token` of the value at `start..end`: an object's member (the last of
/// that name) or an array's element.
fn child(text: &[u8], start: usize, end: usize, token: &str) -> Option<(usize, usize)> {
    let value = text.get(start..end)?;
    match value.first()? {
        b'{' => scan::members(text, start)
            .filter(|m| key_is(text, m.key.clone(), token))
            .last()
            .map(|m| (m.value.start, m.value.end)),
        b'[' => {
            if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                return None;
            }
            let index: usize = token.parse().ok()?;
            scan::elements(text, start).nth(index)
        }
        _ => None,
    }
}

/// One JSON value as it lies in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonSlice<'a>(&'a [u8]);

impl<'a> JsonSlice<'a> {
    /// The value's JSON text, as the provider wrote it.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        self.0 == b"null"
    }

    /// True for a string.
    pub fn is_string(&self) -> bool {
        self.0.first() == Some(&b'"')
    }

    /// A string's contents without escapes, borrowed from the text; `None` for other values
    /// and for strings with escapes (use [`as_str`](Self::as_str)).
    fn plain_str_bytes(&self) -> Option<&'a [u8]> {
        let inner = self.0.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        (!inner.contains(&b'\\')).then_some(inner)
    }

    /// True when the value is a string starting with `prefix`.
    pub fn str_starts_with(&self, prefix: &str) -> bool {
        if !self.is_string() {
            return false;
        }
        match self.plain_str_bytes() {
            Some(inner) => inner.starts_with(prefix.as_bytes()),
            None => self.as_str().is_some_and(|s| s.starts_with(prefix)),
        }
    }

    /// A string value's text (escapes decoded); `None` for other values.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        if !self.is_string() {
            return None;
        }
        match self.plain_str_bytes() {
            Some(inner) => std::str::from_utf8(inner).ok().map(Cow::Borrowed),
            None => serde_json::from_slice::<String>(self.0)
                .ok()
                .map(Cow::Owned),
        }
    }

    /// A scalar's text as filters compare it: a string's text, a number or boolean as
    /// `serde_json` writes it (`42`, `1.5`, `true`); `None` for null, objects and arrays.
    pub fn scalar_text(&self) -> Option<Cow<'a, str>> {
        match self.0.first()? {
            b'"' => self.as_str(),
            b't' | b'f' => std::str::from_utf8(self.0).ok().map(Cow::Borrowed),
            b'-' | b'0'..=b'9' if is_plain_integer(self.0) => {
                std::str::from_utf8(self.0).ok().map(Cow::Borrowed)
            }
            b'-' | b'0'..=b'9' => serde_json::from_slice::<serde_json::Number>(self.0)
                .ok()
                .map(|n| Cow::Owned(n.to_string())),
            _ => None,
        }
    }

    /// The value as a `serde_json::Value` (a tree).
    pub fn to_value(&self) -> Option<Value> {
        serde_json::from_slice(self.0).ok()
    }
}

/// An integer `serde_json` writes back as the same text: `0`, or up to 18 digits without a
/// leading zero, optionally negative (`-0` reads as a float).
fn is_plain_integer(raw: &[u8]) -> bool {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.iter().all(u8::is_ascii_digit)
        && (digits == b"0" && raw.len() == 1 || digits[0] != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_indexed_and_looked_up_like_serde() {
        let text =
            br#" {"a": 1, "b": {"c": [10, {"d": "x"}], "c": "last"}, "e\u0041": true, "a": 2} "#;
        let json = Json::new(text);
        assert!(json.is_valid() && json.is_object());
        assert!(!json.has_plain_keys(), "an escaped key and a repeated one");
        assert_eq!(json.fields().len(), 4);
        assert_eq!(
            json.pointer("/a").unwrap().raw(),
            b"2",
            "the last of a repeated key"
        );
        assert_eq!(json.pointer("/b/c").unwrap().raw(), br#""last""#);
        assert_eq!(json.pointer("/eA").unwrap().raw(), b"true");
        assert!(json.pointer("/b/c/0").is_none());
        assert!(json.pointer("a").is_none());
        let array = Json::new(br#"[{"d":"x"},[1,2]]"#);
        assert!(array.is_valid() && !array.is_object());
        assert_eq!(array.pointer("/0/d").unwrap().raw(), br#""x""#);
        assert_eq!(array.pointer("/1/1").unwrap().raw(), b"2");
        assert!(array.pointer("/01").is_none() && array.pointer("/+1").is_none());
        assert_eq!(array.pointer("").unwrap().raw(), br#"[{"d":"x"},[1,2]]"#);
    }

    #[test]
    fn what_serde_refuses_is_not_valid() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\":01}",
            b"{\"a\":\"\\ud800\"}",
            b"[1e400]",
            b"{\"a\":1} x",
            b"\"tab\there\"",
            b"{\"a\" 1}",
            b"[1,]",
            b"\xff",
        ] {
            assert!(
                !Json::new(bad).is_valid(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(serde_json::from_slice::<Value>(bad).is_err());
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(!Json::new(deep.as_bytes()).is_valid());
        let fine = format!("{}{}", "[".repeat(110), "]".repeat(110));
        assert!(Json::new(fine.as_bytes()).is_valid());
    }

    #[test]
    fn repeated_root_keys_are_found_in_objects_of_any_size() {
        let object = |keys: &[String]| {
            let members: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
            format!("{{{}}}", members.join(","))
        };
        for size in [2, 40] {
            // Keys of one length, alike in their first eight bytes, different after them.
            let mut keys: Vec<String> = (0..size).map(|n| format!("samehead{n:03}")).collect();
            let json = object(&keys);
            assert!(
                Json::new(json.as_bytes()).has_plain_keys(),
                "{size} distinct"
            );
            keys.push(keys[size / 2].clone());
            let json = object(&keys);
            let view = Json::new(json.as_bytes());
            assert!(
                view.is_valid() && !view.has_plain_keys(),
                "{size} with a repeat"
            );
        }
    }

    #[test]
    fn utf8_is_checked_where_it_may_appear_in_strings() {
        // Text between quotes, keys included: UTF-8 in every width, as std reads it.
        for good in [
            "{\"é\":\"aé\"}",
            "[\"€ and 𝄞\"]",
            "\"ß\"",
            "{\"a\":\"longer than eight bytes ✓ then more\"}",
        ] {
            assert!(Json::new(good.as_bytes()).is_valid(), "{good}");
        }
        for bad in [
            &b"\"\xc0\xaf\""[..],            // overlong `/`
            b"\"\xed\xa0\x80\"",             // a surrogate
            b"\"\xf4\x90\x80\x80\"",         // past U+10FFFF
            b"\"\xe2\x82\"",                 // cut short by the quote
            b"\"\xe2\x82",                   // cut short by the end
            b"\"\x80\"",                     // a lone continuation byte
            b"{\"k\xff\":1}",                // in a key
            b"\"abcdefgh\xc3\x28abcdefgh\"", // after a whole word
            b"[1,\xc3\xa9]",                 // UTF-8, but outside a string
        ] {
            assert!(!Json::new(bad).is_valid(), "{:?}", bad);
            assert!(serde_json::from_slice::<Value>(bad).is_err());
            let page = [b"[".as_slice(), bad, b"]"].concat();
            assert!(array_views(&page).is_none_or(|items| !items[0].1.valid));
        }
    }

    #[test]
    fn array_views_leave_deep_pages_to_serde_and_ask_it_about_escapes() {
        let deep = format!("[{}{}]", "[".repeat(110), "]".repeat(110));
        assert!(array_views(deep.as_bytes()).is_none());
        let text = br#"[{"a":"\ud800"},{"b":"\u0041"},{"c":1}]"#;
        let items = array_views(text).unwrap();
        assert!(!items[0].1.valid, "a lone surrogate, as serde_json says");
        assert!(items[1].1.valid && items[1].1.object && items[2].1.object);
        for (range, view) in items {
            assert!(view.describes(&text[range]));
        }
    }

    #[test]
    fn scalar_text_is_serde_s() {
        let json = Json::new(br#"{"n":42,"f":1.50,"e":1e2,"z":-0,"s":"a\/b","t":true,"o":{}}"#);
        let text = |p: &str| {
            json.pointer(p)
                .and_then(|v| v.scalar_text())
                .map(|t| t.into_owned())
        };
        assert_eq!(text("/n").as_deref(), Some("42"));
        assert_eq!(text("/f").as_deref(), Some("1.5"));
        assert_eq!(text("/e").as_deref(), Some("100.0"));
        assert_eq!(text("/z").as_deref(), Some("-0.0"));
        assert_eq!(text("/s").as_deref(), Some("a/b"));
        assert_eq!(text("/t").as_deref(), Some("true"));
        assert_eq!(text("/o"), None);
    }
}
