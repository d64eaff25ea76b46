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
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "defender")]
#[cfg_attr(docsrs, doc(cfg(feature = "defender")))]
pub mod defender;
#[cfg(feature = "okta")]
#[cfg_attr(docsrs, doc(cfg(feature = "okta")))]
pub mod okta;
#[cfg(feature = "rest")]
#[cfg_attr(docsrs, doc(cfg(feature = "rest")))]
pub mod rest;

#[cfg(feature = "okta")]
pub use okta::{OktaConfig, OktaSource};
