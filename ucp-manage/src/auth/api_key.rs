//! API keys, stored only as keyed hashes.
//!
//! A key reads `ucpk_<id>_<secret>`: a 16-hex-digit public id that finds the stored row, and
//! 32 random bytes (base64url) of secret. The store keeps
//! `HMAC-SHA256(pepper, "ucp-api-key:" ‖ id ‖ ":" ‖ secret)`:
//!
//! - The secret has 256 bits of entropy, so no guessing attack is feasible and a slow
//!   password hash (Argon2) would only cost CPU on every request; one MAC is enough.
//! - The MAC is keyed with a server-side pepper kept outside the database (configuration or
//!   environment), so a copy of the database alone cannot even test a guessed key.
//! - The id in the message salts it: two keys never share a hash, and a hash copied to
//!   another key's row does not verify.
//! - The comparison is constant-time (`Mac::verify_slice`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

use crate::model::ApiKeyRecord;

const PREFIX: &str = "ucpk_";
const ID_HEX: usize = 16;
const SECRET_BYTES: usize = 32;
/// The shortest pepper accepted.
pub const MIN_PEPPER_BYTES: usize = 32;

/// Mints and verifies API keys under one pepper.
pub struct ApiKeys {
    pepper: SecretSlice<u8>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").finish_non_exhaustive()
    }
}

/// The pepper is too short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the API key pepper has {0} bytes; it needs at least {MIN_PEPPER_BYTES} random bytes")]
pub struct ShortPepper(pub usize);

impl ApiKeys {
    /// Keys hashed under `pepper` (at least [`MIN_PEPPER_BYTES`] random bytes).
    pub fn new(pepper: SecretSlice<u8>) -> Result<Self, ShortPepper> {
        let len = pepper.expose_secret().len();
        if len < MIN_PEPPER_BYTES {
            return Err(ShortPepper(len));
        }
        Ok(ApiKeys { pepper })
    }

    /// A new random pepper.
    pub fn random_pepper() -> SecretSlice<u8> {
        let mut bytes = vec![0u8; MIN_PEPPER_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        SecretSlice::from(bytes)
    }

    /// A new key for `principal`: the record to store, and the key to hand over once.
    pub fn mint(&self, principal: &str) -> (ApiKeyRecord, SecretString) {
        let mut id = [0u8; ID_HEX / 2];
        let mut secret = [0u8; SECRET_BYTES];
        let mut rng = rand::rng();
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let record = ApiKeyRecord {
            hash: self.mac(&id, &secret).finalize().into_bytes().to_vec(),
            id: id.clone(),
            principal: principal.to_string(),
            created_at: Utc::now(),
            revoked: false,
        };
        (record, SecretString::from(format!("{PREFIX}{id}_{secret}")))
    }

    /// True when `presented` is the key `record` was minted for (and it is not revoked).
    pub fn verify(&self, record: &ApiKeyRecord, presented: &str) -> bool {
        match parse(presented) {
            Some((id, secret)) if id == record.id && !record.revoked => {
                self.mac(id, secret).verify_slice(&record.hash).is_ok()
            }
            _ => false,
        }
    }

    fn mac(&self, id: &str, secret: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.pepper.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(b"ucp-api-key:");
        mac.update(id.as_bytes());
        mac.update(b":");
        mac.update(secret.as_bytes());
        mac
    }
}

/// True when `token` has the shape of an API key (rather than a JWT).
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// `(id, secret)` of a well-formed key.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == ID_HEX
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> ApiKeys {
        ApiKeys::new(ApiKeys::random_pepper()).unwrap()
    }

    #[test]
    fn a_minted_key_verifies_and_nothing_else_does() {
        let keys = keys();
        let (record, key) = keys.mint("bob");
        let key = key.expose_secret();
        assert!(keys.verify(&record, key));
        assert!(!record
            .hash
            .windows(8)
            .any(|w| key.as_bytes().windows(8).any(|k| k == w)));
        // One character changed, another pepper, a revoked key, another key's row.
        let mut changed = key.to_string();
        let last = changed.pop().unwrap();
        changed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!keys.verify(&record, &changed));
        assert!(!ApiKeys::new(ApiKeys::random_pepper())
            .unwrap()
            .verify(&record, key));
        let revoked = ApiKeyRecord {
            revoked: true,
            ..record.clone()
        };
        assert!(!keys.verify(&revoked, key));
        let (other, _) = keys.mint("carol");
        let swapped = ApiKeyRecord {
            hash: other.hash,
            ..record
        };
        assert!(!keys.verify(&swapped, key));
    }

    #[test]
    fn a_short_pepper_is_refused() {
        assert_eq!(
            ApiKeys::new(SecretSlice::from(vec![1u8; 8])).unwrap_err(),
            ShortPepper(8)
        );
    }

    proptest! {
        #[test]
        fn parsing_any_string_never_panics_and_accepts_only_the_shape(s in ".{0,80}") {
            if let Some((id, secret)) = parse(&s) {
                prop_assert_eq!(id.len(), 16);
                prop_assert_eq!(secret.len(), 43);
            }
        }

        #[test]
        fn every_minted_key_parses(principal in "[a-z]{1,10}") {
            let keys = keys();
            let (record, key) = keys.mint(&principal);
            prop_assert_eq!(parse(key.expose_secret()).map(|(id, _)| id.to_string()), Some(record.id.clone()));
        }
    }
}
