//! Taking secrets out of text that came from a provider, before it reaches an error.
//!
//! Error bodies and transport errors sometimes echo what was sent: an `Authorization`
//! header, a token response, a signed URL, a connection string. Anything that looks like a
//! credential is replaced by [`REDACTED`]; a harmless word lost now and then is the price.

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Authorization schemes: the word after them is a credential.
const SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "ssws",
    "sharedaccesssignature",
    "sharedkey",
];

/// Keys whose value is a credential, in `key=value`, `key: value` or `"key": "value"`.
const KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "subscription-key",
    "sig",
    "signature",
    "sharedaccesskey",
    "accountkey",
];

/// `text` with every credential-looking part replaced by [`REDACTED`]:
///
/// - the word after an authorization scheme: `Bearer …`, `Basic …`, `SSWS …`,
///   `SharedAccessSignature …`, `SharedKey …`;
/// - the value of a credential key such as `access_token`, `client_secret`, `password`,
///   `sig`, `SharedAccessKey`, `AccountKey`, `api-key`, written `key=value`, `key: value` or
///   as JSON `"key": "value"` (case-insensitive);
/// - anything shaped like a JWT (`eyJ….….…`);
/// - the user and password in a URL (`https://user:pass@host`).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut after_word = false;
    while let Some(c) = text[i..].chars().next() {
        if let Some(end) = userinfo_at(text, i) {
            out.push_str("://");
            out.push_str(REDACTED);
            i = end;
            continue;
        }
        if !after_word {
            if let Some((keep, end)) = secret_at(text, i) {
                out.push_str(&text[i..keep]);
                out.push_str(REDACTED);
                i = end;
                after_word = true;
                continue;
            }
        }
        out.push(c);
        after_word = is_word(c);
        i += c.len_utf8();
    }
    out
}

/// URLs in `text` cut before their query and fragment (`https://h/p?sig=…` → `https://h/p`).
pub(crate) fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end = url.find(ends_url).unwrap_or(url.len());
        let cut = url[..end].find(['?', '#']).unwrap_or(end);
        out.push_str(&url[..cut]);
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')
}

/// Ends an unquoted credential value.
fn ends_value(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | ',' | ';' | '"' | '\'' | '<' | '>' | ')' | '}' | ']'
        )
}

/// Whether `text[i..]` starts with `word` (ASCII, any case) followed by a non-word char.
fn word_at(text: &str, i: usize, word: &str) -> bool {
    let bytes = &text.as_bytes()[i..];
    bytes.len() >= word.len()
        && bytes[..word.len()].eq_ignore_ascii_case(word.as_bytes())
        && text[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_word(c))
}

/// The end of the run of chars from `start` that `keep` accepts.
fn run_end(text: &str, start: usize, mut keep: impl FnMut(char) -> bool) -> usize {
    text[start..]
        .char_indices()
        .find(|(_, c)| !keep(*c))
        .map_or(text.len(), |(at, _)| start + at)
}

/// At a word start `i`: the end of what stays (`Bearer `, `"client_secret": "`) and the end
/// of the secret after it. When what follows is itself a scheme or key with a secret
/// (`Bearer Bearer x`, `password: password: x`), that inner one is what gets hidden.
fn secret_at(text: &str, i: usize) -> Option<(usize, usize)> {
    let (keep, end) = labelled_secret_at(text, i)?;
    if keep > i && labelled_secret_at(text, keep).is_some() {
        return None;
    }
    Some((keep, end))
}

fn labelled_secret_at(text: &str, i: usize) -> Option<(usize, usize)> {
    for scheme in SCHEMES {
        if word_at(text, i, scheme) {
            let keep = run_end(text, i + scheme.len(), |c| c == ' ' || c == '\t');
            let end = run_end(text, keep, |c| !ends_value(c));
            if keep > i + scheme.len() && end > keep {
                return Some((keep, end));
            }
        }
    }
    for key in KEYS {
        if word_at(text, i, key) {
            if let Some(found) = key_value(text, i + key.len()) {
                return Some(found);
            }
        }
    }
    jwt_at(text, i).map(|end| (i, end))
}

/// After a key: `"`? spaces `=` or `:` spaces, then the value (quoted or not).
fn key_value(text: &str, after_key: usize) -> Option<(usize, usize)> {
    let mut at = after_key;
    if text[at..].starts_with('"') {
        at += 1;
    }
    at = run_end(text, at, char::is_whitespace);
    if !text[at..].starts_with(['=', ':']) {
        return None;
    }
    at = run_end(text, at + 1, char::is_whitespace);
    let (keep, end) = if text[at..].starts_with('"') {
        let start = at + 1;
        let mut escaped = false;
        let end = run_end(text, start, |c| {
            let go_on = escaped || c != '"';
            escaped = !escaped && c == '\\';
            go_on
        });
        (start, end)
    } else {
        (at, run_end(text, at, |c| !ends_value(c)))
    };
    (end > keep).then_some((keep, end))
}

/// A JWT at `i`: `eyJ` and at least two base64url parts joined by dots.
fn jwt_at(text: &str, i: usize) -> Option<usize> {
    if !text[i..].starts_with("eyJ") {
        return None;
    }
    let end = run_end(text, i, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')
    });
    let token = &text[i..end];
    (token.len() >= 20 && token.contains('.')).then_some(end)
}

/// At `://` with `user[:password]@` after it: the end of that userinfo.
fn userinfo_at(text: &str, i: usize) -> Option<usize> {
    let rest = text[i..].strip_prefix("://")?;
    let authority_end = rest
        .find(|c: char| ends_url(c) || matches!(c, '/' | '?' | '#'))
        .unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(i + 3 + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hides(text: &str, secret: &str) {
        let out = redact(text);
        assert!(!out.contains(secret), "{secret:?} left in {out:?}");
        assert!(out.contains(REDACTED), "{out:?}");
    }

    #[test]
    fn authorization_schemes_lose_their_credential() {
        hides(
            "sent Authorization: Bearer abc.def-123 and failed",
            "abc.def-123",
        );
        hides("header was SSWS 00QCjAl4MlV-WPXM", "00QCjAl4MlV-WPXM");
        hides("basic\tdXNlcjpwYXNz", "dXNlcjpwYXNz");
        hides(
            "SharedAccessSignature sr=sb%3a%2f%2fns&sig=Zm9vYmFy%3d&se=1700000000&skn=send is expired",
            "Zm9vYmFy",
        );
        assert_eq!(
            redact("Bearer abc, then"),
            format!("Bearer {REDACTED}, then")
        );
    }

    #[test]
    fn credential_keys_lose_their_values_in_every_spelling() {
        hides("https://h/c?sv=2024&sig=Zm9v%2Bbar&se=1", "Zm9v%2Bbar");
        hides("client_secret=s3cr3t&grant_type=x", "s3cr3t");
        hides(r#"{"access_token": "ey.a\"b", "x":1}"#, r#"ey.a\"b"#);
        hides(r#"{"refresh_token":"r1"}"#, "r1");
        hides(
            "Endpoint=sb://ns/;SharedAccessKeyName=send;SharedAccessKey=a2V5Cg==;",
            "a2V5Cg==",
        );
        hides(
            "AccountName=x;AccountKey=bXlrZXk=;EndpointSuffix=core",
            "bXlrZXk=",
        );
        hides("Ocp-Apim-Subscription-Key: 0123abcd", "0123abcd");
        hides("PASSWORD = hunter2", "hunter2");
        assert_eq!(
            redact(r#"{"client_secret":"x","code":"E1"}"#),
            format!(r#"{{"client_secret":"{REDACTED}","code":"E1"}}"#)
        );
    }

    #[test]
    fn jwts_and_url_passwords_are_hidden_anywhere() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        hides(&format!("the token ({jwt}) is expired"), jwt);
        hides("could not reach https://admin:pa55@host.example/x", "pa55");
        assert_eq!(
            redact("see https://u:p@h/x?a=1"),
            format!("see https://{REDACTED}@h/x?a=1")
        );
    }

    #[test]
    fn a_repeated_label_still_hides_the_secret_after_it() {
        hides("Authorization: Bearer Bearer s3cret", "s3cret");
        hides("password: password: hunter2", "hunter2");
        hides(r#"{"access_token":"Bearer s3cret and more"}"#, "s3cret");
        hides(&format!("{}x1y2z3", "Bearer ".repeat(10_000)), "x1y2z3");
    }

    #[test]
    fn ordinary_words_stay() {
        for text in [
            "Invalid client secret provided. Ensure the secret is right",
            "The signature validation failed",
            "Missing application roles: SecurityIncident.Read.All",
            "mytoken=abc is not a known key",
            "a Bearer",
            "",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn url_queries_and_fragments_are_cut() {
        assert_eq!(
            without_queries("error sending https://h:1/p?sig=x&a=b#f now, and http://x/y"),
            "error sending https://h:1/p now, and http://x/y"
        );
        assert_eq!(without_queries("no url ?a=b"), "no url ?a=b");
    }
}
