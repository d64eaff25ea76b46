//! Splitting header values that hold lists (`Link`, `RateLimit`, `RateLimit-Policy`): commas
//! and semicolons inside a quoted string or a `<URI>` do not separate anything.

use reqwest::header::HeaderMap;

/// The first value of header `name`, when it is visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// Every value of header `name` joined with commas, as RFC 9110 allows a recipient to combine
/// list headers. Values that are not visible ASCII are skipped.
pub(crate) fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// `value` cut at every `separator` outside a quoted string (with `\` escapes) and outside
/// `<…>`. An unterminated quote or bracket runs to the end.
pub(crate) fn split_outside(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    let mut bracketed = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted {
            match c {
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else if bracketed {
            bracketed = c != '>';
        } else if c == '"' {
            quoted = true;
        } else if c == '<' {
            bracketed = true;
        } else if c == separator {
            parts.push(&value[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&value[start..]);
    parts
}

/// One member of a list: what comes before its first `;`, and its `key=value` parameters
/// (keys trimmed, values trimmed but still quoted).
pub(crate) struct Member<'a> {
    /// The item (`60`, `"default"`, `<https://…>`) or, in a dictionary, `key=value`.
    pub head: &'a str,
    /// Parameters in order.
    pub params: Vec<(&'a str, &'a str)>,
}

impl<'a> Member<'a> {
    /// The first parameter called `key` (case-insensitive).
    pub fn param(&self, key: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    }
}

/// The members of a comma-separated list of `item;key=value;…`.
pub(crate) fn members(value: &str) -> Vec<Member<'_>> {
    split_outside(value, ',')
        .into_iter()
        .map(|member| {
            let mut parts = split_outside(member, ';').into_iter();
            let head = parts.next().unwrap_or_default().trim();
            let params = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            Member { head, params }
        })
        .collect()
}

/// A quoted string's content with its `\` escapes undone; anything else trimmed as is.
pub(crate) fn unquote(value: &str) -> String {
    let value = value.trim();
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if c == '\\' && !escaped {
                    escaped = true;
                } else {
                    out.push(c);
                    escaped = false;
                }
            }
            out
        }
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_inside_quotes_and_brackets_do_not_split() {
        assert_eq!(
            split_outside(r#"<https://a/?x=1,2;y>; title="a, b; c", <b>"#, ','),
            vec![r#"<https://a/?x=1,2;y>; title="a, b; c""#, " <b>"]
        );
        assert_eq!(split_outside(r#""a\",b",c"#, ','), vec![r#""a\",b""#, "c"]);
        assert_eq!(split_outside("a,<b,c", ','), vec!["a", "<b,c"]);
        assert_eq!(split_outside("", ','), vec![""]);
    }

    #[test]
    fn members_carry_their_parameters() {
        let list = members(r#""default";q=100;w=10, 60 ; w=60"#);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].head, r#""default""#);
        assert_eq!(list[0].param("Q"), Some("100"));
        assert_eq!(list[1].head, "60");
        assert_eq!(list[1].param("w"), Some("60"));
        assert_eq!(list[1].param("q"), None);
    }

    #[test]
    fn unquote_undoes_escapes_only_inside_quotes() {
        assert_eq!(unquote(r#" "a\"b\\c" "#), r#"a"b\c"#);
        assert_eq!(unquote("next"), "next");
        assert_eq!(unquote("\""), "\"");
    }
}
