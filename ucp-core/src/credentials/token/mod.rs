//! OAuth 2.0 access tokens, minted once per (credential, scope) and shared by every connector.
//!
//! A [`TokenProvider`] caches tokens per credential reference and scope, refreshes them
//! before they expire, lets only one request per key reach the token endpoint at a time,
//! drops tokens the provider rejected (401) or that were minted from a rotated secret, and
//! backs off when the endpoint fails, reporting it as a health event that names the
//! credential. The wire protocol (Entra ID v2 and Okta service apps, client secret or signed
//! client assertion) lives in [`HttpTokenFetcher`].

mod assertion;
mod http;
mod provider;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::time::Instant;

use super::{Credential, CredentialError, CredentialRef};

pub use http::{
    entra_scope, entra_token_url, okta_token_url, HttpTokenFetcher, ENTRA_AUTHORITY,
    JWT_BEARER_ASSERTION_TYPE,
};
pub use provider::{Attempt, TokenConfig, TokenProvider, TokenRequest};

/// How a token endpoint wants the client-credentials request beyond the standard form:
/// extra headers and query parameters, and the client's id and secret in an HTTP Basic
/// `Authorization` header (RFC 6749 §2.3.1, `client_secret_basic`) instead of the form.
///
/// The token URL itself is always the credential's: a secret only goes where its credential
/// says. Declarative connectors (a CCF `OAuth2` auth block's `tokenEndpointHeaders`,
/// `tokenEndpointQueryParameters` and `isCredentialsInHeaders`) set these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TokenEndpointOptions {
    /// Headers added to the token request.
    pub headers: Vec<(String, String)>,
    /// Query parameters added to the token URL.
    pub query: Vec<(String, String)>,
    /// Send the client id and secret as HTTP Basic credentials, not in the form.
    pub credentials_in_header: bool,
}

impl TokenEndpointOptions {
    /// True when nothing differs from the standard request.
    pub fn is_standard(&self) -> bool {
        *self == TokenEndpointOptions::default()
    }
}

/// An access token handed to a connector. Its value is only reachable through
/// [`secret`](Self::secret); `Debug` shows when it expires, never what it is.
#[derive(Clone)]
pub struct AccessToken {
    secret: SecretString,
    generation: u64,
    expires_at: Instant,
}

impl AccessToken {
    /// The token value, e.g. for `reqwest::RequestBuilder::bearer_auth(token.secret().expose_secret())`.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// When the token endpoint said it expires (on tokio's clock).
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Which minting this token came from; two handles to the same token share it.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("generation", &self.generation)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a token endpoint answered.
#[derive(Debug)]
pub struct FetchedToken {
    /// The access token.
    pub token: SecretString,
    /// Its lifetime from the moment it was requested.
    pub expires_in: Duration,
}

/// Gets a new token for a credential and scope from a token endpoint.
///
/// [`HttpTokenFetcher`] is the real one; tests may plug in their own.
#[async_trait]
pub trait TokenFetcher: Send + Sync + 'static {
    /// Request one token. Must not retry: the provider decides when to try again.
    async fn fetch(
        &self,
        reference: &CredentialRef,
        credential: &Credential,
        scope: &str,
    ) -> Result<FetchedToken, TokenError>;

    /// Request one token the way `options` say. The default serves standard requests with
    /// [`fetch`](Self::fetch) and refuses the others (a fetcher that cannot honour them must
    /// not silently drop them); [`HttpTokenFetcher`] honours every option.
    async fn fetch_with(
        &self,
        reference: &CredentialRef,
        credential: &Credential,
        scope: &str,
        options: &TokenEndpointOptions,
    ) -> Result<FetchedToken, TokenError> {
        if options.is_standard() {
            return self.fetch(reference, credential, scope).await;
        }
        Err(TokenError::Client {
            detail: format!(
                "the token fetcher cannot send extra headers, query parameters or Basic client credentials for credential {reference}"
            ),
        })
    }
}

/// Why no token could be had. Names the credential; never contains secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The credential could not be resolved (missing, other tenant, store failure).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The credential's kind cannot mint OAuth tokens.
    #[error("credential {reference} is a {kind}, which cannot mint OAuth tokens: use a client secret or private-key JWT credential")]
    Unsupported {
        /// The credential.
        reference: CredentialRef,
        /// Its kind.
        kind: &'static str,
    },
    /// The token endpoint refused the request (wrong client id, secret, key or scope).
    #[error("token endpoint refused credential {reference} with HTTP {status}{}: check its client id, secret or key, and the app's permissions and scope", code_suffix(.code))]
    Refused {
        /// The credential.
        reference: CredentialRef,
        /// HTTP status.
        status: u16,
        /// The OAuth `error` code, if the endpoint sent one.
        code: Option<String>,
    },
    /// The token endpoint could not be reached, throttled, or failed (retried with back-off).
    #[error("token endpoint unavailable for credential {reference}: {detail}")]
    Unavailable {
        /// The credential.
        reference: CredentialRef,
        /// What failed.
        detail: String,
    },
    /// The token endpoint answered something that is not a token response.
    #[error("token endpoint sent an unusable response for credential {reference}: {detail}")]
    InvalidResponse {
        /// The credential.
        reference: CredentialRef,
        /// What is wrong (never the body).
        detail: String,
    },
    /// The client assertion could not be signed (bad PEM, key does not match the algorithm).
    #[error("could not sign the client assertion of credential {reference}: {detail}; check its private key and algorithm")]
    Assertion {
        /// The credential.
        reference: CredentialRef,
        /// What failed.
        detail: String,
    },
    /// The last token request failed and the next is not due yet.
    #[error(
        "token requests for credential {reference} are backing off for {retry_in:?} after: {cause}"
    )]
    BackingOff {
        /// The credential.
        reference: CredentialRef,
        /// Time until the next attempt.
        retry_in: Duration,
        /// The last failure.
        cause: String,
        /// Whether the last failure may pass by itself (a refused credential does not).
        cause_retryable: bool,
    },
    /// The provider answered 401 even to a freshly minted token.
    #[error("the provider rejected a fresh token of credential {reference}: check the app's permissions and consent")]
    Rejected {
        /// The credential.
        reference: CredentialRef,
    },
    /// The token URL is not HTTPS (loopback addresses excepted, for tests): the secret would
    /// travel in clear text.
    #[error("token URL of credential {reference} is not https: refusing to send its secret in clear text; fix the token URL")]
    InsecureUrl {
        /// The credential.
        reference: CredentialRef,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client for token requests: {detail}")]
    Client {
        /// What failed.
        detail: String,
    },
}

impl TokenError {
    /// Whether trying again later may succeed without a person acting.
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::Unavailable { .. } => true,
            TokenError::BackingOff {
                cause_retryable, ..
            } => *cause_retryable,
            _ => false,
        }
    }
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
}
