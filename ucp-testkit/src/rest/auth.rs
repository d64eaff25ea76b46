//! Authentication of the simulated REST API: which calls are authorised, the OAuth token
//! endpoint (client credentials in the form or as HTTP Basic) and the login endpoint.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use rand::RngCore;
use serde_json::json;
use tokio::time::Instant;

use super::server::{error, header_text, parameters, Shared, State_};
use super::{lock, SimAuth, TOKEN_LIFETIME};

type Shared_ = State<std::sync::Arc<Shared>>;

pub(super) fn basic_pair(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(user)?, decode(password)?))
}

impl Shared {
    /// Whether the call's credentials are accepted.
    pub(super) fn authorized(
        &self,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
        state: &State_,
    ) -> bool {
        let live = |token: &str| {
            state
                .tokens
                .get(token)
                .is_some_and(|until| Instant::now() < *until)
        };
        match &self.config.auth {
            SimAuth::None => true,
            SimAuth::Basic { user, password } => {
                basic_pair(headers).is_some_and(|(u, p)| &u == user && &p == password)
            }
            SimAuth::ApiKeyHeader {
                header,
                prefix,
                key,
            } => {
                let expected = match prefix {
                    Some(prefix) => format!("{prefix} {key}"),
                    None => key.clone(),
                };
                header_text(headers, header) == Some(expected.as_str())
            }
            SimAuth::ApiKeyBody { field, key } => params.get(field) == Some(key),
            SimAuth::OAuth { .. } => header_text(headers, "authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(live),
            SimAuth::Login {
                send_header,
                prepend,
                ..
            } => header_text(headers, send_header)
                .and_then(|v| match prepend {
                    Some(p) => v.strip_prefix(p.as_str()).map(str::trim),
                    None => Some(v),
                })
                .is_some_and(live),
        }
    }
}

fn issue(shared: &Shared) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    lock(&shared.state)
        .tokens
        .insert(token.clone(), Instant::now() + TOKEN_LIFETIME);
    token
}

pub(super) async fn token(
    State(shared): Shared_,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let SimAuth::OAuth {
        client_id,
        secret,
        basic,
        required_header,
        required_query,
        scope,
    } = &shared.config.auth
    else {
        return error(StatusCode::NOT_FOUND, "no token endpoint");
    };
    let oauth_error = |status: StatusCode, code: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"error": code}).to_string(),
        )
            .into_response()
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let client = if *basic {
        basic_pair(&headers)
    } else {
        form.get("client_id")
            .cloned()
            .zip(form.get("client_secret").cloned())
    };
    if client.as_ref() != Some(&(client_id.clone(), secret.clone())) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if !form
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|s| s == scope))
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    if let Some((name, value)) = required_header {
        if header_text(&headers, name) != Some(value.as_str()) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    if let Some((name, value)) = required_query {
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        if query.get(name) != Some(value) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    lock(&shared.state).counters.tokens += 1;
    let token = issue(&shared);
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME.as_secs()})).into_response()
}

pub(super) async fn login(State(shared): Shared_, headers: HeaderMap, body: Bytes) -> Response {
    let SimAuth::Login {
        user_field,
        password_field,
        user,
        password,
        token_header,
        ..
    } = &shared.config.auth
    else {
        return error(StatusCode::NOT_FOUND, "no login endpoint");
    };
    let params = parameters("", &headers, &body);
    let given = basic_pair(&headers).or_else(|| {
        params
            .get(user_field)
            .cloned()
            .zip(params.get(password_field).cloned())
    });
    if given.as_ref() != Some(&(user.clone(), password.clone())) {
        return error(StatusCode::UNAUTHORIZED, "wrong user or password");
    }
    lock(&shared.state).counters.logins += 1;
    let token = issue(&shared);
    match token_header {
        Some(name) => {
            let mut response = Json(json!({"status": "ok"})).into_response();
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&token),
            ) {
                response.headers_mut().insert(name, value);
            }
            response
        }
        None => Json(json!({"status": "ok", "token": token})).into_response(),
    }
}
