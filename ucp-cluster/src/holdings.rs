//! What this node holds: the fencing token of each job it owns, and until when its view of
//! its leases is known fresh.
//!
//! The lease manager writes it (on claim, renewal, loss and release); the fenced cursor
//! store reads the token it must present; the shared budget holds every call of the node
//! while the view is stale (a node that was paused past its lease makes no call before it
//! has learnt which jobs it lost).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use ucp_core::StreamKey;

#[derive(Debug, Default)]
struct Inner {
    tokens: HashMap<StreamKey, u64>,
    fresh_until: Option<Instant>,
}

/// The jobs this node holds with their fencing tokens, shared by the node's parts.
#[derive(Clone, Debug, Default)]
pub struct Holdings {
    inner: Arc<Mutex<Inner>>,
    renewed: Arc<Notify>,
}

impl Holdings {
    /// Nothing held, nothing fresh.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fencing token this node holds for `job`, if it holds the job.
    pub fn token(&self, job: &StreamKey) -> Option<u64> {
        self.lock().tokens.get(job).copied()
    }

    /// This node now holds `job` with `token`.
    pub fn hold(&self, job: StreamKey, token: u64) {
        self.lock().tokens.insert(job, token);
    }

    /// This node no longer holds `job`.
    pub fn forget(&self, job: &StreamKey) {
        self.lock().tokens.remove(job);
    }

    /// The jobs held, with their tokens.
    pub fn held(&self) -> Vec<(StreamKey, u64)> {
        let mut held: Vec<_> = self
            .lock()
            .tokens
            .iter()
            .map(|(k, t)| (k.clone(), *t))
            .collect();
        held.sort();
        held
    }

    /// How many jobs are held.
    pub fn count(&self) -> usize {
        self.lock().tokens.len()
    }

    /// The leases were confirmed at `at` and last `ttl` from then.
    pub fn renewed(&self, at: Instant, ttl: Duration) {
        self.lock().fresh_until = at.checked_add(ttl);
        self.renewed.notify_waiters();
    }

    /// Whether the view of the leases is fresh now.
    pub fn is_fresh(&self) -> bool {
        self.lock().fresh_until.is_some_and(|t| t > Instant::now())
    }

    /// Wait until the view of the leases is fresh (at once when it is).
    pub async fn wait_fresh(&self) {
        loop {
            let renewed = self.renewed.notified();
            tokio::pin!(renewed);
            renewed.as_mut().enable();
            if self.is_fresh() {
                return;
            }
            renewed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_view_goes_stale_after_its_ttl_and_waiters_wake_on_renewal() {
        let holdings = Holdings::new();
        assert!(!holdings.is_fresh());
        holdings.renewed(Instant::now(), Duration::from_secs(4));
        assert!(holdings.is_fresh());
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!holdings.is_fresh());
        let waiter = {
            let holdings = holdings.clone();
            tokio::spawn(async move { holdings.wait_fresh().await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        holdings.renewed(Instant::now(), Duration::from_secs(4));
        waiter.await.expect("the waiter ends once renewed");
    }

    #[test]
    fn tokens_are_held_and_forgotten_per_job() {
        let holdings = Holdings::new();
        let job = StreamKey::new("okta-1", "system_log");
        holdings.hold(job.clone(), 7);
        assert_eq!(holdings.token(&job), Some(7));
        assert_eq!(holdings.count(), 1);
        holdings.forget(&job);
        assert_eq!(holdings.token(&job), None);
    }
}
