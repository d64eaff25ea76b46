//! The catalog as a tenant sees it: every definition's newest version with how many of the
//! tenant's connectors use it.

use super::Manager;
use crate::auth::Principal;
use crate::catalog::Registered;
use crate::error::{ManageError, ManageResult};
use crate::model::Role;
use crate::views::{CatalogEntry, PrerequisiteView, SlotView, StreamView};

impl Manager {
    /// The catalog.
    pub async fn catalog_entries(
        &self,
        principal: &Principal,
        tenant: &str,
    ) -> ManageResult<Vec<CatalogEntry>> {
        self.authorize(principal, tenant, Role::Reader, "reading the catalog")
            .await?;
        let counts = self.inner.store.instance_counts(tenant).await?;
        Ok(self
            .inner
            .catalog
            .latest_all()
            .iter()
            .map(|r| self.entry(r, counts.get(r.definition().id()).copied().unwrap_or(0)))
            .collect())
    }

    /// One catalog entry.
    pub async fn catalog_entry(
        &self,
        principal: &Principal,
        tenant: &str,
        id: &str,
    ) -> ManageResult<CatalogEntry> {
        self.authorize(principal, tenant, Role::Reader, "reading the catalog")
            .await?;
        let registered =
            self.inner.catalog.latest(id).ok_or_else(|| {
                ManageError::NotFound(format!("no definition '{id}' in the catalog"))
            })?;
        let counts = self.inner.store.instance_counts(tenant).await?;
        Ok(self.entry(&registered, counts.get(id).copied().unwrap_or(0)))
    }

    fn entry(&self, registered: &Registered, instances: u64) -> CatalogEntry {
        let d = registered.definition();
        CatalogEntry {
            id: d.id().to_string(),
            display_name: d.display_name().to_string(),
            provider: d.provider().to_string(),
            publisher: d.publisher().to_string(),
            version: d.version().to_string(),
            versions: self
                .inner
                .catalog
                .versions(d.id())
                .iter()
                .map(ToString::to_string)
                .collect(),
            description: d.description().to_string(),
            streams: d
                .streams()
                .iter()
                .map(|s| StreamView {
                    name: s.name.clone(),
                    description: s.description.clone(),
                })
                .collect(),
            products: d.products().to_vec(),
            credentials: d
                .credentials()
                .iter()
                .map(|c| SlotView {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    kinds: c.kinds.iter().map(|k| k.as_str().to_string()).collect(),
                })
                .collect(),
            config_schema: d.config_schema().clone(),
            prerequisites: d
                .prerequisites()
                .iter()
                .map(|p| PrerequisiteView {
                    id: p.id.clone(),
                    description: p.description.clone(),
                })
                .collect(),
            supersedes: d.supersedes().to_vec(),
            instances,
        }
    }
}
