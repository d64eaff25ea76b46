//! Authenticating a definition's requests.
//!
//! - `None`, `Basic`, `APIKey`: headers (or a POST field) from the instance's credential.
//! - `OAuth2` (client credentials): the platform's one token provider mints and caches the
//!   token (one per credential and scope for every connector), the token request draws from
//!   the account's budget, and a 401 drops the token and the call is made once more with a
//!   fresh one. The secret only goes to the credential's own token URL: the definition's
//!   `tokenEndpoint` must name it.
//! - `JwtToken`, `Session`: a login request whose answer carries a token or session id,
//!   kept until its lifetime ends or a call answers 401 (then one login and one more call).
//!
//! Every extra request (a login, a second try) draws a permit from the account's budget
//! first: the scheduler paid for one call per `collect`.

use std::collections::HashMap;

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;
use ucp_core::credentials::token::{
    AccessToken, Attempt, TokenEndpointOptions, TokenError, TokenRequest,
};
use ucp_core::credentials::Credential;
use ucp_core::{SourceContext, SourceError};

use super::definition::{Auth, Login, Method, TokenLocation};
use super::exchange::{send, Exchange, Sent};
use super::request::{api_key_text, header, Body, Call, Values};
use super::response::Body as ResponseBody;
use super::template::CredentialField;
use super::RestSource;

/// A token or session id from a login, and when it is no longer used.
pub struct LoginToken {
    value: SecretString,
    until: Instant,
}

/// The login cache of a source (JwtToken and Session auth).
#[derive(Default)]
pub struct Logins {
    current: Mutex<Option<LoginToken>>,
}

impl std::fmt::Debug for Logins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Logins")
    }
}

/// The fields of `credential` that placeholders may name.
pub fn secrets(credential: &Credential) -> HashMap<CredentialField, SecretString> {
    let mut out = HashMap::new();
    match credential {
        Credential::ApiToken { token } => {
            out.insert(CredentialField::Token, token.clone());
        }
        Credential::Basic { user, password } => {
            out.insert(CredentialField::User, SecretString::from(user.clone()));
            out.insert(CredentialField::Password, password.clone());
        }
        Credential::ClientSecret {
            client_id, secret, ..
        } => {
            out.insert(
                CredentialField::ClientId,
                SecretString::from(client_id.clone()),
            );
            out.insert(CredentialField::ClientSecret, secret.clone());
        }
        Credential::PrivateKeyJwt { client_id, .. } => {
            out.insert(
                CredentialField::ClientId,
                SecretString::from(client_id.clone()),
            );
        }
        Credential::SharedAccessKey { key, .. } => {
            out.insert(CredentialField::Token, key.clone());
        }
        _ => {}
    }
    out
}

fn sensitive(name: HeaderName, value: &str) -> Result<(HeaderName, HeaderValue), SourceError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| SourceError::Config {
        message: format!(
            "the credential's value for header {name} holds characters not allowed in HTTP headers"
        ),
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn basic(user: &str, password: &str) -> SecretString {
    SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

impl RestSource {
    /// Send `call` authenticated as the definition says.
    pub(super) async fn authenticated(
        &self,
        cx: &SourceContext,
        mut call: Call,
        values: &Values<'_>,
        credential: Option<&Credential>,
    ) -> Result<Exchange, SourceError> {
        let auth = &self.definition.auth;
        let headers = match auth {
            Auth::None => Vec::new(),
            Auth::Basic { user, password } => {
                let user = values.render(user, "auth.userName")?;
                let password = SecretString::from(values.render(password, "auth.password")?);
                vec![sensitive(
                    AUTHORIZATION,
                    basic(&user, password.expose_secret()).expose_secret(),
                )?]
            }
            Auth::ApiKey {
                key,
                name,
                in_post_payload,
                ..
            } => {
                let key = SecretString::from(values.render(key, "auth.apiKey")?);
                if *in_post_payload {
                    call.add_body_field(name, key.expose_secret().to_string());
                    Vec::new()
                } else {
                    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        SourceError::Config {
                            message: format!(
                                "auth.apiKeyName '{name}' is not a valid HTTP header name"
                            ),
                        }
                    })?;
                    let text = api_key_text(auth, &key).unwrap_or(key);
                    vec![sensitive(name, text.expose_secret())?]
                }
            }
            Auth::OAuth2 { .. } => return self.with_oauth(cx, &call, values, credential).await,
            Auth::JwtToken(login) | Auth::Session(login) => {
                return self.with_login(cx, &call, values, login).await
            }
        };
        match self.send(&call, &headers, cx).await {
            Sent::Done(exchange) => Ok(exchange),
            Sent::Unauthorized(error) | Sent::Failed(error) => Err(error),
        }
    }

    async fn send(
        &self,
        call: &Call,
        auth: &[(HeaderName, HeaderValue)],
        cx: &SourceContext,
    ) -> Sent {
        let clock = cx.clock();
        send(
            cx.http(),
            call,
            auth,
            self.timeout,
            &self.definition.request.rate_limit,
            &self.what,
            || clock.now_utc(),
        )
        .await
    }

    async fn with_oauth(
        &self,
        cx: &SourceContext,
        call: &Call,
        values: &Values<'_>,
        credential: Option<&Credential>,
    ) -> Result<Exchange, SourceError> {
        let Auth::OAuth2 {
            token_endpoint,
            scope,
            headers,
            query,
            credentials_in_header,
            prepend,
        } = &self.definition.auth
        else {
            return Err(SourceError::Config {
                message: "not an OAuth2 definition".into(),
            });
        };
        let name = self.credential_name()?;
        let wanted = values.render(token_endpoint, "auth.tokenEndpoint")?;
        let stored = match credential {
            Some(Credential::ClientSecret { token_url, .. } | Credential::PrivateKeyJwt { token_url, .. }) => token_url,
            Some(other) => {
                return Err(SourceError::Config {
                    message: format!("{}: OAuth2 needs credential '{name}' to be a client secret or private-key JWT client, not a {}", self.what, other.kind()),
                })
            }
            None => return Err(SourceError::Config { message: format!("{}: OAuth2 needs a credential", self.what) }),
        };
        if wanted.trim_end_matches('/') != stored.trim_end_matches('/') {
            return Err(SourceError::Config {
                message: format!(
                    "{}: the definition's tokenEndpoint {wanted} is not the token URL of credential '{name}' ({stored}): a client secret is only sent to its credential's token URL; store the credential with this token URL or fix the definition",
                    self.what
                ),
            });
        }
        let mut options = TokenEndpointOptions {
            credentials_in_header: *credentials_in_header,
            ..Default::default()
        };
        for (key, template) in headers {
            options.headers.push((
                key.clone(),
                values.render(template, &format!("auth.tokenEndpointHeaders.{key}"))?,
            ));
        }
        for (key, template) in query {
            options.query.push((
                key.clone(),
                values.render(
                    template,
                    &format!("auth.tokenEndpointQueryParameters.{key}"),
                )?,
            ));
        }
        let request = TokenRequest::named(cx.credentials(), name, scope.clone())
            .with_budget(cx.budget().clone())
            .with_endpoint(options);
        let mut calls = 0u32;
        let outcome = cx
            .tokens()
            .with_token(&request, |token: AccessToken| {
                calls += 1;
                let again = calls > 1;
                async move {
                    if again {
                        cx.budget().acquire().await;
                    }
                    let text = format!("{} {}", prepend.trim(), token.secret().expose_secret());
                    let header = match sensitive(AUTHORIZATION, text.trim()) {
                        Ok(header) => header,
                        Err(error) => return Attempt::Done(Err(error)),
                    };
                    match self.send(call, &[header], cx).await {
                        Sent::Done(exchange) => Attempt::Done(Ok(exchange)),
                        Sent::Unauthorized(_) => Attempt::Unauthorized,
                        Sent::Failed(error) => Attempt::Done(Err(error)),
                    }
                }
            })
            .await;
        outcome.unwrap_or_else(|error| Err(self.token_error(name, error)))
    }

    fn token_error(&self, credential: &str, error: TokenError) -> SourceError {
        let message = format!(
            "{}: no usable OAuth access token for credential '{credential}': {error}",
            self.what
        );
        match error {
            TokenError::Unavailable { .. } | TokenError::InvalidResponse { .. } => {
                SourceError::Retryable {
                    message,
                    retry_after: None,
                }
            }
            TokenError::BackingOff {
                retry_in,
                cause_retryable: true,
                ..
            } => SourceError::Retryable {
                message,
                retry_after: Some(retry_in),
            },
            TokenError::Credential(_)
            | TokenError::Unsupported { .. }
            | TokenError::InsecureUrl { .. }
            | TokenError::Client { .. } => SourceError::Config { message },
            _ => SourceError::Auth { message },
        }
    }

    async fn with_login(
        &self,
        cx: &SourceContext,
        call: &Call,
        values: &Values<'_>,
        login: &Login,
    ) -> Result<Exchange, SourceError> {
        for attempt in 0..2 {
            let token = self.login_token(cx, values, login, attempt > 0).await?;
            if attempt > 0 {
                cx.budget().acquire().await;
            }
            let text = match &login.prepend {
                Some(prepend) => format!("{} {}", prepend.trim(), token.expose_secret()),
                None => token.expose_secret().to_string(),
            };
            let name = HeaderName::from_bytes(login.send_header.as_bytes()).map_err(|_| {
                SourceError::Config {
                    message: format!("'{}' is not a valid HTTP header name", login.send_header),
                }
            })?;
            match self.send(call, &[sensitive(name, text.trim())?], cx).await {
                Sent::Done(exchange) => return Ok(exchange),
                Sent::Failed(error) => return Err(error),
                Sent::Unauthorized(error) if attempt > 0 => {
                    return Err(SourceError::Auth {
                        message: format!("{error}; a fresh login's token was refused too: check the account's permissions"),
                    })
                }
                Sent::Unauthorized(_) => {
                    tracing::debug!(api = %self.what, "401: logging in again");
                }
            }
        }
        Err(SourceError::Auth {
            message: format!("{}: the login was refused", self.what),
        })
    }

    /// The cached login token, or a new one (always new when `fresh`).
    async fn login_token(
        &self,
        cx: &SourceContext,
        values: &Values<'_>,
        login: &Login,
        fresh: bool,
    ) -> Result<SecretString, SourceError> {
        let mut current = self.logins.current.lock().await;
        if let Some(token) = current
            .as_ref()
            .filter(|t| !fresh && Instant::now() < t.until)
        {
            return Ok(token.value.clone());
        }
        *current = None;
        cx.budget().acquire().await;
        let value = self.login(cx, values, login).await?;
        *current = Some(LoginToken {
            value: value.clone(),
            until: Instant::now() + login.lifetime,
        });
        Ok(value)
    }

    async fn login(
        &self,
        cx: &SourceContext,
        values: &Values<'_>,
        login: &Login,
    ) -> Result<SecretString, SourceError> {
        let url = values.render(&login.endpoint, "the login endpoint")?;
        let mut url = reqwest::Url::parse(url.trim()).map_err(|e| SourceError::Config {
            message: format!("{}: the login endpoint is not a URL ({e})", self.what),
        })?;
        for (name, template) in &login.query {
            let value = values.render(template, &format!("login query parameter {name}"))?;
            url.query_pairs_mut().append_pair(name, &value);
        }
        let mut headers = Vec::new();
        for (name, template) in &login.headers {
            headers.push(header(
                name,
                &values.render(template, &format!("login header {name}"))?,
                template.has_secret(),
            )?);
        }
        let user = values.render(&login.user.value, "auth.userName.value")?;
        let password =
            SecretString::from(values.render(&login.password.value, "auth.password.value")?);
        let mut auth = Vec::new();
        let body = if login.credentials_in_header {
            auth.push(sensitive(
                AUTHORIZATION,
                basic(&user, password.expose_secret()).expose_secret(),
            )?);
            None
        } else if login.json {
            Some(Body::Json(serde_json::json!({
                login.user.key.clone(): user,
                login.password.key.clone(): password.expose_secret(),
            })))
        } else {
            Some(Body::Form(vec![
                (login.user.key.clone(), user),
                (
                    login.password.key.clone(),
                    password.expose_secret().to_string(),
                ),
            ]))
        };
        let method = if body.is_some() && !login.method.has_body() {
            Method::Post
        } else {
            login.method
        };
        let call = Call {
            method,
            url,
            headers,
            body,
        };
        let clock = cx.clock();
        let what = format!("the login endpoint of {}", self.what);
        let exchange = match send(
            cx.http(),
            &call,
            &auth,
            login.timeout,
            &self.definition.request.rate_limit,
            &what,
            || clock.now_utc(),
        )
        .await
        {
            Sent::Done(exchange) => exchange,
            Sent::Unauthorized(error) => {
                return Err(SourceError::Auth {
                    message: error.to_string(),
                })
            }
            Sent::Failed(error) => return Err(error),
        };
        let token = match &login.token {
            TokenLocation::Header(name) => exchange
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            TokenLocation::Body(path) => ResponseBody::decode(exchange.body, None)
                .and_then(|body| body.first(path))
                .map_err(|why| SourceError::Auth {
                    message: format!("{what} answered something unreadable: {why}"),
                })?,
        };
        match token.filter(|t| !t.trim().is_empty()) {
            Some(token) => Ok(SecretString::from(token)),
            None => Err(SourceError::Auth {
                message: format!("{what} accepted the login but its answer has no token where the definition says ({})", match &login.token {
                    TokenLocation::Header(name) => format!("header {name}"),
                    TokenLocation::Body(path) => format!("body at {}", path.text()),
                }),
            }),
        }
    }
}
