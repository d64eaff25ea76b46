//! What the suites collect to look for secrets: every output a connector produced (Debug of
//! results and errors, describe info) and its tracing output at TRACE, scanned with the
//! shared [`LeakScanner`](crate::leak::LeakScanner) (so encoded and partial forms of a secret
//! count too).

use std::sync::{Arc, Mutex, MutexGuard};

use secrecy::ExposeSecret;
use tracing::Dispatch;
use ucp_core::credentials::Credential;

use crate::leak::{LeakScanner, TraceCapture};

/// Secrets shorter than this are not searched for: they would match ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// Where the TRACE output is said to be in leak reports.
const TRACE_PLACE: &str = "tracing output at TRACE";

/// The secret strings of named credentials, for scanning and redaction.
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
            (secret.len() >= MIN_SECRET_LEN).then(|| (name.clone(), secret))
        })
        .collect()
}

/// Everything a suite saw, for the leak check.
#[derive(Clone, Default)]
pub(crate) struct Outputs {
    texts: Arc<Mutex<Vec<(String, String)>>>,
    trace: TraceCapture,
}

impl Outputs {
    /// Keep `text`, produced at `place`.
    pub fn keep(&self, place: impl Into<String>, text: impl Into<String>) {
        lock(&self.texts).push((place.into(), text.into()));
    }

    /// A subscriber that writes every event and span at TRACE into this collection.
    pub fn dispatch(&self) -> Dispatch {
        Dispatch::new(self.trace.subscriber())
    }

    /// Where each secret was found, as `"<where>: secret of credential '<name>'"` lines
    /// (never the secret itself).
    pub fn leaks(&self, secrets: &[(String, String)]) -> Vec<String> {
        let mut scanner = LeakScanner::new();
        for (name, secret) in secrets {
            scanner.secret(name.as_str(), secret);
        }
        for (place, text) in lock(&self.texts).iter() {
            scanner.scan(place.as_str(), text);
        }
        scanner.scan(TRACE_PLACE, &self.trace.text());
        scanner
            .leaks()
            .iter()
            .map(|leak| format!("{}: secret of credential '{}'", leak.source, leak.secret))
            .collect()
    }

    /// Bytes of tracing output captured.
    pub fn trace_len(&self) -> usize {
        self.trace.text().len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn token(value: &str) -> Credential {
        Credential::ApiToken {
            token: SecretString::from(value.to_string()),
        }
    }

    #[test]
    fn finds_each_secret_by_place_without_printing_it() {
        let secrets = secrets_of(&[
            ("okta".to_string(), token("abcdef123")),
            ("short".to_string(), token("abc")),
        ]);
        assert_eq!(secrets.len(), 1, "short secrets are not searched for");
        let outputs = Outputs::default();
        outputs.keep("error", "token abcdef123 refused");
        outputs.keep("page", "nothing here");
        assert_eq!(
            outputs.leaks(&secrets),
            vec!["error: secret of credential 'okta'".to_string()]
        );
    }

    #[test]
    fn trace_events_are_scanned() {
        let outputs = Outputs::default();
        let secrets = vec![("okta".to_string(), "captured-at-trace".to_string())];
        assert!(outputs.leaks(&secrets).is_empty());
        tracing::dispatcher::with_default(&outputs.dispatch(), || {
            tracing::trace!(value = "captured-at-trace", "hello");
        });
        assert!(outputs.trace_len() > 0);
        assert_eq!(
            outputs.leaks(&secrets),
            vec![format!("{TRACE_PLACE}: secret of credential 'okta'")]
        );
    }

    #[test]
    fn an_encoded_secret_counts_too() {
        let outputs = Outputs::default();
        outputs.keep("request body", "token=s3cret%2Bkey%2F42");
        let secrets = vec![("api".to_string(), "s3cret+key/42".to_string())];
        assert_eq!(
            outputs.leaks(&secrets),
            vec!["request body: secret of credential 'api'".to_string()]
        );
    }
}
