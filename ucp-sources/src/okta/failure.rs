//! What goes wrong talking to an Okta org, as the [`SourceError`] it means, in sentences that
//! say what to check. The HTTP kit understands the response ([`HttpFailure`]: kind, Okta's
//! `errorCode: errorSummary` redacted, the `X-Okta-Request-Id`); this module adds what only
//! the Okta source knows: which credential, which filter, which setting.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use ucp_core::credentials::token::TokenError;
use ucp_core::http::{self, FailureKind, HttpFailure};
use ucp_core::SourceError;

use super::config::{OktaAuth, LOGS_SCOPE};
use super::cursor::{self, LOGS_PATH};

/// The facts of one source that its error messages name.
pub(crate) struct Org<'a> {
    /// `host[:port]` of the org.
    pub name: &'a str,
    /// How the source authenticates.
    pub auth: &'a OktaAuth,
    /// The configured request timeout, if any.
    pub timeout: Option<Duration>,
}

impl Org<'_> {
    /// "Okta org contoso.okta.com", the subject of the kit's sentences.
    pub(crate) fn what(&self) -> String {
        format!("Okta org {}", self.name)
    }

    /// A System Log request to `url` answered with `failure`.
    pub(crate) fn status_error(&self, failure: &HttpFailure, url: &Url) -> SourceError {
        let org = self.name;
        let said = said(failure);
        // Okta throttles with 429 only (E0000047): a 403 is a refusal even when the same
        // response says the window's calls are used up.
        let kind = if failure.status == StatusCode::FORBIDDEN {
            FailureKind::Forbidden
        } else {
            failure.kind
        };
        match kind {
            FailureKind::Unauthorized | FailureKind::Forbidden => SourceError::Auth {
                message: format!(
                    "Okta rejected the {} for org {org} ({said}): {}",
                    self.auth.describe(),
                    self.what_to_check(kind)
                ),
            },
            FailureKind::BadRequest => SourceError::Config {
                message: match cursor::filter_of(url) {
                    Some(filter) => format!(
                        "Okta org {org} refused the System Log filter `{filter}` ({said}): fix the subscriptions' filters"
                    ),
                    None => format!(
                        "Okta org {org} refused the System Log query {url} ({said}): check the source's start time and page limit"
                    ),
                },
            },
            FailureKind::NotFound => SourceError::Config {
                message: format!(
                    "Okta org {org} has no System Log API at {LOGS_PATH} ({said}): check the org URL"
                ),
            },
            FailureKind::Timeout | FailureKind::Unavailable => {
                let asked = failure.retry_after();
                let when = match asked {
                    Some(wait) => format!("after {wait:?}, as asked"),
                    None => "with backoff".to_string(),
                };
                SourceError::Retryable {
                    message: format!(
                        "Okta org {org} failed the System Log request ({said}); it is retried {when}"
                    ),
                    retry_after: asked,
                }
            }
            FailureKind::RateLimited => {
                let hint = failure.hint.clone().unwrap_or_default();
                let until = match (hint.reset, hint.retry_after) {
                    (Some(reset), _) => format!(
                        "until {}",
                        reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    (None, Some(wait)) => format!("for {wait:?}"),
                    (None, None) => "for the budget's window".to_string(),
                };
                SourceError::RateLimited {
                    message: format!(
                        "Okta org {org} throttled the System Log request ({said}); calls to the org wait {until}"
                    ),
                    hint,
                }
            }
            _ => SourceError::Permanent {
                message: format!(
                    "Okta org {org} answered the System Log request with {said}: retrying will not help"
                ),
            },
        }
    }

    /// Which credential to check, and for what, after a 401 or 403.
    fn what_to_check(&self, kind: FailureKind) -> String {
        let credential = self.auth.credential();
        let forbidden = kind == FailureKind::Forbidden;
        match (self.auth, forbidden) {
            (OktaAuth::OAuth { scope, .. }, true) => format!(
                "check that the service app behind credential '{credential}' is granted the {LOGS_SCOPE} scope (asked for: {scope}) and an admin role that may read the System Log"
            ),
            (OktaAuth::OAuth { .. }, false) => format!(
                "check that the service app behind credential '{credential}' is active in this org"
            ),
            (_, false) => format!(
                "check that credential '{credential}' holds a current, unrevoked {} of this org",
                self.auth.describe()
            ),
            (_, true) => format!(
                "check that the admin or service app behind credential '{credential}' may read the System Log ({LOGS_SCOPE})"
            ),
        }
    }

    /// A request that got no response (or whose body broke off). A timeout names the
    /// setting that bounds it.
    pub(crate) fn transport_error(&self, error: reqwest::Error) -> SourceError {
        let timed_out = error.is_timeout();
        let error = http::transport_source_error(&self.what(), error);
        match (error, self.timeout) {
            (
                SourceError::Retryable {
                    message,
                    retry_after,
                },
                Some(limit),
            ) if timed_out => SourceError::Retryable {
                message: format!(
                    "{message}; the request timeout is {limit:?} (OktaConfig::request_timeout)"
                ),
                retry_after,
            },
            (error, _) => error,
        }
    }

    /// A response whose body broke off (connection reset, timeout, short body) after Okta
    /// answered with `request_id`. reqwest calls any failure while reading a body a decoding
    /// error; the bytes did not all arrive, so it is retried like any transport failure.
    pub(crate) fn body_error(
        &self,
        error: reqwest::Error,
        request_id: Option<&str>,
    ) -> SourceError {
        let id = request_id
            .map(|id| format!(" (request id {id})"))
            .unwrap_or_default();
        match self.transport_error(error) {
            SourceError::Malformed { message } | SourceError::Retryable { message, .. } => {
                SourceError::Retryable {
                    message: format!("{message}{id}"),
                    retry_after: None,
                }
            }
            other => other,
        }
    }

    /// A failure to get (or use) a token, as the error it means for the scheduler.
    pub(crate) fn token_error(
        &self,
        credential: &str,
        scope: &str,
        error: TokenError,
    ) -> SourceError {
        let org = self.name;
        let message = match &error {
            TokenError::Rejected { .. } => format!(
                "Okta org {org} rejected a freshly minted OAuth access token of credential '{credential}' (HTTP 401): {error}; check that the service app is active and granted {scope}"
            ),
            _ => format!(
                "Okta org {org}: no OAuth access token for credential '{credential}' (scope {scope}): {error}"
            ),
        };
        match error {
            TokenError::Unavailable { .. } | TokenError::InvalidResponse { .. } => {
                SourceError::Retryable {
                    message,
                    retry_after: None,
                }
            }
            TokenError::BackingOff {
                retry_in,
                cause_retryable: true,
                ..
            } => SourceError::Retryable {
                message,
                retry_after: Some(retry_in),
            },
            TokenError::Credential(_)
            | TokenError::Unsupported { .. }
            | TokenError::InsecureUrl { .. }
            | TokenError::Client { .. } => SourceError::Config { message },
            _ => SourceError::Auth { message },
        }
    }
}

/// What Okta answered, for a message: `HTTP 403, E0000006: You do not have permission…,
/// request id XkQ7…` (the kit's one-line, redacted summary of Okta's error body, and Okta's
/// `X-Okta-Request-Id`, which its support asks for).
pub(crate) fn said(failure: &HttpFailure) -> String {
    let mut said = format!("HTTP {}", failure.status.as_u16());
    if let Some(summary) = &failure.summary {
        said.push_str(", ");
        said.push_str(summary);
    }
    if let Some(id) = &failure.request_id {
        said.push_str(", request id ");
        said.push_str(id);
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn failure(status: u16, headers: &[(&str, &str)], body: &str) -> HttpFailure {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        HttpFailure::new(
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            received(),
        )
    }

    fn url() -> Url {
        Url::parse("https://contoso.okta.com/api/v1/logs?since=x&limit=10").unwrap()
    }

    const REQUEST_ID: (&str, &str) = ("x-okta-request-id", "XkQ7-req-1");

    /// The facts of a source of contoso.okta.com authenticating with `auth`.
    fn org(auth: &OktaAuth) -> Org<'_> {
        Org {
            name: "contoso.okta.com",
            auth,
            timeout: None,
        }
    }

    fn api_token() -> OktaAuth {
        OktaAuth::ApiToken {
            credential: "c".into(),
        }
    }

    #[test]
    fn a_403_is_a_refusal_even_when_the_window_is_used_up() {
        let auth = OktaAuth::oauth("okta-app");
        let org = org(&auth);
        let f = failure(
            403,
            &[("x-rate-limit-remaining", "0"), REQUEST_ID],
            r#"{"errorCode":"E0000006","errorSummary":"You do not have permission"}"#,
        );
        assert_eq!(f.kind, FailureKind::RateLimited, "the kit's general rule");
        let SourceError::Auth { message } = org.status_error(&f, &url()) else {
            panic!("not an auth error");
        };
        assert!(message.contains("E0000006"), "{message}");
        assert!(message.contains("request id XkQ7-req-1"), "{message}");
        assert!(
            message.contains("'okta-app' is granted the okta.logs.read scope"),
            "{message}"
        );
    }

    #[test]
    fn a_server_error_waits_for_retry_after_not_for_the_rate_window() {
        let auth = api_token();
        let org = org(&auth);
        let window = [
            ("x-rate-limit-remaining", "598"),
            ("x-rate-limit-reset", "1700000050"),
            REQUEST_ID,
        ];
        let mut asked = window.to_vec();
        asked.push(("retry-after", "7"));
        for (headers, wait) in [
            (asked, Some(Duration::from_secs(7))),
            (window.to_vec(), None),
        ] {
            let error = org.status_error(&failure(503, &headers, ""), &url());
            let SourceError::Retryable {
                message,
                retry_after,
            } = error
            else {
                panic!("not retryable");
            };
            assert_eq!(retry_after, wait);
            assert!(message.contains("request id XkQ7-req-1"), "{message}");
        }
    }

    #[test]
    fn a_throttle_names_the_reset_and_okta_s_code() {
        let auth = api_token();
        let org = org(&auth);
        let f = failure(
            429,
            &[
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", "1700000060"),
                REQUEST_ID,
            ],
            r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
        );
        let SourceError::RateLimited { message, hint } = org.status_error(&f, &url()) else {
            panic!("not rate limited");
        };
        assert_eq!(hint.remaining, Some(0));
        assert_eq!(
            message,
            "Okta org contoso.okta.com throttled the System Log request (HTTP 429, E0000047: API call exceeded rate limit due to too many requests., request id XkQ7-req-1); calls to the org wait until 2023-11-14T22:14:20Z"
        );
    }

    #[test]
    fn other_statuses_are_permanent_and_name_the_request_id() {
        let auth = api_token();
        let org = org(&auth);
        let error = org.status_error(&failure(409, &[REQUEST_ID], ""), &url());
        assert!(matches!(error, SourceError::Permanent { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("Okta org contoso.okta.com"), "{text}");
        assert!(text.contains("request id XkQ7-req-1"), "{text}");
    }
}
