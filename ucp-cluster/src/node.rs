//! A cluster node's lease manager: heartbeat, renew, let go of what was lost, and move
//! towards a fair share of the jobs — cooperatively, one tick at a time.
//!
//! Each tick (a third of the lease TTL by default):
//!
//! 1. heartbeat, then renew every lease this node owns; a job it believed it held and that
//!    did not renew was taken over (its lease had expired): the job is stopped at once, and
//!    its late cursor commits are refused by fencing;
//! 2. the view is fresh again: the node's calls may go on ([`Holdings::renewed`]);
//! 3. fair share = ⌈jobs / live nodes⌉. A node above it stops its extra jobs and only then
//!    releases them (a job is never collected by two nodes at once); a node below it
//!    claims free or expired jobs and starts them.
//!
//! Leaving ([`Node::leave`]) marks the node as leaving (the others take its share), stops
//! every job and releases it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use ucp_core::StreamKey;

use crate::error::ClusterError;
use crate::holdings::Holdings;
use crate::leases::{fair_share, Leases};

/// Starts and stops this node's collection jobs (the node binary: a running platform).
#[async_trait]
pub trait JobRunner: Send + Sync + 'static {
    /// Start collecting `job` from its saved cursor.
    async fn start(&self, job: &StreamKey) -> Result<(), String>;
    /// Stop collecting `job`: return once no call is in flight and what was collected is
    /// delivered and its cursor saved (or the platform's bound passed).
    async fn stop(&self, job: &StreamKey);
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs held after the tick.
    pub held: usize,
    /// Jobs found taken over (stopped).
    pub lost: usize,
    /// Jobs released to move towards the fair share.
    pub released: usize,
    /// Jobs claimed and started.
    pub claimed: usize,
    /// The fair share this tick aimed at.
    pub share: usize,
}

/// One node of the cluster.
pub struct Node {
    leases: Leases,
    holdings: Holdings,
    runner: Arc<dyn JobRunner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node", &self.leases.node())
            .field("held", &self.holdings.count())
            .finish()
    }
}

impl Node {
    /// A node managing `leases`, recording what it holds in `holdings`, starting and
    /// stopping jobs through `runner`.
    pub fn new(leases: Leases, holdings: Holdings, runner: Arc<dyn JobRunner>) -> Self {
        Node {
            leases,
            holdings,
            runner,
        }
    }

    /// The jobs held now.
    pub fn holdings(&self) -> &Holdings {
        &self.holdings
    }

    /// One round of heartbeat, renewal and rebalancing.
    pub async fn tick(&self) -> Result<TickReport, ClusterError> {
        let started = Instant::now();
        let mut report = TickReport::default();
        self.leases.heartbeat().await?;
        let renewed: HashMap<StreamKey, u64> = self.leases.renew().await?.into_iter().collect();
        let lost: Vec<StreamKey> = self
            .holdings
            .held()
            .into_iter()
            .filter(|(job, token)| renewed.get(job) != Some(token))
            .map(|(job, _)| job)
            .collect();
        for job in &lost {
            tracing::warn!(job = %job, "lease lost (taken over); stopping the job");
            // No commit of it can count any more: forgotten first, its drain is refused.
            self.holdings.forget(job);
        }
        futures::future::join_all(lost.iter().map(|job| self.runner.stop(job))).await;
        report.lost = lost.len();
        for (job, token) in &renewed {
            if self.holdings.token(job).is_none() {
                // Owned in the table but not running here (a claim whose start failed).
                self.leases.release(job, *token).await?;
            }
        }
        // Calls stop a quarter of the TTL before the leases could expire, so a call still
        // in flight ends before another node can claim the job.
        let ttl = self.leases.ttl();
        self.holdings.renewed(started, ttl.saturating_sub(ttl / 4));

        let live = self.leases.live_nodes().await?;
        let jobs = self.leases.jobs().await?;
        report.share = fair_share(jobs, live);
        let held = self.holdings.held();
        if held.len() > report.share {
            // Extras: the last ones in order, so what each node keeps is stable. All stop
            // together (each waits for its own drain), then each is released.
            let extras = &held[report.share..];
            futures::future::join_all(extras.iter().map(|(job, _)| self.runner.stop(job))).await;
            for (job, token) in extras {
                self.holdings.forget(job);
                self.leases.release(job, *token).await?;
                report.released += 1;
            }
        } else if held.len() < report.share {
            for (job, token) in self.leases.claim(report.share - held.len()).await? {
                self.holdings.hold(job.clone(), token);
                match self.runner.start(&job).await {
                    Ok(()) => report.claimed += 1,
                    Err(error) => {
                        tracing::warn!(job = %job, %error, "claimed job did not start; released");
                        self.holdings.forget(&job);
                        self.leases.release(&job, token).await?;
                    }
                }
            }
        }
        report.held = self.holdings.count();
        Ok(report)
    }

    /// Tick every `every` until `stop` resolves, then leave.
    pub async fn run(&self, every: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticks.tick() => {
                    match self.tick().await {
                        Ok(report) => tracing::debug!(?report, "cluster tick"),
                        Err(error) => tracing::warn!(%error, "cluster tick failed; trying again"),
                    }
                }
            }
        }
        if let Err(error) = self.leave().await {
            tracing::warn!(%error, "leaving the cluster failed; the leases expire instead");
        }
    }

    /// Leave the cluster: stop every job, release it, remove this node.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        self.leases.leaving().await?;
        let held = self.holdings.held();
        futures::future::join_all(held.iter().map(|(job, _)| self.runner.stop(job))).await;
        for (job, token) in held {
            self.holdings.forget(&job);
            self.leases.release(&job, token).await?;
        }
        self.leases.gone().await
    }
}
