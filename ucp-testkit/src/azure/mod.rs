//! Emulators of the Azure product endpoints the shipped sinks deliver to, speaking the real
//! wire protocols over loopback HTTP.
//!
//! - [`logs_ingestion`]: Azure Monitor Logs Ingestion API (Microsoft Sentinel custom tables),
//!   with bearer tokens from the [`TokenEndpoint`](crate::token_endpoint::TokenEndpoint).
//! - [`event_hubs`]: Event Hubs REST batch send, with SAS or bearer auth.
//!
//! Both keep what they accepted in queryable tables, count calls and take scheduled
//! [`ProductFault`]s. Every answer carries a fresh `x-ms-request-id` (and echoes the caller's
//! `x-ms-client-request-id`); each call's ids and `User-Agent` are kept ([`CallIds`]).

pub mod event_hubs;
mod faults;
mod ids;
pub mod logs_ingestion;
#[cfg(test)]
mod tests;

pub use event_hubs::{EventHubs, HubMessage};
pub use faults::ProductFault;
pub use ids::{
    assert_each_traceable, assert_request_id_named, CallIds, CLIENT_REQUEST_ID, REQUEST_ID,
};
pub use logs_ingestion::LogsIngestion;
