//! A reporter that keeps every event in memory (tests, examples).

use std::sync::Mutex;

use async_trait::async_trait;

use super::{HealthEvent, HealthReporter};
use crate::sync::lock;

/// Keeps every reported event, in order.
#[derive(Debug, Default)]
pub struct MemoryHealth {
    events: Mutex<Vec<HealthEvent>>,
}

impl MemoryHealth {
    /// An empty reporter.
    pub fn new() -> Self {
        Self::default()
    }

    /// All events so far, oldest first.
    pub fn events(&self) -> Vec<HealthEvent> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl HealthReporter for MemoryHealth {
    async fn report(&self, event: HealthEvent) {
        tracing::info!(component = %event.component, status = %event.status, kind = ?event.kind, message = %event.message, "health");
        lock(&self.events).push(event);
    }
}
