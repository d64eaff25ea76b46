//! The serialized form of credentials, used only inside the encrypted file store's payload.
//!
//! `Credential` itself has no `Serialize` impl on purpose: nothing else may turn a secret into
//! text. Here secrets are written straight from the `SecretString` into the serializer's
//! buffer, which the file store zeroizes after encrypting it.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use super::{Credential, CredentialRef, JwtAlgorithm};

/// One stored entry.
#[derive(Serialize, Deserialize)]
pub(crate) struct WireEntry {
    pub(crate) reference: CredentialRef,
    pub(crate) credential: WireCredential,
}

/// Mirror of [`Credential`] that can be serialized.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WireCredential {
    ApiToken {
        #[serde(serialize_with = "expose")]
        token: SecretString,
    },
    ClientSecret {
        token_url: String,
        client_id: String,
        #[serde(serialize_with = "expose")]
        secret: SecretString,
    },
    PrivateKeyJwt {
        token_url: String,
        client_id: String,
        #[serde(serialize_with = "expose")]
        private_key_pem: SecretString,
        key_id: Option<String>,
        algorithm: JwtAlgorithm,
    },
    SharedAccessKey {
        key_name: String,
        #[serde(serialize_with = "expose")]
        key: SecretString,
    },
    Basic {
        user: String,
        #[serde(serialize_with = "expose")]
        password: SecretString,
    },
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

impl From<&Credential> for WireCredential {
    fn from(credential: &Credential) -> Self {
        match credential.clone() {
            Credential::ApiToken { token } => WireCredential::ApiToken { token },
            Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            } => WireCredential::ClientSecret {
                token_url,
                client_id,
                secret,
            },
            Credential::PrivateKeyJwt {
                token_url,
                client_id,
                private_key_pem,
                key_id,
                algorithm,
            } => WireCredential::PrivateKeyJwt {
                token_url,
                client_id,
                private_key_pem,
                key_id,
                algorithm,
            },
            Credential::SharedAccessKey { key_name, key } => {
                WireCredential::SharedAccessKey { key_name, key }
            }
            Credential::Basic { user, password } => WireCredential::Basic { user, password },
        }
    }
}

impl From<WireCredential> for Credential {
    fn from(wire: WireCredential) -> Self {
        match wire {
            WireCredential::ApiToken { token } => Credential::ApiToken { token },
            WireCredential::ClientSecret {
                token_url,
                client_id,
                secret,
            } => Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            },
            WireCredential::PrivateKeyJwt {
                token_url,
                client_id,
                private_key_pem,
                key_id,
                algorithm,
            } => Credential::PrivateKeyJwt {
                token_url,
                client_id,
                private_key_pem,
                key_id,
                algorithm,
            },
            WireCredential::SharedAccessKey { key_name, key } => {
                Credential::SharedAccessKey { key_name, key }
            }
            WireCredential::Basic { user, password } => Credential::Basic { user, password },
        }
    }
}
