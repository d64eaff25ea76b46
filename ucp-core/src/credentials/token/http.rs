//! The OAuth 2.0 client-credentials grant over HTTP, as Entra ID v2 and Okta speak it.
//!
//! - **Entra ID v2**: token URL `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`
//!   ([`entra_token_url`]), scope `<resource>/.default` ([`entra_scope`]), with a client
//!   secret ([`Credential::ClientSecret`]) or a certificate's signed assertion
//!   ([`Credential::PrivateKeyJwt`]).
//! - **Okta service apps**: token URL `https://{org}/oauth2/v1/token` ([`okta_token_url`]),
//!   `private_key_jwt` ([`Credential::PrivateKeyJwt`]), scope such as `okta.logs.read`.
//!
//! Both send `grant_type=client_credentials`; a signed assertion goes in `client_assertion`
//! with `client_assertion_type` [`JWT_BEARER_ASSERTION_TYPE`].

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::assertion::{self, AssertionKey};
use super::{FetchedToken, TokenEndpointOptions, TokenError, TokenFetcher};
use crate::credentials::{Credential, CredentialRef};

/// The public Entra ID authority.
pub const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";

/// `client_assertion_type` of a signed JWT client assertion (RFC 7523).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Entra ID v2 token URL of directory `tenant_id` under `authority` (e.g. [`ENTRA_AUTHORITY`]).
pub fn entra_token_url(authority: &str, tenant_id: &str) -> String {
    format!(
        "{}/{}/oauth2/v2.0/token",
        authority.trim_end_matches('/'),
        tenant_id
    )
}

/// Entra ID v2 scope for all of an app's permissions on `resource`,
/// e.g. `https://graph.microsoft.com` → `https://graph.microsoft.com/.default`.
pub fn entra_scope(resource: &str) -> String {
    format!("{}/.default", resource.trim_end_matches('/'))
}

/// Okta org authorization server token URL, e.g. `https://contoso.okta.com/oauth2/v1/token`.
pub fn okta_token_url(org_url: &str) -> String {
    format!("{}/oauth2/v1/token", org_url.trim_end_matches('/'))
}

/// Requests tokens with `reqwest`.
#[derive(Clone, Debug)]
pub struct HttpTokenFetcher {
    client: reqwest::Client,
}

impl HttpTokenFetcher {
    /// A fetcher with its own client: 30 s timeout, and no redirects (a redirected POST
    /// could carry the client secret to another host).
    pub fn new() -> Result<Self, TokenError> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(Self::with_client)
            .map_err(|e| TokenError::Client {
                detail: e.to_string(),
            })
    }

    /// A fetcher on an existing client (shares its connection pool).
    pub fn with_client(client: reqwest::Client) -> Self {
        HttpTokenFetcher { client }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: ExpiresIn,
}

/// Entra v1 sent `expires_in` as a string; v2 and Okta send a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresIn {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
}

#[async_trait]
impl TokenFetcher for HttpTokenFetcher {
    async fn fetch(
        &self,
        reference: &CredentialRef,
        credential: &Credential,
        scope: &str,
    ) -> Result<FetchedToken, TokenError> {
        self.fetch_with(
            reference,
            credential,
            scope,
            &TokenEndpointOptions::default(),
        )
        .await
    }

    async fn fetch_with(
        &self,
        reference: &CredentialRef,
        credential: &Credential,
        scope: &str,
        options: &TokenEndpointOptions,
    ) -> Result<FetchedToken, TokenError> {
        let assertion;
        let mut basic = None;
        let (token_url, mut form): (&str, Vec<(&str, &str)>) = match credential {
            Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            } if options.credentials_in_header => {
                basic = Some((client_id.as_str(), secret));
                (token_url, vec![("grant_type", "client_credentials")])
            }
            Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            } => (
                token_url,
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret.expose_secret()),
                ],
            ),
            Credential::PrivateKeyJwt {
                token_url,
                client_id,
                private_key_pem,
                key_id,
                algorithm,
            } => {
                assertion = assertion::sign(
                    reference,
                    &AssertionKey {
                        client_id,
                        token_url,
                        private_key_pem,
                        key_id: key_id.as_deref(),
                        algorithm: *algorithm,
                    },
                )?;
                (
                    token_url,
                    vec![
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id),
                        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                        ("client_assertion", assertion.expose_secret()),
                    ],
                )
            }
            other => {
                return Err(TokenError::Unsupported {
                    reference: reference.clone(),
                    kind: other.kind(),
                })
            }
        };
        // An empty scope is left out: some servers refuse `scope=` but grant a default.
        if !scope.is_empty() {
            form.insert(1, ("scope", scope));
        }
        if !secure(token_url) {
            return Err(TokenError::InsecureUrl {
                reference: reference.clone(),
            });
        }
        let unavailable = |detail: String| TokenError::Unavailable {
            reference: reference.clone(),
            detail,
        };
        let mut request = self.client.post(token_url);
        if !options.query.is_empty() {
            request = request.query(&options.query);
        }
        for (name, value) in &options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some((client_id, secret)) = basic {
            request = request.header(
                reqwest::header::AUTHORIZATION,
                basic_credentials(reference, client_id, secret)?,
            );
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| unavailable(format!("request failed: {e}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("reading the response failed: {e}")))?;
        if !status.is_success() {
            let code = serde_json::from_slice::<ErrorResponse>(&body)
                .ok()
                .and_then(|e| e.error)
                .map(|c| sanitize_code(&c));
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(unavailable(format!(
                    "HTTP {}{}",
                    status.as_u16(),
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                )));
            }
            return Err(TokenError::Refused {
                reference: reference.clone(),
                status: status.as_u16(),
                code,
            });
        }
        // Report only where parsing failed: serde messages can quote values.
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| TokenError::InvalidResponse {
                reference: reference.clone(),
                detail: format!(
                    "not a token response (parse error at line {} column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        let expires_in = match parsed.expires_in {
            ExpiresIn::Number(n) => Some(n),
            ExpiresIn::Text(t) => t.trim().parse().ok(),
        }
        .ok_or_else(|| TokenError::InvalidResponse {
            reference: reference.clone(),
            detail: "expires_in is not a number of seconds".into(),
        })?;
        Ok(FetchedToken {
            token: parsed.access_token,
            expires_in: Duration::from_secs(expires_in),
        })
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1), marked sensitive.
fn basic_credentials(
    reference: &CredentialRef,
    client_id: &str,
    secret: &SecretString,
) -> Result<reqwest::header::HeaderValue, TokenError> {
    use base64::Engine as _;
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = SecretString::from(format!(
        "{}:{}",
        encode(client_id),
        encode(secret.expose_secret())
    ));
    let text = SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.expose_secret())
    ));
    let mut value = reqwest::header::HeaderValue::from_str(text.expose_secret()).map_err(|_| {
        TokenError::InvalidResponse {
            reference: reference.clone(),
            detail: "the client credentials cannot be sent in an HTTP header".into(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// HTTPS, or plain HTTP to a loopback address (simulators in tests).
fn secure(url: &str) -> bool {
    match reqwest::Url::parse(url) {
        Ok(url) if url.scheme() == "https" => true,
        Ok(url) if url.scheme() == "http" => url.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

/// Keep an OAuth error code printable and short: it goes into messages.
fn sanitize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token endpoint that answers with what it received: the Authorization header, the
    /// extra header, the query string and the form.
    async fn echo_endpoint() -> String {
        use axum::http::HeaderMap;
        async fn token(
            headers: HeaderMap,
            axum::extract::RawQuery(query): axum::extract::RawQuery,
            body: String,
        ) -> axum::Json<serde_json::Value> {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            axum::Json(serde_json::json!({
                "access_token": format!(
                    "{}|{}|{}|{}",
                    header("authorization"),
                    header("x-tenant"),
                    query.unwrap_or_default(),
                    body
                ),
                "expires_in": 3600,
            }))
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/oauth/token", axum::routing::post(token));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn endpoint_options_add_headers_query_and_basic_client_credentials() {
        let url = echo_endpoint().await;
        let fetcher = HttpTokenFetcher::new().unwrap();
        let reference = CredentialRef::new("t", "c");
        let credential = Credential::ClientSecret {
            token_url: url,
            client_id: "app:1".into(),
            secret: SecretString::from("s&cret".to_string()),
        };
        let options = TokenEndpointOptions {
            headers: vec![("X-Tenant".into(), "acme".into())],
            query: vec![("audience".into(), "api://alerts".into())],
            credentials_in_header: true,
        };
        let fetched = fetcher
            .fetch_with(&reference, &credential, "", &options)
            .await
            .unwrap();
        let echoed = fetched.token.expose_secret().to_string();
        let parts: Vec<&str> = echoed.split('|').collect();
        use base64::Engine as _;
        let expected = base64::engine::general_purpose::STANDARD.encode("app%3A1:s%26cret");
        assert_eq!(parts[0], format!("Basic {expected}"));
        assert_eq!(parts[1], "acme");
        assert_eq!(parts[2], "audience=api%3A%2F%2Falerts");
        // No secret and no empty scope in the form.
        assert_eq!(parts[3], "grant_type=client_credentials");

        let standard = fetcher
            .fetch(&reference, &credential, "read")
            .await
            .unwrap();
        let echoed = standard.token.expose_secret().to_string();
        assert!(
            echoed.ends_with("|grant_type=client_credentials&scope=read&client_id=app%3A1&client_secret=s%26cret"),
            "{echoed}"
        );
    }

    #[test]
    fn urls_and_scopes() {
        assert_eq!(
            entra_token_url(ENTRA_AUTHORITY, "contoso.onmicrosoft.com"),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            entra_scope("https://graph.microsoft.com/"),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            okta_token_url("https://contoso.okta.com/"),
            "https://contoso.okta.com/oauth2/v1/token"
        );
        assert_eq!(
            sanitize_code("invalid_client\"<script>"),
            "invalid_clientscript"
        );
    }
}
