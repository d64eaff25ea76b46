//! Response helpers shared by the Azure sinks.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use ucp_core::credentials::token::TokenError;
use ucp_core::SinkError;

/// Longest part of a response body kept in an error (bodies can be large).
const MAX_ERROR_BODY: usize = 2048;

/// `Retry-After` in seconds (the Azure services send seconds, not dates).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The response body, cut to a readable length.
pub(crate) async fn error_body(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    if text.len() <= MAX_ERROR_BODY {
        return text;
    }
    let mut end = MAX_ERROR_BODY;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A token that could not be had, as a delivery failure of `product`.
pub(crate) fn token_error(product: &str, error: TokenError) -> SinkError {
    if error.is_retryable() {
        SinkError::Retryable {
            message: format!("{product}: {error}"),
            retry_after: None,
        }
    } else {
        SinkError::Auth {
            message: format!("{product}: {error}"),
        }
    }
}

/// A request that did not get a response.
pub(crate) fn transport_error(product: &str, url: &str, error: reqwest::Error) -> SinkError {
    SinkError::Retryable {
        message: format!("{product}: request to {url} failed: {error}"),
        retry_after: None,
    }
}
