//! Declarative connectors meet the shipped sinks: a definition's CCF `dcrConfig` (the
//! Sentinel data collection rule stream the data was meant for) becomes a Sentinel sink
//! configuration, so the product subscription CCF implied is one line.

use ucp_sinks::sentinel::SentinelConfig;
use ucp_sources::rest::RestDefinition;

/// The Sentinel sink configuration of `definition`'s `dcrConfig` (its data collection
/// endpoint, rule and stream), minting tokens with the Entra client credential named
/// `credential`; `None` when the definition has no `dcrConfig`.
pub fn sentinel_config(definition: &RestDefinition, credential: &str) -> Option<SentinelConfig> {
    let dcr = definition.dcr.as_ref()?;
    Some(SentinelConfig::new(
        dcr.endpoint.clone(),
        dcr.rule_id.clone(),
        dcr.stream.clone(),
        credential,
    ))
}
