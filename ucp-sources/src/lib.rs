//! # ucp-sources
//!
//! Provider connectors for ucp: each module implements [`ucp_core::Source`] for one provider.
//!
//! - [`okta`]: Okta System Log (`GET /api/v1/logs`) in polling mode.
//! - [`defender`]: Microsoft Defender XDR through Microsoft Graph security (incidents,
//!   alerts, advanced hunting tables; the Defender for Identity alerts component).
//! - [`rest`]: declarative REST connectors defined in a file (the CCF `RestApiPoller` shape).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod defender;
pub mod okta;
pub mod rest;

pub use okta::{OktaConfig, OktaSource};
