//! What a connector's products must satisfy: products the host offers and the definition
//! feeds, streams it offers, intervals in range, and a workspace to deliver to.

use std::collections::BTreeSet;

use super::Manager;
use crate::catalog::Registered;
use crate::error::{ManageError, ManageResult, Problem};
use crate::model::{ProductSubscription, MAX_INTERVAL_SECONDS};

impl Manager {
    /// Problems with the products asked for.
    pub(super) fn product_problems(
        &self,
        registered: &Registered,
        products: &[ProductSubscription],
    ) -> Vec<Problem> {
        let d = registered.definition();
        let host: BTreeSet<String> = self
            .inner
            .products
            .products()
            .into_iter()
            .map(|p| p.id)
            .collect();
        let streams: BTreeSet<&str> = d.streams().iter().map(|s| s.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut problems = Vec::new();
        for (i, p) in products.iter().enumerate() {
            let field = |f: &str| format!("products.{i}.{f}");
            if !host.contains(&p.product) {
                problems.push(Problem::new(
                    field("product"),
                    format!(
                        "no product '{}' (available: {})",
                        p.product,
                        host.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            } else if !d.products().contains(&p.product) {
                problems.push(Problem::new(
                    field("product"),
                    format!(
                        "{} cannot feed '{}' (it feeds: {})",
                        d.display_name(),
                        p.product,
                        d.products().join(", ")
                    ),
                ));
            } else if !seen.insert(p.product.as_str()) {
                problems.push(Problem::new(
                    field("product"),
                    format!("product '{}' is listed twice", p.product),
                ));
            }
            let mut seen_streams = BTreeSet::new();
            for stream in &p.streams {
                if !streams.contains(stream.as_str()) {
                    problems.push(Problem::new(
                        field("streams"),
                        format!(
                            "no stream '{stream}' (it offers: {})",
                            streams.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                } else if !seen_streams.insert(stream.as_str()) {
                    problems.push(Problem::new(
                        field("streams"),
                        format!("stream '{stream}' is listed twice"),
                    ));
                }
            }
            if !(1..=MAX_INTERVAL_SECONDS).contains(&p.interval_seconds) {
                problems.push(Problem::new(
                    field("interval_seconds"),
                    format!("the interval is 1 to {MAX_INTERVAL_SECONDS} seconds"),
                ));
            }
        }
        problems
    }

    /// Delivering to products needs the tenant's workspace, with a destination for each.
    pub(super) async fn require_workspace(
        &self,
        tenant: &str,
        products: &[ProductSubscription],
    ) -> ManageResult<()> {
        if products.is_empty() {
            return Ok(());
        }
        let Some(workspace) = self.inner.store.workspace(tenant).await? else {
            return Err(ManageError::Conflict(format!(
                "tenant '{tenant}' has no connected workspace for its products to deliver to: connect one first (PUT …/workspace)"
            )));
        };
        let tables = self.tables(tenant);
        let missing: Vec<&str> = products
            .iter()
            .map(|p| p.product.as_str())
            .filter(|p| !tables.contains_key(*p))
            .collect();
        if !missing.is_empty() {
            return Err(ManageError::Conflict(format!(
                "workspace '{}' has no destination for {}: connect a workspace whose settings name one, or leave the product out",
                workspace.name,
                missing.join(", ")
            )));
        }
        Ok(())
    }
}
