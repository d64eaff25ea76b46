//! The partner HTTP kit: what every connector that speaks HTTP needs, written once.
//!
//! - [`client`]: the one connector client (rustls, `User-Agent: ucp/<version>`, timeouts,
//!   safe redirects), and [`client_request_id`] for `x-ms-client-request-id`.
//! - [`rate_limit_hint`]: rate-limit headers of every common dialect (Okta, GitHub, the IETF
//!   `RateLimit` drafts, `Retry-After`) as a [`RateLimitHint`](crate::RateLimitHint) whose
//!   reset is on the platform clock, whatever the provider's clock says.
//! - [`HttpFailure`]: a non-success response understood (kind, the provider's error in one
//!   line with secrets redacted, request id, rate-limit facts) and turned into a
//!   [`SourceError`](crate::SourceError) or [`SinkError`](crate::SinkError) with a message
//!   that names the service and says what to check; [`transport_source_error`] and
//!   [`transport_sink_error`] do the same for requests that got no response.
//! - [`clock_skew`]: how far the provider's clock is from ours (its `Date` header); the kit
//!   notes it for the job, which warns past [`CLOCK_SKEW_WARNING`].
//! - [`next_link`]: the next page from a `Link` header, and [`resolve_link`] to follow it
//!   without leaving the provider's origin.
//!
//! Nothing here panics on what a provider sends: every header and body is parsed
//! defensively, and numbers saturate.
//!
//! # In a connector's `collect`
//!
//! ```no_run
//! use ucp_core::http::{self, HttpFailure};
//! use ucp_core::{CollectRequest, Cursor, Page, SourceContext, SourceError};
//!
//! async fn collect(cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
//!     let what = "Acme account a1";
//!     let url = req
//!         .cursor
//!         .as_str()
//!         .unwrap_or("https://api.acme.example/v1/events")
//!         .to_string();
//!     let response = cx
//!         .http()
//!         .get(&url)
//!         .header(http::CLIENT_REQUEST_ID, http::client_request_id())
//!         .send()
//!         .await
//!         .map_err(|e| http::transport_source_error(what, e))?;
//!     let received = cx.clock().now_utc();
//!     if !response.status().is_success() {
//!         // 401 → Auth, 404 → Config, 429 → RateLimited with the hint, 503 → Retryable…
//!         return Err(HttpFailure::from_response(response, received)
//!             .await
//!             .source_error(what));
//!     }
//!     let hint = http::rate_limit_hint(response.headers(), received);
//!     let next = http::next_link(response.headers());
//!     let body = response
//!         .bytes()
//!         .await
//!         .map_err(|e| http::transport_source_error(what, e))?;
//!     let records = Vec::new(); // parse `body` into records here
//!     # let _ = body;
//!     Ok(Page {
//!         records,
//!         more: next.is_some(),
//!         next: Cursor::new(next.unwrap_or(url)),
//!         hint,
//!     })
//! }
//! ```

mod failure;
mod fields;
mod link;
#[cfg(test)]
mod proptests;
mod rate_limit;
mod redact;
mod skew;
mod summary;
mod time;
mod transport;

pub use crate::client::{
    client, client_builder, client_request_id, CLIENT_REQUEST_ID, CONNECT_TIMEOUT, MAX_REDIRECTS,
    REQUEST_TIMEOUT, USER_AGENT,
};
pub use failure::{request_id, FailureKind, HttpFailure, REQUEST_ID_HEADERS};
pub use link::{link, links, next_link, resolve_link, Link, LinkError};
pub use rate_limit::{rate_limit_hint, retry_after};
pub use redact::{redact, REDACTED};
pub(crate) use skew::noting;
pub use skew::{clock_skew, ClockSkew, CLOCK_SKEW_WARNING};
pub use summary::{error_summary, MAX_ERROR_BODY, MAX_SUMMARY_CHARS};
pub use time::{http_date, MAX_WAIT};
pub use transport::{transport_sink_error, transport_source_error};
