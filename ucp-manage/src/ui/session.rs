//! Sign-in sessions of the web pages, kept in the server's memory.
//!
//! A browser holds only a random session id, in an `HttpOnly`, `SameSite=Strict` cookie
//! scoped to `/ui`; the API key or token it signed in with stays on the server, in a
//! `SecretString`, and authenticates every request again (so a revoked key or an expired
//! token ends the session at once, and roles are checked by the manager as for the API).
//!
//! - Ids are 32 random bytes; the table is keyed by their SHA-256, so neither a log of the
//!   table's keys nor a timing difference in a lookup gives a usable id.
//! - Each session has its own CSRF token, which every state-changing form carries and the
//!   server compares in constant time.
//! - A session ends after [`Sessions::idle`] without a request, or [`Sessions::lifetime`]
//!   after sign-in, whichever comes first; the table holds at most
//!   [`Sessions::capacity`] sessions (the least recently used goes first).
//! - A server restart ends every session: people sign in again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// The cookie holding the session id.
pub const COOKIE: &str = "ucp_session";

/// How long a session lasts without a request, by default.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
/// How long a session lasts at most, by default.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How many sessions are kept at most, by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A signed-in browser, as a request sees it.
#[derive(Clone)]
pub struct Session {
    /// What it signed in with (an API key or a bearer token).
    pub credential: SecretString,
    /// The tenant it chose at sign-in.
    pub tenant: String,
    /// The token its forms carry.
    pub csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

struct Entry {
    session: Session,
    created: Instant,
    seen: Instant,
}

/// The session table.
pub struct Sessions {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    idle: Duration,
    lifetime: Duration,
    capacity: usize,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("idle", &self.idle)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(DEFAULT_IDLE, DEFAULT_LIFETIME, DEFAULT_CAPACITY)
    }
}

/// 32 random bytes, base64url.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Equal strings, compared in time that depends only on their lengths.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

impl Sessions {
    /// Sessions ending after `idle` without a request or `lifetime` after sign-in, at most
    /// `capacity` of them.
    pub fn new(idle: Duration, lifetime: Duration, capacity: usize) -> Self {
        Sessions {
            entries: Mutex::new(HashMap::new()),
            idle,
            lifetime,
            capacity: capacity.max(1),
        }
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The longest a session lasts.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The most sessions kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.seen) < self.idle
            && now.saturating_duration_since(entry.created) < self.lifetime
    }

    /// Start a session; returns its id (for the cookie) and the session.
    pub fn start(&self, credential: SecretString, tenant: String) -> (String, Session) {
        let id = random_token();
        let session = Session {
            credential,
            tenant,
            csrf: random_token(),
        };
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| self.live(e, now));
        while entries.len() >= self.capacity {
            let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.seen).map(|(k, _)| *k) else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(
            key(&id),
            Entry {
                session: session.clone(),
                created: now,
                seen: now,
            },
        );
        (id, session)
    }

    /// The live session `id`, marked as used now; an ended one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut entries = self.lock();
        let k = key(id);
        let entry = entries.get_mut(&k)?;
        if !self.live(entry, now) {
            entries.remove(&k);
            return None;
        }
        entry.seen = now;
        Some(entry.session.clone())
    }

    /// End session `id` (sign-out).
    pub fn end(&self, id: &str) {
        self.lock().remove(&key(id));
    }

    /// How many sessions are held (ended ones included until the next sign-in sweeps them).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The `Set-Cookie` value that gives a browser session `id` (`secure` over HTTPS).
pub(crate) fn set_cookie(id: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("ucpk_0123456789abcdef_secret".to_string())
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_ends_when_idle_or_too_old() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(300), 10);
        let (id, started) = sessions.start(secret(), "contoso".into());
        let got = sessions.get(&id).expect("a fresh session");
        assert_eq!(got.tenant, "contoso");
        assert!(same(&got.csrf, &started.csrf));
        // Used every 50 s, it outlives the idle timeout…
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(50)).await;
            assert!(sessions.get(&id).is_some());
        }
        // …but not its lifetime (300 s from sign-in).
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(sessions.get(&id).is_none());
        // Idle for a minute, it ends; and it is gone, not only hidden.
        let (idle, _) = sessions.start(secret(), "contoso".into());
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(sessions.get(&idle).is_none());
        assert!(sessions.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn ids_are_unguessable_and_the_table_is_bounded() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(300), 3);
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(sessions.start(secret(), "t".into()).0);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(sessions.len(), 3);
        // The least recently used went first.
        assert!(sessions.get(&ids[0]).is_none());
        assert!(sessions.get(&ids[1]).is_none());
        assert!(sessions.get(&ids[4]).is_some());
        assert!(ids.iter().all(|id| id.len() == 43));
        assert!(sessions.get("not-a-session").is_none());
        sessions.end(&ids[4]);
        assert!(sessions.get(&ids[4]).is_none());
    }

    #[test]
    fn cookies_are_read_by_name_and_set_strict_and_http_only() {
        let header = "theme=dark; ucp_session=abc; other=x";
        assert_eq!(cookie(header, COOKIE), Some("abc"));
        assert_eq!(cookie("ucp_session_old=z", COOKIE), None);
        let set = set_cookie("abc", Duration::from_secs(1800), false);
        for part in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=1800"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Secure"));
        assert!(set_cookie("abc", Duration::from_secs(1), true).ends_with("; Secure"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    proptest::proptest! {
        #[test]
        fn any_cookie_header_is_read_without_panicking(header in ".{0,80}", name in "[a-z_]{1,12}") {
            if let Some(value) = cookie(&header, &name) {
                let pair = format!("{name}={value}");
                proptest::prop_assert!(header.contains(&pair));
            }
        }
    }
}
