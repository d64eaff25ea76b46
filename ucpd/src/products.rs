//! The server's products and how a tenant's workspace becomes their sinks: Microsoft
//! Sentinel through the Logs Ingestion API (a DCR stream, gzip), Defender for Identity and
//! exposure management through event hubs (shared access key or Entra token). Each section
//! of the workspace's settings is optional: a tenant connects the products it has.
//!
//! Credentials are named, never given, in the settings: they are the tenant's stored
//! credentials (an Entra client for Sentinel and Entra-authenticated hubs, a shared access
//! key for the others), resolved by the sinks through the platform's one token provider.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use ucp_core::catalog::{is_identifier, FactoryError};
use ucp_core::credentials::token::TokenProvider;
use ucp_manage::{ProductInfo, ProductSink, Products, Workspace};
use ucp_sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp_sinks::sentinel::{SentinelConfig, SentinelSink};

/// A tenant's destinations: where each product's data lands.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct AzureWorkspace {
    /// Microsoft Sentinel: a custom table fed through the Logs Ingestion API.
    #[serde(default)]
    pub sentinel: Option<SentinelDestination>,
    /// Microsoft Defender for Identity: an event hub.
    #[serde(default)]
    pub mdi: Option<HubDestination>,
    /// Exposure management (XSPM): an event hub.
    #[serde(default)]
    pub xspm: Option<HubDestination>,
}

/// Sentinel's table: a data collection rule's stream.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentinelDestination {
    /// The data collection endpoint's logs ingestion URL,
    /// e.g. `https://okta-dce.eastus-1.ingest.monitor.azure.com`.
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: String,
    /// The rule's immutable id (`dcr-…`).
    #[schemars(length(min = 1, max = 256))]
    pub dcr_immutable_id: String,
    /// The rule's stream, e.g. `Custom-OktaSystemLog`.
    #[schemars(length(min = 1, max = 256))]
    pub stream: String,
    /// The stored Entra client credential that may publish to the rule.
    #[schemars(length(min = 1, max = 63))]
    pub credential: String,
}

/// How an event hub sink authenticates.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HubAuth {
    /// SAS tokens signed with a shared access policy key (`shared_access_key` credential).
    SharedAccessKey,
    /// Entra tokens for an app with "Azure Event Hubs Data Sender" (client credential).
    Entra,
}

/// One event hub.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HubDestination {
    /// The namespace's URL, e.g. `https://contoso-hubs.servicebus.windows.net`.
    #[schemars(length(min = 1, max = 2048))]
    pub namespace: String,
    /// The event hub.
    #[schemars(length(min = 1, max = 256))]
    pub hub: String,
    /// How to authenticate.
    pub auth: HubAuth,
    /// The stored credential it authenticates with.
    #[schemars(length(min = 1, max = 63))]
    pub credential: String,
    /// JSON pointer of the partition key in each event (e.g. `/actor/id`).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub partition_key: Option<String>,
}

/// The products, taking tokens from the platform's token provider; they send through the
/// platform's HTTP client (their context's).
pub struct AzureProducts {
    tokens: Arc<TokenProvider>,
}

impl AzureProducts {
    /// Products whose sinks take tokens from `tokens` (the platform's one provider).
    pub fn new(tokens: Arc<TokenProvider>) -> Self {
        AzureProducts { tokens }
    }
}

/// An `http(s)` URL, or a refusal naming `field`.
fn url(field: &str, value: &str) -> Result<String, FactoryError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(FactoryError::config(
            field,
            "an https:// URL (http:// only for a local emulator)",
        )),
    }
}

fn credential(field: &str, name: &str) -> Result<String, FactoryError> {
    if is_identifier(name) {
        Ok(name.to_string())
    } else {
        Err(FactoryError::config(
            field,
            "the name of a stored credential: 1 to 63 lowercase letters, digits or '-'",
        ))
    }
}

impl Products for AzureProducts {
    fn products(&self) -> Vec<ProductInfo> {
        [
            (
                "sentinel",
                "Microsoft Sentinel",
                "SIEM: every event, into a custom table through the Logs Ingestion API",
            ),
            (
                "mdi",
                "Microsoft Defender for Identity",
                "Identity threat detection: sign-ins and sessions, through an event hub",
            ),
            (
                "xspm",
                "Exposure management",
                "Attack paths: account, group and application changes, through an event hub",
            ),
        ]
        .into_iter()
        .map(|(id, name, what)| ProductInfo {
            id: id.into(),
            display_name: name.into(),
            description: what.into(),
        })
        .collect()
    }

    fn workspace_schema(&self) -> serde_json::Value {
        schemars::schema_for!(AzureWorkspace).to_value()
    }

    fn sinks(&self, workspace: &Workspace) -> Result<Vec<ProductSink>, FactoryError> {
        let settings: AzureWorkspace = serde_json::from_value(workspace.settings.clone())
            .map_err(|e| FactoryError::config("settings", e.to_string()))?;
        let mut out = Vec::new();
        if let Some(s) = &settings.sentinel {
            let mut config = SentinelConfig::new(
                url("sentinel.endpoint", &s.endpoint)?,
                &s.dcr_immutable_id,
                &s.stream,
                credential("sentinel.credential", &s.credential)?,
            );
            config.gzip = true;
            out.push(ProductSink {
                product: "sentinel".into(),
                table: format!("{} (rule {})", s.stream, s.dcr_immutable_id),
                sink: Arc::new(SentinelSink::new(config, self.tokens.clone())),
            });
        }
        for (product, destination) in [("mdi", &settings.mdi), ("xspm", &settings.xspm)] {
            let Some(h) = destination else { continue };
            let name = credential(&format!("{product}.credential"), &h.credential)?;
            let auth = match h.auth {
                HubAuth::SharedAccessKey => EventHubsAuth::SharedAccessKey { credential: name },
                HubAuth::Entra => EventHubsAuth::Entra { credential: name },
            };
            let mut config = EventHubsConfig::new(
                product,
                url(&format!("{product}.namespace"), &h.namespace)?,
                &h.hub,
                auth,
            );
            if let Some(pointer) = &h.partition_key {
                if !pointer.is_empty() && !pointer.starts_with('/') {
                    return Err(FactoryError::config(
                        format!("{product}.partition_key"),
                        "a JSON pointer, e.g. /actor/id",
                    ));
                }
                config = config.partition_key(pointer);
            }
            out.push(ProductSink {
                product: product.into(),
                table: format!("event hub {}", h.hub),
                sink: Arc::new(EventHubsSink::new(config, self.tokens.clone())),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ucp_core::credentials::token::HttpTokenFetcher;

    fn products() -> AzureProducts {
        let tokens = TokenProvider::new(Arc::new(HttpTokenFetcher::new().unwrap()));
        AzureProducts::new(Arc::new(tokens))
    }

    fn workspace(settings: serde_json::Value) -> Workspace {
        Workspace {
            tenant: "contoso".into(),
            name: "law".into(),
            settings,
            connected_by: "owner".into(),
            connected_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn each_configured_section_is_one_sink_with_its_table() {
        let sinks = products()
            .sinks(&workspace(json!({
                "sentinel": {"endpoint": "https://dce.example", "dcr_immutable_id": "dcr-1",
                             "stream": "Custom-Okta", "credential": "entra-app"},
                "xspm": {"namespace": "https://hubs.example", "hub": "xspm", "auth": "entra",
                         "credential": "entra-app"}
            })))
            .unwrap();
        let tables: Vec<(&str, &str)> = sinks
            .iter()
            .map(|s| (s.product.as_str(), s.table.as_str()))
            .collect();
        assert_eq!(
            tables,
            [
                ("sentinel", "Custom-Okta (rule dcr-1)"),
                ("xspm", "event hub xspm")
            ]
        );
    }

    #[test]
    fn bad_urls_credentials_and_pointers_are_refused_by_field() {
        let field = |settings| match products().sinks(&workspace(settings)) {
            Err(FactoryError::Config { field, .. }) => field,
            other => panic!("{:?}", other.map(|s| s.len())),
        };
        let hub = |namespace: &str, credential: &str, key: &str| {
            json!({"mdi": {"namespace": namespace, "hub": "mdi", "auth": "shared_access_key",
                           "credential": credential, "partition_key": key}})
        };
        assert_eq!(field(hub("ftp://x", "key", "/actor/id")), "mdi.namespace");
        assert_eq!(field(hub("https://x", "Bad Name", "/a")), "mdi.credential");
        assert_eq!(field(hub("https://x", "key", "actor")), "mdi.partition_key");
    }

    #[test]
    fn the_schema_describes_every_destination() {
        let schema = products().workspace_schema();
        let text = schema.to_string();
        for field in [
            "sentinel",
            "mdi",
            "xspm",
            "dcr_immutable_id",
            "shared_access_key",
        ] {
            assert!(text.contains(field), "{field} not in {text}");
        }
    }
}
