//! # ucp — the Unified Connectors Platform
//!
//! Write a connector once, collect each stream once, fan it out to every product.
//!
//! This facade re-exports [`ucp_core`] (traits, planner, budgets, delivery, checkpoints,
//! credentials, health) and, behind the default cargo features `sources`, `sinks` and `sync`,
//! the shipped provider connectors ([`sources`]), product sinks ([`sinks`]) and the two-way
//! Defender XDR ↔ Sentinel incident sync ([`sync`]).
//!
//! Start from `examples/custom_connector.rs` to write your own connector.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ucp_core::*;

/// Shipped provider connectors.
#[cfg(feature = "sources")]
pub use ucp_sources as sources;

/// Shipped product sinks.
#[cfg(feature = "sinks")]
pub use ucp_sinks as sinks;

#[cfg(all(feature = "sources", feature = "sinks"))]
pub mod declarative;
/// Two-way incident synchronization (Defender XDR ↔ Microsoft Sentinel).
#[cfg(feature = "sync")]
pub use ucp_sync as sync;
