//! One Azure REST call, made as the official Azure SDKs make it: through the platform's
//! client (ucp's `User-Agent`), with a fresh `x-ms-client-request-id` on every request, a
//! bearer token (refreshed once after a 401) or a SAS header, and the answer understood by
//! the HTTP kit: a refusal is logged with the service's `x-ms-request-id`, which its support
//! asks for, and the error it becomes names that id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use ucp_core::credentials::token::{Attempt, TokenError, TokenProvider, TokenRequest};
use ucp_core::http::{self, FailureKind, HttpFailure};
use ucp_core::{SinkContext, SinkError};

use super::chunk::Chunk;

/// Where an Azure sink posts, and what its messages say.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The request URL.
    pub url: String,
    /// Who answers, for messages: "sentinel (Logs Ingestion API, DCR …, stream …)".
    pub what: String,
    /// The body's `Content-Type`.
    pub content_type: &'static str,
    /// Send bodies gzip-compressed (`Content-Encoding: gzip`) at this level.
    pub gzip: Option<u32>,
    /// What to check when the service refuses the credential (401), after its sentence.
    pub unauthorized: String,
    /// What to check when the service refuses the call for want of a permission (403).
    pub forbidden: String,
    /// Requests made, token retries included.
    pub calls: AtomicU64,
    /// Rows (messages) the service took.
    pub accepted: AtomicU64,
}

/// How a request is authorized.
pub(crate) enum Authorization<'a> {
    /// An Entra bearer token from the platform's provider; a 401 gets one fresh token.
    Entra {
        /// The platform's token provider.
        tokens: &'a TokenProvider,
        /// The credential and scope.
        request: TokenRequest,
    },
    /// A ready `Authorization` value (a SAS token).
    Header(SecretString),
}

/// What the service answered.
pub(crate) enum Answer {
    /// A 2xx.
    Accepted,
    /// Anything else, understood.
    Refused(Refused),
}

/// A refusal and the client request id of the request it answered.
pub(crate) struct Refused {
    pub failure: HttpFailure,
    pub client_request_id: String,
}

/// What became of one chunk.
pub(crate) enum Posted {
    /// The service took it.
    Accepted,
    /// 413: the chunk must be split.
    TooLarge,
}

impl Endpoint {
    /// Post `chunk` (as a JSON array, gzip when [`gzip`](Self::gzip)) and say what became of
    /// it: accepted (its rows counted), too large, or the error it is.
    pub(crate) async fn post_chunk(
        &self,
        cx: &SinkContext,
        authorization: Authorization<'_>,
        chunk: &Chunk,
    ) -> Result<Posted, SinkError> {
        let body = chunk.body(self.gzip).map_err(|e| SinkError::Permanent {
            message: format!("{}: could not build the request body: {e}", self.what),
        })?;
        match self.post(cx, authorization, body).await? {
            Answer::Accepted => {
                let rows = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
                self.accepted.fetch_add(rows, Ordering::Relaxed);
                Ok(Posted::Accepted)
            }
            Answer::Refused(refused) if refused.failure.status == StatusCode::PAYLOAD_TOO_LARGE => {
                tracing::debug!(
                    service = %self.what,
                    request_id = %refused.failure.request_id.as_deref().unwrap_or("none"),
                    client_request_id = %refused.client_request_id,
                    rows = chunk.len(),
                    "Azure refused the body as too large: splitting it"
                );
                Ok(Posted::TooLarge)
            }
            Answer::Refused(refused) => Err(self.refused(&refused)),
        }
    }

    /// Post `body` with `authorization`; a transport failure or a token that could not be
    /// had is the error, any answer is returned.
    pub(crate) async fn post(
        &self,
        cx: &SinkContext,
        authorization: Authorization<'_>,
        body: Bytes,
    ) -> Result<Answer, SinkError> {
        match authorization {
            Authorization::Header(value) => self.send(cx, &value, body).await,
            Authorization::Entra { tokens, request } => {
                // The last 401, to name its request id if a fresh token is refused too.
                let rejected: Mutex<Option<Refused>> = Mutex::new(None);
                let outcome = tokens
                    .with_token(&request, |token| {
                        let body = body.clone();
                        let rejected = &rejected;
                        async move {
                            let value = SecretString::from(format!(
                                "Bearer {}",
                                token.secret().expose_secret()
                            ));
                            match self.send(cx, &value, body).await {
                                Ok(Answer::Refused(refused))
                                    if refused.failure.status == StatusCode::UNAUTHORIZED =>
                                {
                                    tracing::debug!(
                                        service = %self.what,
                                        request_id = %refused.failure.request_id.as_deref().unwrap_or("none"),
                                        "Azure refused the token (401)"
                                    );
                                    *rejected.lock().unwrap_or_else(|e| e.into_inner()) =
                                        Some(refused);
                                    Attempt::Unauthorized
                                }
                                other => Attempt::Done(other),
                            }
                        }
                    })
                    .await;
                match outcome {
                    Ok(answer) => answer,
                    Err(error) => {
                        let rejected = rejected.into_inner().unwrap_or_else(|e| e.into_inner());
                        match (&error, rejected) {
                            (TokenError::Rejected { .. }, Some(refused)) => {
                                Err(self.refused(&refused))
                            }
                            _ => Err(token_error(&self.what, error)),
                        }
                    }
                }
            }
        }
    }

    /// A refusal as the error it means, logged with the service's request id. A 401 or 403
    /// says what to check for this service.
    pub(crate) fn refused(&self, refused: &Refused) -> SinkError {
        let failure = &refused.failure;
        tracing::warn!(
            service = %self.what,
            status = failure.status.as_u16(),
            request_id = %failure.request_id.as_deref().unwrap_or("none"),
            client_request_id = %refused.client_request_id,
            said = %failure.summary.as_deref().unwrap_or(""),
            "Azure refused the request"
        );
        let advice = match failure.kind {
            FailureKind::Unauthorized => &self.unauthorized,
            FailureKind::Forbidden => &self.forbidden,
            _ => return failure.sink_error(&self.what),
        };
        match failure.sink_error(&self.what) {
            SinkError::Auth { message } => SinkError::Auth {
                message: format!("{message}; {advice}"),
            },
            other => other,
        }
    }

    /// One request with a fresh client request id.
    async fn send(
        &self,
        cx: &SinkContext,
        authorization: &SecretString,
        body: Bytes,
    ) -> Result<Answer, SinkError> {
        let mut value =
            HeaderValue::from_str(authorization.expose_secret()).map_err(|_| SinkError::Auth {
                message: format!(
                    "{}: the credential gives an authorization that is not a valid HTTP header value",
                    self.what
                ),
            })?;
        value.set_sensitive(true);
        let client_request_id = http::client_request_id();
        let mut request = cx
            .http()
            .post(&self.url)
            .header(AUTHORIZATION, value)
            .header(CONTENT_TYPE, self.content_type)
            .header(http::CLIENT_REQUEST_ID, &client_request_id)
            .body(body);
        if self.gzip.is_some() {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let response = request
            .send()
            .await
            .map_err(|e| http::transport_sink_error(&self.what, e))?;
        if response.status().is_success() {
            return Ok(Answer::Accepted);
        }
        let failure = HttpFailure::from_response(response, cx.clock().now_utc()).await;
        Ok(Answer::Refused(Refused {
            failure,
            client_request_id,
        }))
    }
}

/// A token that could not be had, as a delivery failure of `what`.
pub(crate) fn token_error(what: &str, error: TokenError) -> SinkError {
    let message = format!("{what}: {error}");
    if error.is_retryable() {
        SinkError::Retryable {
            message,
            retry_after: None,
        }
    } else {
        SinkError::Auth { message }
    }
}
