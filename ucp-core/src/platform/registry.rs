//! The connectors a platform knows: source instances and product sinks by name, the rate
//! budget of each provider account, and one shared context per tenant. The builder fills it;
//! the running platform changes it as connectors are added, paused and removed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::Shared;
use crate::budget::{BudgetKey, RateBudget};
use crate::context::Context;
use crate::error::ConfigError;
use crate::plan::SourceInfos;
use crate::sink::{Sink, SinkContext, SinkInfo};
use crate::source::{Source, SourceContext, SourceInfo};
use crate::subscription::{QueueBackend, Subscription};

/// Names listed in an error before "and N more".
const LISTED_NAMES: usize = 10;

pub(super) struct SourceEntry {
    pub tenant: String,
    pub source: Arc<dyn Source>,
    pub info: SourceInfo,
    pub cx: SourceContext,
    /// Paused by the user: no job, no call, the cursor kept.
    pub paused: bool,
}

pub(super) struct SinkEntry {
    pub sink: Arc<dyn Sink>,
    pub info: SinkInfo,
    pub cx: SinkContext,
}

#[derive(Default)]
pub(super) struct Registry {
    pub sources: BTreeMap<String, SourceEntry>,
    pub sinks: BTreeMap<String, SinkEntry>,
    pub budgets: HashMap<BudgetKey, Arc<RateBudget>>,
    contexts: HashMap<String, Context>,
}

/// The sources that collect: registered and not paused.
pub(super) struct ActiveSources<'a>(&'a BTreeMap<String, SourceEntry>);

impl SourceInfos for ActiveSources<'_> {
    fn info(&self, name: &str) -> Option<&SourceInfo> {
        self.0
            .get(name)
            .filter(|entry| !entry.paused)
            .map(|entry| &entry.info)
    }
}

impl Registry {
    /// The shared context of `tenant`.
    pub(super) fn context(&mut self, shared: &Shared, tenant: &str) -> Context {
        self.contexts
            .entry(tenant.to_string())
            .or_insert_with(|| {
                Context::new(
                    tenant,
                    shared.credentials.clone(),
                    shared.tokens.clone(),
                    shared.http.clone(),
                    shared.clock,
                )
            })
            .clone()
    }

    /// Register a source instance. Its budget is the account's existing one, or a new one
    /// from its spec. Before the platform starts, when sources disagree on an account's
    /// size, the strictest spec wins.
    pub fn add_source(
        &mut self,
        shared: &Shared,
        name: String,
        tenant: String,
        source: Arc<dyn Source>,
        started: bool,
    ) -> Result<(), ConfigError> {
        let info = source.describe();
        if let Some(problem) = info.budget.problem() {
            return Err(ConfigError::InvalidBudget {
                source_name: name,
                problem,
            });
        }
        if self.sources.contains_key(&name) {
            return Err(ConfigError::DuplicateName {
                kind: "source",
                name,
            });
        }
        let spec = &info.budget;
        let replace = match self.budgets.get(&spec.key) {
            None => true,
            Some(budget) => !started && spec.calls_per_second() < budget.calls_per_second(),
        };
        if replace {
            let budget = Arc::new(match &shared.shared_budget {
                Some(cluster) => {
                    RateBudget::with_shared(spec.clone(), shared.clock, cluster.clone())
                }
                None => RateBudget::new(spec.clone(), shared.clock),
            });
            self.budgets.insert(spec.key.clone(), budget);
        }
        let context = self.context(shared, &tenant);
        // Contexts hold their budget: refresh every context of the account when it changed.
        let budget = self.budgets[&spec.key].clone();
        for entry in self.sources.values_mut() {
            if entry.info.budget.key == spec.key {
                entry.cx =
                    SourceContext::new(entry.cx.instance(), budget.clone(), (*entry.cx).clone());
            }
        }
        let cx = SourceContext::new(&name, budget, context);
        self.sources.insert(
            name,
            SourceEntry {
                tenant,
                source,
                info,
                cx,
                paused: false,
            },
        );
        Ok(())
    }

    /// Register a product sink.
    pub fn add_sink(
        &mut self,
        shared: &Shared,
        name: String,
        tenant: String,
        sink: Arc<dyn Sink>,
    ) -> Result<(), ConfigError> {
        if self.sinks.contains_key(&name) {
            return Err(ConfigError::DuplicateName { kind: "sink", name });
        }
        let info = sink.describe();
        let cx = SinkContext::new(&name, self.context(shared, &tenant));
        self.sinks.insert(name, SinkEntry { sink, info, cx });
        Ok(())
    }

    /// Forget a source; its budget goes with its account's last source.
    pub fn remove_source(&mut self, name: &str) -> Option<SourceEntry> {
        let entry = self.sources.remove(name)?;
        let key = &entry.info.budget.key;
        if !self.sources.values().any(|s| s.info.budget.key == *key) {
            self.budgets.remove(key);
        }
        Some(entry)
    }

    /// The sources that collect.
    pub fn active(&self) -> ActiveSources<'_> {
        ActiveSources(&self.sources)
    }

    /// Check a subscription against the registered sources and sinks; every mistake names
    /// the item at fault.
    pub fn validate(&self, sub: &Subscription, have_store: bool) -> Result<(), ConfigError> {
        let Some(source) = self.sources.get(&sub.source) else {
            return Err(ConfigError::UnknownSource {
                product: sub.product.clone(),
                source_name: sub.source.clone(),
                known: list(self.sources.keys().map(String::as_str)),
            });
        };
        if !self.sinks.contains_key(&sub.product) {
            return Err(ConfigError::UnknownSink {
                product: sub.product.clone(),
                stream: sub.stream_key().to_string(),
                known: list(self.sinks.keys().map(String::as_str)),
            });
        }
        if source.info.stream(&sub.stream).is_none() {
            return Err(ConfigError::UnknownStream {
                product: sub.product.clone(),
                source_name: sub.source.clone(),
                stream: sub.stream.clone(),
                offered: list(source.info.streams.iter().map(|s| s.name.as_str())),
            });
        }
        if let Some(problem) = sub.problem() {
            return Err(ConfigError::InvalidSubscription {
                product: sub.product.clone(),
                stream: sub.stream_key(),
                problem,
            });
        }
        if matches!(sub.queue.backend, QueueBackend::Durable { .. }) && !have_store {
            return Err(ConfigError::InvalidSubscription {
                product: sub.product.clone(),
                stream: sub.stream_key(),
                problem: "a durable queue needs a durable store: add .durable(DurableStore::open(dir)?) to the platform".into(),
            });
        }
        Ok(())
    }
}

/// Names for an error message: all of a few, the first ten of many.
fn list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    if total == 0 {
        return "none".into();
    }
    let shown: Vec<&str> = names.take(LISTED_NAMES).collect();
    match total - shown.len() {
        0 => shown.join(", "),
        more => format!("{}, and {more} more", shown.join(", ")),
    }
}
