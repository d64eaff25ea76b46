//! placeholder

pub mod okta;
