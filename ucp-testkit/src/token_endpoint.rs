//! An OAuth 2.0 token endpoint simulator: Entra ID v2 and Okta client credentials.
//!
//! Serves on `127.0.0.1:<random port>`:
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: Entra ID v2; `scope` must end in `/.default`;
//!   client secret or signed client assertion.
//! - `POST /oauth2/v1/token`: Okta org authorization server; `private_key_jwt` only; scopes
//!   limited to those allowed for the client (if any were set).
//! - `GET /resource`: a protected resource answering 200 to a live bearer token it issued,
//!   401 to a revoked, expired or unknown one.
//!
//! Another simulator can serve the Okta path itself, as a real Okta org serves its own
//! authorization server: [`TokenEndpoint::mounted`] at that simulator's URL, whose
//! [`okta_routes`](TokenEndpoint::okta_routes) it merges into its router and whose
//! [`introspect`](TokenEndpoint::introspect) tells it which tokens are live, with what scopes.
//!
//! Every token request is checked the way the providers check it: `grant_type`, `scope`,
//! `client_id`, and either the client secret or the assertion (signature against the
//! registered public key, `iss` = `sub` = client id, `aud` = the exact token URL, `exp` at most
//! one hour after `iat`, `jti` never reused; on the Entra path an `x5t` header). Refusals are counted and their reasons kept for
//! assertions. Tokens are opaque random strings.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

/// `client_assertion_type` of a signed JWT client assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Throwaway key pairs for tests, generated once with the `openssl` CLI (see `keys/README.md`).
pub mod test_keys {
    /// RSA 2048 private key, PKCS#8 PEM.
    pub const RSA_PRIVATE_PEM: &str = include_str!("../keys/rsa-private.pem");
    /// Public half of [`RSA_PRIVATE_PEM`].
    pub const RSA_PUBLIC_PEM: &str = include_str!("../keys/rsa-public.pem");
    /// EC P-256 private key, PKCS#8 PEM.
    pub const EC_PRIVATE_PEM: &str = include_str!("../keys/ec-private.pem");
    /// Public half of [`EC_PRIVATE_PEM`].
    pub const EC_PUBLIC_PEM: &str = include_str!("../keys/ec-public.pem");
    /// Another EC P-256 private key, whose signatures [`EC_PUBLIC_PEM`] does not verify.
    pub const EC_OTHER_PRIVATE_PEM: &str = include_str!("../keys/ec-other-private.pem");
}

/// Signature algorithm of a registered client key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

/// A public key the simulator could not use.
#[derive(Debug, thiserror::Error)]
#[error("cannot register the public key of client {client_id}: {detail}")]
pub struct KeyError {
    client_id: String,
    detail: String,
}

enum ClientAuth {
    Secret(String),
    Key(Box<DecodingKey>, Algorithm),
}

struct Client {
    auth: ClientAuth,
    scopes: Option<HashSet<String>>,
}

struct Issued {
    client_id: String,
    scopes: Vec<String>,
    expires_at: Instant,
    revoked: bool,
}

struct Inner {
    clients: HashMap<String, Client>,
    tokens: HashMap<String, Issued>,
    issued: Vec<String>,
    assertions: Vec<String>,
    seen_jti: HashSet<String>,
    rejections: Vec<String>,
    expires_in: u64,
    fail_next: u32,
    fail_status: u16,
    delay: Duration,
}

struct Shared {
    base_url: String,
    inner: Mutex<Inner>,
    token_requests: AtomicU64,
    resource_requests: AtomicU64,
}

impl Shared {
    fn new(base_url: String) -> Arc<Self> {
        Arc::new(Shared {
            base_url,
            inner: Mutex::new(Inner {
                clients: HashMap::new(),
                tokens: HashMap::new(),
                issued: Vec::new(),
                assertions: Vec::new(),
                seen_jti: HashSet::new(),
                rejections: Vec::new(),
                expires_in: 3600,
                fail_next: 0,
                fail_status: 500,
                delay: Duration::ZERO,
            }),
            token_requests: AtomicU64::new(0),
            resource_requests: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A live token the endpoint issued, as [`TokenEndpoint::introspect`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The client it was issued to.
    pub client_id: String,
    /// The scopes granted (the request's `scope`, split on spaces).
    pub scopes: Vec<String>,
}

/// A running token endpoint simulator. Stops when dropped.
pub struct TokenEndpoint {
    shared: Arc<Shared>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// Start on a random loopback port. Tokens live one hour unless changed.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Shared::new(base_url);
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
            .route("/oauth2/v1/token", post(okta_token))
            .route("/resource", get(resource))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "token endpoint simulator stopped");
            }
        });
        Ok(TokenEndpoint {
            shared,
            server: Some(server),
        })
    }

    /// An endpoint served by another server at `base_url` (no listener of its own): that
    /// server merges [`okta_routes`](Self::okta_routes) into its router, and assertions must
    /// name `{base_url}/oauth2/v1/token` as audience.
    pub fn mounted(base_url: impl Into<String>) -> Self {
        TokenEndpoint {
            shared: Shared::new(base_url.into()),
            server: None,
        }
    }

    /// Okta's `POST /oauth2/v1/token` on this endpoint's clients and tokens, to merge into
    /// the router of the server at this endpoint's URL.
    pub fn okta_routes(&self) -> Router {
        Router::new()
            .route("/oauth2/v1/token", post(okta_token))
            .with_state(self.shared.clone())
    }

    /// The client and scopes of `token` if this endpoint issued it and it is neither
    /// revoked nor expired.
    pub fn introspect(&self, token: &str) -> Option<IssuedToken> {
        self.shared
            .lock()
            .tokens
            .get(token)
            .filter(|issued| !issued.revoked && Instant::now() < issued.expires_at)
            .map(|issued| IssuedToken {
                client_id: issued.client_id.clone(),
                scopes: issued.scopes.clone(),
            })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.shared.base_url
    }

    /// Entra ID v2 token URL of directory `tenant`.
    pub fn entra_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.shared.base_url)
    }

    /// Okta token URL.
    pub fn okta_token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.shared.base_url)
    }

    /// The protected resource's URL.
    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.shared.base_url)
    }

    /// Register (or replace) a client that authenticates with a secret.
    pub fn register_secret_client(&self, client_id: &str, secret: &str) {
        self.shared.lock().clients.insert(
            client_id.to_string(),
            Client {
                auth: ClientAuth::Secret(secret.to_string()),
                scopes: None,
            },
        );
    }

    /// Register (or replace) a client that signs assertions with the private half of
    /// `public_key_pem` (SPKI PEM).
    pub fn register_key_client(
        &self,
        client_id: &str,
        public_key_pem: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<(), KeyError> {
        let (key, alg) = match algorithm {
            KeyAlgorithm::RS256 => (
                DecodingKey::from_rsa_pem(public_key_pem.as_bytes()),
                Algorithm::RS256,
            ),
            KeyAlgorithm::ES256 => (
                DecodingKey::from_ec_pem(public_key_pem.as_bytes()),
                Algorithm::ES256,
            ),
        };
        let key = key.map_err(|e| KeyError {
            client_id: client_id.to_string(),
            detail: e.to_string(),
        })?;
        self.shared.lock().clients.insert(
            client_id.to_string(),
            Client {
                auth: ClientAuth::Key(Box::new(key), alg),
                scopes: None,
            },
        );
        Ok(())
    }

    /// Limit the scopes `client_id` may ask for on the Okta path.
    pub fn allow_scopes(&self, client_id: &str, scopes: &[&str]) {
        if let Some(client) = self.shared.lock().clients.get_mut(client_id) {
            client.scopes = Some(scopes.iter().map(|s| s.to_string()).collect());
        }
    }

    /// Lifetime (`expires_in`) of tokens issued from now on.
    pub fn set_expires_in(&self, seconds: u64) {
        self.shared.lock().expires_in = seconds;
    }

    /// Answer the next `count` token requests with HTTP `status` (e.g. 500, 503, 429).
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut inner = self.shared.lock();
        inner.fail_next = count;
        inner.fail_status = status;
    }

    /// Wait this long before answering each token request (widens race windows).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// Revoke every token issued so far: the resource answers 401 to them.
    pub fn revoke_all(&self) {
        for token in self.shared.lock().tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// A handle that other simulators (Azure product endpoints) use to check bearer tokens
    /// this endpoint issued.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier {
            shared: self.shared.clone(),
        }
    }

    /// Token requests received (answered or refused).
    pub fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// Resource requests received.
    pub fn resource_requests(&self) -> u64 {
        self.shared.resource_requests.load(Ordering::SeqCst)
    }

    /// Tokens issued so far (secrets: for leak scanning).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().issued.clone()
    }

    /// Client assertions received so far (secrets: for leak scanning).
    pub fn received_assertions(&self) -> Vec<String> {
        self.shared.lock().assertions.clone()
    }

    /// Why requests were refused, in order (never contains secrets).
    pub fn rejections(&self) -> Vec<String> {
        self.shared.lock().rejections.clone()
    }
}

/// Checks bearer tokens issued by a [`TokenEndpoint`], the way a resource server does:
/// known, not revoked, not expired, and issued for the resource's scope (its audience).
#[derive(Clone)]
pub struct TokenVerifier {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// The client id behind `token` if it is live and was issued for `scope`; otherwise why
    /// not (never the token itself).
    pub fn verify(&self, token: &str, scope: &str) -> Result<String, String> {
        let inner = self.shared.lock();
        let issued = inner
            .tokens
            .get(token)
            .ok_or_else(|| "unknown bearer token".to_string())?;
        if issued.revoked {
            return Err("bearer token revoked".into());
        }
        if Instant::now() >= issued.expires_at {
            return Err("bearer token expired".into());
        }
        if !issued.scopes.iter().any(|s| s == scope) {
            return Err(format!(
                "bearer token audience is '{}', not '{scope}'",
                issued.scopes.join(" ")
            ));
        }
        Ok(issued.client_id.clone())
    }
}

/// The form of a client-credentials token request.
#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Entra,
    Okta,
}

async fn entra_token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", shared.base_url);
    token(&shared, Flavor::Entra, &url, form).await
}

async fn okta_token(State(shared): State<Arc<Shared>>, Form(form): Form<TokenForm>) -> Response {
    let url = format!("{}/oauth2/v1/token", shared.base_url);
    token(&shared, Flavor::Okta, &url, form).await
}

async fn token(shared: &Shared, flavor: Flavor, url: &str, form: TokenForm) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let delay = shared.lock().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut inner = shared.lock();
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        let status =
            StatusCode::from_u16(inner.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return oauth_error(status, "temporarily_unavailable");
    }
    match check(&mut inner, flavor, url, &form) {
        Ok(client_id) => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let expires_in = inner.expires_in;
            inner.tokens.insert(
                token.clone(),
                Issued {
                    client_id,
                    scopes: form
                        .scope
                        .as_deref()
                        .unwrap_or("")
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    expires_at: Instant::now() + Duration::from_secs(expires_in),
                    revoked: false,
                },
            );
            inner.issued.push(token.clone());
            Json(json!({
                "token_type": "Bearer",
                "expires_in": expires_in,
                "access_token": token,
                "scope": form.scope,
            }))
            .into_response()
        }
        Err((status, code, reason)) => {
            tracing::debug!(%reason, "token request refused");
            inner.rejections.push(reason);
            oauth_error(status, code)
        }
    }
}

type Refusal = (StatusCode, &'static str, String);

/// Validate a token request; the client id on success.
fn check(
    inner: &mut Inner,
    flavor: Flavor,
    url: &str,
    form: &TokenForm,
) -> Result<String, Refusal> {
    let bad = |code, reason: &str| (StatusCode::BAD_REQUEST, code, reason.to_string());
    let unauthorized = |reason: String| (StatusCode::UNAUTHORIZED, "invalid_client", reason);
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(bad(
            "unsupported_grant_type",
            "grant_type is not client_credentials",
        ));
    }
    let client_id = form
        .client_id
        .as_deref()
        .ok_or_else(|| bad("invalid_request", "client_id missing"))?;
    let scope = form.scope.as_deref().unwrap_or("").trim();
    if scope.is_empty() {
        return Err(bad("invalid_scope", "scope missing"));
    }
    let Some(client) = inner.clients.get(client_id) else {
        return Err(unauthorized(format!("unknown client {client_id}")));
    };
    match flavor {
        Flavor::Entra if !scope.ends_with("/.default") => {
            return Err(bad(
                "invalid_scope",
                "Entra v2 client credentials need scope <resource>/.default",
            ));
        }
        Flavor::Okta => {
            if let Some(allowed) = &client.scopes {
                if let Some(s) = scope.split(' ').find(|s| !allowed.contains(*s)) {
                    return Err(bad(
                        "invalid_scope",
                        &format!("scope {s} not granted to client {client_id}"),
                    ));
                }
            }
        }
        Flavor::Entra => {}
    }
    match (&client.auth, &form.client_assertion, &form.client_secret) {
        (ClientAuth::Secret(_), _, _) if flavor == Flavor::Okta => Err(unauthorized(
            "Okta service apps authenticate with private_key_jwt".into(),
        )),
        (ClientAuth::Secret(expected), None, Some(secret)) => {
            if secret == expected {
                Ok(client_id.to_string())
            } else {
                Err(unauthorized(format!(
                    "wrong client secret for client {client_id}"
                )))
            }
        }
        (ClientAuth::Key(key, alg), Some(assertion), None) => {
            if form.client_assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(bad(
                    "invalid_request",
                    "client_assertion_type is not jwt-bearer",
                ));
            }
            let key = key.clone();
            let alg = *alg;
            inner.assertions.push(assertion.clone());
            if flavor == Flavor::Entra {
                let header = jsonwebtoken::decode_header(assertion)
                    .map_err(|e| unauthorized(format!("assertion header unreadable: {e}")))?;
                if header.x5t.is_none() {
                    return Err(unauthorized(format!(
                        "assertion of client {client_id} lacks x5t (Entra needs the certificate thumbprint)"
                    )));
                }
            }
            verify_assertion(inner, &key, alg, client_id, url, assertion).map_err(unauthorized)?;
            Ok(client_id.to_string())
        }
        _ => Err(unauthorized(format!(
            "client {client_id} sent neither its registered kind of secret nor a valid assertion"
        ))),
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    iat: Option<i64>,
    exp: i64,
    jti: Option<String>,
}

fn verify_assertion(
    inner: &mut Inner,
    key: &DecodingKey,
    alg: Algorithm,
    client_id: &str,
    url: &str,
    assertion: &str,
) -> Result<(), String> {
    let mut validation = Validation::new(alg);
    validation.set_audience(&[url]);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_string());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, key, &validation)
        .map_err(|e| format!("assertion of client {client_id} refused: {e}"))?;
    let claims = data.claims;
    let iat = claims
        .iat
        .ok_or_else(|| format!("assertion of client {client_id} has no iat"))?;
    if claims.exp - iat > 3600 {
        return Err(format!(
            "assertion of client {client_id} lives longer than one hour"
        ));
    }
    let jti = claims
        .jti
        .ok_or_else(|| format!("assertion of client {client_id} has no jti"))?;
    if !inner.seen_jti.insert(jti) {
        return Err(format!(
            "assertion of client {client_id} replayed (jti seen before)"
        ));
    }
    Ok(())
}

fn oauth_error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

async fn resource(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.resource_requests.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let inner = shared.lock();
    match token.and_then(|t| inner.tokens.get(t)) {
        Some(issued) if !issued.revoked && Instant::now() < issued.expires_at => {
            Json(json!({ "client_id": issued.client_id })).into_response()
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            Json(json!({ "error": "invalid_token" })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    struct Claims<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        lifetime: i64,
        jti: &'a str,
    }

    fn assertion(c: &Claims<'_>) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = json!({
            "iss": c.iss, "sub": c.sub, "aud": c.aud,
            "iat": now, "exp": now + c.lifetime, "jti": c.jti,
        });
        let key = EncodingKey::from_ec_pem(test_keys::EC_PRIVATE_PEM.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap()
    }

    async fn post(url: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn okta_with(sim: &TokenEndpoint, assertion: &str) -> (u16, serde_json::Value) {
        post(
            &sim.okta_token_url(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("scope", "okta.logs.read"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
            ],
        )
        .await
    }

    #[tokio::test]
    async fn assertion_claims_are_checked() {
        let sim = TokenEndpoint::start().await.unwrap();
        sim.register_key_client("app", test_keys::EC_PUBLIC_PEM, KeyAlgorithm::ES256)
            .unwrap();
        let aud = sim.okta_token_url();
        let good = Claims {
            iss: "app",
            sub: "app",
            aud: &aud,
            lifetime: 300,
            jti: "j1",
        };
        let (status, body) = okta_with(&sim, &assertion(&good)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["access_token"].as_str().is_some());
        assert_eq!(body["expires_in"], 3600);

        // Replayed jti, wrong audience, wrong issuer, wrong subject, too long a life.
        let cases = [
            Claims { jti: "j1", ..good },
            Claims {
                aud: "http://elsewhere/oauth2/v1/token",
                jti: "j2",
                ..good
            },
            Claims {
                iss: "other",
                jti: "j3",
                ..good
            },
            Claims {
                sub: "other",
                jti: "j4",
                ..good
            },
            Claims {
                lifetime: 7200,
                jti: "j5",
                ..good
            },
        ];
        for (i, claims) in cases.iter().enumerate() {
            let (status, body) = okta_with(&sim, &assertion(claims)).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (401, Some("invalid_client")),
                "case {i}"
            );
        }
        assert_eq!(sim.rejections().len(), cases.len());
        assert!(sim.rejections()[0].contains("replayed"));
        assert!(sim.rejections()[4].contains("longer than one hour"));
        assert_eq!(sim.token_requests(), 6);
    }

    #[tokio::test]
    async fn form_fields_are_checked() {
        let sim = TokenEndpoint::start().await.unwrap();
        sim.register_secret_client("app", "s");
        let entra = sim.entra_token_url("dir");
        let form = |grant: &'static str, scope: &'static str, secret: &'static str| {
            vec![
                ("grant_type", grant),
                ("client_id", "app"),
                ("client_secret", secret),
                ("scope", scope),
            ]
        };
        let (status, body) = post(&entra, &form("password", "https://r/.default", "s")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
        let (status, body) = post(&entra, &form("client_credentials", "User.Read", "s")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope"))
        );
        let (status, _) = post(
            &entra,
            &form("client_credentials", "https://r/.default", "x"),
        )
        .await;
        assert_eq!(status, 401);
        // Okta service apps do not take a client secret here.
        let (status, _) = post(
            &sim.okta_token_url(),
            &form("client_credentials", "okta.logs.read", "s"),
        )
        .await;
        assert_eq!(status, 401);
        let (status, body) = post(
            &entra,
            &form("client_credentials", "https://r/.default", "s"),
        )
        .await;
        assert_eq!(status, 200);

        // The resource takes that token until it is revoked; failures are injectable.
        let token = body["access_token"].as_str().unwrap().to_string();
        let get = |t: String| {
            let url = sim.resource_url();
            async move {
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth(t)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(get(token.clone()).await, 200);
        assert_eq!(get("unknown".into()).await, 401);
        sim.revoke_all();
        assert_eq!(get(token).await, 401);
        sim.fail_next(1, 503);
        let (status, _) = post(
            &entra,
            &form("client_credentials", "https://r/.default", "s"),
        )
        .await;
        assert_eq!(status, 503);
        assert_eq!(sim.issued_tokens().len(), 1);
    }
}
