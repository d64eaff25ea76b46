//! Translation of a core [`Filter`] into Okta's SCIM `filter` query parameter.
//!
//! Only what Okta can evaluate is translated: `Equals`, `StartsWith` and `In` on plain object
//! fields (`/eventType` → `eventType`, `/outcome/result` → `outcome.result`), joined by
//! `And` / `Or`. An `And` keeps the parts it can translate (the server then returns a
//! superset, which is fine: every product's own filter still runs before delivery); an `Or`
//! or `Not` with an untranslatable part cannot be narrowed safely, so it yields no server
//! filter at all. `published` is never filtered server-side: Okta refuses it because it
//! conflicts with `since`/`until`.

use ucp_core::Filter;

/// The SCIM expression for `filter`, or `None` when the server cannot apply it (collect
/// everything and let the client filters select).
pub fn to_scim(filter: &Filter) -> Option<String> {
    translate(filter).map(|t| t.text)
}

struct Translated {
    text: String,
    /// A compound (`and`/`or`) expression that needs parentheses inside another one.
    compound: bool,
}

fn translate(filter: &Filter) -> Option<Translated> {
    match filter {
        Filter::Equals { path, value } => leaf(path, "eq", value),
        Filter::StartsWith { path, prefix } => leaf(path, "sw", prefix),
        Filter::In { path, values } => {
            let parts = values
                .iter()
                .map(|v| leaf(path, "eq", v))
                .collect::<Option<Vec<_>>>()?;
            join(parts, "or")
        }
        Filter::And(all) => join(all.iter().filter_map(translate).collect(), "and"),
        Filter::Or(any) => join(any.iter().map(translate).collect::<Option<Vec<_>>>()?, "or"),
        Filter::Not(_) => None,
    }
}

fn leaf(pointer: &str, op: &str, value: &str) -> Option<Translated> {
    let attribute = attribute(pointer)?;
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    Some(Translated {
        text: format!("{attribute} {op} \"{escaped}\""),
        compound: false,
    })
}

/// `/outcome/result` → `outcome.result`, or `None` for array indices, odd names or
/// `published`.
fn attribute(pointer: &str) -> Option<String> {
    let segments: Vec<&str> = pointer.strip_prefix('/')?.split('/').collect();
    let plain = |s: &&str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if segments.is_empty() || !segments.iter().all(plain) || segments == ["published"] {
        return None;
    }
    Some(segments.join("."))
}

fn join(parts: Vec<Translated>, op: &str) -> Option<Translated> {
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(Translated {
            text: parts
                .into_iter()
                .map(|p| {
                    if p.compound {
                        format!("({})", p.text)
                    } else {
                        p.text
                    }
                })
                .collect::<Vec<_>>()
                .join(&format!(" {op} ")),
            compound: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_translate_to_eq_and_sw() {
        assert_eq!(
            to_scim(&Filter::equals("/eventType", "user.session.start")).as_deref(),
            Some(r#"eventType eq "user.session.start""#)
        );
        assert_eq!(
            to_scim(&Filter::starts_with("/eventType", "user.authentication")).as_deref(),
            Some(r#"eventType sw "user.authentication""#)
        );
        assert_eq!(
            to_scim(&Filter::equals("/outcome/result", "FAILURE")).as_deref(),
            Some(r#"outcome.result eq "FAILURE""#)
        );
    }

    #[test]
    fn in_becomes_a_disjunction_and_nesting_is_parenthesised() {
        let f = Filter::is_in("/eventType", ["a", "b"]).and(Filter::equals("/severity", "WARN"));
        assert_eq!(
            to_scim(&f).as_deref(),
            Some(r#"(eventType eq "a" or eventType eq "b") and severity eq "WARN""#)
        );
        let mdi = Filter::starts_with("/eventType", "user.authentication")
            .or(Filter::starts_with("/eventType", "user.session"));
        assert_eq!(
            to_scim(&mdi).as_deref(),
            Some(r#"eventType sw "user.authentication" or eventType sw "user.session""#)
        );
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(
            to_scim(&Filter::equals("/displayMessage", r#"say "hi" \o/"#)).as_deref(),
            Some(r#"displayMessage eq "say \"hi\" \\o/""#)
        );
    }

    #[test]
    fn untranslatable_parts_widen_and_but_void_or() {
        let not = Filter::equals("/eventType", "x").not();
        let and = Filter::starts_with("/eventType", "user.").and(not.clone());
        assert_eq!(to_scim(&and).as_deref(), Some(r#"eventType sw "user.""#));
        let or = Filter::starts_with("/eventType", "user.").or(not.clone());
        assert_eq!(to_scim(&or), None);
        assert_eq!(to_scim(&not), None);
        assert_eq!(to_scim(&Filter::equals("/target/0/id", "x")), None);
        assert_eq!(to_scim(&Filter::equals("/published", "x")), None);
        assert_eq!(to_scim(&Filter::equals("eventType", "x")), None);
        assert_eq!(
            to_scim(&Filter::is_in("/eventType", Vec::<String>::new())),
            None
        );
        assert_eq!(to_scim(&Filter::And(vec![not])), None);
    }
}
