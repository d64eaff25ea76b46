//! An HTTP error response, understood once: what kind of failure it is, what the provider
//! said, its request id and rate-limit facts, and the [`SourceError`] or [`SinkError`] it
//! becomes.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::fields::header;
use super::rate_limit::rate_limit_hint;
use super::redact::redact;
use super::summary::{bounded, error_summary, one_line, MAX_ERROR_BODY};
use crate::budget::RateLimitHint;
use crate::error::ErrorClass;
use crate::sink::SinkError;
use crate::source::SourceError;

/// Headers that carry the service's id of a request, in the order they are looked up. The
/// echo of our own `x-ms-client-request-id` comes last: the service's id is what its support
/// asks for.
pub const REQUEST_ID_HEADERS: &[&str] = &[
    "x-ms-request-id",
    "request-id",
    "x-request-id",
    "x-okta-request-id",
    "x-github-request-id",
    "apim-request-id",
    "x-ms-client-request-id",
    "client-request-id",
];

/// The longest request id kept, in characters.
const MAX_REQUEST_ID_CHARS: usize = 100;

/// The service's id of the request that got this response (see [`REQUEST_ID_HEADERS`]),
/// cleaned for printing: one line, bounded, nothing secret-looking.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .filter_map(|name| header(headers, name))
        .map(|id| bounded(&redact(&one_line(id)), MAX_REQUEST_ID_CHARS))
        .find(|id| !id.is_empty())
}

/// What kind of failure an HTTP status (and its headers) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// 401: the credential was not accepted (wrong, expired, revoked, another tenant's).
    Unauthorized,
    /// 403: the credential was accepted but may not do this call.
    Forbidden,
    /// 404 or 410: nothing at that address (wrong account, URL, resource name).
    NotFound,
    /// 400, 405, 411, 413, 414, 415, 422: the request itself was refused as invalid.
    BadRequest,
    /// 429, or a 403 whose headers say the limit is used up (GitHub answers so): throttled.
    RateLimited,
    /// 408: the server gave up waiting for the request.
    Timeout,
    /// 5xx other than 501 and 505: the service failed or is unavailable for now.
    Unavailable,
    /// Anything else (409, 412, 501, …): retrying the same request will not help.
    Other,
}

impl FailureKind {
    /// The kind of `status`; `hint` (the response's rate-limit facts) tells a throttling 403
    /// from a refusal.
    pub fn of(status: StatusCode, hint: Option<&RateLimitHint>) -> Self {
        let used_up = hint.is_some_and(|h| h.remaining == Some(0) || h.retry_after.is_some());
        match status.as_u16() {
            401 => FailureKind::Unauthorized,
            403 if used_up => FailureKind::RateLimited,
            403 => FailureKind::Forbidden,
            404 | 410 => FailureKind::NotFound,
            400 | 405 | 411 | 413 | 414 | 415 | 422 => FailureKind::BadRequest,
            408 => FailureKind::Timeout,
            429 => FailureKind::RateLimited,
            501 | 505 => FailureKind::Other,
            500..=599 => FailureKind::Unavailable,
            _ => FailureKind::Other,
        }
    }

    /// Whether to retry, wait for the rate limit, or stop.
    pub fn class(self) -> ErrorClass {
        match self {
            FailureKind::RateLimited => ErrorClass::RateLimited,
            FailureKind::Timeout | FailureKind::Unavailable => ErrorClass::Retryable,
            FailureKind::Unauthorized
            | FailureKind::Forbidden
            | FailureKind::NotFound
            | FailureKind::BadRequest
            | FailureKind::Other => ErrorClass::Permanent,
        }
    }
}

/// A non-success HTTP response, understood. Build it with [`HttpFailure::new`] or
/// [`HttpFailure::from_response`], then turn it into an error with
/// [`source_error`](HttpFailure::source_error) / [`sink_error`](HttpFailure::sink_error), or
/// match on [`kind`](HttpFailure::kind) to write a sentence of your own.
///
/// Its [`Display`](fmt::Display) is the neutral part of every message:
/// `HTTP 403 Forbidden, request id 4f1…: "Forbidden: Missing application roles."`.
/// Nothing in it is secret: the summary and request id are redacted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HttpFailure {
    /// The response's status.
    pub status: StatusCode,
    /// What kind of failure it is.
    pub kind: FailureKind,
    /// The response's rate-limit facts (see [`rate_limit_hint`](super::rate_limit_hint)).
    pub hint: Option<RateLimitHint>,
    /// The service's id of the request (see [`request_id`]).
    pub request_id: Option<String>,
    /// The provider's error in one line (see [`error_summary`](super::error_summary)).
    pub summary: Option<String>,
    /// When the response was received, on the platform clock.
    pub received: DateTime<Utc>,
}

impl HttpFailure {
    /// The failure of a response with `status`, `headers` and `body`, received at `received`
    /// (the platform clock's `now_utc()`). Only the first
    /// [`MAX_ERROR_BODY`](super::MAX_ERROR_BODY) bytes of the body are looked at.
    pub fn new(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        received: DateTime<Utc>,
    ) -> Self {
        let hint = rate_limit_hint(headers, received);
        HttpFailure {
            status,
            kind: FailureKind::of(status, hint.as_ref()),
            hint,
            request_id: request_id(headers),
            summary: error_summary(body),
            received,
        }
    }

    /// The failure of `response`, reading at most [`MAX_ERROR_BODY`](super::MAX_ERROR_BODY)
    /// bytes of its body (a body that breaks off is used as far as it came).
    pub async fn from_response(mut response: reqwest::Response, received: DateTime<Utc>) -> Self {
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        HttpFailure::new(response.status(), response.headers(), &body, received)
    }

    /// How long to wait before calling again, when the response said. A throttled call
    /// waits for the later of its `Retry-After` and its rate-limit reset; any other failure
    /// only for a `Retry-After` it sent: many providers state their rate window on every
    /// response, and a failing server says nothing about that window.
    pub fn retry_after(&self) -> Option<Duration> {
        let hint = self.hint.as_ref()?;
        if self.kind != FailureKind::RateLimited {
            return hint.retry_after;
        }
        let until_reset = hint
            .reset
            .and_then(|reset| reset.signed_duration_since(self.received).to_std().ok());
        hint.retry_after.max(until_reset)
    }

    /// The error a source returns, its message naming `what` (e.g. "Okta org
    /// contoso.okta.com") and saying what to check:
    ///
    /// | kind | error |
    /// |---|---|
    /// | `Unauthorized`, `Forbidden` | [`SourceError::Auth`] |
    /// | `NotFound`, `BadRequest` | [`SourceError::Config`] |
    /// | `RateLimited` | [`SourceError::RateLimited`] with the hint |
    /// | `Timeout`, `Unavailable` | [`SourceError::Retryable`] with [`retry_after`](Self::retry_after) |
    /// | `Other` | [`SourceError::Permanent`] |
    pub fn source_error(&self, what: &str) -> SourceError {
        let message = self.sentence(what, "the request", "the connector's configuration");
        match self.kind {
            FailureKind::Unauthorized | FailureKind::Forbidden => SourceError::Auth { message },
            FailureKind::NotFound | FailureKind::BadRequest => SourceError::Config { message },
            FailureKind::RateLimited => SourceError::RateLimited {
                message,
                hint: self.hint.clone().unwrap_or_default(),
            },
            FailureKind::Timeout | FailureKind::Unavailable => SourceError::Retryable {
                message,
                retry_after: self.retry_after(),
            },
            FailureKind::Other => SourceError::Permanent { message },
        }
    }

    /// The error a sink returns, its message naming `what` (e.g. "Sentinel, DCR dcr-1…
    /// stream Custom-Okta") and saying what to check:
    ///
    /// | kind | error |
    /// |---|---|
    /// | `Unauthorized`, `Forbidden` | [`SinkError::Auth`] |
    /// | `NotFound`, `BadRequest`, `Other` | [`SinkError::Permanent`] (the batch is dead-lettered) |
    /// | `RateLimited` | [`SinkError::RateLimited`] with [`retry_after`](Self::retry_after) |
    /// | `Timeout`, `Unavailable` | [`SinkError::Retryable`] with [`retry_after`](Self::retry_after) |
    pub fn sink_error(&self, what: &str) -> SinkError {
        let message = self.sentence(what, "the batch", "the sink's configuration");
        match self.kind {
            FailureKind::Unauthorized | FailureKind::Forbidden => SinkError::Auth { message },
            FailureKind::RateLimited => SinkError::RateLimited {
                message,
                retry_after: self.retry_after(),
            },
            FailureKind::Timeout | FailureKind::Unavailable => SinkError::Retryable {
                message,
                retry_after: self.retry_after(),
            },
            FailureKind::NotFound | FailureKind::BadRequest | FailureKind::Other => {
                SinkError::Permanent { message }
            }
        }
    }

    /// `{what} <did what> (<Display>): <what to check>`.
    fn sentence(&self, what: &str, sent: &str, configuration: &str) -> String {
        match self.kind {
            FailureKind::Unauthorized => format!(
                "{what} rejected the credential ({self}): check that the credential is current, not expired or revoked, and issued for {what}"
            ),
            FailureKind::Forbidden => format!(
                "{what} accepted the credential but refused {sent} ({self}): check that the app or account behind the credential holds the permission, scope or role this call needs"
            ),
            FailureKind::NotFound => format!(
                "{what} has nothing at the requested address ({self}): check the account, URL and resource names in {configuration}"
            ),
            FailureKind::BadRequest => format!(
                "{what} refused {sent} as invalid ({self}): check {configuration} (names, filters, times and options)"
            ),
            FailureKind::RateLimited => format!(
                "{what} throttled the call ({self}); calls wait {}",
                self.until()
            ),
            FailureKind::Timeout => format!(
                "{what} gave up waiting for {sent} ({self}); it is retried{}",
                self.retry_text()
            ),
            FailureKind::Unavailable => format!(
                "{what} is failing or unavailable ({self}); it is retried{}",
                self.retry_text()
            ),
            FailureKind::Other => format!(
                "{what} refused {sent} ({self}): retrying will not help; check {configuration} against the provider's documentation for this status"
            ),
        }
    }

    fn until(&self) -> String {
        let reset = self.hint.as_ref().and_then(|h| h.reset);
        match (reset, self.retry_after()) {
            (Some(reset), _) => format!(
                "until {}",
                reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            (None, Some(wait)) => format!("for {wait:?}"),
            (None, None) => "for the rate budget's window".to_string(),
        }
    }

    fn retry_text(&self) -> String {
        match self.retry_after() {
            Some(wait) => format!(" after {wait:?}, as asked"),
            None => " with backoff".to_string(),
        }
    }
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(reason) = self.status.canonical_reason() {
            write!(f, " {reason}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        if let Some(summary) = &self.summary {
            write!(f, ": \"{summary}\"")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "failure_tests.rs"]
mod tests;
