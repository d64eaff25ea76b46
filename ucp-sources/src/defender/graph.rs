//! One authenticated call to Microsoft Graph: the app's token from the platform's token
//! provider (drawn from the tenant's budget), `client-request-id` on every request as the
//! Graph SDKs send it, a fresh token once after a 401, and every failure turned into the
//! [`SourceError`] it means, in words that name the tenant, the call and what to do.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use ucp_core::credentials::token::{AccessToken, Attempt, TokenError, TokenRequest};
use ucp_core::http::{self, FailureKind, HttpFailure};
use ucp_core::{SourceContext, SourceError};

use super::config::GRAPH_SCOPE;

/// Graph's `client-request-id` header (the SDKs' name; the kit's `x-ms-` form is Azure's).
const CLIENT_REQUEST_ID: &str = "client-request-id";

/// Which Graph call is made, for messages and for the permission it needs.
#[derive(Clone, Debug)]
pub(crate) enum Call {
    /// `GET /security/incidents`.
    Incidents,
    /// `GET /security/alerts_v2`.
    Alerts,
    /// `POST /security/runHuntingQuery` on `table` with `query`.
    Hunting {
        /// The table.
        table: String,
        /// The KQL sent.
        query: String,
    },
    /// `GET /security/incidents/{id}`.
    Incident,
    /// `PATCH /security/incidents/{id}`.
    UpdateIncident,
    /// `POST /security/incidents/{id}/comments`.
    CommentIncident,
}

impl Call {
    fn endpoint(&self) -> &'static str {
        match self {
            Call::Incidents => "GET /security/incidents",
            Call::Alerts => "GET /security/alerts_v2",
            Call::Hunting { .. } => "POST /security/runHuntingQuery",
            Call::Incident => "GET /security/incidents/{id}",
            Call::UpdateIncident => "PATCH /security/incidents/{id}",
            Call::CommentIncident => "POST /security/incidents/{id}/comments",
        }
    }

    /// The least application permission that allows the call.
    pub(crate) fn permission(&self) -> &'static str {
        match self {
            Call::Incidents | Call::Incident => "SecurityIncident.Read.All",
            Call::Alerts => "SecurityAlert.Read.All",
            Call::Hunting { .. } => "ThreatHunting.Read.All",
            Call::UpdateIncident | Call::CommentIncident => "SecurityIncident.ReadWrite.All",
        }
    }
}

/// The pieces of a Graph call every source of the module shares.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    /// The tenant (directory) id, for messages.
    pub tenant: String,
    /// The credential's name.
    pub credential: String,
    /// The request timeout, if any.
    pub timeout: Option<Duration>,
}

impl Graph {
    /// `Microsoft Graph (tenant …)`, the subject of every message.
    pub fn what(&self) -> String {
        format!("Microsoft Graph for tenant {}", self.tenant)
    }

    /// One call: `method url` with `body` (JSON) if any; the response body on success.
    pub async fn send(
        &self,
        cx: &SourceContext,
        call: &Call,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Bytes, SourceError> {
        self.send_to(cx, call, method, url, body, false)
            .await?
            .ok_or_else(|| SourceError::Permanent {
                message: format!("{}: {} answered 404", self.what(), call.endpoint()),
            })
    }

    /// Like [`send`](Self::send), with a 404 answered as `None` (the item does not exist).
    pub async fn send_or_missing(
        &self,
        cx: &SourceContext,
        call: &Call,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Option<Bytes>, SourceError> {
        self.send_to(cx, call, method, url, body, true).await
    }

    async fn send_to(
        &self,
        cx: &SourceContext,
        call: &Call,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
        missing_ok: bool,
    ) -> Result<Option<Bytes>, SourceError> {
        let request = TokenRequest::named(cx.credentials(), &self.credential, GRAPH_SCOPE)
            .with_budget(cx.budget().clone());
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
                        // The scheduler paid for the first attempt only.
                        cx.budget().acquire().await;
                    }
                    self.exchange(cx, call, method, url, body, &token, missing_ok)
                        .await
                }
            })
            .await;
        outcome.unwrap_or_else(|error| Err(self.token_error(error)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        cx: &SourceContext,
        call: &Call,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
        token: &AccessToken,
        missing_ok: bool,
    ) -> Attempt<Result<Option<Bytes>, SourceError>> {
        let what = self.what();
        let mut request = cx
            .http()
            .request(method, url.clone())
            .bearer_auth(token.secret().expose_secret())
            .header(CLIENT_REQUEST_ID, http::client_request_id())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = body {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(body);
        }
        tracing::debug!(tenant = %self.tenant, endpoint = call.endpoint(), "graph request");
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Done(Err(http::transport_source_error(&what, e))),
        };
        let received = cx.clock().now_utc();
        if response.status() == StatusCode::UNAUTHORIZED {
            return Attempt::Unauthorized;
        }
        if missing_ok && response.status() == StatusCode::NOT_FOUND {
            return Attempt::Done(Ok(None));
        }
        if !response.status().is_success() {
            let failure = HttpFailure::from_response(response, received).await;
            return Attempt::Done(Err(self.failure_error(call, &failure)));
        }
        Attempt::Done(
            response
                .bytes()
                .await
                .map(Some)
                .map_err(|e| http::transport_source_error(&what, e)),
        )
    }

    /// A refused call, as the error it means.
    pub(crate) fn failure_error(&self, call: &Call, failure: &HttpFailure) -> SourceError {
        let what = self.what();
        let missing_roles = failure
            .summary
            .as_deref()
            .is_some_and(|s| s.contains("Missing application roles"));
        match (failure.kind, call) {
            (FailureKind::Forbidden, _) if missing_roles => {
                let permission = call.permission();
                SourceError::Auth {
                    message: format!(
                        "{what} refused {} ({failure}): the app behind credential '{}' lacks the application permission {permission}. Grant it: Entra admin center → App registrations → the app → API permissions → Add a permission → Microsoft Graph → Application permissions → {permission}, then 'Grant admin consent'",
                        call.endpoint(),
                        self.credential
                    ),
                }
            }
            (FailureKind::BadRequest, Call::Hunting { table, query }) => SourceError::Config {
                message: format!(
                    "{what} refused the hunting query on table {table} ({failure}): the query was `{query}`; check that the table is available in the tenant (its Defender product deployed) and the source's window settings"
                ),
            },
            _ => failure.source_error(&what),
        }
    }

    /// A failure to get a token, as the error it means.
    fn token_error(&self, error: TokenError) -> SourceError {
        let message = format!(
            "{}: no access token for credential '{}' (scope {GRAPH_SCOPE}): {error}",
            self.what(),
            self.credential
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn failure(status: u16, body: &str) -> HttpFailure {
        HttpFailure::new(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            chrono::Utc::now(),
        )
    }

    fn graph() -> Graph {
        Graph {
            tenant: "t1".into(),
            credential: "graph-app".into(),
            timeout: None,
        }
    }

    #[test]
    fn missing_roles_name_the_permission_to_grant() {
        let body = r#"{"error":{"code":"Forbidden","message":"Missing application roles. API required roles: ThreatHunting.Read.All, application roles: SecurityIncident.Read.All."}}"#;
        let call = Call::Hunting {
            table: "EmailEvents".into(),
            query: "EmailEvents".into(),
        };
        match graph().failure_error(&call, &failure(403, body)) {
            SourceError::Auth { message } => {
                assert!(message.contains("ThreatHunting.Read.All"), "{message}");
                assert!(message.contains("Grant admin consent"), "{message}");
                assert!(message.contains("graph-app"), "{message}");
                assert!(message.contains("Missing application roles"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refused_hunting_query_names_its_table_and_query() {
        let call = Call::Hunting {
            table: "CloudAppEvents".into(),
            query: "CloudAppEvents | take 1".into(),
        };
        let body = r#"{"error":{"code":"BadRequest","message":"Failed to resolve table or column expression named 'CloudAppEvents'"}}"#;
        match graph().failure_error(&call, &failure(400, body)) {
            SourceError::Config { message } => {
                assert!(message.contains("table CloudAppEvents"), "{message}");
                assert!(message.contains("`CloudAppEvents | take 1`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // The same status on a list is a configuration error of its own kind.
        assert!(matches!(
            graph().failure_error(&Call::Incidents, &failure(400, "{}")),
            SourceError::Config { .. }
        ));
        assert!(matches!(
            graph().failure_error(&Call::Alerts, &failure(503, "{}")),
            SourceError::Retryable { .. }
        ));
    }
}
