//! # ucp-testkit
//!
//! The shared testing lab of `ucp`: simulated providers and products that speak the real
//! protocols over loopback HTTP or, for engine tests under a paused clock, in process.
//!
//! - [`event_log`]: an in-process provider with an ordered event log, paging, a per-window
//!   rate limit with remaining/reset hints, server-side filtering and scripted faults.
//! - [`recording_sink`]: a product that records what it receives and can stall, fail,
//!   throttle or reject records on demand.
//! - [`demo_api`]: the same event log served over loopback HTTP with paging and rate-limit
//!   headers, for examples of partner-written HTTP connectors.
//! - [`okta`]: a simulated Okta org (System Log API with polling and bounded paging, SCIM
//!   filters, rate-limit headers, SSWS and bearer auth, late-persisted events, faults).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conformance;
pub mod demo_api;
pub mod event_log;
pub mod faults;
pub mod okta;
pub mod recording_sink;

pub use event_log::{EventLog, EventLogSettings, EventLogSource, Fault};
pub use recording_sink::{RecordingSink, SinkBehaviour};
