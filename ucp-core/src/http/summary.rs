//! The provider's error in one line: from the common JSON error shapes, else a short excerpt
//! of the body; always one line, bounded, and with secrets redacted.

use serde_json::{Map, Value};

use super::redact::redact;

/// The most of an error body that is read or parsed (64 KiB); the rest is ignored.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The longest summary, in characters (a longer one ends with `…`).
pub const MAX_SUMMARY_CHARS: usize = 300;

/// The provider's error from an error response body, in one line, or `None` for an empty
/// body.
///
/// JSON shapes understood (the first that matches):
///
/// - Azure, ARM and Microsoft Graph: `{"error": {"code": …, "message": …}}` → `code: message`;
/// - Okta: `{"errorCode", "errorSummary", "errorCauses": [{"errorSummary"}]}` →
///   `code: summary (cause; cause)`;
/// - OAuth 2.0: `{"error": …, "error_description": …}` → `error: description`;
/// - `{"errors": [{"code"?, "message"}]}` → the first error;
/// - problem details (RFC 9457): `{"title", "detail"}` → `title: detail`;
/// - `{"code"?, "message"}` → `code: message`.
///
/// Any other body gives its first characters, with markup tags (an XML error, an HTML
/// gateway page) dropped. Either way the result has its control characters removed and its
/// whitespace collapsed, has anything that looks like a secret replaced (see
/// [`redact`](super::redact)) and is at most [`MAX_SUMMARY_CHARS`] characters.
pub fn error_summary(body: &[u8]) -> Option<String> {
    let body = body.get(..MAX_ERROR_BODY).unwrap_or(body);
    let text = json_error(body).unwrap_or_else(|| excerpt(body));
    let line = bounded(&redact(&one_line(&text)), MAX_SUMMARY_CHARS);
    (!line.is_empty()).then_some(line)
}

/// `text` safe to print on one line: control characters become spaces, invisible
/// formatting characters (bidirectional overrides, zero-width marks) go, whitespace runs
/// become one space, and the ends are trimmed.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
        } else if !invisible(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `text`, the last being `…` when it was cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) => {
            let keep: String = text.chars().take(max.saturating_sub(1)).collect();
            format!("{}…", keep.trim_end())
        }
    }
}

fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The start of a non-JSON body, with `<…>` tags dropped when it is markup.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body.get(..4 * MAX_SUMMARY_CHARS).unwrap_or(body));
    if !text.trim_start().starts_with('<') {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn json_error(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = match &value {
        Value::Object(object) => object,
        // Some APIs answer with a list of errors.
        Value::Array(items) => items.first()?.as_object()?,
        _ => return None,
    };
    azure(object)
        .or_else(|| okta(object))
        .or_else(|| oauth(object))
        .or_else(|| errors_list(object))
        .or_else(|| problem(object))
        .or_else(|| code_and(object, "message"))
}

/// A string or number field, not empty.
fn field(object: &Map<String, Value>, key: &str) -> Option<String> {
    let text = match object.get(key)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// `first: second`, or whichever is present.
fn pair(first: Option<String>, second: Option<String>) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}: {b}")),
        (a, b) => a.or(b),
    }
}

/// `code: <key>` of an object, when it has `<key>`.
fn code_and(object: &Map<String, Value>, key: &str) -> Option<String> {
    let text = field(object, key)?;
    pair(field(object, "code"), Some(text))
}

fn azure(object: &Map<String, Value>) -> Option<String> {
    let error = object.get("error")?.as_object()?;
    pair(field(error, "code"), field(error, "message"))
}

fn okta(object: &Map<String, Value>) -> Option<String> {
    let code = field(object, "errorCode");
    let summary = field(object, "errorSummary");
    if code.is_none() && summary.is_none() {
        return None;
    }
    let causes: Vec<String> = object
        .get("errorCauses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|cause| field(cause.as_object()?, "errorSummary"))
        .collect();
    let said = pair(code, summary)?;
    Some(if causes.is_empty() {
        said
    } else {
        format!("{said} ({})", causes.join("; "))
    })
}

fn oauth(object: &Map<String, Value>) -> Option<String> {
    let error = field(object, "error")?;
    pair(Some(error), field(object, "error_description"))
}

fn errors_list(object: &Map<String, Value>) -> Option<String> {
    match object.get("errors")?.as_array()?.first()? {
        Value::String(text) => Some(text.clone()),
        Value::Object(first) => code_and(first, "message"),
        _ => None,
    }
}

fn problem(object: &Map<String, Value>) -> Option<String> {
    let detail = field(object, "detail");
    let title = field(object, "title");
    if detail.is_none() && title.is_none() {
        return None;
    }
    pair(title, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(body: &str) -> String {
        error_summary(body.as_bytes()).unwrap()
    }

    #[test]
    fn azure_and_graph_errors_give_code_and_message() {
        assert_eq!(
            summary(
                r#"{"error":{"code":"Forbidden","message":"Missing application roles.","innerError":{"request-id":"x"}}}"#
            ),
            "Forbidden: Missing application roles."
        );
        assert_eq!(
            summary(r#"{"error":{"code":"TooManyRequests"}}"#),
            "TooManyRequests"
        );
    }

    #[test]
    fn okta_errors_give_code_summary_and_causes() {
        assert_eq!(
            summary(
                r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: since","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"since: The date is too old."},{"errorSummary":"limit: too big"}]}"#
            ),
            "E0000001: Api validation failed: since (since: The date is too old.; limit: too big)"
        );
        assert_eq!(
            summary(
                r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorCauses":[]}"#
            ),
            "E0000011: Invalid token provided"
        );
    }

    #[test]
    fn oauth_errors_give_error_and_description() {
        assert_eq!(
            summary(
                r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#
            ),
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
        assert_eq!(summary(r#"{"error":"invalid_scope"}"#), "invalid_scope");
    }

    #[test]
    fn other_common_shapes() {
        assert_eq!(
            summary(r#"{"message":"Bad credentials","documentation_url":"x"}"#),
            "Bad credentials"
        );
        assert_eq!(
            summary(r#"{"code":429,"message":"slow down"}"#),
            "429: slow down"
        );
        assert_eq!(
            summary(r#"{"errors":[{"code":"InvalidFilter","message":"bad $filter"}]}"#),
            "InvalidFilter: bad $filter"
        );
        assert_eq!(
            summary(
                r#"{"type":"about:blank","title":"Not Found","detail":"no stream x","status":404}"#
            ),
            "Not Found: no stream x"
        );
        assert_eq!(
            summary(r#"[{"message":"first"},{"message":"second"}]"#),
            "first"
        );
        assert_eq!(summary(r#"{"unexpected":true}"#), r#"{"unexpected":true}"#);
    }

    #[test]
    fn markup_loses_its_tags_and_text_its_control_characters() {
        assert_eq!(
            summary("<Error><Code>401</Code><Detail>ExpiredToken: the token has expired.</Detail></Error>"),
            "401 ExpiredToken: the token has expired."
        );
        assert_eq!(
            summary("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"),
            "502 Bad Gateway 502 Bad Gateway"
        );
        assert_eq!(
            summary("line one\r\n\tline\u{1b}[31m two\u{202E}\u{0}"),
            "line one line [31m two"
        );
    }

    #[test]
    fn summaries_are_bounded_and_empty_bodies_give_none() {
        let long = summary(&"word ".repeat(1000));
        assert_eq!(long.chars().count(), MAX_SUMMARY_CHARS);
        assert!(long.ends_with('…'));
        let wide = summary(&"é".repeat(1000));
        assert_eq!(wide.chars().count(), MAX_SUMMARY_CHARS);
        assert_eq!(error_summary(b""), None);
        assert_eq!(error_summary(b" \n\t "), None);
        assert_eq!(
            error_summary(&[0xff, 0xfe, b'x']).as_deref(),
            Some("\u{FFFD}\u{FFFD}x")
        );
    }

    #[test]
    fn secrets_in_bodies_are_redacted_whatever_the_shape() {
        let echoed = summary(
            r#"{"error":{"code":"Unauthorized","message":"token Bearer abc123 rejected"}}"#,
        );
        assert!(!echoed.contains("abc123"), "{echoed}");
        let raw = summary(r#"{"access_token":"t0k3n","note":"not an error shape"}"#);
        assert!(!raw.contains("t0k3n"), "{raw}");
        let text = summary("upstream said: client_secret=sh0wn&x=1");
        assert!(!text.contains("sh0wn"), "{text}");
    }
}
