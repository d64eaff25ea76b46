//! What the management API takes and returns: request bodies (every field validated by the
//! manager) and views (never holding a secret).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use ucp_core::credentials::{Credential, JwtAlgorithm};
use utoipa::ToSchema;

use crate::engine::SourceVolumes;
use crate::model::{InstanceState, ProductSubscription};

/// A secret to store, write-only: it is never returned, logged or audited.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretInput {
    /// A static API token.
    ApiToken {
        /// The token.
        #[schema(value_type = String, format = Password, write_only)]
        token: SecretString,
    },
    /// An OAuth client with a client secret.
    ClientSecret {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The client secret.
        #[schema(value_type = String, format = Password, write_only)]
        secret: SecretString,
    },
    /// An OAuth client signing a JWT assertion with its private key.
    PrivateKeyJwt {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// PEM-encoded private key.
        #[schema(value_type = String, format = Password, write_only)]
        private_key_pem: SecretString,
        /// Key id registered with the provider.
        #[serde(default)]
        key_id: Option<String>,
        /// `RS256` or `ES256`.
        #[schema(value_type = String)]
        algorithm: JwtAlgorithm,
    },
    /// A shared-access key (Event Hubs).
    SharedAccessKey {
        /// The policy name.
        key_name: String,
        /// The key.
        #[schema(value_type = String, format = Password, write_only)]
        key: SecretString,
    },
    /// User and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        #[schema(value_type = String, format = Password, write_only)]
        password: SecretString,
    },
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretInput(..)")
    }
}

impl SecretInput {
    /// The credential to store.
    pub fn into_credential(self) -> Credential {
        match self {
            SecretInput::ApiToken { token } => Credential::ApiToken { token },
            SecretInput::ClientSecret {
                token_url,
                client_id,
                secret,
            } => Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            },
            SecretInput::PrivateKeyJwt {
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
            SecretInput::SharedAccessKey { key_name, key } => {
                Credential::SharedAccessKey { key_name, key }
            }
            SecretInput::Basic { user, password } => Credential::Basic { user, password },
        }
    }
}

/// How a connector's credential slot is filled: the name of a credential an Owner stored,
/// or (Owner only) the secret itself, stored write-only as `<connector>-<slot>`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// A stored credential's name in the tenant.
    #[serde(default)]
    pub name: Option<String>,
    /// A secret to store for this connector.
    #[serde(default)]
    pub secret: Option<SecretInput>,
}

/// Body of `POST …/connectors`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnector {
    /// The connector's name in the tenant (1–63 of `a-z`, `0-9`, `-`).
    pub name: String,
    /// The definition's id (its newest version is used).
    pub definition: String,
    /// The configuration, valid against the definition's schema.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Credential slot → credential.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialInput>,
    /// Products to feed.
    #[serde(default)]
    pub products: Vec<ProductSubscription>,
}

/// Body of `PUT …/connectors/{name}`: replaces configuration, credentials and products
/// (validated against the definition's newest version, which the connector moves to).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnector {
    /// The configuration.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Credential slot → credential.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialInput>,
    /// Products to feed.
    #[serde(default)]
    pub products: Vec<ProductSubscription>,
}

/// Body of `POST …/restart`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartRequest {
    /// Restart only the parts (collection jobs, deliveries) in error.
    #[serde(default)]
    pub only_failed: bool,
}

/// A reason, for `disconnect` and `offboard`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why (1–1000 characters); kept in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Where an offsets reset puts the streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetPoint {
    /// The start the connector chooses (as for a new connector).
    Start,
    /// A point in time (`time`).
    Time,
}

/// Body of `PUT …/offsets`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetOffsets {
    /// Streams to reset; empty means all.
    #[serde(default)]
    pub streams: Vec<String>,
    /// Where to.
    pub to: ResetPoint,
    /// The time, with `to: time`.
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
}

/// One stream's saved position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StreamOffset {
    /// The stream.
    pub stream: String,
    /// The connector's cursor, or `null` when the stream starts from the beginning.
    pub cursor: Option<String>,
}

/// Body of `PUT …/workspace`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectWorkspace {
    /// The workspace's name.
    pub name: String,
    /// Where and how the products deliver (see the products' workspace schema).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

/// Body of `PUT …/roles/{principal}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRole {
    /// The role.
    pub role: crate::model::Role,
}

/// A stored credential, by name only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CredentialView {
    /// Its name in the tenant.
    pub name: String,
}

/// One health message of a connector.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct HealthMessage {
    /// When the status changed.
    pub time: DateTime<Utc>,
    /// The product, for a delivery; absent for collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// `Starting`, `Ok`, `Warning`, `Error` or `Stopped`.
    pub status: String,
    /// What happened and what to do.
    pub message: String,
}

/// A product a connector feeds, as shown.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ProductView {
    /// The product.
    pub product: String,
    /// The streams it receives.
    pub streams: Vec<String>,
    /// Collection interval, seconds.
    pub interval_seconds: u64,
    /// Its filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<ucp_core::Filter>,
    /// Where its data lands in the workspace (a table or DCR stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// A connector as "My connectors" shows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ConnectorView {
    /// Its name.
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// The definition's id.
    pub definition: String,
    /// The definition's display name.
    pub display_name: String,
    /// The definition version it runs.
    pub version: String,
    /// Lifecycle state.
    pub state: InstanceState,
    /// Health: the worst current status of its parts (`Ok`, `Warning`, `Error`, …), or
    /// absent before any report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why a person should look at it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// Why it was disconnected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
    /// While `state` is `superseded`: the connector that supersedes it (it collects the same
    /// data for the same provider account), and what to do to reconnect this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded: Option<SupersededView>,
    /// The tenant's destination workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Its configuration.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Credential slot → credential name (never the secret).
    pub credentials: BTreeMap<String, String>,
    /// Products it feeds.
    pub products: Vec<ProductView>,
    /// Its last health messages, newest first.
    pub health: Vec<HealthMessage>,
    /// Volumes since the server started (single-connector reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<SourceVolumes>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated_at: DateTime<Utc>,
    /// Its version for `If-Match` (also its `ETag`).
    pub revision: u64,
}

/// Which connector supersedes another, as its view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SupersededView {
    /// The superseding connector's name.
    pub by: String,
    /// Its definition's display name, e.g. `Microsoft Defender XDR`.
    pub by_display_name: String,
    /// What it means and what to do, e.g. "superseded by connector 'xdr' (Microsoft
    /// Defender XDR)…: disconnect 'xdr' to reconnect this one".
    pub message: String,
}

/// A stream of a definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StreamView {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub description: String,
}

/// A credential slot of a definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SlotView {
    /// The slot's name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Kinds accepted (`api_token`, `client_secret`, `private_key_jwt`, …).
    pub kinds: Vec<String>,
}

/// A prerequisite of a definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PrerequisiteView {
    /// Its id.
    pub id: String,
    /// What a user must have; checked before connecting.
    pub description: String,
}

/// A catalog entry: the newest version of a definition.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct CatalogEntry {
    /// Its id.
    pub id: String,
    /// The name people see.
    pub display_name: String,
    /// The provider.
    pub provider: String,
    /// Who supports it.
    pub publisher: String,
    /// The newest version.
    pub version: String,
    /// Every registered version, oldest first.
    pub versions: Vec<String>,
    /// What it does.
    pub description: String,
    /// Its streams.
    pub streams: Vec<StreamView>,
    /// Products it can feed.
    pub products: Vec<String>,
    /// Credentials it needs.
    pub credentials: Vec<SlotView>,
    /// Its configuration's JSON Schema.
    #[schema(value_type = Object)]
    pub config_schema: serde_json::Value,
    /// What a user must have.
    pub prerequisites: Vec<PrerequisiteView>,
    /// Connectors it replaces.
    pub supersedes: Vec<String>,
    /// How many connectors of this tenant use it.
    pub instances: u64,
}

/// A product with, once the workspace is connected, where it delivers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductEntry {
    /// The product.
    #[serde(flatten)]
    pub info: crate::products::ProductInfo,
    /// Its table in the tenant's workspace, once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// A page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `page_token` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A response action a connector offers (`GET …/connectors/{name}/actions`).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ActionView {
    /// Its name, e.g. `suspend_user`.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The JSON Schema of its parameters.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// Doing it twice has the effect of doing it once.
    pub idempotent: bool,
    /// What the connector's credential needs at the provider, e.g. `okta.users.manage`.
    pub permission: String,
}

/// Body of `POST …/connectors/{name}/actions/{action}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    /// The action's parameters, valid against its schema (default: none).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// The same key twice performs the action once: the second call gets the first's
    /// result (1–128 printable ASCII characters; remembered for a day).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// One request an action sends, as a dry run shows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PlannedRequestView {
    /// HTTP method.
    pub method: String,
    /// The URL (never with a secret in it).
    pub url: String,
    /// The body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<serde_json::Value>,
}

/// What an action did, or (dry run) would send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcomeView {
    /// A dry run: validated, nothing sent.
    Planned,
    /// Done.
    Done,
    /// Nothing to do: the target was already in the asked state.
    AlreadyDone,
}

/// The answer to `POST …/connectors/{name}/actions/{action}`. A refusal by the provider is
/// a 409 `action_refused` and a failure a 502 `action_failed`, each with its reason.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ActionResponse {
    /// The connector.
    pub connector: String,
    /// The action.
    pub action: String,
    /// What happened.
    pub outcome: ActionOutcomeView,
    /// One sentence for people.
    pub message: String,
    /// For a dry run: the requests it would send, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<PlannedRequestView>,
    /// What the provider answered, in a few fields (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
    /// Calls made to the provider for it (0 for a dry run, or a replay of its idempotency
    /// key).
    pub attempts: u32,
    /// The result of an earlier call with the same idempotency key.
    pub replayed: bool,
}
