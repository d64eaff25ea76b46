//! Performing an Okta response action ([`UserAction`]): one call through the source's
//! credential for the action scope ([`Purpose::Act`]), its answer judged by
//! [`UserAction::judge`], and the read-back that tells "already done" from "refused" after a
//! 400 `E0000001`.

use reqwest::{Method, StatusCode};
use ucp_core::{ActionOutcome, ActionRequest, ErrorClass, SourceContext, SourceError};

use super::actions::{printable, user_status, user_url, UserAction, Verdict};
use super::failure::said;
use super::request::{CallError, Purpose, Refusal};
use super::OktaSource;

impl OktaSource {
    /// The action `request` asks for, or a configuration error naming the org and what to
    /// fix.
    pub(crate) fn user_action(&self, request: &ActionRequest) -> Result<UserAction, SourceError> {
        UserAction::parse(request).map_err(|why| SourceError::Config {
            message: format!(
                "Okta org {}, action '{}': {why}",
                self.org_name,
                printable(&request.action)
            ),
        })
    }

    /// Perform `action`: one call (the platform drew its permit), and a read-back when Okta
    /// refuses a suspend or unsuspend with 400 `E0000001`.
    pub(crate) async fn perform(
        &self,
        cx: &SourceContext,
        action: &UserAction,
    ) -> Result<ActionOutcome, SourceError> {
        let url = action.url(&self.org);
        let refusal = match self.call(cx, action.method(), &url, Purpose::Act).await {
            Ok(exchange) => return Ok(action.done(exchange.request_id.as_deref())),
            Err(CallError::Failed(error)) => return Err(error),
            Err(CallError::Refused(refusal)) => refusal,
        };
        let scope = &self.config.action_scope;
        match action.judge(&refusal, &self.org_name, &self.config.auth, scope) {
            Verdict::Outcome(outcome) => Ok(outcome),
            Verdict::Error(error) => Err(error),
            Verdict::ReadBack => self.read_back(cx, action, &refusal).await,
        }
    }

    /// Read the user Okta refused to suspend (or unsuspend), on a permit of its own ahead of
    /// collection: already in the asked status, or refused naming the status. A temporary
    /// failure of the read is the action's (the platform retries the whole action, which
    /// changes nothing at Okta while it is refused).
    async fn read_back(
        &self,
        cx: &SourceContext,
        action: &UserAction,
        refusal: &Refusal,
    ) -> Result<ActionOutcome, SourceError> {
        cx.budget().acquire_urgent().await;
        let url = user_url(&self.org, &action.user);
        let read = match self.call(cx, Method::GET, &url, Purpose::Act).await {
            Ok(read) => read,
            Err(CallError::Refused(missing)) if missing.is(StatusCode::NOT_FOUND, "E0000007") => {
                return Ok(ActionOutcome::Refused {
                    reason: format!(
                        "Okta org {} has no user {} ({})",
                        self.org_name,
                        action.user,
                        said(&missing.failure)
                    ),
                })
            }
            Err(CallError::Refused(other)) => {
                let what = format!("Okta org {}, reading user {}", self.org_name, action.user);
                let error = other.failure.source_error(&what);
                return match error.class() {
                    ErrorClass::Permanent => Ok(action.unread(refusal, &error.to_string())),
                    _ => Err(error),
                };
            }
            Err(CallError::Failed(error)) => {
                return match error.class() {
                    ErrorClass::Permanent => Ok(action.unread(refusal, &error.to_string())),
                    _ => Err(error),
                }
            }
        };
        Ok(match user_status(&read.body) {
            Ok(status) => action.after_read_back(&status, refusal, read.request_id.as_deref()),
            Err(why) => action.unread(refusal, &format!("{why}{}", read.request_id_text())),
        })
    }
}
