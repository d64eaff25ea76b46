//! # ucp-sources
//!
//! Provider connectors for ucp: each module implements [`ucp_core::Source`] for one provider.
//!
//! - [`okta`]: Okta System Log (`GET /api/v1/logs`) in polling mode.
//! - [`rest`]: declarative REST connectors defined in a file (the CCF `RestApiPoller` shape).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod okta;
pub mod rest;

pub use okta::{OktaConfig, OktaSource};
