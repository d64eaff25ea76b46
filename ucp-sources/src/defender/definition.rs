//! The catalog entries of the Microsoft Graph security connectors: Defender XDR (incidents
//! and alerts of every Defender product, [`DefenderSource`]) and the Defender for Identity
//! alerts component connector ([`MdiAlertsSource`]), which XDR supersedes: connecting XDR
//! for a tenant stops the component for the same Entra directory, so no alert arrives twice.
//!
//! Their configurations are JSON as the management API takes it, with schemas generated
//! from [`DefenderXdrSettings`] and [`DefenderAlertsSettings`]; the Entra app's credential
//! (a client secret or a certificate's private key, with the directory's token URL) fills
//! slot [`CREDENTIAL_SLOT`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ucp_core::catalog::{
    factory, ConnectorDefinition, CredentialKind, CredentialRefs, DefinitionError, FactoryError,
    Prerequisite,
};
use ucp_core::Source;

use super::{DefenderConfig, DefenderSource, GraphLimits, MdiAlertsSource, ALERTS, INCIDENTS};

/// The Defender XDR definition's id.
pub const XDR_DEFINITION_ID: &str = "defender-xdr";
/// The Defender for Identity alerts definition's id.
pub const MDI_ALERTS_DEFINITION_ID: &str = "defender-identity-alerts";
/// The credential slot both fill with the Entra app's credential.
pub const CREDENTIAL_SLOT: &str = "graph";

/// Defender XDR's configuration. The Entra app's credential is not part of it: it fills
/// the `graph` slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefenderXdrSettings {
    /// The Entra directory (tenant) id, e.g. `2f2d7b4c-8c1e-4f7a-9d2b-5e0c1a6b3d90`.
    #[schemars(length(min = 1, max = 128))]
    pub tenant_id: String,
    /// Graph's origin (default `https://graph.microsoft.com`; a national cloud's or a
    /// simulator's otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub graph_url: Option<String>,
    /// Streams without a cursor start at this time (RFC 3339)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<DateTime<Utc>>,
    /// …or this many seconds before their first collection (default 30 days; 0: from the
    /// moment it connects, as Defender XDR's own connector does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 15_552_000))]
    pub start_ago_seconds: Option<u64>,
    /// Incidents per page (each carries its alerts).
    #[serde(default = "default_incidents_page")]
    #[schemars(range(min = 1, max = 1000))]
    pub incidents_page: u32,
    /// Alerts per page.
    #[serde(default = "default_alerts_page")]
    #[schemars(range(min = 1, max = 1000))]
    pub alerts_page: u32,
    /// Each sweep asks again this many seconds before the last one's watermark, for items
    /// Graph shows a little after their update time (default 300).
    #[serde(default = "default_overlap")]
    #[schemars(range(max = 3600))]
    pub overlap_seconds: u64,
    /// Share of Graph's per-app limits this platform may use, in (0, 1] (default 0.9).
    #[serde(default = "default_quota_share")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0))]
    pub quota_share: f64,
    /// Graph's minute and hour last this many times less (only a simulated tenant with
    /// compressed throttling windows sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 3600.0))]
    pub time_compression: Option<f64>,
    /// Timeout of one request in seconds (default: the platform client's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: Option<u64>,
}

/// The Defender for Identity alerts connector's configuration: Defender XDR's, less the
/// incidents it does not read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefenderAlertsSettings {
    /// The Entra directory (tenant) id.
    #[schemars(length(min = 1, max = 128))]
    pub tenant_id: String,
    /// Graph's origin (default `https://graph.microsoft.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub graph_url: Option<String>,
    /// The first collection starts at this time (RFC 3339)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<DateTime<Utc>>,
    /// …or this many seconds before it (default 30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 15_552_000))]
    pub start_ago_seconds: Option<u64>,
    /// Alerts per page.
    #[serde(default = "default_alerts_page")]
    #[schemars(range(min = 1, max = 1000))]
    pub alerts_page: u32,
    /// Each sweep asks again this many seconds before the last one's watermark (default 300).
    #[serde(default = "default_overlap")]
    #[schemars(range(max = 3600))]
    pub overlap_seconds: u64,
    /// Share of Graph's per-app limits this platform may use, in (0, 1] (default 0.9).
    #[serde(default = "default_quota_share")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0))]
    pub quota_share: f64,
    /// Graph's minute and hour last this many times less (simulated tenants only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 3600.0))]
    pub time_compression: Option<f64>,
    /// Timeout of one request in seconds (default: the platform client's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: Option<u64>,
}

fn default_incidents_page() -> u32 {
    50
}
fn default_alerts_page() -> u32 {
    200
}
fn default_overlap() -> u64 {
    300
}
fn default_quota_share() -> f64 {
    GraphLimits::SECURITY.share
}

impl DefenderXdrSettings {
    /// The source configuration, authenticating with the credential named `credential`.
    pub fn to_config(&self, credential: &str) -> DefenderConfig {
        let config = DefenderConfig::new(&self.tenant_id, credential)
            .pages(self.incidents_page, self.alerts_page);
        common(
            config,
            Common {
                graph_url: self.graph_url.as_deref(),
                start_at: self.start_at,
                start_ago_seconds: self.start_ago_seconds,
                overlap_seconds: self.overlap_seconds,
                quota_share: self.quota_share,
                time_compression: self.time_compression,
                request_timeout_seconds: self.request_timeout_seconds,
            },
        )
    }
}

impl DefenderAlertsSettings {
    /// The source configuration, authenticating with the credential named `credential`.
    pub fn to_config(&self, credential: &str) -> DefenderConfig {
        let config = DefenderConfig::new(&self.tenant_id, credential)
            .pages(default_incidents_page(), self.alerts_page);
        common(
            config,
            Common {
                graph_url: self.graph_url.as_deref(),
                start_at: self.start_at,
                start_ago_seconds: self.start_ago_seconds,
                overlap_seconds: self.overlap_seconds,
                quota_share: self.quota_share,
                time_compression: self.time_compression,
                request_timeout_seconds: self.request_timeout_seconds,
            },
        )
    }
}

/// The settings both connectors share.
struct Common<'a> {
    graph_url: Option<&'a str>,
    start_at: Option<DateTime<Utc>>,
    start_ago_seconds: Option<u64>,
    overlap_seconds: u64,
    quota_share: f64,
    time_compression: Option<f64>,
    request_timeout_seconds: Option<u64>,
}

fn common(mut config: DefenderConfig, settings: Common<'_>) -> DefenderConfig {
    if let Some(url) = settings.graph_url {
        config = config.graph_url(url);
    }
    config = match (settings.start_at, settings.start_ago_seconds) {
        (Some(time), _) => config.start_at(time),
        (None, Some(seconds)) => config.start_ago(Duration::from_secs(seconds)),
        (None, None) => config,
    };
    let mut limits = GraphLimits::SECURITY.share(settings.quota_share);
    if let Some(speed) = settings.time_compression {
        limits = limits.compressed(speed);
    }
    config = config
        .overlap(Duration::from_secs(settings.overlap_seconds))
        .limits(limits);
    if let Some(seconds) = settings.request_timeout_seconds {
        config = config.request_timeout(Duration::from_secs(seconds));
    }
    config
}

fn build_xdr(
    settings: DefenderXdrSettings,
    credentials: &CredentialRefs,
) -> Result<Arc<dyn Source>, FactoryError> {
    let credential = credentials.get(CREDENTIAL_SLOT)?;
    Ok(Arc::new(DefenderSource::new(
        settings.to_config(&credential.name),
    )?))
}

fn build_mdi_alerts(
    settings: DefenderAlertsSettings,
    credentials: &CredentialRefs,
) -> Result<Arc<dyn Source>, FactoryError> {
    let credential = credentials.get(CREDENTIAL_SLOT)?;
    Ok(Arc::new(MdiAlertsSource::new(
        settings.to_config(&credential.name),
    )?))
}

const CREDENTIAL_HELP: &str = "The Entra app's credential (a client secret, or a certificate's private key), with the directory's token URL";

/// The Defender XDR connector's definition: it supersedes the Defender for Identity alerts
/// component connector ([`MDI_ALERTS_DEFINITION_ID`]).
pub fn xdr_definition() -> Result<ConnectorDefinition, DefinitionError> {
    ConnectorDefinition::builder(XDR_DEFINITION_ID, "Microsoft Defender XDR")
        .provider("microsoft-defender-xdr")
        .publisher("ucp")
        .version(env!("CARGO_PKG_VERSION"))
        .description(
            "Defender XDR incidents (with their alerts) and the alerts of every Defender product, through Microsoft Graph security, for one Entra directory. Connecting it stops the component connectors it covers for that directory, so nothing arrives twice",
        )
        .stream(INCIDENTS, "Defender XDR incidents with their alerts, one record per version")
        .stream(ALERTS, "Alerts of every Defender product, one record per version")
        .feeds(["sentinel"])
        .credential(
            CREDENTIAL_SLOT,
            CREDENTIAL_HELP,
            [CredentialKind::ClientSecret, CredentialKind::PrivateKeyJwt],
        )
        .config_schema(schemars::schema_for!(DefenderXdrSettings).to_value())
        .prerequisite(Prerequisite::source_check(
            "graph-security-read",
            "The Entra app has the Microsoft Graph application permissions SecurityIncident.Read.All and SecurityAlert.Read.All, with admin consent",
        ))
        .supersedes(MDI_ALERTS_DEFINITION_ID)
        .factory(factory(build_xdr))
        .build()
}

/// The Defender for Identity alerts component connector's definition (`alerts_v2` where
/// `serviceSource` is Defender for Identity).
pub fn mdi_alerts_definition() -> Result<ConnectorDefinition, DefinitionError> {
    ConnectorDefinition::builder(
        MDI_ALERTS_DEFINITION_ID,
        "Microsoft Defender for Identity alerts",
    )
    .provider("microsoft-defender-for-identity")
    .publisher("ucp")
    .version(env!("CARGO_PKG_VERSION"))
    .description(
        "Defender for Identity alerts through Microsoft Graph security, for one Entra directory. Defender XDR covers them: while an XDR connector is connected for the same directory, this one is superseded",
    )
    .stream(ALERTS, "Defender for Identity alerts, one record per version")
    .feeds(["sentinel"])
    .credential(
        CREDENTIAL_SLOT,
        CREDENTIAL_HELP,
        [CredentialKind::ClientSecret, CredentialKind::PrivateKeyJwt],
    )
    .config_schema(schemars::schema_for!(DefenderAlertsSettings).to_value())
    .prerequisite(Prerequisite::source_check(
        "graph-alerts-read",
        "The Entra app has the Microsoft Graph application permission SecurityAlert.Read.All, with admin consent",
    ))
    .factory(factory(build_mdi_alerts))
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucp_core::credentials::CredentialRef;

    fn refs() -> CredentialRefs {
        CredentialRefs::new().with(CREDENTIAL_SLOT, CredentialRef::new("contoso", "graph-app"))
    }

    #[test]
    fn xdr_supersedes_the_identity_alerts_component() {
        let xdr = xdr_definition().unwrap();
        let mdi = mdi_alerts_definition().unwrap();
        assert_eq!(xdr.supersedes(), [MDI_ALERTS_DEFINITION_ID]);
        assert!(mdi.supersedes().is_empty());
        let names = |d: &ConnectorDefinition| -> Vec<String> {
            d.streams().iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(names(&xdr), [INCIDENTS, ALERTS]);
        assert_eq!(names(&mdi), [ALERTS]);
        // The component's schema has no incidents; XDR's requires the directory.
        assert!(mdi.config_schema()["properties"]
            .get("incidents_page")
            .is_none());
        assert_eq!(
            xdr.config_schema()["required"],
            serde_json::json!(["tenant_id"])
        );
    }

    #[test]
    fn both_build_sources_on_the_same_budget_account() {
        let config = serde_json::json!({"tenant_id": "dir-1", "graph_url": "http://127.0.0.1:9"});
        let xdr = xdr_definition()
            .unwrap()
            .factory()
            .build(&config, &refs())
            .unwrap();
        let mdi = mdi_alerts_definition()
            .unwrap()
            .factory()
            .build(&config, &refs())
            .unwrap();
        assert_eq!(xdr.describe().budget.key, mdi.describe().budget.key);
        assert_eq!(xdr.describe().budget.key.account, "dir-1");
    }

    #[test]
    fn bad_settings_are_refused_naming_what_is_wrong() {
        let d = xdr_definition().unwrap();
        let missing = d
            .factory()
            .build(
                &serde_json::json!({"tenant_id": "dir-1"}),
                &CredentialRefs::new(),
            )
            .err()
            .unwrap();
        assert!(
            missing.to_string().starts_with("credentials.graph"),
            "{missing}"
        );
        let bad_url = d
            .factory()
            .build(
                &serde_json::json!({"tenant_id": "dir-1", "graph_url": "graph"}),
                &refs(),
            )
            .err()
            .unwrap();
        assert!(bad_url.to_string().contains("not a URL"), "{bad_url}");
    }

    #[test]
    fn settings_become_the_source_configuration() {
        let settings: DefenderXdrSettings = serde_json::from_value(serde_json::json!({
            "tenant_id": "dir-1", "start_ago_seconds": 0, "overlap_seconds": 1,
            "time_compression": 60.0, "incidents_page": 10
        }))
        .unwrap();
        let config = settings.to_config("graph-app");
        assert_eq!(config.credential, "graph-app");
        assert_eq!(config.start, super::super::StartAt::Ago(Duration::ZERO));
        assert_eq!(config.overlap, Duration::from_secs(1));
        assert_eq!(config.incidents_page, 10);
        assert_eq!(config.limits.minute, Duration::from_secs(1));
    }
}
