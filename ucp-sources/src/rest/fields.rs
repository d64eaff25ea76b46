//! Reading a definition's JSON objects the way CCF does: field names match without regard to
//! case, and every mistake names the JSON path of the field it concerns. Fields nobody read
//! are reported as warnings (CCF definitions carry fields ucp does not use).

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::json_path::Path;
use super::template::Template;

/// A mistake at one place of a definition (the file is added by the loader).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the field, e.g. `$.properties.paging.pagingType`.
    pub path: String,
    /// What is wrong and what is accepted.
    pub problem: String,
}

/// A result whose error is a [`Problem`].
pub type Checked<T> = Result<T, Problem>;

/// A problem at `path`.
pub fn problem(path: impl Into<String>, problem: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        problem: problem.into(),
    }
}

/// One JSON object of the definition and its path.
pub struct Object<'a> {
    map: &'a Map<String, Value>,
    path: String,
    read: RefCell<Vec<&'a str>>,
}

impl<'a> Object<'a> {
    /// `value` at `path`, which must be an object.
    pub fn new(value: &'a Value, path: impl Into<String>) -> Checked<Object<'a>> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Object {
                map,
                path,
                read: RefCell::new(Vec::new()),
            }),
            other => Err(problem(
                path,
                format!("must be an object, not {}", kind(other)),
            )),
        }
    }

    /// The object's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of field `name`.
    pub fn at(&self, name: &str) -> String {
        if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            format!("{}.{name}", self.path)
        } else {
            format!("{}['{}']", self.path, name.replace('\'', "\\'"))
        }
    }

    /// The field names as written.
    pub fn keys(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// Field `name`, matched without regard to case; `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        let (key, value) = self
            .map
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))?;
        self.read.borrow_mut().push(key.as_str());
        (!value.is_null()).then_some(value)
    }

    /// A string field.
    pub fn string(&self, name: &str) -> Checked<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(problem(
                self.at(name),
                format!("must be a string, not {}", kind(other)),
            )),
        }
    }

    /// A string field that must be there and not be empty.
    pub fn required(&self, name: &str) -> Checked<String> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(problem(self.at(name), "must not be empty")),
            None => Err(problem(self.at(name), "is required")),
        }
    }

    /// A boolean (`true`, or the strings `"true"` / `"false"`), `default` when absent.
    pub fn boolean(&self, name: &str, default: bool) -> Checked<bool> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(problem(
                self.at(name),
                format!("must be true or false, not {}", kind(other)),
            )),
        }
    }

    /// A number (or a numeric string) within `range`.
    pub fn number(&self, name: &str, min: f64, max: f64) -> Checked<Option<f64>> {
        let value = match self.get(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if v.is_finite() && v >= min && v <= max => Ok(Some(v)),
            _ => Err(problem(
                self.at(name),
                format!("must be a number from {min} to {max}"),
            )),
        }
    }

    /// A whole number within `range`.
    pub fn integer(&self, name: &str, min: u64, max: u64) -> Checked<Option<u64>> {
        match self.number(name, min as f64, max as f64)? {
            Some(v) if v.fract() == 0.0 => Ok(Some(v as u64)),
            Some(_) => Err(problem(self.at(name), "must be a whole number")),
            None => Ok(None),
        }
    }

    /// A field parsed as a [`Template`].
    pub fn template(&self, name: &str) -> Checked<Option<Template>> {
        self.string(name)?
            .map(|text| Template::parse(&text).map_err(|why| problem(self.at(name), why)))
            .transpose()
    }

    /// A field parsed as a JSONPath.
    pub fn json_path(&self, name: &str) -> Checked<Option<Path>> {
        self.string(name)?
            .filter(|text| !text.trim().is_empty())
            .map(|text| Path::parse(text.trim()).map_err(|why| problem(self.at(name), why)))
            .transpose()
    }

    /// An object field.
    pub fn object(&self, name: &str) -> Checked<Option<Object<'a>>> {
        self.get(name)
            .map(|value| Object::new(value, self.at(name)))
            .transpose()
    }

    /// A map of names to templates (`headers`, `queryParameters`): numbers and booleans are
    /// written as text.
    pub fn pairs(&self, name: &str) -> Checked<Vec<(String, Template)>> {
        let Some(object) = self.object(name)? else {
            return Ok(Vec::new());
        };
        let mut pairs = Vec::new();
        for (key, value) in object.map {
            let at = object.at(key);
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(problem(
                        at,
                        format!("must be a string, number or boolean, not {}", kind(other)),
                    ))
                }
            };
            let template = Template::parse(&text).map_err(|why| problem(at, why))?;
            pairs.push((key.clone(), template));
        }
        Ok(pairs)
    }

    /// Fields that were never read, as warnings.
    pub fn unread(&self, warnings: &mut Vec<String>) {
        let read = self.read.borrow();
        for key in self.map.keys() {
            if !read.iter().any(|r| r == key) {
                warnings.push(format!(
                    "{}: not used by ucp (a CCF field ucp ignores, or a misspelling)",
                    self.at(key)
                ));
            }
        }
    }
}

/// The JSON kind of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_without_case_and_mistakes_name_their_path() {
        let value: Value = serde_json::json!({
            "ApiEndpoint": "https://x", "RETRYCOUNT": "4", "headers": {"A": 1, "B": true},
            "bad": [1], "extra": 1
        });
        let object = Object::new(&value, "$.properties.request").unwrap();
        assert_eq!(object.required("apiEndpoint").unwrap(), "https://x");
        assert_eq!(object.integer("retryCount", 1, 6).unwrap(), Some(4));
        let headers = object.pairs("Headers").unwrap();
        assert_eq!(headers.len(), 2);
        let error = object.string("bad").unwrap_err();
        assert_eq!(error.path, "$.properties.request.bad");
        assert!(error.problem.contains("an array"));
        let error = object.required("missing").unwrap_err();
        assert_eq!(error.problem, "is required");
        let mut warnings = Vec::new();
        object.unread(&mut warnings);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("$.properties.request.extra"));
    }
}
