//! The HTTP side of the org's users: read a user, the lifecycle operations a response
//! action performs, and clearing sessions, with Okta's scopes, codes and rate-limit buckets.
//!
//! | request | bucket | success | refusals |
//! |---|---|---|---|
//! | `GET /api/v1/users/{idOrLogin}` | [`RateBucket::UserRead`] | 200, the user | 404 `E0000007` |
//! | `POST /api/v1/users/{id}/lifecycle/suspend` | [`RateBucket::Other`] | 200 `{}` | 404 `E0000007`; not `ACTIVE` → 400 `E0000001` |
//! | `POST /api/v1/users/{id}/lifecycle/unsuspend` | [`RateBucket::Other`] | 200 `{}` | 404; not `SUSPENDED` → 400 `E0000001` |
//! | `POST /api/v1/users/{id}/lifecycle/reset_factors` | [`RateBucket::Other`] | 200 `{}` | 404; `DEPROVISIONED` → 403 `E0000038` |
//! | `DELETE /api/v1/users/{id}/sessions[?oauthTokens=true]` | [`RateBucket::Other`] | 204 | 404; a bad `oauthTokens` → 400 `E0000001` |
//!
//! Reads take `okta.users.read` or `okta.users.manage`, writes `okta.users.manage` (403
//! `E0000006` otherwise); a read-only administrator's `SSWS` token reads but may not write.
//! The write calls count against "most other API actions" because Okta's "update or delete
//! a user by ID" bucket names `/api/v1/users/{id}` *only*, and these paths go below it.

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::errors::error_body;
use super::server::{access, authorization, error, lock, rate_headers, Need, Prepared, SimState};
use super::users::{Lifecycle, Refusal};
use super::{RateBucket, Shared, UserCall};

/// Scopes that may read a user.
const READ_SCOPES: &[&str] = &["okta.users.read", "okta.users.manage"];
/// Scopes that may change a user.
const MANAGE_SCOPES: &[&str] = &["okta.users.manage"];

/// The users routes.
pub(crate) fn router(shared: Shared) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/users/{id}", axum::routing::get(get_user))
        .route(
            "/api/v1/users/{id}/lifecycle/{operation}",
            axum::routing::post(lifecycle),
        )
        .route(
            "/api/v1/users/{id}/sessions",
            axum::routing::delete(clear_sessions),
        )
        .with_state(shared)
}

/// A users call that passed auth and its bucket: what the handler does next, under the
/// lock; or the answer already decided.
fn admit(
    state: &mut SimState,
    headers: &HeaderMap,
    call: UserCall,
    now: DateTime<Utc>,
) -> Result<Prepared, Prepared> {
    *state.counters.user_calls.entry(call).or_default() += 1;
    let (need, bucket) = match call {
        UserCall::GetUser => (
            Need {
                scopes: READ_SCOPES,
                write: false,
            },
            RateBucket::UserRead,
        ),
        _ => (
            Need {
                scopes: MANAGE_SCOPES,
                write: true,
            },
            RateBucket::Other,
        ),
    };
    let out = Prepared::begin(state, headers, now);
    let presented = authorization(headers);
    let granted = access(state, presented, &need);
    state.window(bucket).roll_at(now);
    match out.refuse(state, granted, presented, need.scopes[0]) {
        Ok(out) => out.count(state, bucket, now),
        Err(mut refused) => {
            rate_headers(state.window(bucket), &mut refused);
            Err(refused)
        }
    }
}

async fn get_user(
    AxumState(shared): AxumState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let prepared = {
        let mut state = lock(&shared);
        let now = state.now();
        match admit(&mut state, &headers, UserCall::GetUser, now) {
            Err(answer) => answer,
            Ok(mut out) => match state.users.find(&id) {
                Some(user) => {
                    out.body = user.json(&state.base_url).to_string();
                    out
                }
                None => refused(out, Refusal::NotFound, &id),
            },
        }
    };
    prepared.send().await
}

async fn lifecycle(
    AxumState(shared): AxumState<Shared>,
    Path((id, operation)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let prepared = {
        let mut state = lock(&shared);
        let now = state.now();
        match Lifecycle::from_path(&operation) {
            None => {
                let out = Prepared::begin(&mut state, &headers, now);
                error(
                    out,
                    StatusCode::NOT_FOUND,
                    "E0000007",
                    &format!("Not found: Resource not found: lifecycle/{operation} (Operation)"),
                )
            }
            Some(op) => {
                let call = match op {
                    Lifecycle::Suspend => UserCall::Suspend,
                    Lifecycle::Unsuspend => UserCall::Unsuspend,
                    Lifecycle::ResetFactors => UserCall::ResetFactors,
                };
                match admit(&mut state, &headers, call, now) {
                    Err(answer) => answer,
                    Ok(mut out) => match state.users.lifecycle(&id, op, now) {
                        Ok(()) => {
                            out.body = "{}".into();
                            out
                        }
                        Err(refusal) => refused(out, refusal, &id),
                    },
                }
            }
        }
    };
    prepared.send().await
}

async fn clear_sessions(
    AxumState(shared): AxumState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let prepared = {
        let mut state = lock(&shared);
        let now = state.now();
        match admit(&mut state, &headers, UserCall::ClearSessions, now) {
            Err(answer) => answer,
            Ok(mut out) => match oauth_tokens(raw.as_deref().unwrap_or("")) {
                Err(value) => refused(
                    out,
                    Refusal::Validation(format!(
                        "oauthTokens: '{value}' is not a boolean (true or false)"
                    )),
                    &id,
                ),
                Ok(revoke) => match state.users.clear_sessions(&id, revoke) {
                    Ok(()) => {
                        out.status = StatusCode::NO_CONTENT;
                        out
                    }
                    Err(refusal) => refused(out, refusal, &id),
                },
            },
        }
    };
    prepared.send().await
}

/// The `oauthTokens` query parameter (default false), or the value that is not a boolean.
fn oauth_tokens(query: &str) -> Result<bool, String> {
    let value = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "oauthTokens")
        .map(|(_, value)| value.into_owned());
    match value.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(other.chars().take(40).collect()),
    }
}

/// A refusal as Okta answers it.
fn refused(mut out: Prepared, refusal: Refusal, id: &str) -> Prepared {
    match refusal {
        Refusal::NotFound => error(
            out,
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {id} (User)"),
        ),
        Refusal::Validation(cause) => {
            out.status = StatusCode::BAD_REQUEST;
            out.body = error_body("E0000001", "Api validation failed: user", &[cause]);
            out
        }
        Refusal::NotAllowedInStatus => error(
            out,
            StatusCode::FORBIDDEN,
            "E0000038",
            "This operation is not allowed in the user's current status.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_tokens_is_a_boolean_defaulting_to_false() {
        assert_eq!(oauth_tokens(""), Ok(false));
        assert_eq!(oauth_tokens("oauthTokens=true"), Ok(true));
        assert_eq!(oauth_tokens("x=1&oauthTokens=false"), Ok(false));
        assert_eq!(oauth_tokens("oauthTokens=yes"), Err("yes".to_string()));
    }
}
