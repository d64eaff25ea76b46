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
//! - [`faults`]: a tower layer that injects latency, 429s, 5xx, resets, truncated or
//!   malformed bodies, slow drips and auth expiry into any simulator, by schedule or seed.
//! - [`conformance`]: the source and sink suites every connector passes.
//! - [`scale`]: one platform against many simulated Okta orgs, three products each.
//! - [`scale_world`]: the scale lab's orgs and products in a process of their own (the
//!   `scale_world` binary), so a platform in another process is measured alone.
//! - [`okta`]: a simulated Okta org (System Log API with polling and bounded paging, SCIM
//!   filters, rate-limit headers, SSWS and bearer auth, late-persisted events, faults).
//! - [`graph`]: a simulated tenant's Microsoft Graph security API (incidents, alerts_v2,
//!   runHuntingQuery over the 21 Defender XDR tables), with Entra auth, application roles,
//!   per-minute and per-hour throttling, OData paging and filters, and a changing tenant.
//! - [`sentinel`]: a simulated Microsoft Sentinel workspace's incidents API over ARM
//!   (incidents with etags and 409 on a stale one, comments within Sentinel's limits, labels,
//!   owner, `systemData`, Microsoft incident creation rules that make duplicates of alerts,
//!   Azure roles, 429 with `Retry-After`).
//! - [`token_endpoint`]: an OAuth 2.0 token endpoint (Entra ID v2 and Okta client
//!   credentials) that verifies client secrets and signed assertions, with a protected
//!   resource for 401 → refresh → retry tests.
//! - [`azure`]: Azure product endpoints (Logs Ingestion API, Event Hubs) that check auth,
//!   limits and shapes the way Azure does, keep what they accept, and take scheduled faults.
//! - [`rest`]: a configurable REST API (auth, paging, JSON or gzip CSV, rate-limit dialects)
//!   for declarative connectors, with the Acme alerts and Globex audit export presets.
//! - [`disk`]: storage faults — small tmpfs and ext4 file systems a test mounts, fills
//!   (`ENOSPC`), breaks (`EIO`, read-only) and repairs at chosen moments.
//! - [`leak`]: a leak scanner and a TRACE-level log capture for zero-leak test suites.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod azure;
pub mod conformance;
pub mod demo_api;
pub mod disk;
pub mod event_log;
pub mod faults;
pub mod graph;
pub mod leak;
pub mod okta;
pub mod recording_sink;
pub mod rest;
pub mod scale;
pub mod scale_world;
pub mod sentinel;
pub mod token_endpoint;

pub use event_log::{ActionFault, EventLog, EventLogSettings, EventLogSource, Fault, UserStatus};
pub use recording_sink::{RecordingSink, SinkBehaviour};
