//! # ucp-sources
//!
//! Provider connectors for ucp: each module implements [`ucp_core::Source`] for one provider.
//!
//! - [`okta`]: Okta System Log (`GET /api/v1/logs`) in polling mode.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod okta;

pub use okta::{OktaConfig, OktaSource};
