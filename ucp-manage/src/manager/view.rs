//! Turning stored records into what the API shows: a connector with its workspace, tables,
//! health and volumes.

use std::collections::BTreeMap;

use ucp_core::{HealthRow, Status};

use super::Manager;
use crate::error::ManageResult;
use crate::model::{engine_sink_name, InstanceRecord, Workspace};

use crate::views::{ConnectorView, HealthMessage, ProductView};

/// Worst current status among the parts seen in `rows` (newest first): each part's newest
/// row counts.
pub(super) fn roll_up(rows: &[HealthRow]) -> Option<Status> {
    let mut latest: BTreeMap<(Option<&str>, Option<&str>), Status> = BTreeMap::new();
    for row in rows {
        latest
            .entry((row.product.as_deref(), row.stream.as_deref()))
            .or_insert(row.status);
    }
    latest.into_values().max_by_key(|s| s.severity())
}

impl Manager {
    /// Tables of the tenant's products in its connected workspace.
    pub(super) fn tables(&self, tenant: &str) -> BTreeMap<String, String> {
        let tables = self.inner.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables.get(tenant).cloned().unwrap_or_default()
    }

    /// The view of `record`; `volumes` asks the engine for its counters.
    pub(super) async fn view(
        &self,
        record: &InstanceRecord,
        workspace: Option<&Workspace>,
        tables: &BTreeMap<String, String>,
        volumes: bool,
    ) -> ManageResult<ConnectorView> {
        let registered = self
            .inner
            .catalog
            .get(&record.definition, &record.version)
            .or_else(|| self.inner.catalog.latest(&record.definition));
        let all_streams: Vec<String> = registered
            .as_ref()
            .map(|r| {
                r.definition()
                    .streams()
                    .iter()
                    .map(|s| s.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let rows = match &self.inner.health {
            Some(table) if self.inner.health_messages > 0 => table
                .last_messages(
                    &record.tenant,
                    &record.engine_name(),
                    self.inner.health_messages,
                )
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, connector = %record.name, "health messages unavailable");
                    Vec::new()
                }),
            _ => Vec::new(),
        };
        let sink_prefix = engine_sink_name(&record.tenant, "");
        let health = rows
            .iter()
            .map(|row| HealthMessage {
                time: row.time,
                product: row
                    .product
                    .as_deref()
                    .map(|p| p.strip_prefix(&sink_prefix).unwrap_or(p).to_string()),
                stream: row.stream.clone(),
                status: row.status.as_str().to_string(),
                message: row.message.clone(),
            })
            .collect();
        let volumes = if volumes && record.state.in_engine() {
            let mut v = self.inner.engine.volumes(&record.engine_name()).await;
            let strip = |m: BTreeMap<String, u64>| {
                m.into_iter()
                    .map(|(k, n)| (k.strip_prefix(&sink_prefix).unwrap_or(&k).to_string(), n))
                    .collect()
            };
            v.delivered = strip(v.delivered);
            v.lost = strip(v.lost);
            Some(v)
        } else {
            None
        };
        Ok(ConnectorView {
            name: record.name.clone(),
            tenant: record.tenant.clone(),
            definition: record.definition.clone(),
            display_name: registered
                .as_ref()
                .map(|r| r.definition().display_name().to_string())
                .unwrap_or_else(|| record.definition.clone()),
            version: record.version.clone(),
            state: record.state,
            status: roll_up(&rows).map(|s| s.as_str().to_string()),
            attention: record.attention.clone(),
            disconnect_reason: record.disconnect_reason.clone(),
            workspace: workspace.map(|w| w.name.clone()),
            config: record.config.clone(),
            credentials: record.credentials.clone(),
            products: record
                .products
                .iter()
                .map(|p| ProductView {
                    product: p.product.clone(),
                    streams: if p.streams.is_empty() {
                        all_streams.clone()
                    } else {
                        p.streams.clone()
                    },
                    interval_seconds: p.interval_seconds,
                    filter: p.filter.clone(),
                    table: tables.get(&p.product).cloned(),
                })
                .collect(),
            health,
            volumes,
            created_by: record.created_by.clone(),
            created_at: record.created_at,
            updated_by: record.updated_by.clone(),
            updated_at: record.updated_at,
            revision: record.revision,
        })
    }
}
