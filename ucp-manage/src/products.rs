//! The products an instance can feed, and how a tenant's workspace becomes their sinks.
//!
//! Products belong to the host (the vendor embedding ucp): it knows how each product
//! ingests (Sentinel through a data collection rule, others through event hubs). When a
//! tenant connects its workspace, the host's [`Products`] turns the workspace's settings
//! into one sink per product; instances then subscribe those products to their streams.

use std::sync::Arc;

use serde::Serialize;
use ucp_core::catalog::FactoryError;
use ucp_core::Sink;
use utoipa::ToSchema;

use crate::model::Workspace;

/// A product as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductInfo {
    /// Its id, used in subscriptions (`sentinel`).
    pub id: String,
    /// The name people see.
    pub display_name: String,
    /// What it does with the data.
    pub description: String,
}

/// One product's sink for one tenant's workspace.
pub struct ProductSink {
    /// The product's id.
    pub product: String,
    /// Where its data lands, for people (a table or DCR stream, an event hub).
    pub table: String,
    /// The sink.
    pub sink: Arc<dyn Sink>,
}

/// The host's products.
pub trait Products: Send + Sync + 'static {
    /// Every product.
    fn products(&self) -> Vec<ProductInfo>;
    /// The JSON Schema of a workspace's settings.
    fn workspace_schema(&self) -> serde_json::Value;
    /// The sinks of every product for `workspace` (settings already valid against the
    /// schema); credentials are named in the settings and resolved in the tenant's store.
    fn sinks(&self, workspace: &Workspace) -> Result<Vec<ProductSink>, FactoryError>;
}
