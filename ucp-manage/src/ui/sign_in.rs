//! Signing in and out: a form takes an API key or a bearer token and the tenant to open
//! (the credential is posted, never put in an address, and never shown again), checks both
//! with the manager, and starts a session.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::{see_other, UiError};
use super::form::{Fields, Params};
use super::layout;
use super::session::{clear_cookie, set_cookie};
use super::signed_in::SignedIn;
use super::{UiState, BASE};
use crate::error::ManageError;

/// `/ui/`: a signed-in browser goes to its connectors, any other to the sign-in form.
pub(crate) async fn home(signed: Result<SignedIn, UiError>) -> Response {
    match signed {
        Ok(s) => see_other(&format!("{BASE}/t/{}/connectors", s.session.tenant)),
        Err(_) => see_other(&format!("{BASE}/sign-in")),
    }
}

/// What the sign-in page's address may say.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SignInParams {
    /// Where to go after signing in.
    #[serde(default)]
    next: Option<String>,
    /// The session ended.
    #[serde(default)]
    ended: Option<String>,
    /// The visitor signed out.
    #[serde(default)]
    signed_out: Option<String>,
}

/// What went wrong with each field of the form.
#[derive(Debug, Default)]
struct Problems {
    credential: Option<String>,
    tenant: Option<String>,
}

fn render(
    status: StatusCode,
    notice: Option<&str>,
    tenant: &str,
    next: &str,
    problems: &Problems,
) -> Response {
    let described = |id: &str, error: &Option<String>| {
        let mut ids = format!("{id}-hint");
        if error.is_some() {
            ids.push_str(&format!(" {id}-error"));
        }
        ids
    };
    let body = html! {
        h1 { "Sign in" }
        @if let Some(notice) = notice {
            p class="notice" role="status" { (notice) }
        }
        @if problems.credential.is_some() || problems.tenant.is_some() {
            div class="error-summary" role="alert" aria-labelledby="error-summary-title" {
                h2 id="error-summary-title" { "Signing in did not work" }
                ul {
                    @if let Some(e) = &problems.credential { li { a href="#credential" { (e) } } }
                    @if let Some(e) = &problems.tenant { li { a href="#tenant" { (e) } } }
                }
            }
        }
        form method="post" action={ (BASE) "/sign-in" } novalidate {
            input type="hidden" name="next" value=(next);
            div class="field" {
                label for="credential" { "API key or token" }
                p class="hint" id="credential-hint" {
                    "An API key from your administrator (it starts with ucpk_), or a bearer token from the identity provider this server trusts. It is sent once and kept only on the server for this session."
                }
                @if let Some(e) = &problems.credential {
                    p class="field-error" id="credential-error" { span class="visually-hidden" { "Error: " } (e) }
                }
                input type="password" id="credential" name="credential" autocomplete="off"
                    spellcheck="false" aria-describedby=(described("credential", &problems.credential))
                    aria-invalid=[problems.credential.as_ref().map(|_| "true")];
            }
            div class="field" {
                label for="tenant" { "Tenant" }
                p class="hint" id="tenant-hint" { "The tenant whose connectors you manage, e.g. contoso." }
                @if let Some(e) = &problems.tenant {
                    p class="field-error" id="tenant-error" { span class="visually-hidden" { "Error: " } (e) }
                }
                input type="text" id="tenant" name="tenant" value=(tenant) autocomplete="organization"
                    spellcheck="false" aria-describedby=(described("tenant", &problems.tenant))
                    aria-invalid=[problems.tenant.as_ref().map(|_| "true")];
            }
            button type="submit" class="button" { "Sign in" }
        }
    };
    (status, layout::bare("Sign in", body)).into_response()
}

/// The sign-in form.
pub(crate) async fn form(Params(params): Params<SignInParams>) -> Response {
    let notice = if params.ended.is_some() {
        Some("Your session ended (it was idle too long, or your key was revoked). Sign in again to go on.")
    } else if params.signed_out.is_some() {
        Some("You are signed out.")
    } else {
        None
    };
    let next = params.next.as_deref().and_then(safe_next).unwrap_or("");
    render(StatusCode::OK, notice, "", next, &Problems::default())
}

/// A path to go to after signing in: only this server's pages, never another site.
fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with(&format!("{BASE}/"))
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with(&format!("{BASE}/sign-"));
    ok.then_some(next)
}

/// Check the credential and the tenant; start a session.
pub(crate) async fn submit(
    State(state): State<UiState>,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let credential = Zeroizing::new(fields.get("credential").to_string());
    let tenant = fields.get("tenant").to_string();
    let next = safe_next(fields.get("next")).unwrap_or("").to_string();
    let mut problems = Problems::default();
    if credential.is_empty() {
        problems.credential = Some(
            "Enter your API key (it starts with ucpk_) or a token from your identity provider."
                .into(),
        );
    }
    if tenant.is_empty() {
        problems.tenant = Some("Enter the tenant whose connectors you manage.".into());
    }
    if problems.credential.is_some() || problems.tenant.is_some() {
        return render(StatusCode::BAD_REQUEST, None, &tenant, &next, &problems);
    }
    let header = Zeroizing::new(format!("Bearer {}", credential.as_str()));
    let principal = match state
        .manager
        .authenticator()
        .authenticate(Some(header.as_str()))
        .await
    {
        Ok(p) => p,
        Err(ManageError::Unauthenticated(_)) => {
            problems.credential = Some(
                "This key or token was not accepted: it is not recognised, was revoked or has expired. Check it, or ask an administrator for a new key.".into(),
            );
            return render(StatusCode::UNAUTHORIZED, None, &tenant, &next, &problems);
        }
        Err(other) => return UiError::from(other).into_response(),
    };
    match state.manager.role_in(&principal, &tenant).await {
        Ok(_) => {}
        Err(ManageError::NotFound(_)) => {
            problems.tenant = Some(format!(
                "You have no role in tenant '{tenant}', or it does not exist. Check the name, or ask an Owner of the tenant for a role."
            ));
            return render(StatusCode::NOT_FOUND, None, &tenant, &next, &problems);
        }
        Err(other) => return UiError::from(other).into_response(),
    }
    let (id, _) = state.sessions.start(
        SecretString::from(credential.as_str().to_string()),
        tenant.clone(),
    );
    let to = if next.is_empty() {
        format!("{BASE}/t/{tenant}/connectors")
    } else {
        next
    };
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut response = see_other(&to);
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie(&id, state.sessions.idle(), secure)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// End the session.
pub(crate) async fn sign_out(
    State(state): State<UiState>,
    signed: Result<SignedIn, UiError>,
    fields: Fields,
) -> Response {
    if let Ok(signed) = signed {
        if let Err(refused) = signed.check_csrf(fields.pairs()) {
            return refused.into_response();
        }
        state.sessions.end(&signed.session_id);
    }
    let mut response = see_other(&format!("{BASE}/sign-in?signed_out=1"));
    if let Ok(cookie) = HeaderValue::from_str(&clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_pages_are_a_next_stop() {
        assert_eq!(
            safe_next("/ui/t/contoso/connectors/okta"),
            Some("/ui/t/contoso/connectors/okta")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil.example",
            "/api/v1/tenants",
            "/ui/\\evil",
            "/ui/sign-in",
            "/ui/t/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_next_stop_is_always_one_of_this_servers_pages(next in ".{0,60}", tail in "[ -~]{0,40}") {
            for candidate in [next.clone(), format!("/ui/{tail}"), format!("/ui/{next}")] {
                if let Some(to) = safe_next(&candidate) {
                    proptest::prop_assert!(to.starts_with("/ui/"));
                    proptest::prop_assert!(!to.contains("//") && !to.contains('\\'));
                    proptest::prop_assert!(!to.chars().any(char::is_control));
                }
            }
        }
    }
}
