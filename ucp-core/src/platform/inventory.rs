//! The platform's answer to "which connectors does this tenant have, and how are they":
//! the [`Inventory`] the health source's `inventory` stream reads.
//!
//! A [`PlatformInventory`] can be taken from the builder before the platform exists (so a
//! health source registered at build time gets one) and answers once the platform runs; it
//! holds the running state weakly, so it answers nothing after shutdown and keeps nothing
//! alive.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::runtime::RunState;
use crate::health::Status;
use crate::health_source::{ConnectorInventory, Inventory, InventoryError, PartInventory};
use crate::stats::status_of;

/// The running platform's connectors, per tenant. Cheap to clone; see the module docs.
#[derive(Clone, Default)]
pub struct PlatformInventory {
    state: Arc<OnceLock<Weak<Mutex<RunState>>>>,
}

impl std::fmt::Debug for PlatformInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.state.get().is_some_and(|s| s.strong_count() > 0);
        f.debug_struct("PlatformInventory")
            .field("running", &running)
            .finish()
    }
}

impl PlatformInventory {
    /// Answer from `state` from now on (once: a platform starts once).
    pub(super) fn attach(&self, state: &Arc<Mutex<RunState>>) {
        let _ = self.state.set(Arc::downgrade(state));
    }
}

#[async_trait]
impl Inventory for PlatformInventory {
    async fn connectors(&self, tenant: &str) -> Result<Vec<ConnectorInventory>, InventoryError> {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            // Not started yet, or shut down: nothing runs.
            return Ok(Vec::new());
        };
        let state = state.lock().await;
        Ok(state
            .registry
            .sources
            .iter()
            .filter(|(_, entry)| entry.tenant == tenant)
            .map(|(name, entry)| {
                let mut parts = Vec::new();
                let mut last_success = None;
                for (key, job) in state.jobs.iter().filter(|(k, _)| &*k.source == name) {
                    parts.push(PartInventory {
                        stream: key.stream.to_string(),
                        product: None,
                        status: status_of(&job.counters.status),
                    });
                    last_success = last_success.max(job.counters.last_success.get());
                }
                let mut products = BTreeSet::new();
                for (id, sub) in state
                    .subscriptions
                    .iter()
                    .filter(|(id, _)| &*id.stream.source == name)
                {
                    products.insert(id.product.clone());
                    parts.push(PartInventory {
                        stream: id.stream.stream.to_string(),
                        product: Some(id.product.clone()),
                        status: status_of(&sub.counters.status),
                    });
                }
                parts.sort_by(|a, b| (&a.stream, &a.product).cmp(&(&b.stream, &b.product)));
                let status = parts
                    .iter()
                    .map(|p| p.status)
                    .max_by_key(|s| s.severity())
                    .unwrap_or(Status::Stopped);
                ConnectorInventory {
                    name: name.clone(),
                    provider: entry.info.provider.clone(),
                    definition: None,
                    version: None,
                    status,
                    paused: entry.paused,
                    products: products.into_iter().collect(),
                    parts,
                    last_success,
                }
            })
            .collect())
    }
}
