//! The simulated provider's user directory, for response actions: users that can be
//! suspended and unsuspended with the state rules of an identity provider (Okta's: only an
//! active user can be suspended, only a suspended one unsuspended, a deprovisioned one
//! neither), each action call counted against the provider's rate window like any call.

use std::collections::{BTreeMap, VecDeque};

use serde_json::json;
use ucp_core::{ActionInfo, ActionOutcome, ActionPlan, ActionRequest, PlannedRequest, SourceError};

/// A user's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// Can sign in.
    Active,
    /// Suspended by an administrator or an action.
    Suspended,
    /// Removed for good.
    Deprovisioned,
}

/// A fault an action call returns instead of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionFault {
    /// A temporary failure (like a 503).
    Unavailable,
    /// The credential is refused (like a 403).
    Forbidden,
}

/// The users and the actions performed on them.
#[derive(Debug, Default)]
pub(super) struct Directory {
    pub users: BTreeMap<String, UserStatus>,
    pub faults: VecDeque<ActionFault>,
    /// Calls that reached the directory (after the rate window let them through).
    pub calls: u64,
}

pub(super) const SUSPEND: &str = "suspend_user";
pub(super) const UNSUSPEND: &str = "unsuspend_user";

/// The actions the simulated provider offers.
pub(super) fn actions() -> Vec<ActionInfo> {
    let schema = json!({
        "type": "object",
        "required": ["user_id"],
        "properties": {"user_id": {"type": "string", "minLength": 1}},
        "additionalProperties": false
    });
    vec![
        ActionInfo::new(SUSPEND, "Suspend an active user", schema.clone())
            .idempotent()
            .permission("users.manage"),
        ActionInfo::new(UNSUSPEND, "Unsuspend a suspended user", schema)
            .idempotent()
            .permission("users.manage"),
    ]
}

/// The user a request names, or a configuration error saying what is wrong.
pub(super) fn user_of(request: &ActionRequest) -> Result<String, SourceError> {
    request
        .parameters
        .get("user_id")
        .and_then(|v| v.as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| SourceError::Config {
            message: format!(
                "action '{}' needs a non-empty string parameter user_id",
                request.action
            ),
        })
}

/// What an action would send.
pub(super) fn plan(account: &str, request: &ActionRequest) -> Result<ActionPlan, SourceError> {
    let user = user_of(request)?;
    let verb = match request.action.as_str() {
        SUSPEND => "suspend",
        UNSUSPEND => "unsuspend",
        other => {
            return Err(SourceError::Config {
                message: format!("no action '{other}'"),
            })
        }
    };
    Ok(ActionPlan {
        summary: format!("{verb} user {user} of {account}"),
        requests: vec![PlannedRequest {
            method: "POST".into(),
            url: format!("https://{account}/api/v1/users/{user}/lifecycle/{verb}"),
            body: None,
        }],
    })
}

impl Directory {
    /// Perform one action call.
    pub fn act(
        &mut self,
        account: &str,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, SourceError> {
        self.calls += 1;
        if let Some(fault) = self.faults.pop_front() {
            return Err(match fault {
                ActionFault::Unavailable => SourceError::Retryable {
                    message: format!("{account}: service unavailable"),
                    retry_after: None,
                },
                ActionFault::Forbidden => SourceError::Auth {
                    message: format!("{account}: the credential may not manage users"),
                },
            });
        }
        let user = user_of(request)?;
        let Some(status) = self.users.get_mut(&user) else {
            return Ok(ActionOutcome::Refused {
                reason: format!("{account} has no user {user}"),
            });
        };
        let detail = |status: UserStatus| json!({"user_id": user, "status": format!("{status:?}")});
        let (from, to) = match request.action.as_str() {
            SUSPEND => (UserStatus::Active, UserStatus::Suspended),
            UNSUSPEND => (UserStatus::Suspended, UserStatus::Active),
            other => {
                return Err(SourceError::Config {
                    message: format!("no action '{other}'"),
                })
            }
        };
        Ok(if *status == to {
            ActionOutcome::AlreadyDone { detail: detail(to) }
        } else if *status == from {
            *status = to;
            ActionOutcome::Done { detail: detail(to) }
        } else {
            ActionOutcome::Refused {
                reason: format!(
                    "user {user} is {status:?}: the action is not allowed in that state"
                ),
            }
        })
    }
}
