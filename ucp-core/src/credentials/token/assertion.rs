//! Signed client assertions (RFC 7523 `private_key_jwt`), signed with `ring`.
//!
//! A JWS compact serialization is three base64url parts; writing it here takes a dozen
//! lines, where a JWT crate would bring a second crypto library into every partner's build.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::TokenError;
use crate::credentials::{CredentialRef, JwtAlgorithm};

/// Lifetime of an assertion: short, well under the one hour providers accept.
const LIFETIME_SECS: i64 = 300;

#[derive(Serialize)]
struct JoseHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x5t: Option<&'a str>,
}

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
    // An error from the PEM reader names only the shape of what was wrong, never the bytes.
    let der = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| fail("the private key is not a PEM private key".to_string()))?;
    let kid = key.key_id;
    // Entra ID finds a certificate credential by its thumbprint in `x5t`; there the key id
    // is that thumbprint (base64url SHA-1 of the certificate).
    let x5t = kid.filter(|_| key.token_url.ends_with("/oauth2/v2.0/token"));
    let header = JoseHeader {
        alg: match key.algorithm {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
        },
        typ: "JWT",
        kid,
        x5t,
    };
    let now = chrono::Utc::now().timestamp();
    let mut jti = [0u8; 16];
    rand::rng().fill_bytes(&mut jti);
    let claims = Claims {
        iss: key.client_id,
        sub: key.client_id,
        aud: key.token_url,
        iat: now,
        nbf: now,
        exp: now.saturating_add(LIFETIME_SECS),
        jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
    };
    let (header, claims) = base64url_json(&header)
        .and_then(|h| Ok((h, base64url_json(&claims)?)))
        .map_err(|e| fail(format!("encoding the assertion failed ({e})")))?;
    let signing_input = format!("{header}.{claims}");
    let random = SystemRandom::new();
    let signature = match key.algorithm {
        JwtAlgorithm::RS256 => {
            let pair = match &der {
                PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
                PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
                _ => return Err(fail(not_for("RS256", "an RSA key (PKCS#8 or PKCS#1 PEM)"))),
            }
            .map_err(|e| fail(format!("the private key is not a usable RSA key ({e})")))?;
            let mut signature = vec![0u8; pair.public().modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &random,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| fail("RS256 signing failed".to_string()))?;
            signature
        }
        JwtAlgorithm::ES256 => {
            let PrivateKeyDer::Pkcs8(k) = &der else {
                return Err(fail(not_for(
                    "ES256",
                    "a P-256 key in PKCS#8 PEM (BEGIN PRIVATE KEY)",
                )));
            };
            let pair = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                k.secret_pkcs8_der(),
                &random,
            )
            .map_err(|e| fail(format!("the private key is not a usable P-256 key ({e})")))?;
            pair.sign(&random, signing_input.as_bytes())
                .map_err(|_| fail("ES256 signing failed".to_string()))?
                .as_ref()
                .to_vec()
        }
    };
    Ok(SecretString::from(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

fn not_for(algorithm: &str, wanted: &str) -> String {
    format!("{algorithm} needs {wanted}; convert the key, e.g. `openssl pkcs8 -topk8 -nocrypt`")
}

fn base64url_json(value: &impl Serialize) -> serde_json::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value)?))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use ring::signature::{KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    use super::*;

    fn pem(label: &str, der: &[u8]) -> SecretString {
        SecretString::from(format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        ))
    }

    fn key<'a>(pem: &'a SecretString, algorithm: JwtAlgorithm, url: &'a str) -> AssertionKey<'a> {
        AssertionKey {
            client_id: "app-1",
            token_url: url,
            private_key_pem: pem,
            key_id: Some("thumb-1"),
            algorithm,
        }
    }

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let text = jwt.split('.').nth(i).expect("three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
    }

    #[test]
    fn an_es256_assertion_verifies_with_the_public_key_and_names_the_key() {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .expect("a fresh key");
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
                .expect("the key");
        let secret = pem("PRIVATE KEY", pkcs8.as_ref());
        let url = "https://login.example/t/oauth2/v2.0/token";
        let reference = CredentialRef::new("contoso", "entra");
        let jwt = sign(&reference, &key(&secret, JwtAlgorithm::ES256, url)).expect("signed");
        let jwt = jwt.expose_secret();

        let (input, signature) = jwt.rsplit_once('.').expect("a signature");
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref());
        public
            .verify(
                input.as_bytes(),
                &URL_SAFE_NO_PAD.decode(signature).expect("b64"),
            )
            .expect("the signature verifies");
        let header = part(jwt, 0);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "thumb-1");
        assert_eq!(header["x5t"], "thumb-1", "Entra v2 token URLs get x5t");
        let claims = part(jwt, 1);
        assert_eq!(claims["iss"], "app-1");
        assert_eq!(claims["sub"], "app-1");
        assert_eq!(claims["aud"], url);
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(LIFETIME_SECS));
        assert_eq!(claims["jti"].as_str().map(str::len), Some(32));
        let other = sign(
            &reference,
            &key(&secret, JwtAlgorithm::ES256, "https://okta/token"),
        )
        .expect("signed");
        assert!(
            part(other.expose_secret(), 0).get("x5t").is_none(),
            "only for Entra"
        );
    }

    #[test]
    fn a_wrong_or_garbled_key_is_a_typed_error_that_does_not_echo_the_key() {
        let random = SystemRandom::new();
        let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .expect("a fresh key");
        let reference = CredentialRef::new("contoso", "entra");
        let ec_pem = pem("PRIVATE KEY", ec.as_ref());
        let error = sign(&reference, &key(&ec_pem, JwtAlgorithm::RS256, "https://t"))
            .expect_err("an EC key cannot sign RS256");
        assert!(
            error.to_string().contains("not a usable RSA key"),
            "{error}"
        );

        let garbled = SecretString::from(
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n"
                .to_string(),
        );
        for algorithm in [JwtAlgorithm::RS256, JwtAlgorithm::ES256] {
            let error =
                sign(&reference, &key(&garbled, algorithm, "https://t")).expect_err("not a key");
            let text = error.to_string();
            assert!(
                text.contains("contoso") && !text.contains("c2VjcmV0"),
                "{text}"
            );
        }
        let not_pem = SecretString::from("hunter2".to_string());
        let error = sign(&reference, &key(&not_pem, JwtAlgorithm::ES256, "https://t"))
            .expect_err("not PEM");
        assert!(
            error.to_string().contains("not a PEM private key"),
            "{error}"
        );
        assert!(!error.to_string().contains("hunter2"));
    }
}
