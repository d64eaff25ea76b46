//! The cluster lab's parts: node processes (`ucp-node`) on one PostgreSQL schema, and the
//! world they serve (the testkit's simulated Okta orgs and products, in this process).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use ucp_cluster::{Db, JobOwner, Leases};
use ucp_testkit::scale_world::{org_token, World};

/// The lab's pace: lease TTL, tick, collection interval, and each org's rate limit per
/// (compressed) window.
pub const TTL: Duration = Duration::from_millis(4000);
pub const TICK: Duration = Duration::from_millis(1000);
pub const INTERVAL: Duration = Duration::from_millis(2000);
pub const RATE_LIMIT: u32 = 4;
pub const SPEED: f64 = 3.0;

/// The orgs' rate window: a minute compressed by [`SPEED`].
pub fn rate_window() -> Duration {
    Duration::from_secs_f64(60.0 / SPEED)
}

/// Calls per second org `i` allows (the world gives org `i` `R + (i % 3) · R / 4`).
pub fn org_rate(i: usize) -> f64 {
    let limit = RATE_LIMIT + (i % 3) as u32 * RATE_LIMIT / 4;
    f64::from(limit) / rate_window().as_secs_f64()
}

/// Write the world's tenants and products as a node reads them.
pub fn write_world_file(world: &World, dir: &Path) -> PathBuf {
    let mut text = String::new();
    for (i, org) in (world.first..).zip(&world.orgs) {
        text.push_str(&format!("TENANT {i} {} {}\n", org.base_url(), org_token(i)));
    }
    text.push_str(&format!(
        "PRODUCTS {} {}\n",
        world.products_url,
        world.tokens.entra_token_url("lab-tenant")
    ));
    let path = dir.join("world.txt");
    std::fs::write(&path, text).expect("the world file is written");
    path
}

/// One `ucp-node` process.
pub struct NodeProcess {
    pub id: String,
    child: Child,
}

impl NodeProcess {
    /// Start node `id` on the cluster in `schema`; its log goes to `dir/<id>.log`.
    pub fn start(id: &str, url: &SecretString, schema: &str, world: &Path, dir: &Path) -> Self {
        let log = std::fs::File::create(dir.join(format!("{id}.log"))).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ucp-node"))
            .args(["--schema", schema, "--node", id])
            .arg("--world")
            .arg(world)
            .args(["--interval-ms", &INTERVAL.as_millis().to_string()])
            .args(["--ttl-ms", &TTL.as_millis().to_string()])
            .args(["--tick-ms", &TICK.as_millis().to_string()])
            .args(["--rate-limit", &RATE_LIMIT.to_string()])
            .args(["--rate-window-ms", &rate_window().as_millis().to_string()])
            .env("UCP_DATABASE_URL", url.expose_secret())
            .env("RUST_LOG", "warn,ucp_cluster=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ucp-node starts");
        NodeProcess {
            id: id.to_string(),
            child,
        }
    }

    /// Send `signal` (`-KILL`, `-STOP`, `-CONT`, `-TERM`) to the node.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.id);
    }

    /// SIGKILL, and reap it.
    pub fn kill_9(&mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful: the node hands its jobs over) and wait up to `timeout`.
    pub async fn terminate(&mut self, timeout: Duration) -> bool {
        self.signal("-TERM");
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Jobs per live owner (`None`: unowned or expired).
pub async fn owners(leases: &Leases) -> (Vec<JobOwner>, HashMap<Option<String>, usize>) {
    let owners = leases.owners().await.expect("owners");
    let mut counts = HashMap::new();
    for owner in &owners {
        let key = owner.owner.clone().filter(|_| owner.live);
        *counts.entry(key).or_insert(0) += 1;
    }
    (owners, counts)
}

/// Wait until every job has a live owner among `nodes` and each holds its even share
/// within ±10 %; returns the counts, or panics after `timeout` naming them.
pub async fn balanced(
    leases: &Leases,
    nodes: &[&str],
    jobs: usize,
    timeout: Duration,
) -> HashMap<Option<String>, usize> {
    let even = jobs as f64 / nodes.len() as f64;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (_, counts) = owners(leases).await;
        let spread = nodes.iter().all(|n| {
            let held = counts.get(&Some(n.to_string())).copied().unwrap_or(0) as f64;
            (held - even).abs() <= even * 0.10
        });
        let owned: usize = nodes
            .iter()
            .map(|n| counts.get(&Some(n.to_string())).copied().unwrap_or(0))
            .sum();
        if spread && owned == jobs {
            return counts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not balanced over {nodes:?} after {timeout:?}: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Calls granted on every org's shared budget so far.
pub async fn grants(db: &Db) -> u64 {
    let client = db.client().await.expect("a client");
    let row = client
        .query_one(
            "SELECT coalesce(sum(grants), 0)::bigint FROM ucp_budgets",
            &[],
        )
        .await
        .expect("grants");
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

/// Commits refused by fencing for `node`.
pub async fn refused(db: &Db, node: &str) -> u64 {
    let client = db.client().await.expect("a client");
    let row = client
        .query_one("SELECT count(*) FROM ucp_fenced WHERE node = $1", &[&node])
        .await
        .expect("refused commits");
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

/// Rows the nodes wrote to the cluster's one health table.
pub async fn health_rows(db: &Db) -> u64 {
    let client = db.client().await.expect("a client");
    let row = client
        .query_one("SELECT count(*) FROM ucp_health_rows", &[])
        .await
        .expect("health rows");
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}
