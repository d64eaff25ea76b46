//! Credentials, stored once and used by every connector and product sink that needs them.
//!
//! A credential is addressed by a [`CredentialRef`] (tenant + name). Connectors never see the
//! raw [`CredentialStore`]: their context hands them a [`TenantCredentials`] view that refuses
//! any reference of another tenant. All secret material is held in `secrecy` types, so it
//! never reaches `Debug`, logs, errors or health messages.
//!
//! # Stores
//!
//! - [`MemoryCredentials`]: in process memory (tests, examples).
//! - [`EnvCredentials`]: environment variables `UCP_CRED__<TENANT>__<NAME>__<FIELD>`
//!   (read-only; a missing variable is named in the error).
//! - [`FileCredentials`]: one file encrypted with XChaCha20-Poly1305 under a key file or an
//!   Argon2id passphrase; atomic writes, mode 0600; a wrong key, a truncated file and a
//!   changed byte are refused with distinct [`FileError`]s.
//!
//! `put` under an existing reference is rotation: every connector sees the new secret at its
//! next lookup, and the [`TokenProvider`](token::TokenProvider) drops tokens minted from the
//! old one.
//!
//! # Wiring a credential into a source
//!
//! 1. The operator stores the credential once, under the connector's tenant and a name
//!    (`contoso` / `okta`), in whichever store the platform was given.
//! 2. The source is configured with that *name* only, never the secret.
//! 3. In `check` and `collect`, the source resolves it through its context:
//!    [`Context::credential`](crate::Context::credential) or
//!    `cx.credentials().get_named("okta")` for a static secret (an Okta `SSWS` token);
//!    for OAuth it asks the platform's one shared [`TokenProvider`](token::TokenProvider)
//!    for a token with a [`TokenRequest`](token::TokenRequest) that names the credential,
//!    the scope and the account's rate budget, and wraps the provider call in
//!    [`with_token`](token::TokenProvider::with_token) so a 401 refreshes the token and
//!    retries once.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use async_trait::async_trait;
//! use secrecy::{ExposeSecret, SecretString};
//! use ucp_core::{BudgetKey, BudgetSpec, Clock, Context, RateBudget, SourceContext};
//! use ucp_core::credentials::token::{
//!     Attempt, FetchedToken, TokenError, TokenFetcher, TokenProvider, TokenRequest,
//! };
//! use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
//!
//! // In production: `HttpTokenFetcher::new()?`, which speaks Entra ID and Okta.
//! struct Stub;
//! #[async_trait]
//! impl TokenFetcher for Stub {
//!     async fn fetch(&self, _: &CredentialRef, _: &Credential, _: &str)
//!         -> Result<FetchedToken, TokenError> {
//!         Ok(FetchedToken { token: SecretString::from("t".to_string()), expires_in: Duration::from_secs(3600) })
//!     }
//! }
//!
//! /// What a source's `collect` does: one provider call with the platform's shared token.
//! async fn fetch_page(cx: &SourceContext) -> Result<u16, TokenError> {
//!     let request = TokenRequest::named(cx.credentials(), "okta", "okta.logs.read")
//!         .with_budget(cx.budget().clone());
//!     cx.tokens()
//!         .with_token(&request, |token| async move {
//!             // e.g. reqwest: .bearer_auth(token.secret().expose_secret()), then map 401.
//!             let status = if token.secret().expose_secret().is_empty() { 401 } else { 200 };
//!             if status == 401 { Attempt::Unauthorized } else { Attempt::Done(status) }
//!         })
//!         .await
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Once, by the operator: the credential, stored under tenant + name.
//! let store = Arc::new(MemoryCredentials::new());
//! store.put(CredentialRef::new("contoso", "okta"), Credential::PrivateKeyJwt {
//!     token_url: "https://contoso.okta.com/oauth2/v1/token".into(),
//!     client_id: "0oa-service-app".into(),
//!     private_key_pem: SecretString::from("-----BEGIN PRIVATE KEY-----…".to_string()),
//!     key_id: Some("key-1".into()),
//!     algorithm: ucp_core::credentials::JwtAlgorithm::RS256,
//! }).await?;
//!
//! // The platform builds one context per connector; the provider is shared by all.
//! let budget = Arc::new(RateBudget::new(
//!     BudgetSpec::new(BudgetKey::new("okta", "contoso.okta.com"), 600, Duration::from_secs(60)),
//!     Clock::new(),
//! ));
//! let context = Context::standalone("contoso", store, Clock::new())?
//!     .with_tokens(Arc::new(TokenProvider::new(Arc::new(Stub))));
//! let cx = SourceContext::new("okta-contoso", budget, context);
//! assert_eq!(fetch_page(&cx).await?, 200);
//! # Ok(())
//! # }
//! ```

mod env;
#[cfg(feature = "credentials-file")]
mod file;
mod memory;
pub mod token;
#[cfg(feature = "credentials-file")]
mod wire;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use env::EnvCredentials;
#[cfg(feature = "credentials-file")]
#[cfg_attr(docsrs, doc(cfg(feature = "credentials-file")))]
pub use file::{FileCredentials, FileError, FileKey, KdfParams};
pub use memory::MemoryCredentials;

/// Where a credential lives: its tenant and its name within the tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CredentialRef {
    /// The tenant that owns the credential.
    pub tenant: String,
    /// The credential's name within the tenant, e.g. `okta-contoso`.
    pub name: String,
}

impl CredentialRef {
    /// A reference from tenant and name.
    pub fn new(tenant: impl Into<String>, name: impl Into<String>) -> Self {
        CredentialRef {
            tenant: tenant.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.name)
    }
}

/// Signing algorithm of a private-key JWT client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

/// One credential. Every secret field is a [`SecretString`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credential {
    /// A static API token (Okta `SSWS`).
    ApiToken {
        /// The token.
        token: SecretString,
    },
    /// An OAuth 2.0 client with a client secret (Entra ID app registration).
    ClientSecret {
        /// The token endpoint, e.g. `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
        token_url: String,
        /// The client (application) id.
        client_id: String,
        /// The client secret.
        secret: SecretString,
    },
    /// An OAuth 2.0 client that signs a JWT assertion with its private key (Okta service
    /// apps, Entra certificate credentials).
    PrivateKeyJwt {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// PEM-encoded private key.
        private_key_pem: SecretString,
        /// Key id registered with the provider: sent as `kid`; for Entra ID certificate
        /// credentials, the certificate's base64url SHA-1 thumbprint, also sent as `x5t`.
        key_id: Option<String>,
        /// Signing algorithm.
        algorithm: JwtAlgorithm,
    },
    /// A shared-access key (Event Hubs SAS policy).
    SharedAccessKey {
        /// The policy name (`skn`).
        key_name: String,
        /// The key.
        key: SecretString,
    },
    /// User and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: SecretString,
    },
}

impl Credential {
    /// The kind's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::ApiToken { .. } => "api token",
            Credential::ClientSecret { .. } => "client secret",
            Credential::PrivateKeyJwt { .. } => "private-key JWT client",
            Credential::SharedAccessKey { .. } => "shared-access key",
            Credential::Basic { .. } => "basic",
        }
    }
}

/// Why a credential could not be had. Never contains secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// No credential under that reference.
    #[error("credential {0} not found: put it in the credential store")]
    NotFound(CredentialRef),
    /// A connector of one tenant asked for another tenant's credential.
    #[error("tenant '{requester}' may not use credential {reference}: credentials are scoped to their tenant")]
    CrossTenant {
        /// The tenant that asked.
        requester: String,
        /// What it asked for.
        reference: CredentialRef,
    },
    /// The credential exists but is not of the kind the connector needs.
    #[error("credential {reference} is a {found}, but {expected} is needed")]
    WrongKind {
        /// The credential.
        reference: CredentialRef,
        /// What the connector needs.
        expected: &'static str,
        /// What is stored.
        found: &'static str,
    },
    /// The environment store lacks variables the credential needs.
    #[error("credential {reference}: environment variable(s) {} not set: set them (naming scheme in the `EnvCredentials` docs)", .variables.join(", "))]
    MissingVariables {
        /// The credential.
        reference: CredentialRef,
        /// Names of the missing variables.
        variables: Vec<String>,
    },
    /// An environment variable holds something unusable (its value is never shown).
    #[error("credential {reference}: environment variable {variable} is invalid: {reason}")]
    InvalidVariable {
        /// The credential.
        reference: CredentialRef,
        /// The variable's name.
        variable: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The store cannot be written through this interface.
    #[error("the {store} credential store is read-only: {hint}")]
    ReadOnly {
        /// Which store.
        store: &'static str,
        /// Where to change credentials instead.
        hint: &'static str,
    },
    /// The encrypted credential file could not be read or written.
    #[cfg(feature = "credentials-file")]
    #[error("credential file {}: {error}", .path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        error: FileError,
    },
    /// The store itself failed (I/O, decryption).
    #[error("credential store failed: {0}")]
    Store(String),
}

/// Stores credentials. Lists references, never values.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// The credential under `reference`.
    async fn get(&self, reference: &CredentialRef) -> Result<Credential, CredentialError>;
    /// Store (or replace: rotation) the credential under `reference`.
    async fn put(
        &self,
        reference: CredentialRef,
        credential: Credential,
    ) -> Result<(), CredentialError>;
    /// Remove the credential; true if it existed.
    async fn remove(&self, reference: &CredentialRef) -> Result<bool, CredentialError>;
    /// References of one tenant's credentials, or of all when `tenant` is `None`.
    async fn list(&self, tenant: Option<&str>) -> Result<Vec<CredentialRef>, CredentialError>;
}

/// A connector's view of the store: only its own tenant's credentials.
#[derive(Clone)]
pub struct TenantCredentials {
    tenant: Arc<str>,
    store: Arc<dyn CredentialStore>,
}

impl fmt::Debug for TenantCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantCredentials")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl TenantCredentials {
    /// The view of `tenant` onto `store`.
    pub fn new(tenant: impl AsRef<str>, store: Arc<dyn CredentialStore>) -> Self {
        TenantCredentials {
            tenant: Arc::from(tenant.as_ref()),
            store,
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The credential named `name` in this tenant.
    pub async fn get_named(&self, name: &str) -> Result<Credential, CredentialError> {
        self.store
            .get(&CredentialRef::new(self.tenant.as_ref(), name))
            .await
    }

    /// The credential under `reference`, refused unless it belongs to this tenant.
    pub async fn get(&self, reference: &CredentialRef) -> Result<Credential, CredentialError> {
        if reference.tenant != *self.tenant {
            return Err(CredentialError::CrossTenant {
                requester: self.tenant.to_string(),
                reference: reference.clone(),
            });
        }
        self.store.get(reference).await
    }
}
