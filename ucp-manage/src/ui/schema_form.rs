//! A definition's configuration schema (JSON Schema) as form fields, and the posted values
//! back into a configuration.
//!
//! Each top-level property becomes one field: text, a whole number, a number, a checkbox, a
//! choice (an `enum`, or `oneOf` constants with descriptions) or JSON (objects and arrays).
//! Values are converted only where they clearly are what the schema asks; anything else is
//! sent as typed, so the manager's validation names the field and says what is wrong. An
//! empty field is left out, so the definition's default applies.

use maud::{html, Markup};
use serde_json::{Map, Value};

use super::field::{id_of, Frame};
use super::form::Fields;

/// How deep `$ref`s are followed (a schema that refers to itself stops here).
const MAX_REF_DEPTH: usize = 8;

/// What a field holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    /// Text (with the schema's `format`, e.g. `date-time`).
    Text(Option<String>),
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// Yes or no.
    Boolean,
    /// One of these values, each with a label.
    Choice(Vec<(String, String)>),
    /// JSON (an object, an array, or anything else).
    Json,
}

/// One configuration setting.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    /// The property.
    pub name: String,
    /// Its label.
    pub label: String,
    /// What it is, and what it accepts.
    pub hint: Option<String>,
    /// What it holds.
    pub kind: Kind,
    /// It must be given.
    pub required: bool,
    /// The schema's default, as text.
    pub default: Option<String>,
}

impl Field {
    /// The name it is posted under.
    pub(crate) fn input_name(&self) -> String {
        format!("config.{}", self.name)
    }

    /// The field the manager's problems name.
    pub(crate) fn path(&self) -> String {
        format!("config.{}", self.name)
    }
}

/// `schema` with a local `$ref` (`#/$defs/…`, `#/definitions/…`) or a lone `allOf` entry
/// replaced by what it points to, following at most [`MAX_REF_DEPTH`] steps.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..MAX_REF_DEPTH {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let target = reference
                .strip_prefix('#')
                .and_then(|pointer| root.pointer(pointer));
            match target {
                Some(t) => schema = t,
                None => break,
            }
        } else if let Some([only]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            schema = only;
        } else {
            break;
        }
    }
    schema
}

/// The non-null variant of a nullable `anyOf`/`oneOf` (`Option<Enum>`), if that is what
/// `schema` is.
fn non_null_variant<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let variants = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)?;
    let mut rest = variants
        .iter()
        .map(|v| resolve(root, v))
        .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"));
    let only = rest.next()?;
    (variants.len() == 2 && rest.next().is_none()).then_some(only)
}

/// The values a choice offers, with their labels; `None` when `schema` is not a choice.
fn choices(root: &Value, schema: &Value) -> Option<Vec<(String, String)>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let options: Option<Vec<(String, String)>> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.as_str().map(|s| (s.to_string(), s.to_string())))
            .collect();
        return options.filter(|o| !o.is_empty());
    }
    let variants = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)?;
    let mut options = Vec::new();
    for variant in variants {
        let variant = resolve(root, variant);
        if variant.get("type").and_then(Value::as_str) == Some("null") {
            continue;
        }
        let value = variant.get("const").or_else(|| {
            variant
                .get("enum")
                .and_then(Value::as_array)
                .filter(|e| e.len() == 1)
                .and_then(|e| e.first())
        })?;
        let value = value.as_str()?.to_string();
        let label = match variant.get("description").and_then(Value::as_str) {
            Some(d) => format!("{value} — {}", d.trim_end_matches('.')),
            None => value.clone(),
        };
        options.push((value, label));
    }
    (!options.is_empty()).then_some(options)
}

/// The schema's `type`, without `null`.
fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t.as_str()),
        Value::Array(types) => {
            let mut rest = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null");
            let only = rest.next()?;
            rest.next().is_none().then_some(only)
        }
        _ => None,
    }
}

/// `org_url` → `Org URL`.
fn label_of(name: &str) -> String {
    let words: Vec<String> = name
        .split(['_', '-'])
        .filter(|w| !w.is_empty())
        .enumerate()
        .map(|(i, w)| match w {
            "url" | "id" | "api" | "uri" | "ip" => w.to_uppercase(),
            _ if i == 0 => {
                let mut chars = w.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            _ => w.to_string(),
        })
        .collect();
    if words.is_empty() {
        name.to_string()
    } else {
        words.join(" ")
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What to say under a field: its description, its range, its format, its default.
fn hint_of(schema: &Value, outer: &Value, kind: &Kind, default: &Option<String>) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(d) = outer
        .get("description")
        .or_else(|| schema.get("description"))
        .and_then(Value::as_str)
    {
        parts.push(d.trim().trim_end_matches('…').to_string());
    }
    let bound = |k: &str| schema.get(k).filter(|v| v.is_number()).map(as_text);
    match (
        bound("minimum"),
        bound("exclusiveMinimum"),
        bound("maximum"),
    ) {
        (Some(min), _, Some(max)) => parts.push(format!("From {min} to {max}.")),
        (None, Some(min), Some(max)) => parts.push(format!("More than {min}, at most {max}.")),
        (Some(min), _, None) => parts.push(format!("At least {min}.")),
        (None, Some(min), None) => parts.push(format!("More than {min}.")),
        (None, None, Some(max)) => parts.push(format!("At most {max}.")),
        (None, None, None) => {}
    }
    match kind {
        Kind::Text(Some(f)) if f == "date-time" => {
            parts.push("A time in RFC 3339, e.g. 2026-01-31T08:00:00Z.".into())
        }
        Kind::Text(Some(f)) if f == "uri" => parts.push("A full URL.".into()),
        Kind::Json => parts.push("JSON.".into()),
        _ => {}
    }
    if let Some(d) = default {
        parts.push(format!("Default: {d}."));
    }
    let text = parts
        .into_iter()
        .map(|p| {
            if p.ends_with(['.', '?', '!', ')']) {
                p
            } else {
                format!("{p}.")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

/// The fields of a configuration schema: the required ones first, each group by name (a
/// JSON object keeps no order of its own here).
pub(crate) fn fields(document: &Value) -> Vec<Field> {
    let root = resolve(document, document);
    let required: Vec<&str> = root
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = root.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut fields: Vec<Field> = properties
        .iter()
        .map(|(name, outer)| {
            let mut schema = resolve(document, outer);
            if let Some(inner) = non_null_variant(document, schema) {
                schema = inner;
            }
            let kind = if let Some(options) = choices(document, schema) {
                Kind::Choice(options)
            } else {
                match type_of(schema) {
                    Some("string") => Kind::Text(
                        schema
                            .get("format")
                            .and_then(Value::as_str)
                            .map(String::from),
                    ),
                    Some("integer") => Kind::Integer,
                    Some("number") => Kind::Number,
                    Some("boolean") => Kind::Boolean,
                    _ => Kind::Json,
                }
            };
            let default = outer
                .get("default")
                .or_else(|| schema.get("default"))
                .filter(|d| !d.is_null())
                .map(as_text);
            Field {
                name: name.clone(),
                label: outer
                    .get("title")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| label_of(name)),
                hint: hint_of(schema, outer, &kind, &default),
                kind,
                required: required.contains(&name.as_str()),
                default,
            }
        })
        .collect();
    fields.sort_by(|a, b| (!a.required, &a.name).cmp(&(!b.required, &b.name)));
    fields
}

/// The configuration the posted `form` gives for `fields`.
pub(crate) fn config(fields: &[Field], form: &Fields) -> Value {
    let mut out = Map::new();
    for field in fields {
        let name = field.input_name();
        let raw = form.get(&name);
        let value = match &field.kind {
            Kind::Boolean => {
                let checked = form.has(&name);
                let default_true = field.default.as_deref() == Some("true");
                if checked || field.required || default_true {
                    Some(Value::Bool(checked))
                } else {
                    None
                }
            }
            _ if raw.is_empty() => None,
            Kind::Integer => Some(
                raw.parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| raw.parse::<u64>().map(Value::from))
                    .unwrap_or_else(|_| Value::String(raw.to_string())),
            ),
            Kind::Number => Some(
                raw.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(raw.to_string())),
            ),
            Kind::Json => {
                Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string())))
            }
            Kind::Text(_) | Kind::Choice(_) => Some(Value::String(raw.to_string())),
        };
        if let Some(v) = value {
            out.insert(field.name.clone(), v);
        }
    }
    Value::Object(out)
}

/// A field's control, showing `value` (what was posted; `None` on a fresh form) and the
/// manager's `error`.
pub(crate) fn render(field: &Field, value: Option<&str>, error: Option<&str>) -> Markup {
    let id = id_of(&field.path());
    let frame = Frame {
        id: &id,
        label: &field.label,
        hint: field.hint.clone(),
        error,
        required: field.required,
    };
    let name = field.input_name();
    let text = value.unwrap_or("");
    let required = field.required.then_some("true");
    match &field.kind {
        Kind::Boolean => {
            let checked = match value {
                Some(v) => !v.is_empty(),
                None => field.default.as_deref() == Some("true"),
            };
            frame.render_check(&name, "true", checked)
        }
        Kind::Choice(options) => {
            let chosen = value
                .map(str::to_string)
                .or_else(|| field.default.clone())
                .unwrap_or_default();
            frame.render(html! {
                select id=(id) name=(name) aria-describedby=[frame.described_by()]
                    aria-invalid=[frame.invalid()] aria-required=[required] {
                    @if !field.required && field.default.is_none() {
                        option value="" selected[chosen.is_empty()] { "Not set" }
                    }
                    @for (v, label) in options {
                        option value=(v) selected[*v == chosen] { (label) }
                    }
                }
            })
        }
        Kind::Json => frame.render(html! {
            textarea id=(id) name=(name) spellcheck="false" aria-describedby=[frame.described_by()]
                aria-invalid=[frame.invalid()] aria-required=[required] { (text) }
        }),
        Kind::Integer | Kind::Number => frame.render(html! {
            input type="text" inputmode=(if field.kind == Kind::Integer { "numeric" } else { "decimal" })
                id=(id) name=(name) value=(text) placeholder=[field.default.as_deref()]
                aria-describedby=[frame.described_by()] aria-invalid=[frame.invalid()] aria-required=[required];
        }),
        Kind::Text(format) => {
            let input_type = if format.as_deref() == Some("uri") { "url" } else { "text" };
            frame.render(html! {
                input type=(input_type) id=(id) name=(name) value=(text)
                    placeholder=[field.default.as_deref()] spellcheck="false"
                    aria-describedby=[frame.described_by()] aria-invalid=[frame.invalid()] aria-required=[required];
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The shape schemars gives a settings type with a documented enum and options.
    fn schema() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Settings",
            "type": "object",
            "properties": {
                "org_url": {"type": "string", "minLength": 1, "description": "The org URL."},
                "auth": {"$ref": "#/$defs/AuthMode", "default": "api_token", "description": "How to authenticate."},
                "mode": {"anyOf": [{"$ref": "#/$defs/AuthMode"}, {"type": "null"}]},
                "page_limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
                "quota_share": {"type": "number", "maximum": 1.0, "exclusiveMinimum": 0, "default": 0.5},
                "start_at": {"type": ["string", "null"], "format": "date-time"},
                "verbose": {"type": "boolean", "default": false},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["org_url"],
            "$defs": {"AuthMode": {"oneOf": [
                {"type": "string", "const": "api_token", "description": "SSWS with an API token"},
                {"type": "string", "const": "oauth", "description": "An OAuth service app"}
            ]}}
        })
    }

    fn form(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn each_property_becomes_a_field_of_its_kind() {
        let fields = fields(&schema());
        let kinds: Vec<(&str, &Kind, bool)> = fields
            .iter()
            .map(|f| (f.name.as_str(), &f.kind, f.required))
            .collect();
        let choice = Kind::Choice(vec![
            (
                "api_token".into(),
                "api_token — SSWS with an API token".into(),
            ),
            ("oauth".into(), "oauth — An OAuth service app".into()),
        ]);
        assert_eq!(
            kinds,
            vec![
                ("org_url", &Kind::Text(None), true),
                ("auth", &choice, false),
                ("mode", &choice, false),
                ("page_limit", &Kind::Integer, false),
                ("quota_share", &Kind::Number, false),
                ("start_at", &Kind::Text(Some("date-time".into())), false),
                ("tags", &Kind::Json, false),
                ("verbose", &Kind::Boolean, false),
            ]
        );
        assert_eq!(fields[0].label, "Org URL");
        let limit = fields[3].hint.as_deref().unwrap();
        assert!(
            limit.contains("From 1 to 1000") && limit.contains("Default: 1000"),
            "{limit}"
        );
        assert!(fields[4]
            .hint
            .as_deref()
            .unwrap()
            .contains("More than 0, at most 1"));
    }

    #[test]
    fn posted_values_become_the_configuration_and_bad_ones_reach_the_validator() {
        let fields = fields(&schema());
        let posted = form(&[
            ("config.org_url", " https://contoso.okta.com "),
            ("config.auth", "oauth"),
            ("config.page_limit", "200"),
            ("config.quota_share", "0.25"),
            ("config.start_at", ""),
            ("config.verbose", "true"),
            ("config.tags", "[\"a\"]"),
        ]);
        assert_eq!(
            config(&fields, &posted),
            json!({"org_url": "https://contoso.okta.com", "auth": "oauth", "page_limit": 200,
                   "quota_share": 0.25, "verbose": true, "tags": ["a"]})
        );
        // Not a number: sent as typed, so the schema's validation names the field.
        let posted = form(&[("config.page_limit", "lots"), ("config.tags", "[oops")]);
        assert_eq!(
            config(&fields, &posted),
            json!({"page_limit": "lots", "tags": "[oops"})
        );
    }

    #[test]
    fn a_schema_that_refers_to_itself_forever_still_gives_fields() {
        let looping = json!({
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}},
            "$defs": {"A": {"$ref": "#/$defs/A"}}
        });
        let fields = fields(&looping);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].kind, Kind::Json);
    }

    proptest! {
        #[test]
        fn any_schema_and_any_form_give_fields_and_a_config_without_panicking(
            schema in any_json(), pairs in proptest::collection::vec(("config\\.[a-z_]{1,8}", ".{0,20}"), 0..6)
        ) {
            let fields = fields(&schema);
            let posted = Fields(pairs);
            let config = config(&fields, &posted);
            prop_assert!(config.is_object());
            for f in &fields {
                let _ = render(f, Some("x"), Some("bad"));
            }
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z$#/]{0,12}".prop_map(Value::String),
            Just(json!("#/$defs/A")),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("type".to_string()),
                        Just("properties".to_string()),
                        Just("$ref".to_string()),
                        Just("enum".to_string()),
                        Just("oneOf".to_string()),
                        Just("required".to_string()),
                        Just("allOf".to_string()),
                        Just("$defs".to_string()),
                        "[a-z]{1,6}"
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
