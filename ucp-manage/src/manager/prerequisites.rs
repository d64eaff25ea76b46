//! Checking a definition's prerequisites with the instance's source before it is connected.

use std::sync::Arc;
use std::time::Duration;

use ucp_core::{RateBudget, Source, SourceContext};

use super::Manager;
use crate::catalog::Registered;
use crate::error::{ManageError, ManageResult, UnmetPrerequisite};
use crate::model::InstanceRecord;

/// How long one prerequisite check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

impl Manager {
    /// Run each prerequisite's check with the instance's source, drawing from the
    /// account's shared budget.
    pub(super) async fn check_prerequisites(
        &self,
        record: &InstanceRecord,
        registered: &Registered,
        source: &Arc<dyn Source>,
    ) -> ManageResult<()> {
        let prerequisites = registered.definition().prerequisites();
        if prerequisites.is_empty() {
            return Ok(());
        }
        let spec = source.describe().budget;
        let budget = match self.inner.engine.budget(&spec.key).await {
            Some(shared) => shared,
            None => Arc::new(RateBudget::new(spec, self.inner.clock)),
        };
        let context = self.inner.engine.context(&record.tenant).await;
        let cx = SourceContext::new(record.engine_name(), budget, context);
        let mut unmet = Vec::new();
        for prerequisite in prerequisites {
            let run = async {
                cx.budget().acquire().await;
                prerequisite.check.check(source.as_ref(), &cx).await
            };
            let message = match tokio::time::timeout(CHECK_TIMEOUT, run).await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => format!("{e}; what to do: {}", e.action()),
                Err(_) => format!(
                    "the check did not finish within {} s: check that the provider is reachable",
                    CHECK_TIMEOUT.as_secs()
                ),
            };
            unmet.push(UnmetPrerequisite {
                id: prerequisite.id.clone(),
                description: prerequisite.description.clone(),
                message,
            });
        }
        if unmet.is_empty() {
            Ok(())
        } else {
            Err(ManageError::Prerequisites(unmet))
        }
    }
}
