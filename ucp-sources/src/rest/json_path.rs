//! JSONPath (RFC 9535, through `serde_json_path`) with a fast lane for plain member paths.
//!
//! Definitions mostly use paths such as `$`, `$.data.events` or `$.uuid`. Those are walked
//! over the raw JSON text (`RawValue`), so an event's bytes are kept exactly as the provider
//! sent them and nothing is built for fields nobody asked for: this is what keeps a
//! declarative connector's CPU per record close to a hand-written one's. Any other path
//! (filters, wildcards, slices such as `$.alerts[-1:]._id`) is evaluated by
//! `serde_json_path` on a parsed value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use serde_json_path::JsonPath;

/// One step of a plain path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
}

/// A parsed JSONPath.
#[derive(Clone)]
pub struct Path {
    text: String,
    compiled: JsonPath,
    /// The steps when the path is only members and non-negative indices.
    plain: Option<Vec<Step>>,
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Path {
    /// Parse `text`; the error names the position and what the parser expected.
    pub fn parse(text: &str) -> Result<Path, String> {
        let compiled = JsonPath::parse(text).map_err(|e| {
            format!(
                "`{text}` is not a JSONPath (RFC 9535) at character {}: {}",
                e.position(),
                e.message()
            )
        })?;
        Ok(Path {
            text: text.to_string(),
            compiled,
            plain: plain_steps(text),
        })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True for `$` alone.
    pub fn is_root(&self) -> bool {
        self.plain.as_ref().is_some_and(Vec::is_empty)
    }

    /// The member name when the path is `$.name` (one member of the root).
    pub fn single_member(&self) -> Option<&str> {
        match self.plain.as_deref() {
            Some([Step::Member(name)]) => Some(name),
            _ => None,
        }
    }

    /// True when the fast lane applies.
    pub fn is_plain(&self) -> bool {
        self.plain.is_some()
    }

    /// The node at a plain path in raw JSON (`None` when absent); `Err` when the text is
    /// not JSON. Only for plain paths: others return `Ok(None)`.
    pub fn first_raw<'a>(&self, json: &'a RawValue) -> Result<Option<&'a RawValue>, String> {
        let Some(steps) = &self.plain else {
            return Ok(None);
        };
        let mut node = json;
        for step in steps {
            let next = match step {
                Step::Member(name) => member(node, name)?,
                Step::Index(index) => element(node, *index)?,
            };
            match next {
                Some(next) => node = next,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// Every node the path selects in a parsed value.
    pub fn select<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        self.compiled.query(value).all()
    }

    /// The first node the path selects in a parsed value.
    pub fn first<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        match &self.plain {
            Some(steps) => steps.iter().try_fold(value, |node, step| match step {
                Step::Member(name) => node.get(name),
                Step::Index(index) => node.get(*index),
            }),
            None => self.compiled.query(value).first(),
        }
    }
}

/// The steps of `$`, `$.a.b`, `$['a'][0]`, `$.a[2].b` — or `None` for anything else.
fn plain_steps(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '@')
                || name.starts_with('-')
            {
                return None;
            }
            steps.push(Step::Member(name.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inside = after[..end].trim();
            let quoted = inside
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(name) if !name.contains(['\\', '\'', '"']) => {
                    steps.push(Step::Member(name.to_string()))
                }
                Some(_) => return None,
                None if !inside.is_empty() && inside.chars().all(|c| c.is_ascii_digit()) => {
                    steps.push(Step::Index(inside.parse().ok()?))
                }
                None => return None,
            }
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The value of member `name` of a raw object (`None` when absent or not an object).
fn member<'a>(node: &'a RawValue, name: &str) -> Result<Option<&'a RawValue>, String> {
    if !node.get().trim_start().starts_with('{') {
        return Ok(None);
    }
    let [found] = pick(node, &[name])?;
    Ok(found)
}

/// Element `index` of a raw array (`None` when absent or not an array).
fn element(node: &RawValue, index: usize) -> Result<Option<&RawValue>, String> {
    if !node.get().trim_start().starts_with('[') {
        return Ok(None);
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(node.get()).map_err(|e| format!("not JSON ({e})"))?;
    Ok(items.get(index).copied())
}

/// The values of the members named in `names` of a raw object, in one pass over it.
pub fn pick<'a, const N: usize>(
    node: &'a RawValue,
    names: &[&str; N],
) -> Result<[Option<&'a RawValue>; N], String> {
    let mut de = serde_json::Deserializer::from_str(node.get());
    let found = Picker { names }
        .deserialize(&mut de)
        .map_err(|e| format!("not a JSON object ({e})"))?;
    Ok(found)
}

/// The elements of a raw array, or `None` when the node is not an array.
pub fn elements(node: &RawValue) -> Result<Option<Vec<&RawValue>>, String> {
    if !node.get().trim_start().starts_with('[') {
        return Ok(None);
    }
    serde_json::from_str(node.get())
        .map(Some)
        .map_err(|e| format!("not a JSON array ({e})"))
}

struct Picker<'n, const N: usize> {
    names: &'n [&'n str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Picker<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Picker<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; N];
        while let Some(key) = map.next_key_seed(Key)? {
            match self.names.iter().position(|n| *n == key) {
                Some(at) if found[at].is_none() => found[at] = Some(map.next_value::<&RawValue>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// An object key, borrowed from the text unless it holds escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// A leaf as text: a string's contents, a number's or boolean's literal; `None` for null.
/// Objects and arrays give their JSON text.
pub fn leaf_text(node: &RawValue) -> Option<Cow<'_, str>> {
    let text = node.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'_, str>>(text).ok(),
        Some(b'n') if text == "null" => None,
        Some(_) => Some(Cow::Borrowed(text)),
        None => None,
    }
}

/// A parsed leaf as text, as [`leaf_text`] does for raw ones.
pub fn value_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> &RawValue {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn plain_paths_walk_the_raw_text() {
        let body = raw(r#"{"meta":{"next":"n1"},"data":{"events":[{"a":1},{"a":2}]},"x\u0041":3}"#);
        let events = Path::parse("$.data.events").unwrap();
        assert!(events.is_plain());
        let node = events.first_raw(body).unwrap().unwrap();
        assert_eq!(node.get(), r#"[{"a":1},{"a":2}]"#);
        assert_eq!(
            Path::parse("$['data']['events'][1].a")
                .unwrap()
                .first_raw(body)
                .unwrap()
                .unwrap()
                .get(),
            "2"
        );
        assert_eq!(
            Path::parse("$.xA")
                .unwrap()
                .first_raw(body)
                .unwrap()
                .unwrap()
                .get(),
            "3"
        );
        assert!(Path::parse("$.missing.deeper")
            .unwrap()
            .first_raw(body)
            .unwrap()
            .is_none());
        assert!(Path::parse("$").unwrap().is_root());
    }

    #[test]
    fn other_paths_use_the_full_evaluator() {
        let path = Path::parse("$.alerts[-1:]._id").unwrap();
        assert!(!path.is_plain());
        let value: Value = serde_json::from_str(r#"{"alerts":[{"_id":"a"},{"_id":"b"}]}"#).unwrap();
        assert_eq!(path.first(&value), Some(&Value::from("b")));
        let filtered = Path::parse("$.items[?@.kind == 'x'].id").unwrap();
        let value: Value = serde_json::from_str(
            r#"{"items":[{"kind":"x","id":1},{"kind":"y","id":2},{"kind":"x","id":3}]}"#,
        )
        .unwrap();
        assert_eq!(filtered.select(&value).len(), 2);
    }

    #[test]
    fn a_bad_path_says_where() {
        let error = Path::parse("$.a[").unwrap_err();
        assert!(error.contains("not a JSONPath"), "{error}");
        assert!(Path::parse("data.events").is_err());
    }

    #[test]
    fn leaves_become_text() {
        assert_eq!(leaf_text(raw(r#""a\"b""#)).unwrap(), "a\"b");
        assert_eq!(leaf_text(raw("12.5")).unwrap(), "12.5");
        assert!(leaf_text(raw("null")).is_none());
    }
}
