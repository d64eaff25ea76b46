//! What a management operation can answer instead of a result. Every variant says what is
//! wrong and what to do, never contains a secret, and maps to one HTTP status in the API.

use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::EngineError;
use crate::model::Role;
use crate::store::StoreError;

/// One thing wrong with a request, naming its field (`config.page_limit`, `products[0]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// The field, as a dotted path into the request body (or `body`).
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl Problem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A prerequisite of a definition that the instance does not meet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnmetPrerequisite {
    /// The prerequisite's id.
    pub id: String,
    /// What it requires.
    pub description: String,
    /// What the check found, and what to do.
    pub message: String,
}

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManageError {
    /// No or unusable credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// The principal's role in the tenant is too low.
    #[error("{action} needs the {} role in tenant '{tenant}'; you have {}", needed.as_str(), have.as_str())]
    Forbidden {
        /// The tenant.
        tenant: String,
        /// What was attempted.
        action: String,
        /// The role it needs.
        needed: Role,
        /// The principal's role.
        have: Role,
    },
    /// No such object, or one the principal may not see (the two are not told apart).
    #[error("{0}")]
    NotFound(String),
    /// The request is invalid; each problem names its field.
    #[error("the request is invalid: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// An update did not say which version it changes.
    #[error("send the If-Match header with the ETag of the version you read, so a concurrent change is not overwritten")]
    PreconditionRequired,
    /// An update was based on a stale version.
    #[error("the object changed since you read it (your version {given}, current {current}): read it again and reapply your change")]
    Stale {
        /// The version the request was based on.
        given: u64,
        /// The current version.
        current: u64,
    },
    /// A prerequisite of the definition is not met.
    #[error("prerequisites not met: {}", .0.iter().map(|p| format!("{} ({}): {}", p.id, p.description, p.message)).collect::<Vec<_>>().join("; "))]
    Prerequisites(Vec<UnmetPrerequisite>),
    /// The provider refused a response action for a reason retrying will not change (the
    /// user is not active, the incident does not exist): an answer, not a failure.
    #[error("{0}")]
    ActionRefused(String),
    /// A response action failed at the provider (its credential was refused, it kept
    /// failing); says what to do.
    #[error("{0}")]
    ActionFailed(String),
    /// The running engine refused or failed the change.
    #[error("the platform refused the change: {0}")]
    Engine(#[from] EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A credential store or other dependency failed.
    #[error("{0}")]
    Internal(String),
}

impl ManageError {
    /// One problem with one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ManageError::Invalid(vec![Problem::new(field, message)])
    }

    /// A short machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            ManageError::Unauthenticated(_) => "unauthenticated",
            ManageError::Forbidden { .. } => "forbidden",
            ManageError::NotFound(_) => "not_found",
            ManageError::Invalid(_) => "invalid",
            ManageError::Conflict(_) => "conflict",
            ManageError::PreconditionRequired => "precondition_required",
            ManageError::Stale { .. } => "precondition_failed",
            ManageError::Prerequisites(_) => "prerequisites_not_met",
            ManageError::ActionRefused(_) => "action_refused",
            ManageError::ActionFailed(_) => "action_failed",
            ManageError::Engine(_) => "engine",
            ManageError::Store(StoreError::Conflict(_)) => "conflict",
            ManageError::Store(_) => "store",
            ManageError::Internal(_) => "internal",
        }
    }
}

/// Shorthand for management results.
pub type ManageResult<T> = Result<T, ManageError>;
