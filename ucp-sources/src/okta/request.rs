//! One authenticated call to the org through the platform's HTTP client
//! ([`SourceContext::http`](ucp_core::Context::http)).
//!
//! The credential becomes `Authorization`: an SSWS API token, a static bearer token, or a
//! service app's access token from the platform's shared token provider (its token request
//! draws from the org's budget; after a 401 the token is dropped and the call made once more
//! with a fresh one, on a permit of its own). An error answer comes back as Okta sent it
//! ([`Refusal`]: the kit's [`HttpFailure`] and Okta's `errorCode`), so the System Log and the
//! response actions each say what it means for them.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use tracing::{debug, warn};
use ucp_core::credentials::token::{AccessToken, Attempt, TokenRequest};
use ucp_core::credentials::{Credential, CredentialError, CredentialRef};
use ucp_core::http::{self, HttpFailure, MAX_ERROR_BODY};
use ucp_core::{RateLimitHint, SourceContext, SourceError};

use super::config::OktaAuth;
use super::OktaSource;

/// A successful HTTP exchange.
pub(crate) struct Exchange {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub hint: Option<RateLimitHint>,
    /// Okta's `X-Okta-Request-Id`, for messages about the answer.
    pub request_id: Option<String>,
}

impl Exchange {
    /// ` (request id …)`, or nothing when Okta sent none.
    pub fn request_id_text(&self) -> String {
        request_id_text(self.request_id.as_deref())
    }
}

/// ` (request id …)`, or nothing.
pub(crate) fn request_id_text(id: Option<&str>) -> String {
    id.map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

/// What a call is for: which OAuth scope it needs, and how its second permit (after a token
/// refresh) is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Reading the System Log: the collection scope; a repeat waits its turn.
    Collect,
    /// A response action: the action scope; a repeat goes ahead of waiting collection.
    Act,
}

/// An error answer from Okta.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The answer, understood by the HTTP kit (kind, summary, request id, rate-limit hint).
    pub failure: HttpFailure,
    /// Okta's `errorCode` (`E0000007`…), when the body carried one.
    pub code: Option<String>,
}

impl Refusal {
    /// Whether Okta answered `status` with `code`.
    pub fn is(&self, status: StatusCode, code: &str) -> bool {
        self.failure.status == status && self.code.as_deref() == Some(code)
    }
}

/// Why a call did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Okta answered with an error status (boxed: it is large, and rare).
    Refused(Box<Refusal>),
    /// No answer, a broken body, no credential or token: already the error it means.
    Failed(SourceError),
}

impl From<SourceError> for CallError {
    fn from(error: SourceError) -> Self {
        CallError::Failed(error)
    }
}

/// What one request came to. A 401 stays apart so an OAuth token can be refreshed once.
enum Sent {
    Done(Result<Exchange, CallError>),
    Unauthorized(CallError),
}

/// Okta's `errorCode` in an error body: `E` and seven digits, or nothing (any other value is
/// not Okta's and is not repeated).
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "errorCode")]
        error_code: Option<String>,
    }
    let body = body.get(..MAX_ERROR_BODY).unwrap_or(body);
    let code = serde_json::from_slice::<Body>(body).ok()?.error_code?;
    let okta_shaped =
        code.len() == 8 && code.starts_with('E') && code[1..].bytes().all(|b| b.is_ascii_digit());
    okta_shaped.then_some(code)
}

impl OktaSource {
    /// One authenticated `method` call to `url` for `purpose`.
    pub(crate) async fn call(
        &self,
        cx: &SourceContext,
        method: Method,
        url: &Url,
        purpose: Purpose,
    ) -> Result<Exchange, CallError> {
        match &self.config.auth {
            OktaAuth::OAuth { credential, scope } => {
                let scope = match purpose {
                    Purpose::Collect => scope.as_str(),
                    Purpose::Act => self.config.action_scope.as_str(),
                };
                self.call_with_oauth(cx, method, url, credential, scope, purpose)
                    .await
            }
            _ => {
                let authorization = self.static_authorization(cx).await?;
                match self.send(cx, method, url, authorization).await {
                    Sent::Done(result) => result,
                    Sent::Unauthorized(error) => Err(error),
                }
            }
        }
    }

    /// The `Authorization` header of an API token or a static access token, marked
    /// sensitive so it never reaches logs.
    async fn static_authorization(&self, cx: &SourceContext) -> Result<HeaderValue, SourceError> {
        let name = self.config.auth.credential();
        let credential = cx.credential(name).await?;
        let token = match credential {
            Credential::ApiToken { token } => token,
            other => {
                return Err(CredentialError::WrongKind {
                    reference: CredentialRef::new(cx.tenant(), name),
                    expected: "api token",
                    found: other.kind(),
                }
                .into())
            }
        };
        let scheme = match self.config.auth {
            OktaAuth::ApiToken { .. } => "SSWS",
            _ => "Bearer",
        };
        header(scheme, token.expose_secret()).ok_or_else(|| SourceError::Config {
            message: format!(
                "credential '{name}' for Okta org {} contains characters not allowed in an HTTP header",
                self.org_name
            ),
        })
    }

    /// A call with the service app's access token for `scope` from the platform's token
    /// provider; after a 401 the token is dropped and the call made once more with a fresh
    /// one.
    async fn call_with_oauth(
        &self,
        cx: &SourceContext,
        method: Method,
        url: &Url,
        credential: &str,
        scope: &str,
        purpose: Purpose,
    ) -> Result<Exchange, CallError> {
        let tokens = cx.tokens();
        // The token endpoint is the org's own: its requests count against the org's budget.
        let request = TokenRequest::named(cx.credentials(), credential, scope)
            .with_budget(cx.budget().clone());
        let mut calls = 0u32;
        let outcome = tokens
            .with_token(&request, |token: AccessToken| {
                calls = calls.saturating_add(1);
                let again = calls > 1;
                let method = method.clone();
                async move {
                    if again {
                        // The caller paid for the first request only.
                        match purpose {
                            Purpose::Collect => cx.budget().acquire().await,
                            Purpose::Act => cx.budget().acquire_urgent().await,
                        }
                    }
                    let Some(authorization) = header("Bearer", token.secret().expose_secret())
                    else {
                        return Attempt::Done(Err(CallError::Failed(SourceError::Auth {
                            message: format!(
                                "Okta org {}: the access token minted for credential '{credential}' is not a valid HTTP header value",
                                self.org_name
                            ),
                        })));
                    };
                    match self.send(cx, method, url, authorization).await {
                        Sent::Done(result) => Attempt::Done(result),
                        Sent::Unauthorized(_) => Attempt::Unauthorized,
                    }
                }
            })
            .await;
        outcome.unwrap_or_else(|error| {
            Err(CallError::Failed(
                self.org().token_error(credential, scope, error),
            ))
        })
    }

    /// One request with `authorization`.
    async fn send(
        &self,
        cx: &SourceContext,
        method: Method,
        url: &Url,
        authorization: HeaderValue,
    ) -> Sent {
        match self.exchange(cx, method, url, authorization).await {
            Err(CallError::Refused(refusal))
                if refusal.failure.status == StatusCode::UNAUTHORIZED =>
            {
                Sent::Unauthorized(CallError::Refused(refusal))
            }
            result => Sent::Done(result),
        }
    }

    /// One request through the platform's client.
    async fn exchange(
        &self,
        cx: &SourceContext,
        method: Method,
        url: &Url,
        authorization: HeaderValue,
    ) -> Result<Exchange, CallError> {
        debug!(org = %self.org_name, method = %method, url = %url, "okta request");
        let mut request = cx
            .http()
            .request(method, url.clone())
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json");
        if let Some(timeout) = self.config.request_timeout {
            request = request.timeout(timeout);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| self.org().transport_error(e))?;
        let received = cx.clock().now_utc();
        let status = response.status();
        if !status.is_success() {
            // At most the kit's bound of the body: an error body is read for its code and
            // summary only.
            let mut body = Vec::new();
            while body.len() < MAX_ERROR_BODY {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            let failure = HttpFailure::new(status, response.headers(), &body, received);
            warn!(
                org = %self.org_name,
                status = status.as_u16(),
                request_id = %failure.request_id.as_deref().unwrap_or("none"),
                said = %failure.summary.as_deref().unwrap_or(""),
                "okta request failed"
            );
            return Err(CallError::Refused(Box::new(Refusal {
                failure,
                code: error_code(&body),
            })));
        }
        let headers = response.headers().clone();
        let hint = http::rate_limit_hint(&headers, received);
        let request_id = http::request_id(&headers);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.org().body_error(e, request_id.as_deref()))?;
        Ok(Exchange {
            headers,
            body,
            hint,
            request_id,
        })
    }
}

/// `<scheme> <token>` as a sensitive header value (never shown by `Debug` or logs).
fn header(scheme: &str, token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn okta_s_error_code_is_read_and_nothing_else() {
        let body = br#"{"errorCode":"E0000007","errorSummary":"Not found","errorCauses":[]}"#;
        assert_eq!(error_code(body).as_deref(), Some("E0000007"));
        for other in [
            &br#"{"errorCode":"E000007"}"#[..],
            br#"{"errorCode":"X0000007"}"#,
            br#"{"errorCode":"E00000\u00e97"}"#,
            br#"{"errorCode":7}"#,
            br#"{"error":{"code":"E0000007"}}"#,
            br#"[1,2]"#,
            b"<html>502</html>",
            b"",
        ] {
            assert_eq!(
                error_code(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    proptest! {
        #[test]
        fn any_body_gives_a_code_of_okta_s_shape_or_none(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(code) = error_code(&body) {
                prop_assert_eq!(code.len(), 8);
                prop_assert!(code.starts_with('E'));
            }
        }

        #[test]
        fn any_code_in_an_error_object_is_kept_only_when_okta_shaped(code in "\\PC{0,12}") {
            let body = serde_json::json!({"errorCode": code, "errorSummary": "x"}).to_string();
            let kept = error_code(body.as_bytes());
            let shaped = code.len() == 8
                && code.starts_with('E')
                && code[1..].bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(kept.is_some(), shaped);
        }
    }
}
