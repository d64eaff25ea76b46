//! Credentials read from environment variables.
//!
//! # Naming scheme
//!
//! Each field of credential `tenant/name` lives in one variable:
//!
//! ```text
//! UCP_CRED__<TENANT>__<NAME>__<FIELD>
//! ```
//!
//! `<TENANT>` and `<NAME>` are upper-cased, and every run of characters other than `A-Z` and
//! `0-9` becomes one `_` (so `contoso/okta-prod` is `UCP_CRED__CONTOSO__OKTA_PROD__…`). Double
//! underscores separate the parts, so the parts themselves never contain one. `<FIELD>` is
//! `KIND` plus the fields of that kind:
//!
//! | `KIND`              | fields                                                                    |
//! |---------------------|---------------------------------------------------------------------------|
//! | `api_token`         | `TOKEN`                                                                   |
//! | `client_secret`     | `TOKEN_URL`, `CLIENT_ID`, `CLIENT_SECRET`                                 |
//! | `private_key_jwt`   | `TOKEN_URL`, `CLIENT_ID`, `PRIVATE_KEY` (PEM), optional `KEY_ID`, optional `ALGORITHM` (`RS256` default, or `ES256`) |
//! | `shared_access_key` | `KEY_NAME`, `KEY`                                                         |
//! | `basic`             | `USER`, `PASSWORD`                                                        |
//!
//! Variables are read at every lookup, so changing them rotates the credential without a
//! restart. The store is read-only: `put` and `remove` are refused.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{Credential, CredentialError, CredentialRef, CredentialStore, JwtAlgorithm};

/// The default variable prefix.
pub const DEFAULT_PREFIX: &str = "UCP_CRED";

/// Reads credentials from environment variables (see the module docs for the naming scheme).
pub struct EnvCredentials {
    prefix: String,
    vars: Vars,
}

enum Vars {
    /// The process environment, read at each lookup.
    Process,
    /// A fixed set, for tests and embedding.
    Fixed(BTreeMap<String, SecretString>),
}

impl fmt::Debug for EnvCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.vars {
            Vars::Process => "process environment".to_string(),
            Vars::Fixed(vars) => format!("{} fixed variables", vars.len()),
        };
        f.debug_struct("EnvCredentials")
            .field("prefix", &self.prefix)
            .field("source", &source)
            .finish()
    }
}

impl Default for EnvCredentials {
    fn default() -> Self {
        Self::new()
    }
}

impl EnvCredentials {
    /// Reads the process environment with the prefix `UCP_CRED`.
    pub fn new() -> Self {
        EnvCredentials {
            prefix: DEFAULT_PREFIX.to_string(),
            vars: Vars::Process,
        }
    }

    /// Reads the given variables instead of the process environment (tests, or a platform
    /// that hands secrets over as a map).
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), SecretString::from(v.into())))
            .collect();
        EnvCredentials {
            prefix: DEFAULT_PREFIX.to_string(),
            vars: Vars::Fixed(vars),
        }
    }

    /// Use another prefix than `UCP_CRED`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The variable that holds `field` of `reference`, e.g. `UCP_CRED__CONTOSO__OKTA__TOKEN`.
    pub fn variable(&self, reference: &CredentialRef, field: &str) -> String {
        format!(
            "{}__{}__{}__{}",
            self.prefix,
            segment(&reference.tenant),
            segment(&reference.name),
            field
        )
    }

    fn read(&self, name: &str) -> Option<SecretString> {
        match &self.vars {
            Vars::Process => {
                std::env::var_os(name).map(|v| SecretString::from(v.to_string_lossy().into_owned()))
            }
            Vars::Fixed(vars) => vars.get(name).cloned(),
        }
        .filter(|v| !v.expose_secret().is_empty())
    }

    fn names(&self) -> Vec<String> {
        match &self.vars {
            Vars::Process => std::env::vars_os()
                .filter_map(|(k, _)| k.into_string().ok())
                .collect(),
            Vars::Fixed(vars) => vars.keys().cloned().collect(),
        }
    }
}

/// Upper-cases and collapses every run of other characters into one `_`.
fn segment(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Collects the fields of one credential, remembering which are missing.
struct Fields<'a> {
    store: &'a EnvCredentials,
    reference: &'a CredentialRef,
    missing: Vec<String>,
}

impl Fields<'_> {
    fn secret(&mut self, field: &str) -> SecretString {
        let name = self.store.variable(self.reference, field);
        match self.store.read(&name) {
            Some(v) => v,
            None => {
                self.missing.push(name);
                SecretString::from(String::new())
            }
        }
    }

    fn plain(&mut self, field: &str) -> String {
        self.secret(field).expose_secret().to_string()
    }

    fn optional(&self, field: &str) -> Option<String> {
        self.store
            .read(&self.store.variable(self.reference, field))
            .map(|v| v.expose_secret().to_string())
    }

    fn finish(self, credential: Credential) -> Result<Credential, CredentialError> {
        if self.missing.is_empty() {
            Ok(credential)
        } else {
            Err(CredentialError::MissingVariables {
                reference: self.reference.clone(),
                variables: self.missing,
            })
        }
    }
}

#[async_trait]
impl CredentialStore for EnvCredentials {
    async fn get(&self, reference: &CredentialRef) -> Result<Credential, CredentialError> {
        let kind_var = self.variable(reference, "KIND");
        let Some(kind) = self.read(&kind_var) else {
            return Err(CredentialError::MissingVariables {
                reference: reference.clone(),
                variables: vec![kind_var],
            });
        };
        let kind = kind
            .expose_secret()
            .trim()
            .to_ascii_lowercase()
            .replace('-', "_");
        let mut f = Fields {
            store: self,
            reference,
            missing: Vec::new(),
        };
        let credential = match kind.as_str() {
            "api_token" => Credential::ApiToken {
                token: f.secret("TOKEN"),
            },
            "client_secret" => Credential::ClientSecret {
                token_url: f.plain("TOKEN_URL"),
                client_id: f.plain("CLIENT_ID"),
                secret: f.secret("CLIENT_SECRET"),
            },
            "private_key_jwt" => {
                let algorithm = match f.optional("ALGORITHM").as_deref() {
                    None => JwtAlgorithm::RS256,
                    Some(a) if a.eq_ignore_ascii_case("rs256") => JwtAlgorithm::RS256,
                    Some(a) if a.eq_ignore_ascii_case("es256") => JwtAlgorithm::ES256,
                    Some(_) => {
                        return Err(CredentialError::InvalidVariable {
                            reference: reference.clone(),
                            variable: self.variable(reference, "ALGORITHM"),
                            reason: "accepted values are RS256 and ES256".into(),
                        })
                    }
                };
                Credential::PrivateKeyJwt {
                    token_url: f.plain("TOKEN_URL"),
                    client_id: f.plain("CLIENT_ID"),
                    private_key_pem: f.secret("PRIVATE_KEY"),
                    key_id: f.optional("KEY_ID"),
                    algorithm,
                }
            }
            "shared_access_key" => Credential::SharedAccessKey {
                key_name: f.plain("KEY_NAME"),
                key: f.secret("KEY"),
            },
            "basic" => Credential::Basic {
                user: f.plain("USER"),
                password: f.secret("PASSWORD"),
            },
            _ => {
                return Err(CredentialError::InvalidVariable {
                    reference: reference.clone(),
                    variable: kind_var,
                    reason: "accepted kinds are api_token, client_secret, private_key_jwt, \
                             shared_access_key and basic"
                        .into(),
                })
            }
        };
        f.finish(credential)
    }

    async fn put(
        &self,
        _reference: CredentialRef,
        _credential: Credential,
    ) -> Result<(), CredentialError> {
        Err(read_only())
    }

    async fn remove(&self, _reference: &CredentialRef) -> Result<bool, CredentialError> {
        Err(read_only())
    }

    /// References whose `KIND` variable is set, with tenant and name in lower case and
    /// separators as `_` (what `get` accepts for them).
    async fn list(&self, tenant: Option<&str>) -> Result<Vec<CredentialRef>, CredentialError> {
        let head = format!("{}__", self.prefix);
        let mut refs: Vec<CredentialRef> = self
            .names()
            .into_iter()
            .filter_map(|name| {
                let rest = name.strip_prefix(&head)?;
                let mut parts = rest.split("__");
                let (t, n, field) = (parts.next()?, parts.next()?, parts.next()?);
                (field == "KIND" && parts.next().is_none())
                    .then(|| CredentialRef::new(t.to_ascii_lowercase(), n.to_ascii_lowercase()))
            })
            .filter(|r| tenant.is_none_or(|t| segment(t) == segment(&r.tenant)))
            .collect();
        refs.sort();
        refs.dedup();
        Ok(refs)
    }
}

fn read_only() -> CredentialError {
    CredentialError::ReadOnly {
        store: "environment",
        hint: "change the UCP_CRED__… variables and the next lookup uses them",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_upper_case_with_single_underscores() {
        assert_eq!(segment("okta-prod"), "OKTA_PROD");
        assert_eq!(segment("a--b..c_"), "A_B_C");
        let store = EnvCredentials::new();
        assert_eq!(
            store.variable(&CredentialRef::new("contoso", "okta"), "TOKEN"),
            "UCP_CRED__CONTOSO__OKTA__TOKEN"
        );
    }

    #[tokio::test]
    async fn reads_a_client_secret_and_lists_it() {
        let store = EnvCredentials::from_vars([
            ("UCP_CRED__CONTOSO__ENTRA__KIND", "client_secret"),
            (
                "UCP_CRED__CONTOSO__ENTRA__TOKEN_URL",
                "https://login/t/token",
            ),
            ("UCP_CRED__CONTOSO__ENTRA__CLIENT_ID", "app"),
            ("UCP_CRED__CONTOSO__ENTRA__CLIENT_SECRET", "s3cr3t"),
            ("UCP_CRED__FABRIKAM__OKTA__KIND", "api_token"),
        ]);
        let c = store
            .get(&CredentialRef::new("contoso", "entra"))
            .await
            .unwrap();
        match c {
            Credential::ClientSecret {
                client_id, secret, ..
            } => {
                assert_eq!(client_id, "app");
                assert_eq!(secret.expose_secret(), "s3cr3t");
            }
            other => panic!("unexpected kind {}", other.kind()),
        }
        assert_eq!(
            store.list(Some("contoso")).await.unwrap(),
            vec![CredentialRef::new("contoso", "entra")]
        );
        assert_eq!(store.list(None).await.unwrap().len(), 2);
    }
}
