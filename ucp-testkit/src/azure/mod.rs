//! Emulators of the Azure product endpoints the shipped sinks deliver to, speaking the real
//! wire protocols over loopback HTTP.
//!
//! - [`logs_ingestion`]: Azure Monitor Logs Ingestion API (Microsoft Sentinel custom tables),
//!   with bearer tokens from the [`TokenEndpoint`](crate::token_endpoint::TokenEndpoint).
//! - [`event_hubs`]: Event Hubs REST batch send, with SAS or bearer auth.
//!
//! Both keep what they accepted in queryable tables, count calls and take scheduled
//! [`ProductFault`]s.

pub mod event_hubs;
mod faults;
pub mod logs_ingestion;
#[cfg(test)]
mod tests;

pub use event_hubs::{EventHubs, HubMessage};
pub use faults::ProductFault;
pub use logs_ingestion::LogsIngestion;
