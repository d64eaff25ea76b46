//! # ucp-testkit
//!
//! The shared testing lab of ucp: API simulators that speak the providers' real wire
//! protocols over loopback HTTP, fault injection, and conformance suites.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod leak;
pub mod token_endpoint;
