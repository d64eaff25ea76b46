//! The Okta System Log connector's catalog entry: its configuration as a management API
//! takes it (JSON, with a schema generated from [`OktaSettings`]) and the factory that turns
//! it into an [`OktaSource`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ucp_core::catalog::{
    factory, ConnectorDefinition, CredentialKind, CredentialRefs, DefinitionError, FactoryError,
    Prerequisite,
};
use ucp_core::{Cursor, Source};

use super::{cursor, OktaAuth, OktaConfig, OktaSource, LOGS_SCOPE, MAX_PAGE_LIMIT, SYSTEM_LOG};

/// The definition's id.
pub const DEFINITION_ID: &str = "okta-system-log";
/// The credential slot the instance fills.
pub const CREDENTIAL_SLOT: &str = "okta";

/// How the instance authenticates with the credential in slot [`CREDENTIAL_SLOT`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// `SSWS` with an API token (`api_token` credential).
    #[default]
    ApiToken,
    /// A bearer OAuth access token obtained elsewhere (`api_token` credential).
    AccessToken,
    /// An OAuth service app (`private_key_jwt` credential) asking for `scope`.
    Oauth,
}

/// An Okta instance's configuration as the management API takes it. Credentials are not
/// part of it: they fill the `okta` slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OktaSettings {
    /// The org URL, e.g. `https://contoso.okta.com`.
    #[schemars(length(min = 1))]
    pub org_url: String,
    /// How to authenticate.
    #[serde(default)]
    pub auth: AuthMode,
    /// Scopes an OAuth service app asks for, space-separated (default `okta.logs.read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Events per page.
    #[serde(default = "default_page_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub page_limit: u32,
    /// The first collection starts at this time (RFC 3339)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<DateTime<Utc>>,
    /// …or this many seconds before it (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 15_552_000))]
    pub start_ago_seconds: Option<u64>,
    /// Share of the org's rate limit this platform may use, in (0, 1].
    #[serde(default = "default_quota_share")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0))]
    pub quota_share: f64,
    /// The org's System Log limit per minute until a response says otherwise.
    #[serde(default = "default_rate_limit")]
    #[schemars(range(min = 1, max = 100_000))]
    pub rate_limit_per_minute: u32,
    /// The length of the org's rate-limit "minute" in milliseconds (only a simulated org
    /// with compressed time has less than 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60_000))]
    pub rate_limit_window_ms: Option<u64>,
    /// Timeout of one HTTP request in seconds (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: Option<u64>,
}

fn default_page_limit() -> u32 {
    MAX_PAGE_LIMIT
}
fn default_quota_share() -> f64 {
    0.5
}
fn default_rate_limit() -> u32 {
    600
}

impl OktaSettings {
    /// The source configuration, authenticating with the credential named `credential`.
    pub fn to_config(&self, credential: &str) -> OktaConfig {
        let auth = match self.auth {
            AuthMode::ApiToken => OktaAuth::ApiToken {
                credential: credential.into(),
            },
            AuthMode::AccessToken => OktaAuth::AccessToken {
                credential: credential.into(),
            },
            AuthMode::Oauth => OktaAuth::OAuth {
                credential: credential.into(),
                scope: self.scope.clone().unwrap_or_else(|| LOGS_SCOPE.into()),
            },
        };
        let mut config = OktaConfig::new(self.org_url.clone(), credential)
            .auth(auth)
            .page_limit(self.page_limit)
            .quota_share(self.quota_share)
            .rate_limit_per_minute(self.rate_limit_per_minute);
        config = match (self.start_at, self.start_ago_seconds) {
            (Some(time), _) => config.start_at(time),
            (None, Some(seconds)) => config.start_ago(Duration::from_secs(seconds)),
            (None, None) => config,
        };
        if let Some(ms) = self.rate_limit_window_ms {
            config = config.rate_limit_window(Duration::from_millis(ms));
        }
        if let Some(seconds) = self.request_timeout_seconds {
            config = config.request_timeout(Duration::from_secs(seconds));
        }
        config
    }
}

fn build(
    settings: OktaSettings,
    credentials: &CredentialRefs,
) -> Result<Arc<dyn Source>, FactoryError> {
    let credential = credentials.get(CREDENTIAL_SLOT)?;
    let source = OktaSource::new(settings.to_config(&credential.name))?;
    Ok(Arc::new(source))
}

/// The first page of the System Log from `time`: the cursor of an offsets reset to a time.
/// Once `OktaSource` implements `Source::cursor_at`, this can go: the management plane asks
/// the source when a definition's factory leaves it out.
fn cursor_at(
    settings: OktaSettings,
    stream: &str,
    time: DateTime<Utc>,
) -> Result<Cursor, FactoryError> {
    if stream != SYSTEM_LOG {
        return Err(FactoryError::config(
            "stream",
            format!("Okta has no stream '{stream}' (it offers: {SYSTEM_LOG})"),
        ));
    }
    // The credential plays no part in the URL.
    let source = OktaSource::new(settings.to_config(""))?;
    let url = cursor::first_url(&source.org, time, settings.page_limit, None);
    Ok(Cursor::new(url.to_string()))
}

/// The Okta System Log connector's definition.
pub fn definition() -> Result<ConnectorDefinition, DefinitionError> {
    ConnectorDefinition::builder(DEFINITION_ID, "Okta System Log")
        .provider("okta")
        .publisher("ucp")
        .version(env!("CARGO_PKG_VERSION"))
        .description(
            "Okta's System Log (sign-ins, admin and lifecycle events) collected once in polling mode for every subscribed product",
        )
        .stream(
            SYSTEM_LOG,
            "Okta System Log events, polled in the order Okta persisted them",
        )
        .feeds(["sentinel", "mdi", "xspm"])
        .credential(
            CREDENTIAL_SLOT,
            "An Okta API token (auth api_token or access_token) or an OAuth service app's private key (auth oauth)",
            [CredentialKind::ApiToken, CredentialKind::PrivateKeyJwt],
        )
        .config_schema(schemars::schema_for!(OktaSettings).to_value())
        .prerequisite(Prerequisite::source_check(
            "system-log-read",
            "The credential may read the org's System Log: an API token of an admin with the Read-only Administrator role or higher, or a service app granted okta.logs.read",
        ))
        .factory(factory(build).with_cursor_at(cursor_at))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucp_core::credentials::CredentialRef;

    fn refs() -> CredentialRefs {
        CredentialRefs::new().with(CREDENTIAL_SLOT, CredentialRef::new("contoso", "okta-token"))
    }

    #[test]
    fn the_definition_builds_with_a_schema_naming_every_setting() {
        let d = definition().unwrap();
        assert_eq!(d.id(), DEFINITION_ID);
        let properties = &d.config_schema()["properties"];
        for field in ["org_url", "auth", "page_limit", "quota_share", "start_at"] {
            assert!(properties.get(field).is_some(), "{field} not in the schema");
        }
        assert_eq!(properties["page_limit"]["maximum"], 1000);
        assert_eq!(
            d.config_schema()["required"],
            serde_json::json!(["org_url"])
        );
    }

    #[test]
    fn the_factory_builds_a_source_with_the_slot_credential() {
        let d = definition().unwrap();
        let source = d
            .factory()
            .build(
                &serde_json::json!({"org_url": "https://contoso.okta.com", "page_limit": 200}),
                &refs(),
            )
            .unwrap();
        assert_eq!(source.describe().streams[0].name, SYSTEM_LOG);
        let missing = d
            .factory()
            .build(
                &serde_json::json!({"org_url": "https://contoso.okta.com"}),
                &CredentialRefs::new(),
            )
            .err()
            .unwrap();
        assert!(
            missing.to_string().starts_with("credentials.okta"),
            "{missing}"
        );
        let bad_url = d
            .factory()
            .build(&serde_json::json!({"org_url": "contoso"}), &refs())
            .err()
            .unwrap();
        assert!(bad_url.to_string().contains("not a URL"), "{bad_url}");
    }

    #[test]
    fn a_cursor_at_a_time_polls_from_that_time() {
        let time = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let cursor = definition()
            .unwrap()
            .factory()
            .cursor_at(
                &serde_json::json!({"org_url": "https://contoso.okta.com/"}),
                SYSTEM_LOG,
                time,
            )
            .unwrap();
        let url = cursor.as_str().unwrap();
        assert!(
            url.starts_with(
                "https://contoso.okta.com/api/v1/logs?since=2025-01-02T03%3A04%3A05.000Z"
            ),
            "{url}"
        );
        assert!(definition()
            .unwrap()
            .factory()
            .cursor_at(
                &serde_json::json!({"org_url": "https://c.okta.com"}),
                "x",
                time
            )
            .is_err());
    }
}
