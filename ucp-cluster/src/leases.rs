//! Job leases in PostgreSQL: each job (source instance, stream) has at most one owner, a
//! lease that the owner renews, and a fencing token that grows with every new owner.
//!
//! Every operation is one statement on the database's clock (`clock_timestamp()`), so the
//! nodes' clocks never decide who owns a job. Claims take free or expired jobs with
//! `FOR UPDATE SKIP LOCKED`: nodes claiming at once get disjoint jobs without waiting on
//! each other.

use std::time::Duration;

use ucp_core::StreamKey;

use crate::db::Db;
use crate::error::ClusterError;

/// A job and the fencing token of its current lease.
pub type Lease = (StreamKey, u64);

/// One node's view of the leases table.
#[derive(Clone, Debug)]
pub struct Leases {
    db: Db,
    node: String,
    ttl: Duration,
}

/// Who owns one job now (for operators and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOwner {
    /// The job.
    pub job: StreamKey,
    /// The owning node, if any.
    pub owner: Option<String>,
    /// The job's fencing token (how many times it was claimed).
    pub token: u64,
    /// Whether the lease is still running.
    pub live: bool,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn token(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn lease(row: &tokio_postgres::Row) -> Result<Lease, ClusterError> {
    let read = |e| ClusterError::db("reading a lease", e);
    let source: String = row.try_get(0).map_err(read)?;
    let stream: String = row.try_get(1).map_err(read)?;
    let value: i64 = row.try_get(2).map_err(read)?;
    Ok((StreamKey::new(source, stream), token(value)))
}

impl Leases {
    /// The leases of node `node`, each lasting `ttl` from its last renewal.
    pub fn new(db: Db, node: impl Into<String>, ttl: Duration) -> Self {
        Leases {
            db,
            node: node.into(),
            ttl,
        }
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// How long a lease lasts after its renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Make sure every job of `jobs` has a row (jobs already known keep their owner, token
    /// and cursor). Returns how many were new.
    pub async fn register(&self, jobs: &[StreamKey]) -> Result<u64, ClusterError> {
        let client = self.db.client().await?;
        let sources: Vec<&str> = jobs.iter().map(|j| &*j.source).collect();
        let streams: Vec<&str> = jobs.iter().map(|j| &*j.stream).collect();
        client
            .execute(
                "INSERT INTO ucp_jobs (source, stream)
                 SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT DO NOTHING",
                &[&sources, &streams],
            )
            .await
            .map_err(|e| ClusterError::db("registering jobs", e))
    }

    /// Tell the cluster this node is alive.
    pub async fn heartbeat(&self) -> Result<(), ClusterError> {
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO ucp_nodes (node) VALUES ($1)
                 ON CONFLICT (node) DO UPDATE SET heartbeat_at = clock_timestamp()",
                &[&self.node],
            )
            .await
            .map(|_| ())
            .map_err(|e| ClusterError::db("heartbeat", e))
    }

    /// Extend every lease this node still owns; returns them with their tokens. A job this
    /// node believed it held and that is missing here was taken over.
    pub async fn renew(&self) -> Result<Vec<Lease>, ClusterError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "UPDATE ucp_jobs
                 SET lease_until = clock_timestamp() + ($2::bigint * interval '1 millisecond')
                 WHERE owner = $1
                 RETURNING source, stream, token",
                &[&self.node, &millis(self.ttl)],
            )
            .await
            .map_err(|e| ClusterError::db("renewing leases", e))?;
        rows.iter().map(lease).collect()
    }

    /// Nodes alive now (a heartbeat within the lease TTL, not leaving), this one included
    /// once it has sent a heartbeat.
    pub async fn live_nodes(&self) -> Result<usize, ClusterError> {
        self.count(
            "SELECT count(*) FROM ucp_nodes
             WHERE NOT leaving
               AND heartbeat_at > clock_timestamp() - ($1::bigint * interval '1 millisecond')",
            Some(millis(self.ttl)),
        )
        .await
    }

    /// Jobs in the cluster.
    pub async fn jobs(&self) -> Result<usize, ClusterError> {
        self.count("SELECT count(*) FROM ucp_jobs", None).await
    }

    async fn count(&self, sql: &str, ttl: Option<i64>) -> Result<usize, ClusterError> {
        let client = self.db.client().await?;
        let row = match ttl {
            Some(ttl) => client.query_one(sql, &[&ttl]).await,
            None => client.query_one(sql, &[]).await,
        }
        .map_err(|e| ClusterError::db("counting", e))?;
        let n: i64 = row
            .try_get(0)
            .map_err(|e| ClusterError::db("counting", e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Claim up to `n` jobs that nobody owns or whose lease expired; each gets a new fencing
    /// token (its last one plus one).
    pub async fn claim(&self, n: usize) -> Result<Vec<Lease>, ClusterError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let client = self.db.client().await?;
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "WITH free AS (
                    SELECT source, stream FROM ucp_jobs
                    WHERE owner IS NULL OR lease_until < clock_timestamp()
                    ORDER BY lease_until NULLS FIRST, source, stream
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED)
                 UPDATE ucp_jobs j
                 SET owner = $1, token = j.token + 1,
                     lease_until = clock_timestamp() + ($3::bigint * interval '1 millisecond')
                 FROM free
                 WHERE j.source = free.source AND j.stream = free.stream
                 RETURNING j.source, j.stream, j.token",
                &[&self.node, &limit, &millis(self.ttl)],
            )
            .await
            .map_err(|e| ClusterError::db("claiming jobs", e))?;
        rows.iter().map(lease).collect()
    }

    /// Give `job` up, if this node still holds it with `token`; true if it did.
    pub async fn release(&self, job: &StreamKey, token: u64) -> Result<bool, ClusterError> {
        let client = self.db.client().await?;
        let token = i64::try_from(token).unwrap_or(i64::MAX);
        let n = client
            .execute(
                "UPDATE ucp_jobs SET owner = NULL, lease_until = NULL
                 WHERE source = $1 AND stream = $2 AND owner = $3 AND token = $4",
                &[&&*job.source, &&*job.stream, &self.node, &token],
            )
            .await
            .map_err(|e| ClusterError::db("releasing a job", e))?;
        Ok(n == 1)
    }

    /// Mark this node as leaving: the others stop counting it and take its share.
    pub async fn leaving(&self) -> Result<(), ClusterError> {
        let client = self.db.client().await?;
        client
            .execute(
                "UPDATE ucp_nodes SET leaving = true WHERE node = $1",
                &[&self.node],
            )
            .await
            .map(|_| ())
            .map_err(|e| ClusterError::db("leaving", e))
    }

    /// Remove this node's row (after it released everything).
    pub async fn gone(&self) -> Result<(), ClusterError> {
        let client = self.db.client().await?;
        client
            .execute("DELETE FROM ucp_nodes WHERE node = $1", &[&self.node])
            .await
            .map(|_| ())
            .map_err(|e| ClusterError::db("leaving", e))
    }

    /// Every job with its owner and token.
    pub async fn owners(&self) -> Result<Vec<JobOwner>, ClusterError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT source, stream, token, owner,
                        coalesce(lease_until > clock_timestamp(), false)
                 FROM ucp_jobs ORDER BY source, stream",
                &[],
            )
            .await
            .map_err(|e| ClusterError::db("reading owners", e))?;
        rows.iter()
            .map(|row| {
                let (job, token) = lease(row)?;
                let read = |e| ClusterError::db("reading owners", e);
                Ok(JobOwner {
                    job,
                    token,
                    owner: row.try_get(3).map_err(read)?,
                    live: row.try_get(4).map_err(read)?,
                })
            })
            .collect()
    }
}

/// A node's fair share of `jobs` among `nodes` live nodes: `⌈jobs / nodes⌉`, so every job
/// has room somewhere.
pub fn fair_share(jobs: usize, nodes: usize) -> usize {
    jobs.div_ceil(nodes.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fair_share_rounds_up_so_every_job_fits() {
        assert_eq!(fair_share(300, 3), 100);
        assert_eq!(fair_share(300, 2), 150);
        assert_eq!(fair_share(10, 3), 4);
        assert_eq!(fair_share(0, 3), 0);
        // No live node known yet (this one's heartbeat not counted): all of them.
        assert_eq!(fair_share(7, 0), 7);
    }
}
