//! Bearer JWTs, validated against a configured issuer, audience and JWKS.
//!
//! Only asymmetric algorithms are accepted (a symmetric one would let anyone holding the
//! public key sign), the algorithm must belong to the key's family, `exp`, `iss` and `aud`
//! are required, and an unknown `kid` refetches a JWKS URL at most every 30 seconds.

use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// JWKS documents larger than this are refused.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// The shortest time between two fetches of the JWKS URL.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// Where the signing keys come from.
#[derive(Clone, Debug)]
pub enum JwksSource {
    /// Fetched from this URL (e.g. an identity provider's `jwks_uri`).
    Url(String),
    /// Given in the configuration.
    Static(JwkSet),
}

/// What a valid token must say.
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud` (one of).
    pub audience: String,
    /// The signing keys.
    pub jwks: JwksSource,
    /// The claim naming the principal (default `sub`).
    pub principal_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (default 60).
    pub leeway_seconds: u64,
}

impl JwtConfig {
    /// Tokens from `issuer` for `audience`, signed by keys from `jwks`; principal `sub`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, jwks: JwksSource) -> Self {
        JwtConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks,
            principal_claim: "sub".into(),
            leeway_seconds: 60,
        }
    }
}

/// Validates bearer tokens.
pub struct JwtVerifier {
    config: JwtConfig,
    keys: RwLock<JwkSet>,
    last_fetch: Mutex<Option<Instant>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier; a JWKS URL is fetched on first use.
    pub fn new(config: JwtConfig) -> Result<Self, String> {
        let keys = match &config.jwks {
            JwksSource::Static(set) => set.clone(),
            JwksSource::Url(_) => JwkSet { keys: Vec::new() },
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("the JWKS HTTP client could not be built: {e}"))?;
        Ok(JwtVerifier {
            config,
            keys: RwLock::new(keys),
            last_fetch: Mutex::new(None),
            http,
        })
    }

    /// The principal a valid token names, or why the token is refused (never the token).
    pub async fn verify(&self, token: &str) -> Result<String, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("not a valid JWT ({e})"))?;
        if header.alg.family() == jsonwebtoken::AlgorithmFamily::Hmac {
            return Err(format!(
                "tokens signed with {:?} are refused: only asymmetric algorithms are accepted",
                header.alg
            ));
        }
        let kid = header.kid.clone().unwrap_or_default();
        let jwk = match self.find(&kid) {
            Some(jwk) => jwk,
            None => {
                self.refresh().await?;
                self.find(&kid)
                    .ok_or_else(|| format!("no signing key '{kid}' in the issuer's JWKS"))?
            }
        };
        if let Some(alg) = jwk.common.key_algorithm {
            if format!("{alg:?}") != format!("{:?}", header.alg) {
                return Err(format!(
                    "the token is signed with {:?} but key '{kid}' is for {alg:?}",
                    header.alg
                ));
            }
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| format!("signing key '{kid}' is unusable ({e})"))?;
        let validation = self.validation(header.alg);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key,
            &validation,
        )
        .map_err(|e| format!("the token is not valid: {e}"))?;
        match data.claims.get(&self.config.principal_claim) {
            Some(serde_json::Value::String(principal)) if !principal.is_empty() => {
                Ok(principal.clone())
            }
            _ => Err(format!(
                "the token has no '{}' claim naming the principal",
                self.config.principal_claim
            )),
        }
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.config.leeway_seconds;
        validation.validate_nbf = true;
        validation
    }

    fn find(&self, kid: &str) -> Option<Jwk> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        if kid.is_empty() && keys.keys.len() == 1 {
            return keys.keys.first().cloned();
        }
        keys.find(kid).cloned()
    }

    /// Fetch the JWKS URL again, unless it was fetched less than 30 s ago.
    async fn refresh(&self) -> Result<(), String> {
        let JwksSource::Url(url) = &self.config.jwks else {
            return Ok(());
        };
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return Ok(());
        }
        *last = Some(Instant::now());
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("the issuer's JWKS at {url} could not be fetched ({e})"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the issuer's JWKS at {url} answered {}",
                response.status()
            ));
        }
        if response.content_length().unwrap_or(0) > MAX_JWKS_BYTES as u64 {
            return Err(format!("the issuer's JWKS at {url} is larger than 1 MiB"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("the issuer's JWKS at {url} was cut short ({e})"))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("the issuer's JWKS at {url} is larger than 1 MiB"));
        }
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| format!("the issuer's JWKS at {url} is not a JWK set ({e})"))?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = set;
        Ok(())
    }
}
