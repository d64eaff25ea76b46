//! Sending one request and reading its answer: the body within a size bound, the rate-limit
//! facts as the definition's `rateLimitConfig` says, and every failure as the
//! [`SourceError`] it means (through the HTTP kit's [`HttpFailure`] and
//! [`transport_source_error`]). A source never retries: a 401 is handed back apart so the
//! auth step can refresh a token once.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;
use ucp_core::http::{rate_limit_hint, transport_source_error, HttpFailure};
use ucp_core::{RateLimitHint, SourceError};

use super::definition::{HeaderFormat, HintField, RateLimitConfig};
use super::request::{Body, Call};
use super::response::MAX_BODY_BYTES;

/// A successful answer.
#[derive(Debug)]
pub struct Exchange {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as received (maybe compressed).
    pub body: Bytes,
    /// Its rate-limit facts.
    pub hint: Option<RateLimitHint>,
}

/// What one request came to.
pub enum Sent {
    /// A 2xx answer.
    Done(Exchange),
    /// A 401: the credential or token was refused.
    Unauthorized(SourceError),
    /// Anything else.
    Failed(SourceError),
}

/// Send `call` with `auth` headers, within `timeout`; `what` names the API in messages.
pub async fn send(
    client: &reqwest::Client,
    call: &Call,
    auth: &[(HeaderName, HeaderValue)],
    timeout: Duration,
    rate_limit: &RateLimitConfig,
    what: &str,
    now: impl Fn() -> DateTime<Utc>,
) -> Sent {
    let mut request = client
        .request(call.method.http(), call.url.clone())
        .timeout(timeout);
    for (name, value) in call.headers.iter().chain(auth) {
        request = request.header(name, value);
    }
    request = match &call.body {
        None => request,
        Some(Body::Form(pairs)) => request.form(pairs),
        Some(Body::Json(json)) => request.json(json),
        Some(Body::Text(text)) => request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(text.clone()),
    };
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Sent::Failed(transport_source_error(what, error)),
    };
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
                    return Sent::Failed(SourceError::Malformed {
                        message: format!("{what} sent a body larger than {MAX_BODY_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => return Sent::Failed(transport_source_error(what, error)),
        }
    }
    let received = now();
    let hint = hint(&headers, received, rate_limit);
    if status.is_success() {
        return Sent::Done(Exchange {
            headers,
            body: body.freeze(),
            hint,
        });
    }
    let failure = HttpFailure::new(status, &headers, &body, received);
    let error = match failure.source_error(what) {
        SourceError::RateLimited { message, .. } => SourceError::RateLimited {
            message,
            hint: throttle_hint(hint, rate_limit),
        },
        other => other,
    };
    if status == StatusCode::UNAUTHORIZED {
        Sent::Unauthorized(error)
    } else {
        Sent::Failed(error)
    }
}

/// A 429's hint: without `useResetOrRetryAfterHeaders` the provider's wait is not used and
/// the budget waits a whole window.
fn throttle_hint(hint: Option<RateLimitHint>, config: &RateLimitConfig) -> RateLimitHint {
    let mut hint = hint.unwrap_or_default();
    if !config.use_reset {
        hint.reset = None;
        hint.retry_after = None;
    }
    hint
}

/// The rate-limit facts of an answer: every standard dialect (the HTTP kit's reader), then
/// the definition's custom headers over them.
pub fn hint(
    headers: &HeaderMap,
    received: DateTime<Utc>,
    config: &RateLimitConfig,
) -> Option<RateLimitHint> {
    let mut hint = rate_limit_hint(headers, received).unwrap_or_default();
    for (field, spec) in &config.custom {
        let Some(text) = headers
            .get(spec.name.as_str())
            .and_then(|v| v.to_str().ok())
        else {
            continue;
        };
        let text = text.split(',').next().unwrap_or("").trim();
        let count = || {
            text.parse::<u64>()
                .ok()
                .map(|n| n.min(u64::from(u32::MAX)) as u32)
        };
        let at = || -> Option<DateTime<Utc>> {
            match spec.format {
                HeaderFormat::Integer | HeaderFormat::Seconds => {
                    let secs: i64 = text
                        .parse()
                        .ok()
                        .filter(|s| (0..=86_400 * 366).contains(s))?;
                    received.checked_add_signed(chrono::Duration::seconds(secs))
                }
                HeaderFormat::UnixTimeSeconds => DateTime::from_timestamp(text.parse().ok()?, 0),
                HeaderFormat::UnixTimeMilliseconds => {
                    DateTime::from_timestamp_millis(text.parse().ok()?)
                }
                HeaderFormat::DateTime => ucp_core::http::http_date(text)
                    .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())),
            }
        };
        match field {
            HintField::Limit => hint.limit = count().or(hint.limit),
            HintField::Remaining => hint.remaining = count().or(hint.remaining),
            HintField::Reset => hint.reset = at().or(hint.reset),
            HintField::RetryAfter => {
                hint.retry_after = at()
                    .and_then(|t| (t - received).to_std().ok())
                    .map(|d| d.min(ucp_core::http::MAX_WAIT))
                    .or(hint.retry_after)
            }
        }
    }
    (!hint.is_empty()).then_some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::definition::HeaderSpec;

    #[test]
    fn custom_headers_override_the_standard_dialects() {
        let received = DateTime::from_timestamp(1_772_442_000, 0).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("50"));
        headers.insert("x-quota-left", HeaderValue::from_static("7"));
        headers.insert("x-quota-retryafter", HeaderValue::from_static("1772442030"));
        let config = RateLimitConfig {
            custom: vec![
                (
                    HintField::Remaining,
                    HeaderSpec {
                        name: "X-Quota-Left".into(),
                        format: HeaderFormat::Integer,
                    },
                ),
                (
                    HintField::Reset,
                    HeaderSpec {
                        name: "X-Quota-RetryAfter".into(),
                        format: HeaderFormat::UnixTimeSeconds,
                    },
                ),
            ],
            use_reset: true,
        };
        let hint = hint(&headers, received, &config).unwrap();
        assert_eq!(hint.limit, Some(100));
        assert_eq!(hint.remaining, Some(7));
        assert_eq!(hint.reset, DateTime::from_timestamp(1_772_442_030, 0));
        assert!(super::hint(&HeaderMap::new(), received, &config).is_none());
        let dropped = throttle_hint(
            Some(hint),
            &RateLimitConfig {
                custom: vec![],
                use_reset: false,
            },
        );
        assert_eq!((dropped.reset, dropped.retry_after), (None, None));
    }
}
