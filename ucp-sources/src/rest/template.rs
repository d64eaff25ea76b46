//! Text with placeholders, parsed once when a definition loads.
//!
//! - `{{name}}`: a value of the connector instance. Names that are a field of the instance's
//!   credential (`apikey`, `token`, `password`, `clientSecret`, … see
//!   [`credential_field`]) resolve from the credential store at call time; every other name
//!   is a configuration parameter ([`super::RestConfig::parameters`]).
//! - `{_QueryWindowStartTime}`, `{_QueryWindowEndTime}`: the query window, in the
//!   definition's time format; `{_APIKeyName}`, `{_APIKey}`: the APIKey auth's header name and
//!   key (CCF's `queryParametersTemplate` variables).
//!
//! A lone `{` or `}` is text (templates are often JSON). An unclosed `{{`, an empty name or an
//! unknown `{_…}` variable is refused at load time.

use std::fmt;

/// A window or auth value a template can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variable {
    /// `{_QueryWindowStartTime}`.
    WindowStart,
    /// `{_QueryWindowEndTime}`.
    WindowEnd,
    /// `{_APIKeyName}`.
    ApiKeyName,
    /// `{_APIKey}` (a secret).
    ApiKey,
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Text as written.
    Text(String),
    /// `{{name}}`: a configuration parameter or, when the name is a credential field, a secret.
    Named(String),
    /// `{_…}`.
    Variable(Variable),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Template {
    segments: Vec<Segment>,
}

/// Which credential field a placeholder name means, if any: names are compared without case,
/// `_` or `-`.
pub fn credential_field(name: &str) -> Option<CredentialField> {
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match key.as_str() {
        "apikey" | "apitoken" | "token" | "accesstoken" | "key" => CredentialField::Token,
        "username" | "user" => CredentialField::User,
        "password" => CredentialField::Password,
        "clientid" => CredentialField::ClientId,
        "clientsecret" | "secret" => CredentialField::ClientSecret,
        _ => return None,
    })
}

/// A field of a stored credential a template may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialField {
    /// An API token's value (`Credential::ApiToken`), or a shared-access key.
    Token,
    /// A basic credential's user.
    User,
    /// A basic credential's password.
    Password,
    /// An OAuth client's id.
    ClientId,
    /// An OAuth client's secret.
    ClientSecret,
}

impl CredentialField {
    /// Whether the field is secret (never in a message).
    pub fn is_secret(self) -> bool {
        !matches!(self, CredentialField::User | CredentialField::ClientId)
    }
}

impl fmt::Display for CredentialField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialField::Token => "token",
            CredentialField::User => "user",
            CredentialField::Password => "password",
            CredentialField::ClientId => "client id",
            CredentialField::ClientSecret => "client secret",
        })
    }
}

impl Template {
    /// Parse `text`; the error says what is wrong with which placeholder.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let (before, at) = rest.split_at(open);
            literal.push_str(before);
            if let Some(inner) = at.strip_prefix("{{") {
                let close = inner.find("}}").ok_or_else(|| {
                    format!("placeholder `{}` is not closed with `}}}}`", preview(at))
                })?;
                let name = inner[..close].trim();
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                {
                    return Err(format!(
                        "placeholder `{{{{{}}}}}` must name a parameter or credential field with letters, digits, `_`, `-` or `.`",
                        &inner[..close]
                    ));
                }
                push_text(&mut segments, &mut literal);
                segments.push(Segment::Named(name.to_string()));
                rest = &inner[close + 2..];
            } else if let Some(inner) = at.strip_prefix("{_") {
                let close = inner
                    .find('}')
                    .ok_or_else(|| format!("variable `{}` is not closed with `}}`", preview(at)))?;
                let variable = match inner[..close].to_ascii_lowercase().as_str() {
                    "querywindowstarttime" => Variable::WindowStart,
                    "querywindowendtime" => Variable::WindowEnd,
                    "apikeyname" => Variable::ApiKeyName,
                    "apikey" => Variable::ApiKey,
                    other => {
                        return Err(format!(
                            "unknown variable `{{_{other}}}`: use {{_QueryWindowStartTime}}, {{_QueryWindowEndTime}}, {{_APIKeyName}} or {{_APIKey}}"
                        ))
                    }
                };
                push_text(&mut segments, &mut literal);
                segments.push(Segment::Variable(variable));
                rest = &inner[close + 1..];
            } else {
                literal.push('{');
                rest = &at[1..];
            }
        }
        literal.push_str(rest);
        push_text(&mut segments, &mut literal);
        Ok(Template { segments })
    }

    /// A template that is only `text`.
    pub fn text(text: impl Into<String>) -> Template {
        Template {
            segments: vec![Segment::Text(text.into())],
        }
    }

    /// The pieces.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The `{{name}}` placeholders that are configuration parameters.
    pub fn parameters(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Named(name) if credential_field(name).is_none() => Some(name.as_str()),
            _ => None,
        })
    }

    /// True when the template is exactly one credential placeholder, e.g. `{{apikey}}`.
    pub fn credential_only(&self) -> Option<CredentialField> {
        match self.segments.as_slice() {
            [Segment::Named(name)] => credential_field(name),
            _ => None,
        }
    }

    /// True when some placeholder resolves to a secret (the rendered text must be treated as
    /// one).
    pub fn has_secret(&self) -> bool {
        self.segments.iter().any(|s| match s {
            Segment::Named(name) => credential_field(name).is_some_and(CredentialField::is_secret),
            Segment::Variable(Variable::ApiKey) => true,
            _ => false,
        })
    }

    /// True when the template uses no placeholder at all.
    pub fn is_plain(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Text(_)))
    }

    /// Fill the template; `lookup` gives each placeholder's value or an error message.
    pub fn render(
        &self,
        mut lookup: impl FnMut(&Segment) -> Result<String, String>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                other => out.push_str(&lookup(other)?),
            }
        }
        Ok(out)
    }
}

fn push_text(segments: &mut Vec<Segment>, literal: &mut String) {
    if !literal.is_empty() {
        segments.push(Segment::Text(std::mem::take(literal)));
    }
}

/// The start of `text`, for a message.
fn preview(text: &str) -> String {
    text.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_variables_and_json_braces() {
        let t = Template::parse(
            "{ 'from': {_QueryWindowStartTime}, 'org': '{{ domainname }}', 'key': '{{apikey}}' }",
        )
        .unwrap();
        assert_eq!(
            t.segments(),
            &[
                Segment::Text("{ 'from': ".into()),
                Segment::Variable(Variable::WindowStart),
                Segment::Text(", 'org': '".into()),
                Segment::Named("domainname".into()),
                Segment::Text("', 'key': '".into()),
                Segment::Named("apikey".into()),
                Segment::Text("' }".into()),
            ]
        );
        assert_eq!(t.parameters().collect::<Vec<_>>(), ["domainname"]);
        assert!(t.has_secret());
        assert_eq!(
            Template::parse("{{ApiKey}}").unwrap().credential_only(),
            Some(CredentialField::Token)
        );
        assert!(Template::parse("https://{{domain}}/x")
            .unwrap()
            .credential_only()
            .is_none());
    }

    #[test]
    fn bad_placeholders_are_refused_with_a_reason() {
        for (text, says) in [
            ("https://{{domainname/api", "not closed"),
            ("{{}}", "must name"),
            ("{{a b}}", "must name"),
            ("{_QueryWindowStart}", "unknown variable"),
            ("{_QueryWindowStartTime", "not closed"),
        ] {
            let error = Template::parse(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn rendering_asks_for_each_placeholder() {
        let t = Template::parse("a{{x}}b{_APIKeyName}").unwrap();
        let out = t
            .render(|s| match s {
                Segment::Named(n) => Ok(n.to_uppercase()),
                Segment::Variable(Variable::ApiKeyName) => Ok("K".into()),
                _ => Err("no".into()),
            })
            .unwrap();
        assert_eq!(out, "aXbK");
    }
}
