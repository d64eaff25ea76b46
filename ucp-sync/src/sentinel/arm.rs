//! One authenticated call to Azure Resource Manager: the app's token for
//! `https://management.azure.com/.default` from the platform's token provider (drawn from
//! the read or write budget), `x-ms-client-request-id` on every request, a fresh token once
//! after a 401, and every refusal turned into the [`SourceError`] it means, naming the
//! workspace, the operation and what to do.

use bytes::Bytes;
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use ucp_core::credentials::token::{AccessToken, Attempt, TokenError, TokenRequest};
use ucp_core::http::{self, FailureKind, HttpFailure};
use ucp_core::{Context, RateBudget, SourceError};

use super::ARM_SCOPE;

/// What a call answered: a body, or one of the statuses a caller handles itself.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 2xx with its status and body.
    Ok(StatusCode, Bytes),
    /// 404.
    NotFound,
    /// 409: the etag sent is stale.
    Conflict,
    /// 400 with ARM's message (a limit, an invalid value).
    Rejected(String),
}

/// Which operation, for messages and the role it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    ReadIncidents,
    WriteIncident,
    ReadComments,
    WriteComment,
    ReadRules,
    WriteRule,
}

impl Op {
    fn describe(self) -> &'static str {
        match self {
            Op::ReadIncidents => "reading incidents",
            Op::WriteIncident => "writing an incident",
            Op::ReadComments => "reading incident comments",
            Op::WriteComment => "writing an incident comment",
            Op::ReadRules => "reading alert rules",
            Op::WriteRule => "changing an alert rule",
        }
    }

    fn role(self) -> &'static str {
        match self {
            Op::ReadIncidents | Op::ReadComments | Op::ReadRules => "Microsoft Sentinel Reader",
            Op::WriteIncident | Op::WriteComment => "Microsoft Sentinel Responder",
            Op::WriteRule => "Microsoft Sentinel Contributor",
        }
    }
}

/// The pieces every ARM call of one client shares.
#[derive(Clone, Debug)]
pub(crate) struct Arm {
    /// `Microsoft Sentinel workspace … (resource group …)`: the subject of messages.
    pub what: String,
    /// The credential's name.
    pub credential: String,
    /// The request timeout, if any.
    pub timeout: Option<std::time::Duration>,
}

impl Arm {
    /// One call of `op`: `method url` with `body` (JSON) if any, after a permit of `budget`.
    pub async fn send(
        &self,
        cx: &Context,
        budget: &std::sync::Arc<RateBudget>,
        op: Op,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Answer, SourceError> {
        budget.acquire().await;
        let request = TokenRequest::named(cx.credentials(), &self.credential, ARM_SCOPE)
            .with_budget(budget.clone());
        let mut attempts = 0u32;
        let outcome = cx
            .tokens()
            .with_token(&request, |token: AccessToken| {
                attempts += 1;
                let again = attempts > 1;
                let method = method.clone();
                let body = body.clone();
                async move {
                    if again {
                        budget.acquire().await;
                    }
                    self.exchange(cx, budget, op, method, url, body, &token)
                        .await
                }
            })
            .await;
        outcome.unwrap_or_else(|error| Err(self.token_error(error)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        cx: &Context,
        budget: &RateBudget,
        op: Op,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
        token: &AccessToken,
    ) -> Attempt<Result<Answer, SourceError>> {
        let mut request = cx
            .http()
            .request(method, url.clone())
            .bearer_auth(token.secret().expose_secret())
            .header(http::CLIENT_REQUEST_ID, http::client_request_id())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Done(Err(http::transport_source_error(&self.what, e))),
        };
        let received = cx.clock().now_utc();
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Attempt::Unauthorized;
        }
        if status.is_success() {
            return Attempt::Done(
                response
                    .bytes()
                    .await
                    .map(|b| Answer::Ok(status, b))
                    .map_err(|e| http::transport_source_error(&self.what, e)),
            );
        }
        let failure = HttpFailure::from_response(response, received).await;
        Attempt::Done(match failure.kind {
            FailureKind::NotFound => Ok(Answer::NotFound),
            _ if status == StatusCode::CONFLICT => Ok(Answer::Conflict),
            FailureKind::BadRequest if status == StatusCode::BAD_REQUEST => Ok(Answer::Rejected(
                failure
                    .summary
                    .clone()
                    .unwrap_or_else(|| failure.to_string()),
            )),
            FailureKind::RateLimited => {
                if let Some(hint) = &failure.hint {
                    budget.throttled(hint);
                }
                Err(failure.source_error(&self.what))
            }
            _ => Err(self.failure_error(op, &failure)),
        })
    }

    /// A refused call, as the error it means.
    pub(crate) fn failure_error(&self, op: Op, failure: &HttpFailure) -> SourceError {
        match failure.kind {
            FailureKind::Forbidden => SourceError::Auth {
                message: format!(
                    "{} refused {} ({failure}): the app behind credential '{}' lacks the Azure role {} on the workspace. Assign it: Azure portal → the Log Analytics workspace → Access control (IAM) → Add role assignment → {} → the app",
                    self.what,
                    op.describe(),
                    self.credential,
                    op.role(),
                    op.role()
                ),
            },
            _ => failure.source_error(&self.what),
        }
    }

    /// A failure to get a token, as the error it means.
    fn token_error(&self, error: TokenError) -> SourceError {
        let message = format!(
            "{}: no access token for credential '{}' (scope {ARM_SCOPE}): {error}",
            self.what, self.credential
        );
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
