//! # ucpd
//!
//! A ucp server: the platform running every connector, the management layer over it
//! (catalog, connectors and their lifecycle, workspaces, credentials, roles, audit) and its
//! REST API, all state in one data directory, configured by a TOML file and `UCPD_*`
//! environment variables ([`config`]). Its products are Microsoft Sentinel, Defender for
//! Identity and exposure management, reached in Azure ([`products`]); its connector is
//! Okta's System Log. `ucpd --demo` runs it against a simulated Okta org and emulated
//! products ([`demo`]).
//!
//! A vendor who wants its own connectors or products embeds [`Server`] (or `ucp-manage`
//! directly) instead of running the binary.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod demo;
mod keys;
pub mod products;
mod server;

pub use config::{Config, ConfigError};
pub use keys::KeyError;
pub use server::{definitions, issue_api_key, Server, ServerError};
