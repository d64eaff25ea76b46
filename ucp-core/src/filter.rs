//! Record filters: a small expression language over a JSON payload's fields that every
//! product uses for its own selection and that a source may translate into its provider's
//! server-side filter (Okta's SCIM `filter`, Graph's `$filter`, …).
//!
//! Fields are addressed by JSON Pointer (`/eventType`, `/actor/alternateId`). Values compare
//! as strings: a JSON number or boolean matches its text form (`42`, `true`).
//!
//! ```
//! use ucp_core::Filter;
//! let mdi = Filter::starts_with("/eventType", "user.authentication")
//!     .or(Filter::starts_with("/eventType", "user.session"));
//! let event: serde_json::Value = serde_json::json!({"eventType": "user.session.start"});
//! assert!(mdi.matches(&event));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::Json;

/// A predicate over a record's JSON payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// The field equals the value.
    Equals {
        /// JSON Pointer to the field.
        path: String,
        /// The value to compare with.
        value: String,
    },
    /// The field is a string that starts with the prefix.
    StartsWith {
        /// JSON Pointer to the field.
        path: String,
        /// The prefix.
        prefix: String,
    },
    /// The field equals one of the values.
    In {
        /// JSON Pointer to the field.
        path: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// Every filter matches.
    And(Vec<Filter>),
    /// At least one filter matches.
    Or(Vec<Filter>),
    /// The filter does not match.
    Not(Box<Filter>),
}

impl Filter {
    /// `path == value`.
    pub fn equals(path: impl Into<String>, value: impl Into<String>) -> Self {
        Filter::Equals {
            path: path.into(),
            value: value.into(),
        }
    }

    /// `path` starts with `prefix`.
    pub fn starts_with(path: impl Into<String>, prefix: impl Into<String>) -> Self {
        Filter::StartsWith {
            path: path.into(),
            prefix: prefix.into(),
        }
    }

    /// `path` is one of `values`.
    pub fn is_in<I, S>(path: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Filter::In {
            path: path.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Both this filter and `other`.
    pub fn and(self, other: Filter) -> Self {
        match self {
            Filter::And(mut all) => {
                all.push(other);
                Filter::And(all)
            }
            first => Filter::And(vec![first, other]),
        }
    }

    /// This filter or `other`.
    pub fn or(self, other: Filter) -> Self {
        match self {
            Filter::Or(mut any) => {
                any.push(other);
                Filter::Or(any)
            }
            first => Filter::Or(vec![first, other]),
        }
    }

    /// The negation of this filter.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Filter::Not(Box::new(self))
    }

    /// Does the parsed JSON document match?
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Filter::Equals { path, value } => field_text(doc, path).is_some_and(|v| v == *value),
            Filter::StartsWith { path, prefix } => doc
                .pointer(path)
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with(prefix.as_str())),
            Filter::In { path, values } => {
                field_text(doc, path).is_some_and(|v| values.contains(&v))
            }
            Filter::And(all) => all.iter().all(|f| f.matches(doc)),
            Filter::Or(any) => any.iter().any(|f| f.matches(doc)),
            Filter::Not(inner) => !inner.matches(doc),
        }
    }

    /// Does the JSON text match? Reads it in place ([`Json::pointer`]) and agrees with
    /// [`matches`](Self::matches) on the parsed document; a text that is not JSON matches
    /// no filter (not even a negation), as the fan-out has always treated it.
    pub fn matches_json(&self, json: &Json<'_>) -> bool {
        json.is_valid() && self.matches_valid_json(json)
    }

    fn matches_valid_json(&self, json: &Json<'_>) -> bool {
        match self {
            Filter::Equals { path, value } => json
                .pointer(path)
                .and_then(|v| v.scalar_text())
                .is_some_and(|v| v == value.as_str()),
            Filter::StartsWith { path, prefix } => json
                .pointer(path)
                .is_some_and(|v| v.str_starts_with(prefix)),
            Filter::In { path, values } => json
                .pointer(path)
                .and_then(|v| v.scalar_text())
                .is_some_and(|v| values.iter().any(|candidate| *candidate == v)),
            Filter::And(all) => all.iter().all(|f| f.matches_valid_json(json)),
            Filter::Or(any) => any.iter().any(|f| f.matches_valid_json(json)),
            Filter::Not(inner) => !inner.matches_valid_json(json),
        }
    }

    /// The filter that selects what any of `filters` selects, or `None` (select everything)
    /// when one of them is `None`. Identical filters appear once. Used for the server-side
    /// filter of a collection job shared by several subscribers.
    pub fn union<'a>(filters: impl IntoIterator<Item = Option<&'a Filter>>) -> Option<Filter> {
        let mut distinct: Vec<Filter> = Vec::new();
        for filter in filters {
            let filter = filter?;
            let parts = match filter {
                Filter::Or(any) => any.clone(),
                single => vec![single.clone()],
            };
            for part in parts {
                if !distinct.contains(&part) {
                    distinct.push(part);
                }
            }
        }
        match distinct.len() {
            0 => None,
            1 => distinct.pop(),
            _ => Some(Filter::Or(distinct)),
        }
    }
}

/// A scalar field's text form: strings as they are, numbers and booleans as JSON text.
fn field_text(doc: &Value, path: &str) -> Option<String> {
    match doc.pointer(path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_filters_match_fields_by_pointer() {
        let doc = json!({"eventType": "user.session.start", "severity": 3, "actor": {"id": "u1"}});
        assert!(Filter::equals("/actor/id", "u1").matches(&doc));
        assert!(!Filter::equals("/actor/id", "u2").matches(&doc));
        assert!(Filter::equals("/severity", "3").matches(&doc));
        assert!(Filter::starts_with("/eventType", "user.").matches(&doc));
        assert!(!Filter::starts_with("/severity", "3").matches(&doc));
        assert!(Filter::is_in("/actor/id", ["u0", "u1"]).matches(&doc));
        assert!(!Filter::equals("/missing", "x").matches(&doc));
    }

    #[test]
    fn json_in_place_matches_like_the_parsed_document() {
        let text = br#"{"eventType":"user.session.start","severity":3,"ok":true,"actor":{"id":"u\u0031"}}"#;
        let doc: Value = serde_json::from_slice(text).unwrap();
        let json = Json::new(text);
        for filter in [
            Filter::equals("/actor/id", "u1"),
            Filter::equals("/severity", "3"),
            Filter::equals("/ok", "true"),
            Filter::starts_with("/eventType", "user."),
            Filter::starts_with("/severity", "3"),
            Filter::starts_with("/actor/id", "u"),
            Filter::is_in("/actor/id", ["u0", "u1"]),
            Filter::equals("/missing", "x").not(),
            Filter::equals("/actor", "x"),
        ] {
            assert_eq!(
                filter.matches_json(&json),
                filter.matches(&doc),
                "{filter:?}"
            );
        }
        let broken = Json::new(br#"{"eventType":"user.session.start""#);
        assert!(!Filter::equals("/missing", "x").not().matches_json(&broken));
    }

    #[test]
    fn combinators_compose() {
        let doc = json!({"a": "x", "b": "y"});
        let both = Filter::equals("/a", "x").and(Filter::equals("/b", "y"));
        assert!(both.matches(&doc));
        assert!(!both.clone().not().matches(&doc));
        let either = Filter::equals("/a", "no").or(Filter::equals("/b", "y"));
        assert!(either.matches(&doc));
        assert!(!Filter::equals("/a", "no")
            .or(Filter::equals("/b", "no"))
            .matches(&doc));
    }

    #[test]
    fn union_is_none_when_any_subscriber_wants_everything() {
        let a = Filter::equals("/a", "1");
        let b = Filter::equals("/a", "2");
        assert_eq!(Filter::union([Some(&a), None]), None);
        assert_eq!(
            Filter::union([Some(&a), Some(&b), Some(&a)]),
            Some(Filter::Or(vec![a.clone(), b.clone()]))
        );
        assert_eq!(Filter::union([Some(&a)]), Some(a));
    }
}
