//! Who is looking at a page: the session behind the request's cookie, authenticated again
//! with the credential it signed in with, and (on a tenant's pages) the principal's role in
//! the tenant of the address.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, OriginalUri, Path};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::error::UiError;
use super::session::{cookie, same, Session, COOKIE};
use super::UiState;
use crate::auth::Principal;
use crate::model::Role;

/// The form field carrying the session's CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// A signed-in browser.
pub(crate) struct SignedIn {
    /// Who it is.
    pub principal: Principal,
    /// Its session.
    pub session: Session,
    /// The session's id (to end it).
    pub session_id: String,
}

impl SignedIn {
    /// Refuses a form without this session's CSRF token.
    pub(crate) fn check_csrf(&self, fields: &[(String, String)]) -> Result<(), UiError> {
        check_csrf(&self.session, fields)
    }
}

/// Refuses a form without `session`'s CSRF token.
fn check_csrf(session: &Session, fields: &[(String, String)]) -> Result<(), UiError> {
    let sent = fields
        .iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.as_str());
    match sent {
        Some(token) if same(token, &session.csrf) => Ok(()),
        _ => Err(UiError::page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site's page, so nothing was changed. Reload the page and send it again.",
        )),
    }
}

/// The session id in the request's cookies, if any.
fn session_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie(h, COOKIE))
        .filter(|id| !id.is_empty())
        .map(String::from)
}

impl FromRequestParts<UiState> for SignedIn {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, UiError> {
        let next = match OriginalUri::from_request_parts(parts, state).await {
            Ok(OriginalUri(uri)) => uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            Err(never) => match never {},
        };
        let Some(id) = session_id(parts) else {
            return Err(UiError::SignIn { next, ended: false });
        };
        let Some(session) = state.sessions.get(&id) else {
            return Err(UiError::SignIn { next, ended: true });
        };
        let header = Zeroizing::new(format!("Bearer {}", session.credential.expose_secret()));
        match state
            .manager
            .authenticator()
            .authenticate(Some(header.as_str()))
            .await
        {
            Ok(principal) => Ok(SignedIn {
                principal,
                session,
                session_id: id,
            }),
            Err(_) => {
                // Revoked key or expired token: the session ends with it.
                state.sessions.end(&id);
                Err(UiError::SignIn { next, ended: true })
            }
        }
    }
}

/// A signed-in browser on a page of the tenant named in the address.
pub(crate) struct Visitor {
    /// The principal.
    pub principal: Principal,
    /// Its session.
    pub session: Session,
    /// The tenant of the page.
    tenant: String,
    /// The principal's role in it.
    pub role: Role,
}

impl Visitor {
    /// The tenant of the page.
    pub(crate) fn tenant(&self) -> &str {
        &self.tenant
    }

    /// At least a Contributor: may create, pause, resume and restart.
    pub(crate) fn contributes(&self) -> bool {
        self.role >= Role::Contributor
    }

    /// An Owner: may also disconnect and delete.
    pub(crate) fn owns(&self) -> bool {
        self.role >= Role::Owner
    }

    /// Refuses a form without this session's CSRF token.
    pub(crate) fn check_csrf(&self, fields: &[(String, String)]) -> Result<(), UiError> {
        check_csrf(&self.session, fields)
    }
}

impl FromRequestParts<UiState> for Visitor {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, UiError> {
        let signed = SignedIn::from_request_parts(parts, state).await?;
        let params = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| p)
            .unwrap_or_default();
        let tenant = params
            .get("tenant")
            .cloned()
            .unwrap_or_else(|| signed.session.tenant.clone());
        let role = state.manager.role_in(&signed.principal, &tenant).await?;
        Ok(Visitor {
            principal: signed.principal,
            session: signed.session,
            tenant,
            role,
        })
    }
}
