//! After a page: is there another one, and where? One function per answer, no I/O.
//!
//! | paging type | the next page is… | there is none when… |
//! |---|---|---|
//! | LinkHeader, PersistentLinkHeader | the `Link` header's `rel` (or the body's `linkHeaderTokenJsonPath`) | no link |
//! | NextPageToken, PersistentToken | the token at `nextPageTokenJsonPath` / `nextPageTokenResponseHeader` | no token, an empty one, or `hasNextFlagJsonPath` false |
//! | NextPageUrl | the URL (or token for `nextPageUrl`) at `nextPageTokenJsonPath` | as for tokens |
//! | Offset | the offset after every record read in the window | a page shorter than `pageSize` |
//! | CountBasedPaging | the next page number | `hasNextFlagJsonPath` false, past `pageCountJsonPath` or `totalResultsJsonPath`, else a short page |
//!
//! A position equal to the one just asked is no progress: the window ends there rather than
//! asking the same page forever.

use reqwest::header::HeaderMap;

use super::cursor::Position;
use super::definition::{Paging, PagingKind, TokenSend, ValueSource};
use super::response::Body;

/// What one page said about the next.
pub struct PageFacts<'a> {
    /// The answer's headers.
    pub headers: &'a HeaderMap,
    /// The answer's body, when JSON (CSV bodies carry no paging facts).
    pub body: Option<&'a Body>,
    /// Records on the page (before any deduplication).
    pub records: usize,
    /// Records read in the window, this page included.
    pub read: u64,
}

/// The position of the next page, or `None` when the window (or poll) has no more.
pub fn next(
    paging: &Paging,
    asked: Option<&Position>,
    facts: &PageFacts,
) -> Result<Option<Position>, String> {
    let full = |records: usize| {
        paging
            .page_size
            .map_or(records > 0, |size| records >= size as usize)
    };
    let next = match &paging.kind {
        PagingKind::None => None,
        PagingKind::Link { rel, body_path, .. } => {
            let link = match body_path {
                Some(path) => body_value(facts, path)?,
                None => ucp_core::http::link(facts.headers, rel),
            };
            link.map(Position::Url)
        }
        PagingKind::Token {
            source, has_next, ..
        } => {
            if flag_says_no(facts, has_next.as_ref())? {
                None
            } else {
                value(facts, source)?.map(Position::Token)
            }
        }
        PagingKind::NextUrl {
            source,
            base,
            send,
            has_next,
            ..
        } => {
            if flag_says_no(facts, has_next.as_ref())? {
                None
            } else {
                let found = value(facts, source)?;
                match (base, send) {
                    (Some(_), Some(TokenSend::Param(_) | TokenSend::Header(_))) => {
                        found.map(Position::Token)
                    }
                    _ => found.map(Position::Url),
                }
            }
        }
        PagingKind::Offset { .. } => full(facts.records).then_some(Position::Offset(facts.read)),
        PagingKind::PageNumber {
            zero_based,
            has_next,
            total,
            page_count,
            ..
        } => {
            let current = match asked {
                Some(Position::Number(n)) => *n,
                _ => u64::from(!*zero_based),
            };
            let more = if let Some(path) = has_next {
                !flag_says_no(facts, Some(path))?
            } else if let Some(path) = page_count {
                let count = number(facts, path)?;
                let last = if *zero_based {
                    count.saturating_sub(1)
                } else {
                    count
                };
                count > 0 && current < last
            } else if let Some(path) = total {
                facts.read < number(facts, path)?
            } else {
                full(facts.records)
            };
            (more && facts.records > 0).then_some(Position::Number(current.saturating_add(1)))
        }
    };
    Ok(next.filter(|position| Some(position) != asked))
}

fn value(facts: &PageFacts, source: &ValueSource) -> Result<Option<String>, String> {
    match source {
        ValueSource::Body(path) => body_value(facts, path),
        ValueSource::Header(name) => Ok(facts
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())),
    }
}

fn body_value(facts: &PageFacts, path: &super::json_path::Path) -> Result<Option<String>, String> {
    match facts.body {
        Some(body) => Ok(body.first(path)?.filter(|v| !v.trim().is_empty())),
        None => Ok(None),
    }
}

/// True when the flag at `path` is present and false (`false`, `0`, `"false"`, `"no"`).
fn flag_says_no(facts: &PageFacts, path: Option<&super::json_path::Path>) -> Result<bool, String> {
    let Some(path) = path else { return Ok(false) };
    Ok(match body_value(facts, path)? {
        None => true,
        Some(flag) => matches!(
            flag.trim().to_ascii_lowercase().as_str(),
            "false" | "0" | "no"
        ),
    })
}

fn number(facts: &PageFacts, path: &super::json_path::Path) -> Result<u64, String> {
    let text = body_value(facts, path)?
        .ok_or_else(|| format!("the answer has no number at {}", path.text()))?;
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n.min(u64::MAX as f64) as u64)
        .ok_or_else(|| {
            format!(
                "the answer's {} is not a count ('{}')",
                path.text(),
                text.chars().take(20).collect::<String>()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::json_path::Path;
    use bytes::Bytes;

    fn paging(kind: PagingKind, page_size: Option<u32>) -> Paging {
        Paging {
            kind,
            page_size,
            page_size_param: None,
            in_body: false,
            paging_params_only: false,
        }
    }

    fn facts<'a>(
        headers: &'a HeaderMap,
        body: &'a Body,
        records: usize,
        read: u64,
    ) -> PageFacts<'a> {
        PageFacts {
            headers,
            body: Some(body),
            records,
            read,
        }
    }

    #[test]
    fn tokens_flags_and_repeats() {
        let headers = HeaderMap::new();
        let kind = PagingKind::Token {
            persistent: false,
            source: ValueSource::Body(Path::parse("$.paging.next").unwrap()),
            send: TokenSend::Param("pageToken".into()),
            has_next: Some(Path::parse("$.paging.hasMore").unwrap()),
        };
        let body = Body::decode(
            Bytes::from(r#"{"paging":{"next":"t2","hasMore":true}}"#),
            None,
        )
        .unwrap();
        let p = paging(kind.clone(), None);
        assert_eq!(
            next(&p, None, &facts(&headers, &body, 3, 3)).unwrap(),
            Some(Position::Token("t2".into()))
        );
        assert_eq!(
            next(
                &p,
                Some(&Position::Token("t2".into())),
                &facts(&headers, &body, 3, 3)
            )
            .unwrap(),
            None
        );
        let done = Body::decode(
            Bytes::from(r#"{"paging":{"next":"t3","hasMore":false}}"#),
            None,
        )
        .unwrap();
        assert_eq!(next(&p, None, &facts(&headers, &done, 3, 3)).unwrap(), None);
    }

    #[test]
    fn offsets_and_page_numbers() {
        let headers = HeaderMap::new();
        let body = Body::decode(Bytes::from(r#"{"total":25,"pages":3}"#), None).unwrap();
        let offset = paging(
            PagingKind::Offset {
                param: "offset".into(),
                end_param: None,
            },
            Some(10),
        );
        assert_eq!(
            next(&offset, None, &facts(&headers, &body, 10, 10)).unwrap(),
            Some(Position::Offset(10))
        );
        assert_eq!(
            next(&offset, None, &facts(&headers, &body, 5, 25)).unwrap(),
            None
        );
        let by_count = paging(
            PagingKind::PageNumber {
                param: "page".into(),
                zero_based: false,
                has_next: None,
                total: None,
                page_count: Some(Path::parse("$.pages").unwrap()),
            },
            Some(10),
        );
        assert_eq!(
            next(&by_count, None, &facts(&headers, &body, 10, 10)).unwrap(),
            Some(Position::Number(2))
        );
        assert_eq!(
            next(
                &by_count,
                Some(&Position::Number(3)),
                &facts(&headers, &body, 5, 25)
            )
            .unwrap(),
            None
        );
        let by_total = paging(
            PagingKind::PageNumber {
                param: "page".into(),
                zero_based: true,
                has_next: None,
                total: Some(Path::parse("$.total").unwrap()),
                page_count: None,
            },
            Some(10),
        );
        assert_eq!(
            next(&by_total, None, &facts(&headers, &body, 10, 20)).unwrap(),
            Some(Position::Number(1))
        );
        assert_eq!(
            next(
                &by_total,
                Some(&Position::Number(2)),
                &facts(&headers, &body, 5, 25)
            )
            .unwrap(),
            None
        );
        let bad = Body::decode(Bytes::from(r#"{"total":"many"}"#), None).unwrap();
        assert!(next(&by_total, None, &facts(&headers, &bad, 10, 10)).is_err());
    }
}
