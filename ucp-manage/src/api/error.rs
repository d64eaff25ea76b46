//! Every API error is a JSON body with a code and a sentence (and, for invalid requests,
//! the problems by field); the status follows from the error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::EngineError;
use crate::error::{ManageError, Problem, UnmetPrerequisite};
use crate::store::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A machine-readable code: `unauthenticated`, `forbidden`, `not_found`, `invalid`,
    /// `conflict`, `precondition_required`, `precondition_failed`, `prerequisites_not_met`,
    /// `action_refused`, `action_failed`, `payload_too_large`, `unsupported_media_type`,
    /// `method_not_allowed`, `engine`, `store`, `internal`.
    pub code: &'static str,
    /// What is wrong and what to do.
    pub message: String,
    /// For `invalid`: each problem with its field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// For `prerequisites_not_met`: each unmet prerequisite.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<UnmetPrerequisite>,
}

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                problems: Vec::new(),
                prerequisites: Vec::new(),
            },
        }
    }

    /// Its status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its body: the code, the sentence and, for invalid requests, the problems by field.
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl From<ManageError> for ApiError {
    fn from(error: ManageError) -> Self {
        let status = match &error {
            ManageError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ManageError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ManageError::NotFound(_) | ManageError::Store(StoreError::NotFound(_)) => {
                StatusCode::NOT_FOUND
            }
            ManageError::Invalid(_) => StatusCode::BAD_REQUEST,
            ManageError::Conflict(_)
            | ManageError::Store(StoreError::Conflict(_))
            | ManageError::Engine(EngineError::Refused(_) | EngineError::Busy(_)) => {
                StatusCode::CONFLICT
            }
            ManageError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ManageError::Stale { .. } | ManageError::Store(StoreError::Stale { .. }) => {
                StatusCode::PRECONDITION_FAILED
            }
            ManageError::Prerequisites(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ManageError::ActionRefused(_) => StatusCode::CONFLICT,
            ManageError::ActionFailed(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match status {
            StatusCode::CONFLICT if matches!(error, ManageError::ActionRefused(_)) => {
                "action_refused"
            }
            StatusCode::CONFLICT => "conflict",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::PRECONDITION_FAILED => "precondition_failed",
            _ => error.code(),
        };
        let message = match &error {
            // The database's own message names files and internals: it goes to the log.
            ManageError::Store(StoreError::Database { .. } | StoreError::Corrupt { .. }) => {
                tracing::error!(error = %error, "management store failure");
                "the management store failed: the server's log says why; retry later".to_string()
            }
            other => {
                if status.is_server_error() {
                    tracing::error!(error = %other, "management operation failed");
                }
                other.to_string()
            }
        };
        let mut api = ApiError::new(status, code, message);
        match error {
            ManageError::Invalid(problems) => api.body.problems = problems,
            ManageError::Prerequisites(unmet) => api.body.prerequisites = unmet,
            _ => {}
        }
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ucp\""),
            );
        }
        response
    }
}

/// A deserializer's message without the value it quotes: a value sent in the wrong place
/// may be a secret, and the message goes back to the client and may be logged.
///
/// serde words these as `invalid type: string "…", expected …`, `invalid value: …,
/// expected …` and ``unknown variant `…`, expected …``; the value may itself hold quotes or
/// ", expected", so everything between the kind of value and the *last* ", expected" goes.
pub fn scrub(message: &str) -> String {
    for marker in ["invalid type: ", "invalid value: ", "unknown variant "] {
        let Some(at) = message.find(marker) else {
            continue;
        };
        let head_end = at + marker.len();
        let head = &message[..head_end];
        let after = &message[head_end..];
        // The kind of value ("string", "integer"), when serde names one.
        let kind: String = if marker == "unknown variant " {
            String::new()
        } else {
            after
                .chars()
                .take_while(|c| c.is_ascii_alphabetic() || *c == ' ')
                .collect::<String>()
                .split(' ')
                .next()
                .map(|w| format!("{w} "))
                .unwrap_or_default()
        };
        let expected = match message.rfind(", expected ") {
            Some(e) if e >= head_end => &message[e..],
            _ => "",
        };
        return format!("{head}{kind}<value>{expected}");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scrub_drops_values_and_keeps_field_names() {
        assert_eq!(
            scrub("token: invalid type: string \"s3cret\", expected a map at line 1 column 9"),
            "token: invalid type: string <value>, expected a map at line 1 column 9"
        );
        assert_eq!(
            scrub("unknown variant `hunter2`, expected one of `api_token`, `basic`"),
            "unknown variant <value>, expected one of `api_token`, `basic`"
        );
        assert_eq!(
            scrub("unknown field `colour`, expected one of `name`, `config`"),
            "unknown field `colour`, expected one of `name`, `config`"
        );
        assert_eq!(scrub("missing field `name`"), "missing field `name`");
    }

    proptest! {
        #[test]
        fn scrub_never_keeps_the_value_whatever_it_holds(secret in "[^\\x00]{6,30}", path in "[a-z.]{0,12}") {
            let fixed = "invalid type: string, expected u64 at line 1 column 5 unknown variant one of `api_token`, `basic`";
            for message in [
                format!("{path}: invalid type: string {secret:?}, expected u64 at line 1 column 5"),
                format!("{path}: unknown variant `{secret}`, expected one of `api_token`, `basic`"),
                format!("invalid value: string {secret:?}, expected a name"),
            ] {
                let scrubbed = scrub(&message);
                if !fixed.contains(secret.as_str()) && !path.contains(secret.as_str()) {
                    prop_assert!(!scrubbed.contains(secret.as_str()), "{}", scrubbed);
                }
            }
        }

        #[test]
        fn scrub_never_panics(message in ".{0,120}") {
            let _ = scrub(&message);
        }
    }
}
