//! The server's configuration: a TOML file (every key optional), then `UCPD_*` environment
//! variables over it. Secrets are never in the file: the credential store's passphrase
//! comes from the environment, keys and peppers from files the configuration names.
//!
//! ```toml
//! listen = "127.0.0.1:8640"          # UCPD_LISTEN
//! data_dir = "/var/lib/ucpd"         # UCPD_DATA_DIR
//! admins = ["alice"]                 # UCPD_ADMINS (comma-separated)
//! shutdown_timeout_seconds = 30      # UCPD_SHUTDOWN_TIMEOUT_SECONDS
//!
//! [credentials]
//! key_file = "/etc/ucpd/credentials.key"   # UCPD_CREDENTIALS_KEY_FILE; or UCPD_CREDENTIALS_PASSPHRASE
//!
//! [api_keys]
//! pepper_file = "/etc/ucpd/api-key-pepper" # UCPD_API_KEY_PEPPER_FILE
//!
//! [jwt]                                    # optional: bearer JWTs besides API keys
//! issuer = "https://login.example.com/"    # UCPD_JWT_ISSUER
//! audience = "ucp"                         # UCPD_JWT_AUDIENCE
//! jwks_url = "https://login.example.com/.well-known/jwks.json"  # UCPD_JWT_JWKS_URL
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// Where the API listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8640";
/// Where the state lives when nothing says otherwise (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "ucpd-data";
/// How long a shutdown waits for deliveries in flight, by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS: u64 = 30;

/// A configuration mistake, naming the file or variable and the setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML or has an unknown or mistyped setting.
    #[error("the configuration file {path} is not valid: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser says (line, column, setting).
        reason: String,
    },
    /// An environment variable has a value that does not fit its setting.
    #[error("{variable} is not valid: {reason}")]
    Variable {
        /// The variable.
        variable: &'static str,
        /// Why.
        reason: String,
    },
    /// Settings that only make sense together are incomplete.
    #[error("{0}")]
    Incomplete(String),
}

/// The JWT issuer whose bearer tokens the API accepts.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// The tokens' `iss`.
    pub issuer: String,
    /// The tokens' `aud`.
    pub audience: String,
    /// Where the issuer publishes its signing keys (JWKS).
    pub jwks_url: String,
}

/// Where the credential store's key comes from.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CredentialSettings {
    /// A file of exactly 32 random bytes. Without it (and without
    /// `UCPD_CREDENTIALS_PASSPHRASE`), the server keeps a generated key in its data
    /// directory, next to the credentials: fine for trying it out, not for protecting them.
    pub key_file: Option<PathBuf>,
}

/// Where the API keys' pepper comes from.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// A file of at least 32 random bytes. Without it, the server keeps a generated pepper in
    /// its data directory.
    pub pepper_file: Option<PathBuf>,
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    admins: Option<Vec<String>>,
    shutdown_timeout_seconds: Option<u64>,
    #[serde(default)]
    credentials: CredentialSettings,
    #[serde(default)]
    api_keys: ApiKeySettings,
    jwt: Option<JwtSettings>,
}

/// The server's configuration, resolved.
#[derive(Clone, Debug)]
pub struct Config {
    /// The API's address.
    pub listen: SocketAddr,
    /// The state's directory: the management store, the platform's cursors and dead
    /// letters, the health table, the credential store.
    pub data_dir: PathBuf,
    /// Principals that are Owner in every tenant and may mint API keys.
    pub admins: Vec<String>,
    /// How long a shutdown waits for deliveries in flight.
    pub shutdown_timeout_seconds: u64,
    /// The credential store's key file.
    pub credentials: CredentialSettings,
    /// The credential store's passphrase (`UCPD_CREDENTIALS_PASSPHRASE`), instead of a key.
    pub credentials_passphrase: Option<SecretString>,
    /// The API keys' pepper file.
    pub api_keys: ApiKeySettings,
    /// Bearer JWTs, if accepted.
    pub jwt: Option<JwtSettings>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8640))),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            admins: Vec::new(),
            shutdown_timeout_seconds: DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
            credentials: CredentialSettings::default(),
            credentials_passphrase: None,
            api_keys: ApiKeySettings::default(),
            jwt: None,
        }
    }
}

impl Config {
    /// The configuration from `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => Some(
                std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?,
            ),
            None => None,
        };
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Config::resolve(file.zip(text.as_deref()), var)
    }

    /// The configuration from `file` (its path and text), then the variables `var` reads.
    pub fn resolve(
        file: Option<(&Path, &str)>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let settings: FileSettings = match file {
            Some((path, text)) => toml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                reason: e.to_string().trim_end().to_string(),
            })?,
            None => FileSettings::default(),
        };
        let file_name = file.map(|(path, _)| path.display().to_string());
        let mut config = Config::default();
        if let Some(listen) = settings.listen {
            config.listen = listen.parse().map_err(|_| ConfigError::Parse {
                path: file.map(|(p, _)| p.to_path_buf()).unwrap_or_default(),
                reason: format!(
                    "listen '{listen}' is not an address and port, e.g. {DEFAULT_LISTEN}"
                ),
            })?;
        }
        if let Some(dir) = settings.data_dir {
            config.data_dir = dir;
        }
        if let Some(admins) = settings.admins {
            config.admins = admins;
        }
        if let Some(seconds) = settings.shutdown_timeout_seconds {
            config.shutdown_timeout_seconds = seconds;
        }
        config.credentials = settings.credentials;
        config.api_keys = settings.api_keys;
        config.jwt = settings.jwt;

        if let Some(listen) = var("UCPD_LISTEN") {
            config.listen = listen.trim().parse().map_err(|_| ConfigError::Variable {
                variable: "UCPD_LISTEN",
                reason: format!("'{listen}' is not an address and port, e.g. {DEFAULT_LISTEN}"),
            })?;
        }
        if let Some(dir) = var("UCPD_DATA_DIR") {
            config.data_dir = PathBuf::from(dir);
        }
        if let Some(admins) = var("UCPD_ADMINS") {
            config.admins = admins
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(seconds) = var("UCPD_SHUTDOWN_TIMEOUT_SECONDS") {
            config.shutdown_timeout_seconds =
                seconds.trim().parse().map_err(|_| ConfigError::Variable {
                    variable: "UCPD_SHUTDOWN_TIMEOUT_SECONDS",
                    reason: "a whole number of seconds".into(),
                })?;
        }
        if let Some(file) = var("UCPD_CREDENTIALS_KEY_FILE") {
            config.credentials.key_file = Some(PathBuf::from(file));
        }
        config.credentials_passphrase = var("UCPD_CREDENTIALS_PASSPHRASE").map(SecretString::from);
        if let Some(file) = var("UCPD_API_KEY_PEPPER_FILE") {
            config.api_keys.pepper_file = Some(PathBuf::from(file));
        }
        let jwt_vars = [
            var("UCPD_JWT_ISSUER"),
            var("UCPD_JWT_AUDIENCE"),
            var("UCPD_JWT_JWKS_URL"),
        ];
        match jwt_vars {
            [None, None, None] => {}
            [Some(issuer), Some(audience), Some(jwks_url)] => {
                config.jwt = Some(JwtSettings {
                    issuer,
                    audience,
                    jwks_url,
                })
            }
            _ => {
                return Err(ConfigError::Incomplete(
                    "UCPD_JWT_ISSUER, UCPD_JWT_AUDIENCE and UCPD_JWT_JWKS_URL go together: set all three, or none".into(),
                ))
            }
        }
        if config.credentials.key_file.is_some() && config.credentials_passphrase.is_some() {
            return Err(ConfigError::Incomplete(format!(
                "both a credential key file ({}) and UCPD_CREDENTIALS_PASSPHRASE are set: the credential store takes one",
                config
                    .credentials
                    .key_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )));
        }
        if let Some(admin) = config
            .admins
            .iter()
            .find(|a| a.chars().any(char::is_control))
        {
            return Err(ConfigError::Incomplete(format!(
                "admin {admin:?} in {} has control characters",
                file_name.as_deref().unwrap_or("UCPD_ADMINS")
            )));
        }
        Ok(config)
    }

    /// The management store's file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("manage.sqlite")
    }

    /// The health table's file.
    pub fn health_path(&self) -> PathBuf {
        self.data_dir.join("health.sqlite")
    }

    /// The credential store's file.
    pub fn credentials_path(&self) -> PathBuf {
        self.data_dir.join("credentials.enc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn file(text: &str) -> Result<Config, ConfigError> {
        Config::resolve(Some((Path::new("ucpd.toml"), text)), env(&[]))
    }

    #[test]
    fn defaults_then_the_file_then_the_environment() {
        let config = Config::resolve(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(config.jwt.is_none() && config.admins.is_empty());

        let text = r#"
            listen = "127.0.0.1:9000"
            data_dir = "/srv/ucpd"
            admins = ["alice"]
            [credentials]
            key_file = "/etc/ucpd/key"
            [jwt]
            issuer = "https://idp"
            audience = "ucp"
            jwks_url = "https://idp/jwks"
        "#;
        let config = file(text).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.admins, ["alice"]);
        assert_eq!(config.store_path(), Path::new("/srv/ucpd/manage.sqlite"));
        assert_eq!(config.jwt.as_ref().unwrap().audience, "ucp");

        let config = Config::resolve(
            Some((Path::new("ucpd.toml"), text)),
            env(&[
                ("UCPD_LISTEN", "0.0.0.0:8000"),
                ("UCPD_ADMINS", "bob, carol,"),
                ("UCPD_DATA_DIR", "/data"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:8000");
        assert_eq!(config.admins, ["bob", "carol"]);
        assert_eq!(config.data_dir, PathBuf::from("/data"));
    }

    #[test]
    fn mistakes_name_the_file_or_variable_and_the_setting() {
        let unknown = file("listen = \"127.0.0.1:1\"\ncolour = \"red\"")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("ucpd.toml") && unknown.contains("colour"),
            "{unknown}"
        );
        let typed = file("admins = \"alice\"").unwrap_err().to_string();
        assert!(typed.contains("admins"), "{typed}");
        let listen = file("listen = \"here\"").unwrap_err().to_string();
        assert!(listen.contains("'here'"), "{listen}");
        let variable = Config::resolve(None, env(&[("UCPD_LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(variable.starts_with("UCPD_LISTEN"), "{variable}");
        let jwt = Config::resolve(None, env(&[("UCPD_JWT_ISSUER", "https://idp")]))
            .unwrap_err()
            .to_string();
        assert!(jwt.contains("all three"), "{jwt}");
        let both = Config::resolve(
            Some((Path::new("ucpd.toml"), "[credentials]\nkey_file = \"/k\"")),
            env(&[("UCPD_CREDENTIALS_PASSPHRASE", "correct horse")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            both.contains("takes one") && !both.contains("horse"),
            "{both}"
        );
    }

    proptest! {
        #[test]
        fn no_file_text_panics(text in ".{0,400}") {
            let _ = file(&text);
        }

        #[test]
        fn no_variable_value_panics(value in ".{0,80}") {
            let pairs = [
                ("UCPD_LISTEN", value.as_str()),
                ("UCPD_ADMINS", value.as_str()),
                ("UCPD_SHUTDOWN_TIMEOUT_SECONDS", value.as_str()),
                ("UCPD_JWT_ISSUER", value.as_str()),
            ];
            let _ = Config::resolve(None, env(&pairs));
        }
    }
}
