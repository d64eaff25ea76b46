//! Shared access signature tokens for Event Hubs, minted from a policy key and renewed
//! before they expire.

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// `SharedAccessSignature sr=…&sig=…&se=…&skn=…` for `resource_uri`, valid until `expiry`
/// (seconds since the Unix epoch): the signature is HMAC-SHA256, keyed with the policy key,
/// over the URL-encoded resource URI, a newline and the expiry.
pub fn sas_token(
    resource_uri: &str,
    key_name: &str,
    key: &SecretString,
    expiry: u64,
) -> SecretString {
    let encoded_uri = encode(resource_uri);
    // HMAC takes keys of any length: the error branch cannot happen, and is no panic.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose_secret().as_bytes())
        .unwrap_or_else(|_| <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(format!("{encoded_uri}\n{expiry}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    SecretString::from(format!(
        "SharedAccessSignature sr={encoded_uri}&sig={}&se={expiry}&skn={}",
        encode(&signature),
        encode(key_name)
    ))
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Caches one SAS token per policy key and renews it `renew_before` its expiry.
pub(crate) struct SasCache {
    lifetime: Duration,
    renew_before: Duration,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    key_fingerprint: [u8; 32],
    expiry: i64,
    token: SecretString,
}

impl std::fmt::Debug for SasCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SasCache")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl SasCache {
    pub(crate) fn new(lifetime: Duration) -> Self {
        SasCache {
            lifetime,
            renew_before: (lifetime / 5).min(Duration::from_secs(300)),
            cached: Mutex::new(None),
        }
    }

    /// A token for `resource_uri` valid for a while after `now`; a rotated key gets a new one.
    pub(crate) fn token(
        &self,
        resource_uri: &str,
        key_name: &str,
        key: &SecretString,
        now: DateTime<Utc>,
    ) -> SecretString {
        let fingerprint: [u8; 32] = Sha256::new()
            .chain_update(resource_uri)
            .chain_update([0])
            .chain_update(key_name)
            .chain_update([0])
            .chain_update(key.expose_secret())
            .finalize()
            .into();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        // The lifetime is configuration: any length saturates, none overflows.
        let seconds = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let renew_at = |expiry: i64| expiry.saturating_sub(seconds(self.renew_before));
        if let Some(c) = cached.as_ref() {
            if c.key_fingerprint == fingerprint && now.timestamp() < renew_at(c.expiry) {
                return c.token.clone();
            }
        }
        let expiry = now.timestamp().saturating_add(seconds(self.lifetime));
        let token = sas_token(
            resource_uri,
            key_name,
            key,
            u64::try_from(expiry).unwrap_or(0),
        );
        *cached = Some(Cached {
            key_fingerprint: fingerprint,
            expiry,
            token: token.clone(),
        });
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn token_has_the_documented_shape_and_a_verifiable_signature() {
        let key = SecretString::from("c2VjcmV0LWtleQ==".to_string());
        let token = sas_token(
            "https://ns.servicebus.windows.net/hub",
            "send",
            &key,
            1_700_000_000,
        );
        let token = token.expose_secret();
        let rest = token.strip_prefix("SharedAccessSignature ").unwrap();
        let fields: Vec<(&str, &str)> = rest
            .split('&')
            .map(|p| p.split_once('=').unwrap())
            .collect();
        assert_eq!(
            fields[0],
            ("sr", "https%3A%2F%2Fns.servicebus.windows.net%2Fhub")
        );
        assert_eq!(fields[2], ("se", "1700000000"));
        assert_eq!(fields[3], ("skn", "send"));
        let sig: String = url::form_urlencoded::parse(format!("s={}", fields[1].1).as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"c2VjcmV0LWtleQ==").unwrap();
        mac.update(b"https%3A%2F%2Fns.servicebus.windows.net%2Fhub\n1700000000");
        mac.verify_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(sig)
                .unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn cache_renews_before_expiry_and_on_key_rotation() {
        let cache = SasCache::new(Duration::from_secs(3600));
        let key = SecretString::from("k1".to_string());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let a = cache.token("u", "n", &key, t0);
        let b = cache.token("u", "n", &key, t0 + chrono::Duration::minutes(50));
        assert_eq!(a.expose_secret(), b.expose_secret());
        let c = cache.token("u", "n", &key, t0 + chrono::Duration::minutes(56));
        assert_ne!(a.expose_secret(), c.expose_secret());
        let rotated = cache.token(
            "u",
            "n",
            &SecretString::from("k2".to_string()),
            t0 + chrono::Duration::minutes(57),
        );
        assert_ne!(c.expose_secret(), rotated.expose_secret());
    }

    #[test]
    fn any_configured_lifetime_gives_a_token_expiring_after_now() {
        let key = SecretString::from("c2VjcmV0LWtleQ==".to_string());
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        for lifetime in [
            Duration::MAX,
            Duration::from_secs(i64::MAX as u64),
            Duration::ZERO,
        ] {
            let cache = SasCache::new(lifetime);
            let token = cache.token("https://ns/hub", "send", &key, now);
            let text = token.expose_secret().to_string();
            let se: u64 = text
                .split("se=")
                .nth(1)
                .and_then(|rest| rest.split('&').next())
                .and_then(|se| se.parse().ok())
                .unwrap();
            assert!(se >= now.timestamp() as u64, "{lifetime:?}: {se}");
            // Asked again, it renews or reuses without overflowing either.
            cache.token("https://ns/hub", "send", &key, now);
        }
    }
}
