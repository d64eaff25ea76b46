//! Who is calling: a [`Principal`], authenticated by an API key or a bearer JWT.
//!
//! Both come in `Authorization: Bearer …`; a value starting with `ucpk_` is an API key
//! ([`ApiKeys`]), anything else a JWT ([`JwtVerifier`]). What a principal may do is decided
//! per tenant by its role (see [`crate::Manager`]); platform administrators (named in the
//! configuration) act as Owner in every tenant.

mod api_key;
mod jwt;

use std::collections::BTreeSet;
use std::sync::Arc;

pub use api_key::{looks_like_key, ApiKeys, ShortPepper, MIN_PEPPER_BYTES};
pub use jwt::{JwksSource, JwtConfig, JwtVerifier};

use crate::error::ManageError;
use crate::store::Store;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The principal's id: an API key's principal or a token's subject.
    pub id: String,
    /// A platform administrator: Owner in every tenant.
    pub admin: bool,
}

impl Principal {
    /// A principal that is not an administrator.
    pub fn new(id: impl Into<String>) -> Self {
        Principal {
            id: id.into(),
            admin: false,
        }
    }

    /// The platform itself (upgrades, restores).
    pub fn system() -> Self {
        Principal {
            id: "system".into(),
            admin: true,
        }
    }
}

/// Turns an `Authorization` header into a [`Principal`].
pub struct Authenticator {
    store: Arc<dyn Store>,
    keys: ApiKeys,
    jwt: Option<JwtVerifier>,
    admins: BTreeSet<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("jwt", &self.jwt)
            .field("admins", &self.admins)
            .finish_non_exhaustive()
    }
}

const HOW: &str =
    "send `Authorization: Bearer <API key or token>` (an API key from your administrator, or a token from the configured identity provider)";

impl Authenticator {
    /// Keys checked against `store` under `keys`' pepper; tokens by `jwt`, if configured;
    /// `admins` are principal ids with the Owner role in every tenant.
    pub fn new(
        store: Arc<dyn Store>,
        keys: ApiKeys,
        jwt: Option<JwtVerifier>,
        admins: impl IntoIterator<Item = String>,
    ) -> Self {
        Authenticator {
            store,
            keys,
            jwt,
            admins: admins.into_iter().collect(),
        }
    }

    /// The key minter, to create API keys.
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }

    /// The principal behind an `Authorization` header value.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, ManageError> {
        let Some(value) = authorization else {
            return Err(ManageError::Unauthenticated(format!(
                "no credentials: {HOW}"
            )));
        };
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Err(ManageError::Unauthenticated(format!(
                "the Authorization header is not a bearer credential: {HOW}"
            )));
        };
        let id = if looks_like_key(token) {
            self.principal_of_key(token).await?
        } else {
            match &self.jwt {
                Some(jwt) => jwt
                    .verify(token)
                    .await
                    .map_err(|why| ManageError::Unauthenticated(format!("{why}: {HOW}")))?,
                None => {
                    return Err(ManageError::Unauthenticated(format!(
                        "the credential is not an API key, and this server accepts no bearer tokens: {HOW}"
                    )))
                }
            }
        };
        Ok(Principal {
            admin: self.admins.contains(&id),
            id,
        })
    }

    async fn principal_of_key(&self, key: &str) -> Result<String, ManageError> {
        let refused = || {
            ManageError::Unauthenticated(format!(
                "the API key is not recognised or was revoked: {HOW}"
            ))
        };
        let (id, _) = api_key::parse(key).ok_or_else(refused)?;
        let record = self.store.api_key(id).await?.ok_or_else(refused)?;
        if self.keys.verify(&record, key) {
            Ok(record.principal)
        } else {
            Err(refused())
        }
    }
}
