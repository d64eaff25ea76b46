//! The subset of SCIM filter expressions the System Log accepts that the simulator
//! understands: `attr op "value"` with `eq`, `ne`, `sw`, `ew`, `co`, joined by `and` / `or`
//! and grouped with parentheses. Anything else is refused like Okta refuses it: a 400.

use serde_json::Value;

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scim {
    /// `attr op "value"`.
    Compare {
        /// Dotted attribute path, e.g. `eventType`, `actor.id`.
        attr: String,
        /// The operator.
        op: Op,
        /// The literal, as text.
        value: String,
    },
    /// Both sides match.
    And(Box<Scim>, Box<Scim>),
    /// Either side matches.
    Or(Box<Scim>, Box<Scim>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Contains.
    Co,
}

impl Scim {
    /// Parse `text`, or say what is wrong with it.
    pub fn parse(text: &str) -> Result<Scim, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let expr = parser.or_expr()?;
        match parser.tokens.get(parser.at) {
            None => Ok(expr),
            Some(token) => Err(format!("unexpected {token:?} after a complete expression")),
        }
    }

    /// Does the event match?
    pub fn matches(&self, event: &Value) -> bool {
        match self {
            Scim::And(a, b) => a.matches(event) && b.matches(event),
            Scim::Or(a, b) => a.matches(event) || b.matches(event),
            Scim::Compare { attr, op, value } => {
                let field = attr.split('.').try_fold(event, |v, key| v.get(key));
                let text = match field {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    _ => return *op == Op::Ne,
                };
                match op {
                    Op::Eq => text == *value,
                    Op::Ne => text != *value,
                    Op::Sw => text.starts_with(value.as_str()),
                    Op::Ew => text.ends_with(value.as_str()),
                    Op::Co => text.contains(value.as_str()),
                }
            }
        }
    }
}

/// The LogEvent attributes (and object roots) a filter may name.
const ATTRIBUTES: &[&str] = &[
    "uuid",
    "eventType",
    "version",
    "severity",
    "displayMessage",
    "legacyEventType",
    "actor",
    "client",
    "device",
    "outcome",
    "target",
    "transaction",
    "debugContext",
    "authenticationContext",
    "securityContext",
    "request",
];

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Literal(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut literal = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string literal".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => literal.push(escaped),
                            None => return Err("unterminated escape in string literal".into()),
                        },
                        Some(other) => literal.push(other),
                    }
                }
                tokens.push(Token::Literal(literal));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn keyword(&mut self, keyword: &str) -> bool {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn or_expr(&mut self) -> Result<Scim, String> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            left = Scim::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Scim, String> {
        let mut left = self.primary()?;
        while self.keyword("and") {
            left = Scim::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Scim, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Open) => {
                let inner = self.or_expr()?;
                match self.tokens.get(self.at) {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("missing closing parenthesis".into()),
                }
            }
            Some(Token::Word(attr)) => self.comparison(attr),
            Some(other) => Err(format!("expected an attribute, found {other:?}")),
            None => Err("expected an attribute, found the end of the filter".into()),
        }
    }

    fn comparison(&mut self, attr: String) -> Result<Scim, String> {
        if !attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err(format!("invalid attribute name '{attr}'"));
        }
        if attr == "published" {
            return Err("'published' cannot be filtered: use since and until".into());
        }
        let root = attr.split('.').next().unwrap_or_default();
        if !ATTRIBUTES.contains(&root) {
            return Err(format!("unknown attribute '{attr}'"));
        }
        let op = match self.tokens.get(self.at) {
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "sw" => Op::Sw,
                "ew" => Op::Ew,
                "co" => Op::Co,
                other => return Err(format!("unsupported operator '{other}'")),
            },
            other => {
                return Err(format!(
                    "expected an operator after '{attr}', found {other:?}"
                ))
            }
        };
        self.at += 1;
        let value = match self.tokens.get(self.at) {
            Some(Token::Literal(s)) => s.clone(),
            Some(Token::Word(w)) if w == "true" || w == "false" || w.parse::<f64>().is_ok() => {
                w.clone()
            }
            other => return Err(format!("expected a value after '{attr}', found {other:?}")),
        };
        self.at += 1;
        Ok(Scim::Compare { attr, op, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_matches_the_event_type_subset() {
        let f = Scim::parse(r#"(eventType sw "user.session" or eventType eq "user.account.lock") and outcome.result eq "SUCCESS""#).unwrap();
        let hit = json!({"eventType": "user.session.start", "outcome": {"result": "SUCCESS"}});
        let lock = json!({"eventType": "user.account.lock", "outcome": {"result": "SUCCESS"}});
        let failed = json!({"eventType": "user.session.start", "outcome": {"result": "FAILURE"}});
        let other =
            json!({"eventType": "group.user_membership.add", "outcome": {"result": "SUCCESS"}});
        assert!(f.matches(&hit));
        assert!(f.matches(&lock));
        assert!(!f.matches(&failed));
        assert!(!f.matches(&other));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = Scim::parse(r#"uuid eq "1" or severity eq "1" and version eq "1""#).unwrap();
        assert!(f.matches(&json!({"uuid": "1"})));
        assert!(!f.matches(&json!({"severity": "1"})));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            r#"eventType eq"#,
            r#"eventType gt "x""#,
            r#"(eventType eq "x""#,
            r#"eventType eq "x" extra"#,
            r#"eventType eq "unterminated"#,
            r#"published gt "2020-01-01T00:00:00Z""#,
            r#"eventTyp eq "x""#,
            "",
        ] {
            assert!(Scim::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
