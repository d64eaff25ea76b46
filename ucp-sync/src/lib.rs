//! # ucp-sync
//!
//! Two-way synchronization of incidents between Microsoft Defender XDR (Graph security v1.0)
//! and Microsoft Sentinel (ARM `Microsoft.SecurityInsights`): every XDR incident has exactly
//! one Sentinel twin, people's changes on either side reach the other as far as its API
//! allows, and nothing the sync writes comes back as a change.
//!
//! - [`IncidentSync`]: the reconciler of one tenant (see `engine/`): polls, decides
//!   ([`reconcile::decide`]), writes through the Defender source's actions and the
//!   [`sentinel`] client, and records in the [`ledger`]; [`IncidentSync::run`] runs it.
//! - [`sentinel`]: the Sentinel incidents client (etag merges, comments, alert rules).
//! - [`fields`] and [`mapping`]: what is synchronized, which way, and the enum tables.
//! - [`comments`]: comment identity, echoes and Sentinel's limits.
//! - [`report`]: statistics, Prometheus metrics, health.
//!
//! ```no_run
//! # async fn demo(defender: std::sync::Arc<ucp_sources::defender::DefenderSource>, cx: ucp_core::SourceContext) -> Result<(), Box<dyn std::error::Error>> {
//! use ucp_sync::sentinel::{SentinelConfig, SentinelIncidents};
//! use ucp_sync::{IncidentSync, Ledger, SyncConfig};
//! let sentinel = SentinelIncidents::new(
//!     SentinelConfig::new("<subscription>", "soc-rg", "soc-workspace", "entra-app"),
//!     cx.clock(),
//! )?;
//! let sync = IncidentSync::new(
//!     SyncConfig::new("defender-sentinel-sync"),
//!     defender,
//!     cx,
//!     sentinel,
//!     Ledger::open("state/incident-sync.sqlite")?,
//! )?;
//! sync.run(async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod comments;
pub mod config;
mod engine;
pub mod fields;
pub mod ledger;
pub mod mapping;
pub mod reconcile;
pub mod report;
pub mod sentinel;
pub mod xdr;

pub use config::SyncConfig;
pub use engine::{twin_id, Connected, Cycle, IncidentSync, SyncError, PROVIDER_NAME};
pub use ledger::Ledger;
pub use report::{Direction, SyncMetrics, SyncStats};
