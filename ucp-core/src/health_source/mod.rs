//! The platform's health as a source: a tenant's health events, volumes and connector
//! inventory as streams any product subscribes to, like any other stream.
//!
//! ```no_run
//! # use std::sync::Arc; use std::time::Duration;
//! # use ucp_core::*;
//! # use ucp_core::health::HealthService;
//! # use ucp_core::health_source::{HealthSource, HEALTH_EVENTS};
//! # fn demo(service: Arc<HealthService>, sentinel_health: impl Sink) -> Result<(), ConfigError> {
//! let builder = Platform::builder().health(service.clone());
//! let health = HealthSource::new("contoso", service).with_inventory(Arc::new(builder.inventory()));
//! let platform = builder
//!     .tenant_source("contoso", "ucp-health", Arc::new(health))
//!     .tenant_sink("contoso", "sentinel-health", Arc::new(sentinel_health))
//!     .subscribe(
//!         Subscription::new("sentinel-health", "ucp-health", HEALTH_EVENTS)
//!             .every(Duration::from_secs(60)),
//!     )
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! | stream | one record per | id | cursor |
//! |---|---|---|---|
//! | `health_events` | status transition (a health row) | `<tenant>/health/<seq>` | last sequence read |
//! | `volumes` | series (stream, or stream → product) and complete minute, zero-filled | `<tenant>/volumes/<connector>/<stream>/<product>/<minute>` | last minute emitted |
//! | `inventory` | connector, per snapshot (one per collection) | `<tenant>/inventory/<second>/<connector>` | second of the last snapshot |
//!
//! One instance serves one tenant: it reads only that tenant's rows and series, and refuses
//! to run when registered under another tenant (tenants are walls). Nothing in the engine
//! knows it: its records are fanned out, filtered, queued, delivered and checkpointed like
//! any source's. How it keeps its own deliveries from feeding a loop is in `events.rs`
//! ("Echoes").

mod events;
mod inventory;
mod position;
mod self_report;
mod volumes;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use inventory::{ConnectorInventory, Inventory, InventoryError, PartInventory};

use crate::budget::{BudgetKey, BudgetSpec};
use crate::health::HealthService;
use crate::source::{
    CollectRequest, Page, Source, SourceCapabilities, SourceContext, SourceError, SourceInfo,
    StreamInfo,
};
use events::EventsReader;
use self_report::SelfReport;
use volumes::VolumesReader;

/// Every status transition of the tenant's connectors and products, once each.
pub const HEALTH_EVENTS: &str = "health_events";
/// Records and bytes per minute per stream and per product.
pub const VOLUMES: &str = "volumes";
/// A snapshot of the tenant's connectors at each collection.
pub const INVENTORY: &str = "inventory";
/// The provider name the health source describes itself with.
pub const PROVIDER: &str = "ucp-health";

/// Reads of the local health table allowed per minute (generous: they cost no provider).
const READS_PER_MINUTE: u32 = 600;

/// The health source of one tenant. See the [module docs](self).
#[derive(Clone)]
pub struct HealthSource {
    inner: Arc<Inner>,
}

struct Inner {
    tenant: String,
    service: Arc<HealthService>,
    inventory: Option<Arc<dyn Inventory>>,
    events: EventsReader,
    volumes: VolumesReader,
    reports: SelfReport,
    settings: HealthSourceSettings,
}

/// Settings of a [`HealthSource`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthSourceSettings {
    /// Most records per page (default 500).
    pub page_records: usize,
    /// How long rows about the health source's own deliveries wait for other rows before
    /// they go out alone, once (default 60 s).
    pub echo_delay: Duration,
    /// How long after a minute ends its volume record goes out (default 5 s).
    pub volume_grace: Duration,
}

impl Default for HealthSourceSettings {
    fn default() -> Self {
        HealthSourceSettings {
            page_records: 500,
            echo_delay: Duration::from_secs(60),
            volume_grace: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for HealthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthSource")
            .field("tenant", &self.inner.tenant)
            .field("inventory", &self.inner.inventory.is_some())
            .finish_non_exhaustive()
    }
}

impl HealthSource {
    /// The health source of `tenant`, reading `service`'s table and volumes and reporting
    /// its own losses to it; streams `health_events` and `volumes`.
    pub fn new(tenant: impl Into<String>, service: Arc<HealthService>) -> Self {
        Self::build(
            tenant.into(),
            service,
            None,
            HealthSourceSettings::default(),
        )
    }

    /// Also offer the `inventory` stream, answered by `inventory`.
    pub fn with_inventory(self, inventory: Arc<dyn Inventory>) -> Self {
        let inner = &self.inner;
        Self::build(
            inner.tenant.clone(),
            inner.service.clone(),
            Some(inventory),
            self.settings(),
        )
    }

    /// Replace the settings.
    pub fn with_settings(self, settings: HealthSourceSettings) -> Self {
        let inner = &self.inner;
        Self::build(
            inner.tenant.clone(),
            inner.service.clone(),
            inner.inventory.clone(),
            settings,
        )
    }

    /// The settings in use.
    pub fn settings(&self) -> HealthSourceSettings {
        self.inner.settings
    }

    fn build(
        tenant: String,
        service: Arc<HealthService>,
        inventory: Option<Arc<dyn Inventory>>,
        settings: HealthSourceSettings,
    ) -> Self {
        HealthSource {
            inner: Arc::new(Inner {
                tenant,
                reports: SelfReport::new(service.clone()),
                service,
                inventory,
                events: EventsReader::new(settings.page_records, settings.echo_delay),
                volumes: VolumesReader::new(settings.volume_grace, settings.page_records),
                settings,
            }),
        }
    }

    /// Refuses to serve a context of another tenant: its rows are not this one's to show.
    fn own_tenant(&self, cx: &SourceContext) -> Result<(), SourceError> {
        if cx.tenant() == self.inner.tenant {
            return Ok(());
        }
        Err(SourceError::Config {
            message: format!(
                "health source '{}' was built for tenant '{}' but is registered under tenant '{}'; register it with tenant_source(\"{}\", …) or build one for '{}'",
                cx.instance(),
                self.inner.tenant,
                cx.tenant(),
                self.inner.tenant,
                cx.tenant()
            ),
        })
    }
}

#[async_trait]
impl Source for HealthSource {
    fn describe(&self) -> SourceInfo {
        let mut streams = vec![
            StreamInfo::new(
                HEALTH_EVENTS,
                "every status transition of the tenant's connectors and products, once each, in order",
            ),
            StreamInfo::new(
                VOLUMES,
                "records and bytes per complete minute, per stream and per product, zero-filled",
            ),
        ];
        if self.inner.inventory.is_some() {
            streams.push(StreamInfo::new(
                INVENTORY,
                "a snapshot of the tenant's connectors: status, products, last success",
            ));
        }
        SourceInfo {
            provider: PROVIDER.into(),
            streams,
            capabilities: SourceCapabilities::default(),
            budget: BudgetSpec::new(
                BudgetKey::new(PROVIDER, &self.inner.tenant),
                READS_PER_MINUTE,
                Duration::from_secs(60),
            ),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        self.own_tenant(cx)?;
        self.inner
            .service
            .table()
            .read_after(cx.tenant(), u64::MAX, 1)
            .await
            .map(drop)
            .map_err(|e| SourceError::Retryable {
                message: e.to_string(),
                retry_after: None,
            })
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        self.own_tenant(cx)?;
        let inner = &*self.inner;
        match (req.stream.as_str(), &inner.inventory) {
            (HEALTH_EVENTS, _) => {
                inner
                    .events
                    .collect(
                        cx,
                        inner.service.table().as_ref(),
                        &inner.reports,
                        &req.cursor,
                    )
                    .await
            }
            (VOLUMES, _) => {
                inner
                    .volumes
                    .collect(cx, inner.service.volumes(), &inner.reports, &req.cursor)
                    .await
            }
            (INVENTORY, Some(inventory)) => {
                inventory::snapshot(
                    inventory.as_ref(),
                    cx.tenant(),
                    &req.cursor,
                    cx.clock().now_utc(),
                )
                .await
            }
            (other, _) => Err(SourceError::Config {
                message: format!(
                    "health source '{}' offers no stream '{other}' (it offers {})",
                    cx.instance(),
                    self.describe()
                        .streams
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}
