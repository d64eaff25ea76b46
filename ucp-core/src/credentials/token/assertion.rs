//! Signed client assertions (RFC 7523 `private_key_jwt`) with `jsonwebtoken`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::TokenError;
use crate::credentials::{CredentialRef, JwtAlgorithm};

/// Lifetime of an assertion: short, well under the one hour providers accept.
const LIFETIME_SECS: i64 = 300;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// What a client assertion is made from.
pub(crate) struct AssertionKey<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) token_url: &'a str,
    pub(crate) private_key_pem: &'a SecretString,
    pub(crate) key_id: Option<&'a str>,
    pub(crate) algorithm: JwtAlgorithm,
}

/// A fresh assertion: iss = sub = client id, aud = token URL, 5-minute expiry, random jti;
/// header `kid` (and, for Entra ID v2 token URLs, `x5t`) from the key id.
pub(crate) fn sign(
    reference: &CredentialRef,
    key: &AssertionKey<'_>,
) -> Result<SecretString, TokenError> {
    let fail = |detail: String| TokenError::Assertion {
        reference: reference.clone(),
        detail,
    };
    let pem = key.private_key_pem.expose_secret().as_bytes();
    let (algorithm, encoding) = match key.algorithm {
        JwtAlgorithm::RS256 => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem)),
        JwtAlgorithm::ES256 => (Algorithm::ES256, EncodingKey::from_ec_pem(pem)),
    };
    let encoding =
        encoding.map_err(|e| fail(format!("the private key is not a usable PEM key ({e})")))?;
    let mut header = Header::new(algorithm);
    header.kid = key.key_id.map(str::to_string);
    // Entra ID finds a certificate credential by its thumbprint in `x5t`; there the key id
    // is that thumbprint (base64url SHA-1 of the certificate).
    if key.token_url.ends_with("/oauth2/v2.0/token") {
        header.x5t = header.kid.clone();
    }
    let now = chrono::Utc::now().timestamp();
    let mut jti = [0u8; 16];
    rand::rng().fill_bytes(&mut jti);
    let claims = Claims {
        iss: key.client_id,
        sub: key.client_id,
        aud: key.token_url,
        iat: now,
        nbf: now,
        exp: now + LIFETIME_SECS,
        jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
    };
    jsonwebtoken::encode(&header, &claims, &encoding)
        .map(SecretString::from)
        .map_err(|e| fail(format!("signing failed ({e})")))
}
