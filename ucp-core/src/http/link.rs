//! The `Link` header (RFC 8288), as Okta, GitHub and Sentinel's `LinkHeader` paging use it to
//! point at the next page.

use reqwest::header::{HeaderMap, LINK};
use reqwest::Url;

use super::fields::{members, unquote};

/// One link of a `Link` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The target, as written between `<` and `>` (absolute or relative).
    pub target: String,
    /// Its relation types, lower-cased (`rel="next last"` gives `next` and `last`).
    pub rels: Vec<String>,
}

/// Every link of every `Link` header, in order. Each header may hold several links separated
/// by commas (commas inside `<…>` or quotes do not separate); `rel` is matched
/// case-insensitively, quoted or not, and may list several types; only the first `rel` of a
/// link counts, as RFC 8288 says. Malformed links are skipped.
pub fn links(headers: &HeaderMap) -> Vec<Link> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| members(value).into_iter())
        .filter_map(|member| {
            let target = member.head.strip_prefix('<')?.strip_suffix('>')?.trim();
            let rels = member
                .param("rel")
                .map(|rel| {
                    unquote(rel)
                        .split_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default();
            Some(Link {
                target: target.to_string(),
                rels,
            })
        })
        .collect()
}

/// The target of the first link with relation type `rel` (case-insensitive).
pub fn link(headers: &HeaderMap, rel: &str) -> Option<String> {
    links(headers)
        .into_iter()
        .find(|link| link.rels.iter().any(|r| r.eq_ignore_ascii_case(rel)))
        .map(|link| link.target)
}

/// The target of the `rel="next"` link: the next page, when there is one.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    link(headers, "next")
}

/// Why a link target cannot be followed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The target is not a URL, even relative to the request's.
    #[error("the link target is not a URL ({reason})")]
    Invalid {
        /// What the URL parser said.
        reason: String,
    },
    /// The target is on another scheme, host or port than the request: following it would
    /// send the connector's credential there.
    #[error("the link points to {origin}, another origin than the request's {expected}")]
    OtherOrigin {
        /// The target's origin.
        origin: String,
        /// The request's origin.
        expected: String,
    },
}

/// `target` (from a `Link` header of the response to `request`) as an absolute URL, resolved
/// against `request` when relative. Refused when it leads to another origin (scheme, host
/// and port), where the connector's credential must not go.
pub fn resolve_link(request: &Url, target: &str) -> Result<Url, LinkError> {
    let url = request.join(target).map_err(|e| LinkError::Invalid {
        reason: e.to_string(),
    })?;
    if url.origin() != request.origin() {
        return Err(LinkError::OtherOrigin {
            origin: url.origin().ascii_serialization(),
            expected: request.origin().ascii_serialization(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_links(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(LINK, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn next_is_found_in_separate_headers() {
        let h = with_links(&[
            r#"<https://o.okta.com/api/v1/logs?limit=2>; rel="self""#,
            r#"<https://o.okta.com/api/v1/logs?after=9_1&limit=2>; rel="next""#,
        ]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://o.okta.com/api/v1/logs?after=9_1&limit=2")
        );
        assert_eq!(
            link(&h, "SELF").as_deref(),
            Some("https://o.okta.com/api/v1/logs?limit=2")
        );
    }

    #[test]
    fn next_is_found_among_several_links_of_one_header() {
        let github = with_links(&[
            r#"<https://api.github.com/repositories/1/issues?page=2>; rel="prev", <https://api.github.com/repositories/1/issues?page=4>; rel="next", <https://api.github.com/repositories/1/issues?page=515>; rel="last""#,
        ]);
        assert_eq!(
            next_link(&github).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=4")
        );
        let unquoted = with_links(&["<https://a/self>; rel=self, <https://a/next?x=1>;REL=Next"]);
        assert_eq!(next_link(&unquoted).as_deref(), Some("https://a/next?x=1"));
    }

    #[test]
    fn commas_and_semicolons_inside_targets_and_quotes_do_not_split() {
        let h = with_links(&[
            r#"<https://a/p?ids=1,2;x=3>; title="first, then; next"; rel="previous", <https://a/p?ids=4,5>; rel="next last""#,
        ]);
        assert_eq!(next_link(&h).as_deref(), Some("https://a/p?ids=4,5"));
        let all = links(&h);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].rels, vec!["next", "last"]);
        assert_eq!(link(&h, "last").as_deref(), Some("https://a/p?ids=4,5"));
    }

    #[test]
    fn only_the_first_rel_of_a_link_counts() {
        let h = with_links(&[r#"<https://a/1>; rel="self"; rel="next""#]);
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn no_next_and_malformed_links_give_nothing() {
        assert_eq!(next_link(&HeaderMap::new()), None);
        assert_eq!(
            next_link(&with_links(&[r#"<https://a/self>; rel="self""#])),
            None
        );
        assert_eq!(
            next_link(&with_links(&[r#"https://a/next; rel="next""#])),
            None
        );
        assert_eq!(
            next_link(&with_links(&[r#"<https://a/next; rel="next""#])),
            None
        );
        assert_eq!(next_link(&with_links(&["<https://a/next>"])), None);
        assert_eq!(
            next_link(&with_links(&[r#"<https://a/next>; rel="nextpage""#])),
            None
        );
    }

    #[test]
    fn relative_targets_resolve_and_other_origins_are_refused() {
        let request = Url::parse("https://o.okta.com/api/v1/logs?limit=2").unwrap();
        assert_eq!(
            resolve_link(&request, "/api/v1/logs?after=x")
                .unwrap()
                .as_str(),
            "https://o.okta.com/api/v1/logs?after=x"
        );
        assert_eq!(
            resolve_link(&request, "https://o.okta.com:443/api/v1/logs?after=y")
                .unwrap()
                .as_str(),
            "https://o.okta.com/api/v1/logs?after=y"
        );
        for elsewhere in [
            "https://evil.example/api/v1/logs",
            "http://o.okta.com/api/v1/logs",
            "https://o.okta.com:8443/api/v1/logs",
            "//evil.example/x",
        ] {
            assert!(
                matches!(
                    resolve_link(&request, elsewhere),
                    Err(LinkError::OtherOrigin { .. })
                ),
                "{elsewhere}"
            );
        }
        let error = resolve_link(&request, "https://evil.example/x?token=abc").unwrap_err();
        assert!(!error.to_string().contains("token"), "{error}");
        assert!(matches!(
            resolve_link(&request, "https://[::1"),
            Err(LinkError::Invalid { .. })
        ));
    }
}
