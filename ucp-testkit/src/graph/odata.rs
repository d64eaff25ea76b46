//! The OData `$filter` subset Microsoft Graph security lists accept: comparisons (`eq`, `ne`,
//! `gt`, `ge`, `lt`, `le`) of a filterable property with a string, `DateTimeOffset` or `null`
//! literal, joined by `and` / `or`, negated with `not`, grouped with parentheses.
//!
//! A property that is not filterable on the entity, or text that does not parse, is refused
//! with the message Graph gives (`Invalid filter clause …`).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A parsed `$filter`.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not a`.
    Not(Box<Filter>),
    /// `property op literal`.
    Compare {
        /// The property.
        property: String,
        /// The operator.
        op: Op,
        /// The literal.
        literal: Literal,
    },
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `'text'`.
    Text(String),
    /// `2026-03-02T09:00:00Z`.
    Time(DateTime<Utc>),
    /// `null`.
    Null,
}

/// Why a `$filter` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter clause: {0}")]
pub struct FilterError(pub String);

/// Properties ending in `DateTime` compare as instants.
fn is_time(property: &str) -> bool {
    property.ends_with("DateTime")
}

impl Filter {
    /// Parse `text`, allowing only `filterable` properties.
    pub fn parse(text: &str, filterable: &[&str]) -> Result<Filter, FilterError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            filterable,
        };
        let filter = parser.or()?;
        match parser.tokens.get(parser.at) {
            None => Ok(filter),
            Some(extra) => Err(FilterError(format!("Syntax error at '{extra}'."))),
        }
    }

    /// Whether `item` (a JSON object) matches.
    pub fn matches(&self, item: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(item) && b.matches(item),
            Filter::Or(a, b) => a.matches(item) || b.matches(item),
            Filter::Not(a) => !a.matches(item),
            Filter::Compare {
                property,
                op,
                literal,
            } => compare(
                item.get(property).unwrap_or(&Value::Null),
                *op,
                literal,
                is_time(property),
            ),
        }
    }
}

fn compare(value: &Value, op: Op, literal: &Literal, time: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (value, literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::String(v), Literal::Time(t)) if time => DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|v| v.to_utc().cmp(t)),
        (Value::String(v), Literal::Text(t)) => Some(v.as_str().cmp(t.as_str())),
        _ => None,
    };
    match (op, ordering) {
        (Op::Ne, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' | ')' => tokens.push(c.to_string()),
            '\'' => {
                let mut text = String::from("'");
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err(FilterError("Unterminated string literal.".into())),
                    }
                }
                tokens.push(text);
            }
            c => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || n == '(' || n == ')' {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(word);
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<String>,
    at: usize,
    filterable: &'a [&'a str],
}

impl Parser<'_> {
    fn next(&mut self) -> Option<String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.peek() == Some("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.factor()?;
        while self.peek() == Some("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        let token = self
            .next()
            .ok_or_else(|| FilterError("Unexpected end of the expression.".into()))?;
        if token == "(" {
            let inner = self.or()?;
            return match self.next().as_deref() {
                Some(")") => Ok(inner),
                _ => Err(FilterError("Expected ')'.".into())),
            };
        }
        if token == "not" {
            return Ok(Filter::Not(Box::new(self.factor()?)));
        }
        if !self.filterable.contains(&token.as_str()) {
            return Err(FilterError(format!(
                "Could not find a property named '{token}' that supports filtering."
            )));
        }
        let op = match self.next().as_deref() {
            Some("eq") => Op::Eq,
            Some("ne") => Op::Ne,
            Some("gt") => Op::Gt,
            Some("ge") => Op::Ge,
            Some("lt") => Op::Lt,
            Some("le") => Op::Le,
            other => {
                return Err(FilterError(format!(
                    "Expected a comparison after '{token}', found '{}'.",
                    other.unwrap_or("")
                )))
            }
        };
        let raw = self
            .next()
            .ok_or_else(|| FilterError(format!("Expected a value after '{token}'.")))?;
        let literal = if raw == "null" {
            Literal::Null
        } else if let Some(text) = raw.strip_prefix('\'') {
            Literal::Text(text.to_string())
        } else if is_time(&token) {
            Literal::Time(
                DateTime::parse_from_rfc3339(&raw)
                    .map_err(|_| {
                        FilterError(format!(
                            "'{raw}' is not a valid DateTimeOffset value for '{token}'."
                        ))
                    })?
                    .to_utc(),
            )
        } else {
            return Err(FilterError(format!(
                "'{raw}' is not a valid value for '{token}': quote strings with '."
            )));
        };
        Ok(Filter::Compare {
            property: token,
            op,
            literal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROPS: &[&str] = &["lastUpdateDateTime", "status", "severity", "assignedTo"];

    #[test]
    fn comparisons_and_connectives() {
        let f = Filter::parse(
            "lastUpdateDateTime ge 2026-03-02T09:00:00Z and (status eq 'active' or severity eq 'high') and assignedTo eq null",
            PROPS,
        )
        .unwrap();
        let item = |t: &str, status: &str, sev: &str| json!({"lastUpdateDateTime": t, "status": status, "severity": sev, "assignedTo": null});
        assert!(f.matches(&item("2026-03-02T09:00:00.0000001Z", "active", "low")));
        assert!(f.matches(&item("2026-03-02T10:00:00Z", "resolved", "high")));
        assert!(!f.matches(&item("2026-03-02T08:59:59.9Z", "active", "high")));
        assert!(!f.matches(&item("2026-03-02T10:00:00Z", "resolved", "low")));
        let not = Filter::parse("not (status eq 'it''s')", PROPS).unwrap();
        assert!(!not.matches(&json!({"status": "it's"})));
    }

    #[test]
    fn unknown_properties_and_garbage_are_refused() {
        for bad in [
            "displayName eq 'x'",
            "status eq",
            "status like 'a'",
            "lastUpdateDateTime ge yesterday",
            "(status eq 'a'",
            "status eq 'a' status",
            "status eq 'unterminated",
        ] {
            assert!(Filter::parse(bad, PROPS).is_err(), "{bad}");
        }
    }
}
