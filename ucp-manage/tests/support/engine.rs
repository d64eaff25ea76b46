//! An engine that keeps the state the port describes (sources, sinks, subscriptions, pauses,
//! cursors) and enforces its rules, for API tests before the running platform offers these
//! operations. The end-to-end tests use the real platform.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ucp_core::{BudgetKey, Cursor, RateBudget, Sink, Source, StreamKey, Subscription};
use ucp_manage::{Engine, EngineError, SourceVolumes};

#[derive(Default)]
pub struct State {
    /// name → (tenant, streams, paused)
    pub sources: BTreeMap<String, (String, Vec<String>, bool)>,
    pub sinks: BTreeMap<String, String>,
    /// (product, source, stream)
    pub subscriptions: BTreeSet<(String, String, String)>,
    pub cursors: BTreeMap<StreamKey, Cursor>,
    pub restarts: Vec<(String, bool)>,
}

#[derive(Default)]
pub struct MemoryEngine {
    pub state: Mutex<State>,
}

fn refused(message: String) -> EngineError {
    EngineError::Refused(message)
}

#[async_trait]
impl Engine for MemoryEngine {
    async fn add_source(
        &self,
        name: &str,
        tenant: &str,
        source: Arc<dyn Source>,
    ) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        if s.sources.contains_key(name) {
            return Err(refused(format!("duplicate source name '{name}'")));
        }
        let streams = source
            .describe()
            .streams
            .into_iter()
            .map(|s| s.name)
            .collect();
        s.sources
            .insert(name.into(), (tenant.into(), streams, false));
        Ok(())
    }

    async fn remove_source(&self, name: &str) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        if s.subscriptions.iter().any(|(_, source, _)| source == name) {
            return Err(refused(format!("source '{name}' still has subscriptions")));
        }
        s.sources
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| refused(format!("no source '{name}'")))
    }

    async fn add_sink(
        &self,
        name: &str,
        tenant: &str,
        _sink: Arc<dyn Sink>,
    ) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        if s.sinks.insert(name.into(), tenant.into()).is_some() {
            return Err(refused(format!("duplicate sink name '{name}'")));
        }
        Ok(())
    }

    async fn remove_sink(&self, name: &str) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        if s.subscriptions
            .iter()
            .any(|(product, _, _)| product == name)
        {
            return Err(refused(format!("sink '{name}' still has subscriptions")));
        }
        s.sinks
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| refused(format!("no sink '{name}'")))
    }

    async fn subscribe(&self, subscriptions: Vec<Subscription>) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        for sub in &subscriptions {
            let Some((_, streams, _)) = s.sources.get(&sub.source) else {
                return Err(refused(format!("unknown source '{}'", sub.source)));
            };
            if !streams.contains(&sub.stream) {
                return Err(refused(format!("no stream '{}'", sub.stream)));
            }
            if !s.sinks.contains_key(&sub.product) {
                return Err(refused(format!("unknown sink '{}'", sub.product)));
            }
            if s.subscriptions.contains(&(
                sub.product.clone(),
                sub.source.clone(),
                sub.stream.clone(),
            )) {
                return Err(refused("duplicate subscription".into()));
            }
        }
        for sub in subscriptions {
            s.subscriptions
                .insert((sub.product, sub.source, sub.stream));
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        product: &str,
        source: &str,
        stream: &str,
    ) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        if s.subscriptions
            .remove(&(product.into(), source.into(), stream.into()))
        {
            Ok(())
        } else {
            Err(refused(format!(
                "no subscription of '{product}' to {source}/{stream}"
            )))
        }
    }

    async fn pause_source(&self, name: &str) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        let source = s
            .sources
            .get_mut(name)
            .ok_or_else(|| refused(format!("no source '{name}'")))?;
        source.2 = true;
        Ok(())
    }

    async fn resume_source(&self, name: &str) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        let source = s
            .sources
            .get_mut(name)
            .ok_or_else(|| refused(format!("no source '{name}'")))?;
        source.2 = false;
        Ok(())
    }

    async fn restart_source(&self, name: &str, only_failed: bool) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        if !s.sources.contains_key(name) {
            return Err(refused(format!("no source '{name}'")));
        }
        s.restarts.push((name.into(), only_failed));
        Ok(())
    }

    async fn saved_cursor(&self, stream: &StreamKey) -> Result<Option<Cursor>, EngineError> {
        Ok(self.state.lock().unwrap().cursors.get(stream).cloned())
    }

    async fn set_cursor(&self, stream: &StreamKey, cursor: Cursor) -> Result<(), EngineError> {
        let mut s = self.state.lock().unwrap();
        let running = s
            .sources
            .get(&*stream.source)
            .is_some_and(|(_, _, paused)| !paused)
            && s.subscriptions
                .iter()
                .any(|(_, source, st)| **source == *stream.source && **st == *stream.stream);
        if running {
            return Err(refused(format!(
                "{stream} is being collected: pause it first"
            )));
        }
        s.cursors.insert(stream.clone(), cursor);
        Ok(())
    }

    async fn volumes(&self, _source: &str) -> SourceVolumes {
        SourceVolumes::default()
    }

    fn budget(&self, _key: &BudgetKey) -> Option<Arc<RateBudget>> {
        None
    }
}
