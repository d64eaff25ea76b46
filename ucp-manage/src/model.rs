//! The records the management layer keeps: roles, connector instances, a tenant's workspace,
//! audit entries and API keys. They are what the store persists and, for the first four,
//! what the API shows (none of them ever holds a secret).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucp_core::Filter;
use utoipa::ToSchema;

/// A principal's role in one tenant. Each role includes the ones before it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Views connectors (and the actions they offer), the catalog, offsets and the audit log.
    Reader,
    /// Also creates, updates, pauses, resumes and restarts connectors, and performs their
    /// response actions.
    Contributor,
    /// Also deletes and disconnects connectors, resets offsets, connects and offboards the
    /// workspace, stores credentials and assigns roles.
    Owner,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Owner => "owner",
        }
    }

    /// The role called `name`, if any.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "reader" => Some(Role::Reader),
            "contributor" => Some(Role::Contributor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// Where an instance stands in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Collecting and delivering.
    Active,
    /// Registered with the engine, making no provider call; its cursor is kept.
    Paused,
    /// Removed from the engine (delivery stopped for every product); kept for its history,
    /// cursors and audit until deleted.
    Disconnected,
    /// Removed from the engine because a connected instance of a definition that supersedes
    /// its own (Defender XDR for a component connector) collects the same data for the same
    /// provider account; it is resumed, from its cursor, once that instance is disconnected.
    Superseded,
}

impl InstanceState {
    /// True when the engine runs (or holds, paused) the instance's source.
    pub fn in_engine(self) -> bool {
        matches!(self, InstanceState::Active | InstanceState::Paused)
    }
}

/// The default collection interval of a product subscription.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 300;
/// The longest interval a subscription may ask for (one week).
pub const MAX_INTERVAL_SECONDS: u64 = 7 * 24 * 3600;

fn default_interval() -> u64 {
    DEFAULT_INTERVAL_SECONDS
}

/// One product fed by an instance: which streams, how often, with which filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductSubscription {
    /// The product's id (see `GET …/products`).
    pub product: String,
    /// Streams to deliver; empty means every stream of the connector.
    #[serde(default)]
    pub streams: Vec<String>,
    /// Collect at least this often, in seconds (1 to 604800; default 300).
    #[serde(default = "default_interval")]
    pub interval_seconds: u64,
    /// Deliver only records matching this filter (the engine's filter language).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Filter>,
}

/// A configured connector: a definition + configuration + credentials + products, with a
/// lifecycle. The store keeps it; secrets are never part of it (only credential names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The tenant that owns it.
    pub tenant: String,
    /// Its name within the tenant.
    pub name: String,
    /// The connector definition's id.
    pub definition: String,
    /// The definition's version it runs.
    pub version: String,
    /// Its configuration, valid against that version's schema.
    pub config: serde_json::Value,
    /// Credential slot → name of the credential in the tenant's store.
    pub credentials: BTreeMap<String, String>,
    /// Credentials the platform stored for it at creation (deleted with it).
    #[serde(default)]
    pub owned_credentials: Vec<String>,
    /// The products it feeds.
    pub products: Vec<ProductSubscription>,
    /// Lifecycle state.
    pub state: InstanceState,
    /// Why a person should look at it (a failed upgrade, a definition that is gone).
    #[serde(default)]
    pub attention: Option<String>,
    /// Why it was disconnected.
    #[serde(default)]
    pub disconnect_reason: Option<String>,
    /// The instance that superseded it, while it is [`InstanceState::Superseded`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; the API's ETag.
    pub revision: u64,
}

impl InstanceRecord {
    /// The name the engine knows the instance's source by: engine names are global, so the
    /// tenant is part of it (`contoso.okta-prod`; `.` cannot occur in either part).
    pub fn engine_name(&self) -> String {
        engine_source_name(&self.tenant, &self.name)
    }
}

/// The engine's name of `tenant`'s instance `name`.
pub fn engine_source_name(tenant: &str, name: &str) -> String {
    format!("{tenant}.{name}")
}

/// The engine's name of `tenant`'s sink for `product`.
pub fn engine_sink_name(tenant: &str, product: &str) -> String {
    format!("{tenant}.{product}")
}

/// A tenant's connected destination workspace (one per tenant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Workspace {
    /// The tenant.
    pub tenant: String,
    /// The workspace's name, e.g. a Log Analytics workspace.
    pub name: String,
    /// Where and how the products deliver (valid against the products' workspace schema;
    /// credentials by name only).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Who connected it.
    pub connected_by: String,
    /// When.
    pub connected_at: DateTime<Utc>,
}

/// One entry of the append-only audit log. `before` and `after` never hold a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Increasing id (assigned by the store; 0 before).
    pub id: u64,
    /// When.
    pub time: DateTime<Utc>,
    /// The tenant concerned.
    pub tenant: String,
    /// Who: a principal's id, or `system` for the platform itself (upgrades).
    pub actor: String,
    /// What, e.g. `connector.create`, `connector.pause`, `workspace.offboard`.
    pub action: String,
    /// The object, e.g. `connector/okta-prod`, `workspace/contoso-law`, `role/alice`.
    pub target: String,
    /// The connector concerned, if any (for queries by connector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// The reason a person gave (disconnect, offboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The object before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The object after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// A filter over one tenant's audit log; results are newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The tenant (required: tenants are walls).
    pub tenant: String,
    /// Only entries about this connector.
    pub connector: Option<String>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Entries with an id below this one (the next page).
    pub before_id: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// A stored API key: only its public id and a keyed hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's public id (part of the key string).
    pub id: String,
    /// The principal the key authenticates as.
    pub principal: String,
    /// HMAC-SHA256 of the key under the server's pepper (see [`crate::auth::ApiKeys`]).
    pub hash: Vec<u8>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// A revoked key authenticates nobody.
    pub revoked: bool,
}

/// A role assignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleAssignment {
    /// The tenant.
    pub tenant: String,
    /// The principal's id (an API key's principal or a token's subject).
    pub principal: String,
    /// Its role.
    pub role: Role,
}
