//! Response actions: operations a connector performs at its provider on a product's behalf —
//! suspend a user, clear their sessions, resolve an incident — through the same credentials,
//! token provider and rate budget as its collection.
//!
//! A source declares its actions ([`crate::Source::actions`]), says what one would send without
//! sending it ([`crate::Source::plan_action`], the dry run) and performs it
//! ([`crate::Source::act`]): one call, no retrying, like `collect`. The platform runs it
//! ([`crate::RunningPlatform::act`]): a permit from the account's budget ahead of any waiting
//! collection call, a timeout per attempt, bounded retries of temporary failures, one execution
//! per idempotency key, and health.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An action a connector offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionInfo {
    /// Its name, e.g. `suspend_user`.
    pub name: String,
    /// One line for people.
    pub description: String,
    /// The JSON Schema of its parameters.
    pub parameters: serde_json::Value,
    /// Doing it twice has the effect of doing it once (the platform may retry it freely).
    pub idempotent: bool,
    /// What the connector's credential needs at the provider, e.g. `okta.users.manage`.
    pub permission: String,
}

impl ActionInfo {
    /// An action with its name, description and parameter schema; not idempotent and needing
    /// no named permission until said otherwise.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        ActionInfo {
            name: name.into(),
            description: description.into(),
            parameters,
            idempotent: false,
            permission: String::new(),
        }
    }

    /// Doing it twice has the effect of doing it once.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// The permission the connector's credential needs.
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.permission = permission.into();
        self
    }
}

/// One action to perform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// The action's name.
    pub action: String,
    /// Its parameters (checked against the action's schema by the connector).
    pub parameters: serde_json::Value,
}

impl ActionRequest {
    /// A request for `action` with `parameters`.
    pub fn new(action: impl Into<String>, parameters: serde_json::Value) -> Self {
        ActionRequest {
            action: action.into(),
            parameters,
        }
    }
}

/// What an action did at the provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActionOutcome {
    /// Done.
    Done {
        /// What the provider answered, in a few fields (never a secret).
        detail: serde_json::Value,
    },
    /// Nothing to do: the target was already in the asked state.
    AlreadyDone {
        /// What the provider answered.
        detail: serde_json::Value,
    },
    /// The provider refused it for a reason retrying will not change (the user is not
    /// active, the incident does not exist…).
    Refused {
        /// Why, in the provider's words and ours.
        reason: String,
    },
}

/// What an action would send, from a dry run: validated, nothing sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionPlan {
    /// One line for people: what would happen.
    pub summary: String,
    /// The requests it would send, in order.
    pub requests: Vec<PlannedRequest>,
}

/// One request an action would send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRequest {
    /// HTTP method.
    pub method: String,
    /// The URL (never with a secret in it).
    pub url: String,
    /// The body, if any.
    pub body: Option<serde_json::Value>,
}

/// How the platform runs one action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActOptions {
    /// The same key twice performs the action once; the second call gets the first's result.
    pub idempotency_key: Option<String>,
    /// Each attempt without an answer by then counts as a temporary failure.
    pub attempt_timeout: Duration,
    /// Attempts in all for temporary failures and throttling (at least one).
    pub max_attempts: u32,
}

impl Default for ActOptions {
    fn default() -> Self {
        ActOptions {
            idempotency_key: None,
            attempt_timeout: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

impl ActOptions {
    /// Perform the action once per `key`.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// The result of [`crate::RunningPlatform::act`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// What the action did.
    pub outcome: ActionOutcome,
    /// Calls made to the provider for it (0 when replayed from its idempotency key).
    pub attempts: u32,
    /// The result of an earlier call with the same idempotency key.
    pub replayed: bool,
}

/// Why an action could not be performed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// No source instance of that name.
    #[error("no source named '{0}' is registered")]
    UnknownSource(String),
    /// The source does not offer the action.
    #[error("source '{source_name}' offers no action '{action}' (it offers: {offered})")]
    UnknownAction {
        /// The source.
        source_name: String,
        /// The action asked for.
        action: String,
        /// What it offers.
        offered: String,
    },
    /// The action failed for good (bad parameters, credential refused…), or kept failing.
    #[error("action '{action}' of '{source_name}' failed: {message}; what to do: {what_to_do}")]
    Failed {
        /// The source.
        source_name: String,
        /// The action.
        action: String,
        /// What happened (never a secret).
        message: String,
        /// What a person should do.
        what_to_do: String,
    },
}
