//! Okta response actions: suspend or unsuspend a user, clear their sessions (revoking their
//! OAuth tokens too, if asked), reset their factors. Each is one call to the org's users API
//! through the source's credential (for a service app, a token of the action scope, default
//! [`USERS_MANAGE_SCOPE`]); the platform draws its permit from the org's budget ahead of
//! collection and retries temporary failures.
//!
//! | action | request | done | already done | refused |
//! |---|---|---|---|---|
//! | `suspend_user` | `POST /api/v1/users/{id}/lifecycle/suspend` | 200 | 400 `E0000001`, user reads `SUSPENDED` | 404 `E0000007`; 400 `E0000001`, any other status |
//! | `unsuspend_user` | `POST /api/v1/users/{id}/lifecycle/unsuspend` | 200 | 400 `E0000001`, user reads `ACTIVE` | 404; 400 `E0000001`, any other status |
//! | `clear_user_sessions` | `DELETE /api/v1/users/{id}/sessions[?oauthTokens=true]` | 204 | — | 404 |
//! | `reset_factors` | `POST /api/v1/users/{id}/lifecycle/reset_factors` | 200 | — | 404; 403 `E0000038` |
//!
//! **How "already done" is known.** Okta answers a suspend of any user who is not `ACTIVE`
//! with the same 400 `E0000001`, so on that answer, and only then, the user is read back
//! (`GET /api/v1/users/{id}`, one more call on an urgent permit of its own): `SUSPENDED`
//! means already done, anything else (`DEPROVISIONED`, `STAGED`…) a refusal naming the
//! status. Reading first would cost every action two calls and two permits, and the status
//! read could be stale by the time the suspend arrives; reading after a refusal costs the
//! extra call only when Okta said no. Unsuspend is the mirror image.
//!
//! Other answers: 403 `E0000038` ("not allowed in the user's current status") is a refusal,
//! not a credential problem; any other 401 or 403 (`E0000006`) is [`SourceError::Auth`]
//! naming the scope and admin role the credential needs; 429 is
//! [`SourceError::RateLimited`] with Okta's reset; 5xx and 408 are retryable; a 404 without
//! `E0000007` means no Okta org at that URL ([`SourceError::Config`]). Parameters are checked
//! before anything is sent: a user id is 1 to 64 ASCII letters and digits (Okta's ids are 20;
//! a login would need a lookup first, and nothing else can reach the URL path).

use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Map, Value};
use ucp_core::{ActionInfo, ActionOutcome, ActionPlan, ActionRequest, PlannedRequest, SourceError};

use super::config::OktaAuth;
use super::failure::said;
use super::request::Refusal;

/// `suspend_user`: `ACTIVE` → `SUSPENDED`.
pub const SUSPEND_USER: &str = "suspend_user";
/// `unsuspend_user`: `SUSPENDED` → `ACTIVE`.
pub const UNSUSPEND_USER: &str = "unsuspend_user";
/// `clear_user_sessions`: end the user's identity-provider sessions (and OAuth tokens).
pub const CLEAR_USER_SESSIONS: &str = "clear_user_sessions";
/// `reset_factors`: unenroll every MFA factor of the user.
pub const RESET_FACTORS: &str = "reset_factors";
/// The scope an OAuth service app needs for the actions (the default action scope).
pub const USERS_MANAGE_SCOPE: &str = "okta.users.manage";

/// The longest user id accepted.
const MAX_USER_ID: usize = 64;

/// Which operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Suspend,
    Unsuspend,
    ClearSessions { revoke_oauth_tokens: bool },
    ResetFactors,
}

/// One action on one user, its parameters checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserAction {
    pub operation: Operation,
    pub user: String,
}

/// The actions, their parameters' JSON Schema and the permission they need (`permission`:
/// the configured action scope).
pub(crate) fn catalogue(permission: &str) -> Vec<ActionInfo> {
    let user_only = json!({
        "type": "object",
        "required": ["user_id"],
        "properties": {"user_id": user_id_schema()},
        "additionalProperties": false
    });
    let sessions = json!({
        "type": "object",
        "required": ["user_id"],
        "properties": {
            "user_id": user_id_schema(),
            "revoke_oauth_tokens": {
                "type": "boolean",
                "default": false,
                "description": "Also revoke the OpenID Connect and OAuth refresh and access tokens issued to the user"
            }
        },
        "additionalProperties": false
    });
    // Each is idempotent: a second suspend finds the user suspended (already done), a
    // second clear or reset leaves nothing more to clear.
    vec![
        ActionInfo::new(
            SUSPEND_USER,
            "Suspend an ACTIVE Okta user: they cannot sign in until unsuspended, and keep their group and app assignments",
            user_only.clone(),
        ),
        ActionInfo::new(
            UNSUSPEND_USER,
            "Unsuspend a SUSPENDED Okta user: they are ACTIVE again",
            user_only.clone(),
        ),
        ActionInfo::new(
            CLEAR_USER_SESSIONS,
            "End every identity-provider session of an Okta user, and optionally revoke their OAuth tokens (web and native app sessions are not ended)",
            sessions,
        ),
        ActionInfo::new(
            RESET_FACTORS,
            "Unenroll every MFA factor of an Okta user; the user stays ACTIVE and enrolls again at the next sign-in",
            user_only,
        ),
    ]
    .into_iter()
    .map(|info| info.idempotent().permission(permission))
    .collect()
}

fn user_id_schema() -> Value {
    json!({
        "type": "string",
        "pattern": "^[A-Za-z0-9]{1,64}$",
        "description": "The Okta user id, e.g. 00ub0oNGTSWTBKOLGLNR"
    })
}

impl UserAction {
    /// The action `request` asks for, or why it cannot be sent.
    pub fn parse(request: &ActionRequest) -> Result<UserAction, String> {
        let allowed: &[&str] = match request.action.as_str() {
            SUSPEND_USER | UNSUSPEND_USER | RESET_FACTORS => &["user_id"],
            CLEAR_USER_SESSIONS => &["user_id", "revoke_oauth_tokens"],
            other => {
                return Err(format!(
                    "no action '{}' (it offers: {SUSPEND_USER}, {UNSUSPEND_USER}, {CLEAR_USER_SESSIONS}, {RESET_FACTORS})",
                    printable(other)
                ))
            }
        };
        let empty = Map::new();
        let parameters = match &request.parameters {
            Value::Object(map) => map,
            Value::Null => &empty,
            _ => return Err("its parameters must be a JSON object, e.g. {\"user_id\": \"00ub0oNGTSWTBKOLGLNR\"}".into()),
        };
        if let Some(unknown) = parameters.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "unknown parameter '{}' (it takes: {})",
                printable(unknown),
                allowed.join(", ")
            ));
        }
        let user = match parameters.get("user_id") {
            None => return Err("parameter user_id is missing: give the Okta user id".into()),
            Some(Value::String(id)) => user_id(id)?,
            Some(_) => return Err("parameter user_id must be a string".into()),
        };
        let operation = match request.action.as_str() {
            SUSPEND_USER => Operation::Suspend,
            UNSUSPEND_USER => Operation::Unsuspend,
            RESET_FACTORS => Operation::ResetFactors,
            _ => Operation::ClearSessions {
                revoke_oauth_tokens: match parameters.get("revoke_oauth_tokens") {
                    None => false,
                    Some(Value::Bool(revoke)) => *revoke,
                    Some(_) => {
                        return Err("parameter revoke_oauth_tokens must be true or false".into())
                    }
                },
            },
        };
        Ok(UserAction { operation, user })
    }

    /// The action's name.
    pub fn name(&self) -> &'static str {
        match self.operation {
            Operation::Suspend => SUSPEND_USER,
            Operation::Unsuspend => UNSUSPEND_USER,
            Operation::ClearSessions { .. } => CLEAR_USER_SESSIONS,
            Operation::ResetFactors => RESET_FACTORS,
        }
    }

    /// The request's method.
    pub fn method(&self) -> Method {
        match self.operation {
            Operation::ClearSessions { .. } => Method::DELETE,
            _ => Method::POST,
        }
    }

    /// The request's URL at `org`.
    pub fn url(&self, org: &Url) -> Url {
        let mut url = user_url(org, &self.user);
        let tail: &[&str] = match self.operation {
            Operation::Suspend => &["lifecycle", "suspend"],
            Operation::Unsuspend => &["lifecycle", "unsuspend"],
            Operation::ResetFactors => &["lifecycle", "reset_factors"],
            Operation::ClearSessions { .. } => &["sessions"],
        };
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(tail);
        }
        if let Operation::ClearSessions {
            revoke_oauth_tokens: true,
        } = self.operation
        {
            url.query_pairs_mut().append_pair("oauthTokens", "true");
        }
        url
    }

    /// "suspend user 00u…", for sentences.
    pub fn describe(&self) -> String {
        let user = &self.user;
        match self.operation {
            Operation::Suspend => format!("suspend user {user}"),
            Operation::Unsuspend => format!("unsuspend user {user}"),
            Operation::ClearSessions {
                revoke_oauth_tokens: false,
            } => format!("clear the sessions of user {user}"),
            Operation::ClearSessions {
                revoke_oauth_tokens: true,
            } => format!("clear the sessions and revoke the OAuth tokens of user {user}"),
            Operation::ResetFactors => format!("reset the factors of user {user}"),
        }
    }

    /// What the action would send to `org` (named `org_name`).
    pub fn plan(&self, org: &Url, org_name: &str) -> ActionPlan {
        let mut summary = format!("{} in Okta org {org_name}", self.describe());
        if matches!(self.operation, Operation::Suspend | Operation::Unsuspend) {
            summary.push_str(&format!(
                "; if Okta refuses because of the user's status, GET {} reads it",
                user_url(org, &self.user)
            ));
        }
        ActionPlan {
            summary,
            requests: vec![PlannedRequest {
                method: self.method().to_string(),
                url: self.url(org).to_string(),
                body: None,
            }],
        }
    }

    /// Whether a 400 `E0000001` is answered by reading the user back.
    fn reads_back(&self) -> bool {
        matches!(self.operation, Operation::Suspend | Operation::Unsuspend)
    }

    /// The outcome of a success answer.
    pub fn done(&self, request_id: Option<&str>) -> ActionOutcome {
        let mut detail = json!({"user_id": self.user});
        match self.operation {
            Operation::Suspend => detail["status"] = "SUSPENDED".into(),
            Operation::Unsuspend => detail["status"] = "ACTIVE".into(),
            Operation::ClearSessions {
                revoke_oauth_tokens,
            } => {
                detail["sessions_cleared"] = true.into();
                detail["oauth_tokens_revoked"] = revoke_oauth_tokens.into();
            }
            Operation::ResetFactors => detail["factors_reset"] = true.into(),
        }
        if let Some(id) = request_id {
            detail["okta_request_id"] = id.into();
        }
        ActionOutcome::Done { detail }
    }

    /// What Okta's error answer means for this action. `org` names the org, `auth` and
    /// `scope` say which credential and scope to check after a refusal of the credential.
    pub fn judge(&self, refusal: &Refusal, org: &str, auth: &OktaAuth, scope: &str) -> Verdict {
        let status = refusal.failure.status;
        let said = said(&refusal.failure);
        if refusal.is(StatusCode::NOT_FOUND, "E0000007") {
            return Verdict::Outcome(ActionOutcome::Refused {
                reason: format!("Okta org {org} has no user {} ({said})", self.user),
            });
        }
        if refusal.is(StatusCode::BAD_REQUEST, "E0000001") && self.reads_back() {
            return Verdict::ReadBack;
        }
        if status == StatusCode::BAD_REQUEST {
            return Verdict::Outcome(ActionOutcome::Refused {
                reason: format!("Okta org {org} refused to {} ({said})", self.describe()),
            });
        }
        if refusal.is(StatusCode::FORBIDDEN, "E0000038") {
            return Verdict::Outcome(ActionOutcome::Refused {
                reason: format!(
                    "Okta org {org} does not allow to {} in the user's current status ({said})",
                    self.describe()
                ),
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Verdict::Error(SourceError::Auth {
                message: format!(
                    "Okta org {org} refused the {} to {} ({said}): {}",
                    auth.describe(),
                    self.describe(),
                    what_to_check(auth, scope, status)
                ),
            });
        }
        // 429 → RateLimited with the reset, 5xx and 408 → Retryable, a 404 without Okta's
        // code → Config, anything else → Permanent.
        Verdict::Error(
            refusal
                .failure
                .source_error(&format!("Okta org {org}, action {}", self.name())),
        )
    }

    /// The outcome once the user refused with 400 `E0000001` reads `status` (GET answered
    /// with `read_id`).
    pub fn after_read_back(
        &self,
        status: &str,
        refusal: &Refusal,
        read_id: Option<&str>,
    ) -> ActionOutcome {
        let (wanted, only) = match self.operation {
            Operation::Suspend => ("SUSPENDED", "only an ACTIVE user can be suspended"),
            _ => ("ACTIVE", "only a SUSPENDED user can be unsuspended"),
        };
        if status == wanted {
            let mut detail = json!({"user_id": self.user, "status": status});
            if let Some(id) = read_id {
                detail["okta_request_id"] = id.into();
            }
            return ActionOutcome::AlreadyDone { detail };
        }
        ActionOutcome::Refused {
            reason: format!(
                "user {} is {status}: {only} ({})",
                self.user,
                said(&refusal.failure)
            ),
        }
    }

    /// The outcome when the user refused with 400 `E0000001` could not be read back for a
    /// reason retrying will not change (`why`).
    pub fn unread(&self, refusal: &Refusal, why: &str) -> ActionOutcome {
        ActionOutcome::Refused {
            reason: format!(
                "Okta refused to {} ({}) and the user's status could not be read back: {why}",
                self.describe(),
                said(&refusal.failure)
            ),
        }
    }
}

/// What an error answer means.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A clear result.
    Outcome(ActionOutcome),
    /// Read the user to tell "already done" from "refused".
    ReadBack,
    /// An error for the platform (retried if temporary).
    Error(SourceError),
}

/// `{org}/api/v1/users/{user}`.
pub(crate) fn user_url(org: &Url, user: &str) -> Url {
    let mut url = org.clone();
    url.set_path("");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.clear().extend(["api", "v1", "users", user]);
    }
    url
}

/// A user id, or why it is not one.
fn user_id(id: &str) -> Result<String, String> {
    if id.is_empty() || id.len() > MAX_USER_ID || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "parameter user_id '{}' is not an Okta user id: 1 to {MAX_USER_ID} letters and digits, e.g. 00ub0oNGTSWTBKOLGLNR (a login must be looked up first)",
            printable(id)
        ));
    }
    Ok(id.to_string())
}

/// The `status` of a user as `GET /api/v1/users/{id}` returns it: Okta's upper-case name
/// (`ACTIVE`, `SUSPENDED`, `DEPROVISIONED`…; any such name is kept, new ones included), or
/// why the body has none.
pub(crate) fn user_status(body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct User {
        status: Option<Value>,
    }
    let user: User =
        serde_json::from_slice(body).map_err(|e| format!("the user is not a JSON object ({e})"))?;
    match user.status {
        Some(Value::String(status))
            if (1..=40).contains(&status.len())
                && status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            Ok(status)
        }
        Some(_) => Err("the user's status is not one of Okta's status names".into()),
        None => Err("the user has no status".into()),
    }
}

/// What to check after Okta refused the credential (401) or the action (403).
fn what_to_check(auth: &OktaAuth, scope: &str, status: StatusCode) -> String {
    let credential = auth.credential();
    match (auth, status == StatusCode::UNAUTHORIZED) {
        (OktaAuth::OAuth { .. }, true) => format!(
            "check that the service app behind credential '{credential}' is active in this org"
        ),
        (_, true) => format!(
            "check that credential '{credential}' holds a current, unrevoked {} of this org",
            auth.describe()
        ),
        (OktaAuth::OAuth { .. }, false) => format!(
            "check that the service app behind credential '{credential}' is granted the {USERS_MANAGE_SCOPE} scope (the source asks for: {scope}, OktaConfig::action_scope) and an admin role that may manage users, e.g. Organization Administrator"
        ),
        (_, false) => format!(
            "check that the admin behind credential '{credential}' holds a role that may manage users ({USERS_MANAGE_SCOPE}: Organization Administrator, Super Administrator or a custom role with user lifecycle permissions); a read-only administrator's token cannot act"
        ),
    }
}

/// At most 80 characters of `text` that came from a request, on one line, for a message.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .take(80)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
#[path = "actions_tests.rs"]
mod tests;
