//! The server's two keys: the credential store's encryption key and the API keys' pepper.
//! Each comes from where the configuration says; when it says nothing, from a file the
//! server generated in its data directory on first start (mode 0600), with a warning that
//! a key next to what it protects protects nothing at rest.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};
use ucp_core::credentials::FileKey;
use ucp_manage::MIN_PEPPER_BYTES;

use crate::config::Config;

/// A key that could not be read or made.
#[derive(Debug, thiserror::Error)]
#[error("{what} {path}: {reason}")]
pub struct KeyError {
    /// Which key.
    pub what: &'static str,
    /// Its file.
    pub path: PathBuf,
    /// Why (never the key).
    pub reason: String,
}

/// The credential store's key: the configured key file, the passphrase, or the generated
/// `credentials.key` in the data directory.
pub fn credential_key(config: &Config) -> Result<FileKey, KeyError> {
    if let Some(file) = &config.credentials.key_file {
        return Ok(FileKey::key_file(file));
    }
    if let Some(passphrase) = &config.credentials_passphrase {
        return Ok(FileKey::Passphrase(passphrase.clone()));
    }
    let path = config.data_dir.join("credentials.key");
    if path.exists() {
        return Ok(FileKey::key_file(path));
    }
    tracing::warn!(path = %path.display(), "no credential key configured: generated one next to the credentials; set credentials.key_file or UCPD_CREDENTIALS_PASSPHRASE to protect them at rest");
    FileKey::generate_key_file(&path).map_err(|e| KeyError {
        what: "credential key",
        path,
        reason: e.to_string(),
    })
}

/// The API keys' pepper: the configured file, or the generated `api-key-pepper` in the data
/// directory.
pub fn pepper(config: &Config) -> Result<SecretSlice<u8>, KeyError> {
    let (path, generate) = match &config.api_keys.pepper_file {
        Some(file) => (file.clone(), false),
        None => (config.data_dir.join("api-key-pepper"), true),
    };
    let fail = |reason: String| KeyError {
        what: "API key pepper",
        path: path.clone(),
        reason,
    };
    if generate && !path.exists() {
        tracing::info!(path = %path.display(), "generated the API keys' pepper");
        write_new(&path).map_err(|e| fail(e.to_string()))?;
    }
    let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
    let pepper = SecretSlice::from(bytes);
    if pepper.expose_secret().len() < MIN_PEPPER_BYTES {
        return Err(fail(format!(
            "it holds {} bytes; a pepper is at least {MIN_PEPPER_BYTES} random bytes (e.g. `head -c 32 /dev/urandom > file`)",
            pepper.expose_secret().len()
        )));
    }
    Ok(pepper)
}

/// Write 32 random bytes to a new file, readable by its owner only.
fn write_new(path: &Path) -> std::io::Result<()> {
    let mut bytes = [0u8; MIN_PEPPER_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(&bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pepper_is_kept_and_a_short_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let first = pepper(&config).unwrap();
        let again = pepper(&config).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert_eq!(first.expose_secret().len(), MIN_PEPPER_BYTES);

        let short = dir.path().join("short");
        std::fs::write(&short, b"too short").unwrap();
        let config = Config {
            api_keys: crate::config::ApiKeySettings {
                pepper_file: Some(short),
            },
            ..config
        };
        let error = pepper(&config).unwrap_err().to_string();
        assert!(error.contains("holds 9 bytes"), "{error}");
    }
}
