//! The `inventory` stream: a periodic snapshot of a tenant's connectors, for "which
//! connectors are unhealthy right now" queries next to the security data.
//!
//! What a connector is comes from an [`Inventory`]: the platform answers with what it runs
//! (`RunningPlatform::inventory`); a management plane that knows the connector's catalog
//! definition and version wraps it and fills those in. The health source only turns the
//! answer into records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::position::{path_segment, SecondCursor};
use crate::health::Status;
use crate::record::{Cursor, Record};
use crate::source::{Page, SourceError};

/// One connector of a tenant as the inventory stream shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInventory {
    /// The connector (source instance) name.
    pub name: String,
    /// Its provider, as the source describes itself (`okta`, `microsoft-graph-security`, …).
    pub provider: String,
    /// The catalog definition it was made from, when a management plane knows it.
    pub definition: Option<String>,
    /// That definition's version, when known.
    pub version: Option<String>,
    /// The worst status of its parts; [`Status::Stopped`] when nothing runs.
    pub status: Status,
    /// Paused by a person: no collection until resumed.
    pub paused: bool,
    /// The products subscribed to any of its streams, sorted.
    pub products: Vec<String>,
    /// The status of each collection (no product) and each product's delivery.
    pub parts: Vec<PartInventory>,
    /// When a page was last collected from it, if ever since the platform started.
    pub last_success: Option<DateTime<Utc>>,
}

/// One part of a connector: the collection of a stream, or its delivery to a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInventory {
    /// The stream.
    pub stream: String,
    /// The product, for a delivery; `None` for the collection.
    pub product: Option<String>,
    /// Its current status.
    pub status: Status,
}

/// Why an inventory could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the connector inventory could not be read: {message}")]
pub struct InventoryError {
    /// What failed, for a person.
    pub message: String,
}

/// Knows a tenant's connectors. The platform implements it; a management plane can wrap
/// the platform's answer to add what it knows (definitions, versions).
#[async_trait]
pub trait Inventory: Send + Sync + 'static {
    /// Every connector of `tenant` (and none of another tenant), ordered by name.
    async fn connectors(&self, tenant: &str) -> Result<Vec<ConnectorInventory>, InventoryError>;
}

/// One snapshot per second at most: a page of every connector of `tenant` at `now`, or an
/// empty page when the cursor is at `now` already (two snapshots in one second would share
/// record ids).
pub(super) async fn snapshot(
    inventory: &dyn Inventory,
    tenant: &str,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<Page, SourceError> {
    let last = SecondCursor::parse(cursor, super::INVENTORY)?;
    let second = now.timestamp();
    if last.is_some_and(|last| last >= second) {
        return Ok(Page {
            next: cursor.clone(),
            ..Page::default()
        });
    }
    let connectors = inventory
        .connectors(tenant)
        .await
        .map_err(|e| SourceError::Retryable {
            message: e.to_string(),
            retry_after: None,
        })?;
    let records = connectors
        .into_iter()
        .map(|c| record(tenant, second, now, c))
        .collect();
    Ok(Page {
        records,
        next: SecondCursor::at(second),
        more: false,
        hint: None,
    })
}

/// A connector's record: id `<tenant>/inventory/<second>/<connector>`.
fn record(tenant: &str, second: i64, now: DateTime<Utc>, connector: ConnectorInventory) -> Record {
    let id = format!(
        "{}/inventory/{second}/{}",
        path_segment(tenant),
        path_segment(&connector.name)
    );
    let payload = serde_json::json!({
        "time": now,
        "tenant": tenant,
        "connector": connector.name,
        "provider": connector.provider,
        "definition": connector.definition,
        "version": connector.version,
        "status": connector.status,
        "paused": connector.paused,
        "products": connector.products,
        "parts": connector.parts,
        "last_success": connector.last_success,
    });
    Record::new(id, now, payload.to_string())
}
