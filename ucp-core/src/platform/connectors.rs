//! Connectors on the running platform: sources and sinks added and removed, sources paused,
//! resumed and restarted, stream cursors read and reset.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{unknown, PlatformError, Restarted, RunningPlatform};
use crate::error::ConfigError;
use crate::health::Status;
use crate::job::JobPhase;
use crate::plan::Plan;
use crate::record::{Cursor, StreamKey};
use crate::sink::Sink;
use crate::source::Source;
use crate::subscription::SubscriptionId;

impl RunningPlatform {
    /// Register a source instance of `tenant` while running; subscribe products to it next.
    pub async fn add_source(
        &self,
        name: &str,
        tenant: &str,
        source: Arc<dyn Source>,
    ) -> Result<(), ConfigError> {
        let mut state = self.state.lock().await;
        state
            .registry
            .add_source(&self.shared, name.into(), tenant.into(), source, true)
    }

    /// Remove a source instance. Its subscriptions must be removed first; its saved cursors
    /// stay in the checkpoint store (a source registered again under the name resumes).
    pub async fn remove_source(&self, name: &str) -> Result<(), ConfigError> {
        let mut state = self.state.lock().await;
        let products = state.products_of_source(name);
        if !products.is_empty() {
            return Err(ConfigError::InUse {
                kind: "source",
                name: name.into(),
                by: products.join(", "),
            });
        }
        state
            .registry
            .remove_source(name)
            .map(|_| ())
            .ok_or_else(|| unknown("source", name))
    }

    /// Register a product sink of `tenant` while running.
    pub async fn add_sink(
        &self,
        name: &str,
        tenant: &str,
        sink: Arc<dyn Sink>,
    ) -> Result<(), ConfigError> {
        let mut state = self.state.lock().await;
        state
            .registry
            .add_sink(&self.shared, name.into(), tenant.into(), sink)
    }

    /// Remove a product sink; its subscriptions must be removed first.
    pub async fn remove_sink(&self, name: &str) -> Result<(), ConfigError> {
        let mut state = self.state.lock().await;
        let streams: Vec<String> = state
            .subscriptions
            .keys()
            .filter(|id| id.product == name)
            .map(|id| id.stream.to_string())
            .collect();
        if !streams.is_empty() {
            return Err(ConfigError::InUse {
                kind: "sink",
                name: name.into(),
                by: streams.join(", "),
            });
        }
        state
            .registry
            .sinks
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| unknown("sink", name))
    }

    /// Pause a source instance: its jobs stop and no call reaches the provider until it is
    /// resumed. Returns once no call is in flight; pages already collected are still
    /// delivered and their cursor saved. Subscriptions stay.
    pub async fn pause_source(&self, name: &str) -> Result<(), ConfigError> {
        let phases = {
            let mut state = self.state.lock().await;
            let entry = state
                .registry
                .sources
                .get_mut(name)
                .ok_or_else(|| unknown("source", name))?;
            entry.paused = true;
            state.apply_plan(&self.shared, &self.stop);
            state.stopping_phases(name)
        };
        for mut phase in phases {
            let _ = phase.wait_for(|p| *p >= JobPhase::Draining).await;
        }
        Ok(())
    }

    /// Pause a source instance and wait until its jobs are done: no call in flight, every
    /// page they collected accepted by the subscribers and its cursor saved (or the
    /// platform's shutdown timeout passed). For handing the source's streams to another
    /// process, which continues from the saved cursors (cluster mode).
    pub async fn pause_source_and_drain(&self, name: &str) -> Result<(), ConfigError> {
        let phases = {
            let mut state = self.state.lock().await;
            let entry = state
                .registry
                .sources
                .get_mut(name)
                .ok_or_else(|| unknown("source", name))?;
            entry.paused = true;
            state.apply_plan(&self.shared, &self.stop);
            state.stopping_phases(name)
        };
        let deadline = tokio::time::Instant::now() + self.shared.settings.shutdown_timeout;
        for mut phase in phases {
            let done = phase.wait_for(|p| *p >= JobPhase::Done);
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                tracing::warn!(source = name, "paused source still draining at the timeout");
                break;
            }
        }
        Ok(())
    }

    /// Resume a paused source instance: its jobs start again from their saved cursors, once
    /// the paused jobs have finished saving them (no gap, no duplicate).
    pub async fn resume_source(&self, name: &str) -> Result<(), ConfigError> {
        let mut state = self.state.lock().await;
        let entry = state
            .registry
            .sources
            .get_mut(name)
            .ok_or_else(|| unknown("source", name))?;
        entry.paused = false;
        state.apply_plan(&self.shared, &self.stop);
        Ok(())
    }

    /// Whether a source instance is paused (`None`: no such source).
    pub async fn is_paused(&self, name: &str) -> Option<bool> {
        let state = self.state.lock().await;
        state.registry.sources.get(name).map(|e| e.paused)
    }

    /// Restart a source instance's parts: its collection jobs (from their saved cursors) and
    /// the delivery tasks of its subscriptions — all of them, or with `only_failed` only those
    /// whose status is Error.
    pub async fn restart_source(
        &self,
        name: &str,
        only_failed: bool,
    ) -> Result<Restarted, ConfigError> {
        let mut state = self.state.lock().await;
        if !state.registry.sources.contains_key(name) {
            return Err(unknown("source", name));
        }
        let failed = |status: &std::sync::atomic::AtomicU8| {
            !only_failed
                || Status::from_severity(status.load(std::sync::atomic::Ordering::Relaxed))
                    == Some(Status::Error)
        };
        let jobs: Vec<StreamKey> = state
            .jobs
            .iter()
            .filter(|(key, job)| &*key.source == name && failed(&job.counters.status))
            .map(|(key, _)| key.clone())
            .collect();
        let deliveries: Vec<SubscriptionId> = state
            .subscriptions
            .iter()
            .filter(|(id, sub)| &*id.stream.source == name && failed(&sub.counters.status))
            .map(|(id, _)| id.clone())
            .collect();
        for key in &jobs {
            state.stop_job(key);
        }
        for id in &deliveries {
            let subscription = state.subscriptions.get(id).map(|s| s.subscription.clone());
            if let Some(subscription) = subscription {
                state.remove_subscription(id);
                state.add_subscription(&self.shared, subscription);
            }
        }
        // Every job gets its config again, so those of restarted deliveries write to the new
        // queues (and stopped jobs start again).
        state.plan = Plan::default();
        state.apply_plan(&self.shared, &self.stop);
        Ok(Restarted { jobs, deliveries })
    }

    /// The cursor saved for `stream` (where its next collection starts).
    pub async fn saved_cursor(&self, stream: &StreamKey) -> Result<Option<Cursor>, PlatformError> {
        Ok(self.shared.checkpoints.load(stream).await?)
    }

    /// Replace the saved cursor of `stream` — to the start ([`Cursor::start`]) or to a
    /// position from [`RunningPlatform::cursor_at`]. Refused while a job collects the stream:
    /// pause its source first.
    pub async fn set_cursor(
        &self,
        stream: &StreamKey,
        cursor: Cursor,
    ) -> Result<(), PlatformError> {
        let state = self.state.lock().await;
        let draining = state
            .stopping
            .get(stream)
            .is_some_and(|job| *job.phase.borrow() != JobPhase::Done);
        if state.jobs.contains_key(stream) || draining {
            return Err(ConfigError::StreamRunning {
                stream: stream.clone(),
            }
            .into());
        }
        // Saved under the lock, so no job of the stream starts meanwhile.
        self.shared.checkpoints.save(stream, &cursor).await?;
        Ok(())
    }

    /// The cursor from which `source`'s `stream` collects what happened at or after `time`,
    /// as the source computes it.
    pub async fn cursor_at(
        &self,
        source: &str,
        stream: &str,
        time: DateTime<Utc>,
    ) -> Result<Cursor, PlatformError> {
        let source_impl = {
            let state = self.state.lock().await;
            let entry = state
                .registry
                .sources
                .get(source)
                .ok_or_else(|| unknown("source", source))?;
            entry.source.clone()
        };
        source_impl
            .cursor_at(stream, time)
            .map_err(|error| PlatformError::Source {
                source_name: source.into(),
                error,
            })
    }
}
