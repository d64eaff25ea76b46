//! Requests that got no HTTP response (timeout, refused connection, redirect refused…), as
//! source and sink errors.

use std::error::Error as _;

use super::redact::{redact, without_queries};
use super::summary::{bounded, one_line};
use crate::sink::SinkError;
use crate::source::SourceError;

/// The longest transport detail kept, in characters.
const MAX_DETAIL_CHARS: usize = 300;

/// Why a request got no response, as far as it decides what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    /// The request could not be built (a malformed URL): configuration.
    Build,
    /// Too many redirects, or one the client refused: configuration.
    Redirect,
    /// No answer in time: retry.
    Timeout,
    /// No connection (DNS, refused, TLS): retry.
    Connect,
    /// The response body could not be decoded.
    Decode,
    /// Anything else on the way (reset connection, broken body): retry.
    Other,
}

fn cause(error: &reqwest::Error) -> Cause {
    if error.is_builder() {
        Cause::Build
    } else if error.is_redirect() {
        Cause::Redirect
    } else if error.is_timeout() {
        Cause::Timeout
    } else if error.is_connect() {
        Cause::Connect
    } else if error.is_decode() {
        Cause::Decode
    } else {
        Cause::Other
    }
}

/// What went wrong, with every cause in the chain, without the URL or any query string and
/// with secrets redacted.
fn detail(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = inner.source();
    }
    bounded(
        &redact(&without_queries(&one_line(&text))),
        MAX_DETAIL_CHARS,
    )
}

/// `{what} <what happened> (<detail>)<advice>`, and the cause.
fn sentence(what: &str, error: reqwest::Error, configuration: &str) -> (Cause, String) {
    let cause = cause(&error);
    let detail = detail(error);
    let message = match cause {
        Cause::Build => format!(
            "the request to {what} could not be built ({detail}): check the URL in {configuration}"
        ),
        Cause::Redirect => format!(
            "{what} redirected the request too often, to another host or from https to http ({detail}): check the URL in {configuration}"
        ),
        Cause::Timeout => format!(
            "{what} did not answer in time ({detail}); it is retried with backoff"
        ),
        Cause::Connect => format!(
            "{what} could not be reached ({detail}); it is retried with backoff: check the URL, DNS, proxy and firewall if it persists"
        ),
        Cause::Decode => format!("the response of {what} could not be decoded ({detail})"),
        Cause::Other => format!(
            "the request to {what} failed on the way ({detail}); it is retried with backoff"
        ),
    };
    (cause, message)
}

/// A request of a source to `what` (e.g. "Okta org contoso.okta.com") that got no response:
/// a timeout, connection or other transport failure is [`SourceError::Retryable`], an
/// unbuildable request or refused redirect is [`SourceError::Config`], an undecodable body
/// [`SourceError::Malformed`]. The message has the causes but never the URL's query string
/// nor a secret.
pub fn transport_source_error(what: &str, error: reqwest::Error) -> SourceError {
    match sentence(what, error, "the connector's configuration") {
        (Cause::Build | Cause::Redirect, message) => SourceError::Config { message },
        (Cause::Decode, message) => SourceError::Malformed { message },
        (Cause::Timeout | Cause::Connect | Cause::Other, message) => SourceError::Retryable {
            message,
            retry_after: None,
        },
    }
}

/// A request of a sink to `what` that got no response: an unbuildable request or refused
/// redirect is [`SinkError::Permanent`], anything else [`SinkError::Retryable`]. The message
/// has the causes but never the URL's query string nor a secret.
pub fn transport_sink_error(what: &str, error: reqwest::Error) -> SinkError {
    match sentence(what, error, "the sink's configuration") {
        (Cause::Build | Cause::Redirect, message) => SinkError::Permanent { message },
        (_, message) => SinkError::Retryable {
            message,
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A loopback port with nothing listening on it.
    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn a_refused_connection_is_retryable_and_keeps_the_query_out() {
        let port = closed_port().await;
        let url = format!("http://127.0.0.1:{port}/logs?sig=Zm9vU2VjcmV0&after=1");
        let error = reqwest::get(&url).await.unwrap_err();
        let SourceError::Retryable {
            message,
            retry_after,
        } = transport_source_error("Okta org contoso.okta.com", error)
        else {
            panic!("not retryable");
        };
        assert_eq!(retry_after, None);
        assert!(
            message.starts_with("Okta org contoso.okta.com could not be reached ("),
            "{message}"
        );
        assert!(
            !message.contains("Zm9vU2VjcmV0") && !message.contains("sig="),
            "{message}"
        );
        assert!(!message.contains("/logs"), "{message}");

        let error = reqwest::get(&url).await.unwrap_err();
        assert!(matches!(
            transport_sink_error("Sentinel", error),
            SinkError::Retryable { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_is_retryable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, never answers.
        let server = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let error = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let error = transport_source_error("Acme account a1", error);
        assert!(matches!(error, SourceError::Retryable { .. }), "{error:?}");
        assert!(
            error.to_string().contains("did not answer in time"),
            "{error}"
        );
        server.abort();
    }

    #[tokio::test]
    async fn an_unbuildable_request_is_configuration() {
        let error = reqwest::Client::new()
            .get("not a url?token=abc")
            .send()
            .await
            .unwrap_err();
        let error = transport_source_error("Acme account a1", error);
        assert!(matches!(error, SourceError::Config { .. }), "{error:?}");
        assert!(error.to_string().contains("check the URL"), "{error}");
        let error = reqwest::Client::new().get("::").send().await.unwrap_err();
        assert!(matches!(
            transport_sink_error("Sentinel", error),
            SinkError::Permanent { .. }
        ));
    }
}
