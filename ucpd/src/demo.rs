//! `ucpd --demo`: the server against a simulated world on 127.0.0.1 — an Okta org whose
//! System Log fills with events, Entra ID's token endpoint, the Logs Ingestion API
//! (Sentinel) and an Event Hubs namespace (MDI and XSPM) — with a tenant ready to connect:
//! its workspace points at the emulated products, its credentials are stored, and an Owner
//! API key is printed. The newcomer creates the Okta connector through the API and watches
//! the data arrive.
//!
//! [`Lab`] is that world on its own; the end-to-end tests use it too.

use std::time::Duration;

use serde_json::{json, Value};
use ucp_testkit::azure::{EventHubs, LogsIngestion};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::token_endpoint::TokenEndpoint;

/// The demo's tenant.
pub const TENANT: &str = "contoso";
/// The Okta org's API token (stored as credential `okta-token`).
pub const OKTA_TOKEN: &str = "00aDemoOrgApiTokenForUcpd";
/// The DCR stream Sentinel's rows land in.
pub const SENTINEL_STREAM: &str = "Custom-OktaSystemLog";
/// The data collection rule.
pub const DCR: &str = "dcr-okta-demo";

/// The Entra app that publishes to Sentinel and XSPM (stored as credential `entra-app`).
pub const CLIENT_ID: &str = "ucp-demo-app";

const DIRECTORY: &str = "contoso-directory";
const CLIENT_SECRET: &str = "demo-app-secret";
const KEY_NAME: &str = "ucp-send";
const KEY: &str = "ZGVtby1ldmVudC1odWJzLXNlbmQta2V5";

/// The simulated provider and emulated products, on loopback.
pub struct Lab {
    /// The Okta org.
    pub org: OktaSimulator,
    /// Entra ID's token endpoint.
    pub tokens: TokenEndpoint,
    /// Sentinel's Logs Ingestion API.
    pub logs: LogsIngestion,
    /// The Event Hubs namespace with hubs `mdi` and `xspm`.
    pub hubs: EventHubs,
}

impl Lab {
    /// Start the org (configured by `org`, plus the demo's API token) and the products.
    pub async fn start(org: OktaSimConfig) -> std::io::Result<Lab> {
        let org = OktaSimulator::start(org.token(OKTA_TOKEN)).await?;
        let tokens = TokenEndpoint::start().await?;
        tokens.register_secret_client(CLIENT_ID, CLIENT_SECRET);
        let logs = LogsIngestion::start(tokens.verifier()).await?;
        logs.add_stream(DCR, SENTINEL_STREAM);
        logs.grant(DCR, CLIENT_ID);
        let hubs = EventHubs::start(Some(tokens.verifier())).await?;
        hubs.add_hub("mdi");
        hubs.add_hub("xspm");
        hubs.add_key(KEY_NAME, KEY);
        hubs.grant_sender(CLIENT_ID);
        Ok(Lab {
            org,
            tokens,
            logs,
            hubs,
        })
    }

    /// The tenant's credentials as `PUT …/credentials/{name}` takes them: the Okta token,
    /// the Entra app (Sentinel, XSPM) and the Event Hubs key (MDI).
    pub fn credentials(&self) -> Vec<(&'static str, Value)> {
        vec![
            (
                "okta-token",
                json!({"kind": "api_token", "token": OKTA_TOKEN}),
            ),
            (
                "entra-app",
                json!({"kind": "client_secret", "token_url": self.tokens.entra_token_url(DIRECTORY),
                       "client_id": CLIENT_ID, "secret": CLIENT_SECRET}),
            ),
            (
                "hubs-send",
                json!({"kind": "shared_access_key", "key_name": KEY_NAME, "key": KEY}),
            ),
        ]
    }

    /// The workspace as `PUT …/workspace` takes it: the three emulated products.
    pub fn workspace(&self) -> Value {
        json!({
            "name": "demo-workspace",
            "settings": {
                "sentinel": {"endpoint": self.logs.url(), "dcr_immutable_id": DCR,
                             "stream": SENTINEL_STREAM, "credential": "entra-app"},
                "mdi": {"namespace": self.hubs.url(), "hub": "mdi", "auth": "shared_access_key",
                        "credential": "hubs-send", "partition_key": "/actor/id"},
                "xspm": {"namespace": self.hubs.url(), "hub": "xspm", "auth": "entra",
                         "credential": "entra-app"}
            }
        })
    }

    /// An Okta connector for the three products, as `POST …/connectors` takes it: Sentinel
    /// gets everything, MDI sign-ins and sessions, XSPM account, group and application
    /// changes; each every `interval_seconds`.
    pub fn okta_connector(&self, name: &str, interval_seconds: u64) -> Value {
        json!({
            "name": name,
            "definition": "okta-system-log",
            "config": {"org_url": self.org.base_url(), "start_ago_seconds": 3600},
            "credentials": {"okta": {"name": "okta-token"}},
            "products": [
                {"product": "sentinel", "interval_seconds": interval_seconds},
                {"product": "mdi", "interval_seconds": interval_seconds,
                 "filter": {"or": [
                    {"starts_with": {"path": "/eventType", "prefix": "user.authentication"}},
                    {"starts_with": {"path": "/eventType", "prefix": "user.session"}}]}},
                {"product": "xspm", "interval_seconds": interval_seconds,
                 "filter": {"or": [
                    {"starts_with": {"path": "/eventType", "prefix": "user.account"}},
                    {"starts_with": {"path": "/eventType", "prefix": "group."}},
                    {"starts_with": {"path": "/eventType", "prefix": "application."}}]}}
            ]
        })
    }

    /// The uuids of Sentinel's rows, in arrival order.
    pub fn sentinel_ids(&self) -> Vec<String> {
        self.logs
            .rows(DCR, SENTINEL_STREAM)
            .iter()
            .filter_map(|row| row["uuid"].as_str().map(String::from))
            .collect()
    }

    /// The uuids of a hub's messages, in arrival order.
    pub fn hub_ids(&self, hub: &str) -> Vec<String> {
        self.hubs
            .messages(hub)
            .iter()
            .filter_map(|m| m.user_properties.get("ucp.id")?.as_str().map(String::from))
            .collect()
    }

    /// One line per part of the world, for people.
    pub fn describe(&self) -> String {
        format!(
            "  simulated Okta org     {}\n  Entra token endpoint   {}\n  Logs Ingestion (Sentinel) {}  rule {DCR}, stream {SENTINEL_STREAM}\n  Event Hubs (MDI, XSPM) {}  hubs mdi, xspm",
            self.org.base_url(),
            self.tokens.url(),
            self.logs.url(),
            self.hubs.url()
        )
    }
}

/// The demo org: 50 minutes of backlog (the connector starts an hour back), then two
/// events a second.
pub fn demo_org() -> OktaSimConfig {
    OktaSimConfig::default()
        .backlog(500)
        .backlog_span(Duration::from_secs(3000))
        .live(2.0)
}

/// What a newcomer can try, with `url` the API and `key` in `$UCP_KEY`.
pub fn walkthrough(url: &str, lab: &Lab) -> String {
    let api = format!("{url}/api/v1/tenants/{TENANT}");
    let auth = "-H \"Authorization: Bearer $UCP_KEY\"";
    let json = "-H 'content-type: application/json'";
    let create = lab.okta_connector("okta-demo", 10).to_string();
    format!(
        "Try:
  curl -s {auth} {api}/catalog                      # what can be connected
  curl -s {auth} {api}/products                     # where data can go
  curl -s {auth} {json} -X POST {api}/connectors -d '{create}'
  curl -s {auth} {api}/connectors/okta-demo         # status, health, volumes
  curl -s {auth} -X POST {api}/connectors/okta-demo/pause
  curl -s {auth} {api}/connectors/okta-demo/offsets
  curl -s {auth} -X POST {api}/connectors/okta-demo/resume
  curl -s {auth} {api}/audit                        # who did what
The OpenAPI document: {url}/openapi.json
Or in the web pages ({url}/ui/, sign in with the key and tenant {TENANT}): Catalog → Connect on
Okta System Log, with org URL {org}, credential okta-token and the three products ticked.",
        org = lab.org.base_url()
    )
}

/// Give the demo tenant its workspace, credentials and an Owner, and return the Owner's
/// API key (shown once).
pub async fn provision(
    manager: &ucp_manage::Manager,
    lab: &Lab,
) -> Result<secrecy::SecretString, ucp_manage::ManageError> {
    use ucp_manage::{ManageError, Principal, Role};
    let admin = Principal::system();
    fn body<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ManageError> {
        serde_json::from_value(value)
            .map_err(|e| ManageError::Internal(format!("the demo's own body is invalid: {e}")))
    }
    let (_, key) = manager.create_api_key(&admin, "newcomer").await?;
    manager
        .set_role(&admin, TENANT, "newcomer", Some(Role::Owner))
        .await?;
    for (name, secret) in lab.credentials() {
        manager
            .put_credential(&admin, TENANT, name, body(secret)?)
            .await?;
    }
    manager
        .connect_workspace(&admin, TENANT, body(lab.workspace())?)
        .await?;
    Ok(key)
}
