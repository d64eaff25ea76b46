//! A posted form as its name–value pairs, in order (a name may repeat: checkboxes), and a
//! page's query parameters.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::UiError;

/// A posted `application/x-www-form-urlencoded` form.
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Whether `name` was sent (a checked checkbox).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, UiError> {
        match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(axum::Form(pairs)) => Ok(Fields(pairs)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(UiError::page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form is larger than 64 KiB, so it was not accepted. Send less.",
                ))
            }
            Err(_) => Err(UiError::page(
                StatusCode::BAD_REQUEST,
                "The form could not be read. Reload the page and send it again.",
            )),
        }
    }
}

/// A page's query parameters; a query that does not fit is ignored (the page shows its
/// defaults), since a page's address is something people edit.
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params(
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map(|q| q.0)
                .unwrap_or_default(),
        ))
    }
}
