//! The definitions that ship with the library, embedded at build time from
//! `ucp-sources/definitions/`.
//!
//! - [`OKTA_SYSTEM_LOG`]: Okta's System Log in the CCF shape of Sentinel's `OktaSSOv2`
//!   (APIKey `SSWS`, LinkHeader paging, `since`/`until` windows), with a 10-minute
//!   late-arrival lookback.
//! - [`ACME_ALERTS`]: an alerts API searched with a POST `queryParametersTemplate`, paged by a
//!   `NextPageToken` in the body, with an OAuth 2.0 client (`client_secret_basic`).
//! - [`GLOBEX_AUDIT_EXPORT`]: an audit export answering gzip CSV, paged by `Offset`, stating
//!   its quota in the IETF `RateLimit-*` headers.

use super::definition::RestDefinition;
use super::load::{load, DefinitionError};

/// `okta_system_log.json`.
pub const OKTA_SYSTEM_LOG: &str = include_str!("../../definitions/okta_system_log.json");
/// `acme_alerts.json`.
pub const ACME_ALERTS: &str = include_str!("../../definitions/acme_alerts.json");
/// `globex_audit_export.json`.
pub const GLOBEX_AUDIT_EXPORT: &str = include_str!("../../definitions/globex_audit_export.json");

/// Every shipped definition: its file name and text.
pub const ALL: [(&str, &str); 3] = [
    ("okta_system_log.json", OKTA_SYSTEM_LOG),
    ("acme_alerts.json", ACME_ALERTS),
    ("globex_audit_export.json", GLOBEX_AUDIT_EXPORT),
];

/// The shipped Okta System Log definition.
pub fn okta_system_log() -> Result<RestDefinition, DefinitionError> {
    load("okta_system_log.json", OKTA_SYSTEM_LOG)
}

/// The shipped Acme alerts definition.
pub fn acme_alerts() -> Result<RestDefinition, DefinitionError> {
    load("acme_alerts.json", ACME_ALERTS)
}

/// The shipped Globex audit export definition.
pub fn globex_audit_export() -> Result<RestDefinition, DefinitionError> {
    load("globex_audit_export.json", GLOBEX_AUDIT_EXPORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_definition_loads_without_warnings_beyond_ccf_extras() {
        for (name, text) in ALL {
            let definition = load(name, text).unwrap_or_else(|e| panic!("{e}"));
            for warning in &definition.warnings {
                assert!(
                    warning.contains("paginatedCallsPerSecond"),
                    "{name}: {warning}"
                );
            }
        }
    }
}
