//! Reading connectors: one page of a tenant's, or one with its volumes, each turned from its
//! stored record into what the API shows (workspace, tables, health, volumes).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use ucp_core::health::{HealthRow, Status};

use super::Manager;
use crate::auth::Principal;
use crate::error::{ManageError, ManageResult};
use crate::model::{engine_sink_name, InstanceRecord, Role, Workspace};
use crate::views::{ConnectorView, HealthMessage, Page, ProductView};

/// Largest page of a list.
pub const MAX_PAGE_SIZE: usize = 100;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// The page size asked for, checked.
pub(crate) fn page_size(asked: Option<usize>) -> ManageResult<usize> {
    match asked {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(ManageError::invalid(
            "page_size",
            format!("the page size is 1 to {MAX_PAGE_SIZE}"),
        )),
    }
}

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
    /// One page of the tenant's connectors, by name.
    pub async fn list(
        &self,
        principal: &Principal,
        tenant: &str,
        page_size: Option<usize>,
        page_token: Option<&str>,
    ) -> ManageResult<Page<ConnectorView>> {
        self.authorize(principal, tenant, Role::Reader, "listing connectors")
            .await?;
        let size = self::page_size(page_size)?;
        let after = match page_token {
            None => None,
            Some(token) => Some(decode_token(token)?),
        };
        let mut records = self
            .inner
            .store
            .instances(tenant, after.as_deref(), size + 1)
            .await?;
        let next_page_token = if records.len() > size {
            records.truncate(size);
            records
                .last()
                .map(|r| URL_SAFE_NO_PAD.encode(r.name.as_bytes()))
        } else {
            None
        };
        let workspace = self.inner.store.workspace(tenant).await?;
        let tables = self.tables(tenant);
        let names: Vec<String> = records.iter().map(InstanceRecord::engine_name).collect();
        let mut health = self.health_of(tenant, &names).await.into_iter();
        let mut items = Vec::with_capacity(records.len());
        for record in &records {
            let rows = health.next().unwrap_or_default();
            items.push(
                self.view(record, workspace.as_ref(), &tables, rows, false)
                    .await?,
            );
        }
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// One connector, with its volumes.
    pub async fn get(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<ConnectorView> {
        self.authorize(principal, tenant, Role::Reader, "reading a connector")
            .await?;
        let record = self.load(tenant, name).await?;
        self.full_view(&record).await
    }

    pub(super) async fn full_view(&self, record: &InstanceRecord) -> ManageResult<ConnectorView> {
        let workspace = self.inner.store.workspace(&record.tenant).await?;
        let tables = self.tables(&record.tenant);
        let rows = self
            .health_of(&record.tenant, &[record.engine_name()])
            .await
            .pop()
            .unwrap_or_default();
        self.view(record, workspace.as_ref(), &tables, rows, true)
            .await
    }

    /// The last health messages of each connector (engine names), in order; none when the
    /// table is not configured or fails (the failure is logged: a view without health is
    /// still a view).
    async fn health_of(&self, tenant: &str, connectors: &[String]) -> Vec<Vec<HealthRow>> {
        match &self.inner.health {
            Some(table) if self.inner.health_messages > 0 => table
                .last_messages_of(tenant, connectors, self.inner.health_messages)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, %tenant, "health messages unavailable");
                    Vec::new()
                }),
            _ => Vec::new(),
        }
    }

    /// Tables of the tenant's products in its connected workspace.
    pub(super) fn tables(&self, tenant: &str) -> BTreeMap<String, String> {
        let tables = self.inner.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables.get(tenant).cloned().unwrap_or_default()
    }

    /// The view of `record` with its health `rows` (newest first); `volumes` asks the
    /// engine for its counters.
    async fn view(
        &self,
        record: &InstanceRecord,
        workspace: Option<&Workspace>,
        tables: &BTreeMap<String, String>,
        rows: Vec<HealthRow>,
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
        let sink_prefix = engine_sink_name(&record.tenant, "");
        let health = rows.iter().map(|row| message(row, &sink_prefix)).collect();
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
            superseded: self.superseded_view(record).await?,
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

/// A health row as a connector's view shows it: products by their id, not their engine
/// name (`sink_prefix` is the tenant's `<tenant>.`).
pub(super) fn message(row: &HealthRow, sink_prefix: &str) -> HealthMessage {
    HealthMessage {
        time: row.time,
        product: row
            .product
            .as_deref()
            .map(|p| p.strip_prefix(sink_prefix).unwrap_or(p).to_string()),
        stream: row.stream.clone(),
        status: row.status.as_str().to_string(),
        message: row.message.clone(),
    }
}

/// The name a page token carries.
fn decode_token(token: &str) -> ManageResult<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|name| ucp_core::catalog::is_identifier(name))
        .ok_or_else(|| {
            ManageError::invalid(
                "page_token",
                "not a page token: pass the next_page_token of the previous page as it was",
            )
        })
}
