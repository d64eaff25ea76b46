//! What the suites collect to look for secrets: every output a connector produced (Debug of
//! results and errors, describe info) and its tracing output at TRACE.
//!
//! The scanning itself is [`find_secrets`], one small function: when the shared leak scanner
//! of `ucp-testkit` lands, it replaces this one's body and every suite uses it.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::ExposeSecret;
use tracing::Dispatch;
use ucp_core::Credential;

/// Secrets shorter than this are not searched for: they would match ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// Where each secret was found, as `"<where>: <secret's name>"` lines (never the secret).
pub fn find_secrets(outputs: &[(String, String)], secrets: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (place, text) in outputs {
        for (name, secret) in secrets {
            if secret.len() >= MIN_SECRET_LEN && text.contains(secret.as_str()) {
                found.push(format!("{place}: secret of credential '{name}'"));
            }
        }
    }
    found
}

/// The secret strings of named credentials, for scanning.
pub(crate) fn secrets_of(credentials: &[(String, Credential)]) -> Vec<(String, String)> {
    credentials
        .iter()
        .filter_map(|(name, credential)| {
            let secret = match credential {
                Credential::ApiToken { token } => token.expose_secret().to_string(),
                Credential::ClientSecret { secret, .. } => secret.expose_secret().to_string(),
                Credential::PrivateKeyJwt {
                    private_key_pem, ..
                } => private_key_pem.expose_secret().to_string(),
                Credential::SharedAccessKey { key, .. } => key.expose_secret().to_string(),
                Credential::Basic { password, .. } => password.expose_secret().to_string(),
                _ => return None,
            };
            Some((name.clone(), secret))
        })
        .collect()
}

/// Everything a suite saw, for the leak check.
#[derive(Clone, Default)]
pub(crate) struct Outputs {
    texts: Arc<Mutex<Vec<(String, String)>>>,
    trace: Arc<Mutex<Vec<u8>>>,
}

impl Outputs {
    /// Keep `text`, produced at `place`.
    pub fn keep(&self, place: impl Into<String>, text: impl Into<String>) {
        lock(&self.texts).push((place.into(), text.into()));
    }

    /// A subscriber that writes every event and span at TRACE into this collection.
    pub fn dispatch(&self) -> Dispatch {
        let trace = self.trace.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || TraceWriter(trace.clone()))
            .finish();
        Dispatch::new(subscriber)
    }

    /// The outputs plus the trace, as (place, text) pairs.
    pub fn all(&self) -> Vec<(String, String)> {
        let mut all = lock(&self.texts).clone();
        let trace = String::from_utf8_lossy(&lock(&self.trace)).into_owned();
        all.push(("tracing output at TRACE".into(), trace));
        all
    }

    /// Bytes of tracing output captured.
    pub fn trace_len(&self) -> usize {
        lock(&self.trace).len()
    }
}

struct TraceWriter(Arc<Mutex<Vec<u8>>>);

impl Write for TraceWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_secret_by_place_without_printing_it() {
        let outputs = vec![
            ("error".to_string(), "token abcdef123 refused".to_string()),
            ("page".to_string(), "nothing here".to_string()),
        ];
        let secrets = vec![
            ("okta".to_string(), "abcdef123".to_string()),
            ("short".to_string(), "abc".to_string()),
        ];
        let found = find_secrets(&outputs, &secrets);
        assert_eq!(
            found,
            vec!["error: secret of credential 'okta'".to_string()]
        );
    }

    #[test]
    fn trace_events_are_captured() {
        let outputs = Outputs::default();
        tracing::dispatcher::with_default(&outputs.dispatch(), || {
            tracing::trace!(value = "captured-at-trace", "hello");
        });
        assert!(outputs
            .all()
            .iter()
            .any(|(_, text)| text.contains("captured-at-trace")));
    }
}
