//! # ucp — the Unified Connectors Platform
//!
//! Write a connector once, collect each stream once, fan it out to every product.
//!
//! This facade re-exports [`ucp_core`] (traits, planner, budgets, delivery, checkpoints,
//! credentials, health) and the shipped provider connectors ([`sources`]), product sinks
//! ([`sinks`]) and the two-way Defender XDR ↔ Sentinel incident sync ([`sync`]), each behind
//! a cargo feature: one per source (`okta`, `defender`, `rest`), one per sink (`sentinel`,
//! `eventhubs`, `datalake`, `file`, `stdout`), `sync`, and core's `svg` and
//! `credentials-file`. The default, `full`, turns them all on; a partner turns on only what
//! it ships (`default-features = false, features = ["okta", "sentinel"]`).
//!
//! Start from `examples/custom_connector.rs` to write your own connector.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ucp_core::*;

/// Shipped provider connectors.
#[cfg(any(feature = "okta", feature = "defender", feature = "rest"))]
pub use ucp_sources as sources;

/// Shipped product sinks.
#[cfg(any(
    feature = "sentinel",
    feature = "eventhubs",
    feature = "datalake",
    feature = "file",
    feature = "stdout"
))]
pub use ucp_sinks as sinks;

#[cfg(all(feature = "rest", feature = "sentinel"))]
pub mod declarative;
/// Two-way incident synchronization (Defender XDR ↔ Microsoft Sentinel).
#[cfg(feature = "sync")]
pub use ucp_sync as sync;
