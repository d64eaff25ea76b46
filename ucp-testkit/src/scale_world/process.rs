//! The platform's side of the scale lab: the world started as a child process and spoken to
//! in its line protocol, and a platform assembled for its tenants (each tenant's credentials,
//! its source, its three products and their filtered subscriptions). The caller builds the
//! connectors, so this crate does not depend on the sources and sinks it measures.

use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tokio::sync::mpsc;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{Filter, Platform, Sink, Source, Subscription};

use super::{dcr_name, WorldConfig, WorldReport, LAB_CLIENT, PRODUCTS};

/// The name of each tenant's Okta token in the platform's credential store.
pub const OKTA_CREDENTIAL: &str = "okta";
/// The name of each tenant's products' client secret in the platform's credential store.
pub const PRODUCTS_CREDENTIAL: &str = "entra";
/// The Logs Ingestion stream every product's rule takes.
pub const LAB_STREAM: &str = "Custom-OktaSystemLog_CL";
/// The stream of each org the products subscribe to (the Okta source's System Log).
pub const ORG_STREAM: &str = "system_log";

/// One tenant's org, as the world announced it.
#[derive(Clone, Debug)]
pub struct LabOrg {
    /// The tenant's index in the lab.
    pub tenant: usize,
    /// The org's base URL.
    pub url: String,
    /// The org's API token.
    pub token: SecretString,
}

/// A world running in its own process.
pub struct WorldProcess {
    child: Child,
    to_world: ChildStdin,
    from_world: mpsc::UnboundedReceiver<String>,
    /// The world's orgs, in tenant order.
    pub orgs: Vec<LabOrg>,
    /// The products endpoint (Logs Ingestion API shaped).
    pub products_url: String,
    /// The token endpoint the products' client secret is valid at.
    pub token_url: String,
}

fn broken(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

impl WorldProcess {
    /// Start the `scale_world` binary at `program` and wait until its world is ready.
    pub async fn start(program: &Path, config: &WorldConfig) -> io::Result<WorldProcess> {
        let mut child = Command::new(program)
            .args(config.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| broken(format!("could not start {}: {e}", program.display())))?;
        let (to_world, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(stdin), Some(stdout)) => (stdin, stdout),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(broken("the world's standard input or output is not piped"));
            }
        };
        // The world's lines, read on a thread of their own (the pipe blocks).
        let (lines, from_world) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut world = WorldProcess {
            child,
            to_world,
            from_world,
            orgs: Vec::new(),
            products_url: String::new(),
            token_url: String::new(),
        };
        loop {
            let line = world.next_line().await?;
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["TENANT", index, url, token] => world.orgs.push(LabOrg {
                    tenant: index
                        .parse()
                        .map_err(|_| broken(format!("unreadable line: {line}")))?,
                    url: url.to_string(),
                    token: SecretString::from(token.to_string()),
                }),
                ["PRODUCTS", url, token_url] => {
                    world.products_url = url.to_string();
                    world.token_url = token_url.to_string();
                }
                ["READY"] => break,
                _ => {}
            }
        }
        if world.products_url.is_empty() || world.orgs.len() != config.tenants {
            return Err(broken(format!(
                "the world announced {} of {} orgs and {} products endpoint",
                world.orgs.len(),
                config.tenants,
                if world.products_url.is_empty() {
                    "no"
                } else {
                    "a"
                }
            )));
        }
        Ok(world)
    }

    /// The world's process id (for its CPU and memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tell the world the platform runs: lags count events published from now on.
    pub fn live(&mut self) -> io::Result<()> {
        self.to_world.write_all(b"LIVE\n")?;
        self.to_world.flush()
    }

    /// Tell the world live collection is over; its report once every product has what the
    /// orgs held at that moment (or its drain deadline passed).
    pub async fn settle(&mut self) -> io::Result<WorldReport> {
        self.to_world.write_all(b"SNAPSHOT\n")?;
        self.to_world.flush()?;
        loop {
            let line = self.next_line().await?;
            if line.starts_with("REPORT ") {
                return WorldReport::parse(&line)
                    .ok_or_else(|| broken(format!("unreadable report: {line}")));
            }
        }
    }

    /// When each org's latest System Log request arrived (host time), in tenant order;
    /// `None` where none did yet.
    pub async fn last_calls(&mut self) -> io::Result<Vec<Option<DateTime<Utc>>>> {
        self.to_world.write_all(b"LAST\n")?;
        self.to_world.flush()?;
        loop {
            let line = self.next_line().await?;
            if let Some(times) = line.strip_prefix("LAST") {
                return times
                    .split_whitespace()
                    .map(|t| match t.parse::<i64>() {
                        Ok(0) => Ok(None),
                        Ok(ms) => Ok(DateTime::from_timestamp_millis(ms)),
                        Err(_) => Err(broken(format!("unreadable line: {line}"))),
                    })
                    .collect();
            }
        }
    }

    async fn next_line(&mut self) -> io::Result<String> {
        self.from_world
            .recv()
            .await
            .ok_or_else(|| broken("the world's process ended"))
    }
}

impl Drop for WorldProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A lab's tenants served by one or more world processes (`per_world` tenants at most
/// each): every org holds a listening socket and the platform's connection to it in its
/// world, so a process's open-files limit bounds the tenants one world can serve.
pub struct Worlds {
    /// The worlds, in tenant order.
    pub worlds: Vec<WorldProcess>,
}

impl Worlds {
    /// Start the worlds for `config`'s tenants, `per_world` at most in each (all at once).
    pub async fn start(
        program: &Path,
        config: &WorldConfig,
        per_world: usize,
    ) -> io::Result<Worlds> {
        let per_world = per_world.max(1);
        let starts = (0..config.tenants).step_by(per_world).map(|offset| {
            let shard = WorldConfig {
                tenants: per_world.min(config.tenants - offset),
                first_tenant: config.first_tenant.saturating_add(offset),
                ..config.clone()
            };
            async move { WorldProcess::start(program, &shard).await }
        });
        let worlds = futures::future::join_all(starts)
            .await
            .into_iter()
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Worlds { worlds })
    }

    /// Every org with the world that serves it, in tenant order.
    pub fn orgs(&self) -> impl Iterator<Item = (&WorldProcess, &LabOrg)> {
        self.worlds
            .iter()
            .flat_map(|world| world.orgs.iter().map(move |org| (world, org)))
    }

    /// The worlds' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.worlds.iter().map(WorldProcess::pid).collect()
    }

    /// Tell every world the platform runs ([`WorldProcess::live`]).
    pub fn live(&mut self) -> io::Result<()> {
        self.worlds.iter_mut().try_for_each(WorldProcess::live)
    }

    /// Every world's report ([`WorldProcess::settle`], all at once), added up.
    pub async fn settle(&mut self) -> io::Result<WorldReport> {
        let reports = futures::future::join_all(self.worlds.iter_mut().map(|w| w.settle())).await;
        let reports = reports.into_iter().collect::<io::Result<Vec<_>>>()?;
        Ok(WorldReport::sum(&reports))
    }
}

/// One product of one tenant, for the caller to build its sink.
#[derive(Clone, Debug)]
pub struct LabProduct {
    /// The tenant's index.
    pub tenant: usize,
    /// The product (a name of [`PRODUCTS`]).
    pub product: &'static str,
    /// The sink's registered name (`<product>-<tenant>`).
    pub sink_name: String,
    /// The products endpoint.
    pub url: String,
    /// The product's data collection rule on it.
    pub dcr: String,
}

/// The product filter of `prefixes` (none: everything).
pub fn filter_of(prefixes: &[&str]) -> Option<Filter> {
    prefixes
        .iter()
        .map(|p| Filter::starts_with("/eventType", *p))
        .reduce(Filter::or)
}

/// A platform for every tenant of `worlds`: the org's token ([`OKTA_CREDENTIAL`]) and the
/// products' client secret ([`PRODUCTS_CREDENTIAL`]) under the tenant, `source(org)` as its
/// source, `sink(product)` for each of [`PRODUCTS`], subscribed every `interval` with the
/// product's filter.
pub async fn lab_platform<S, K>(
    worlds: &Worlds,
    interval: Duration,
    source: S,
    sink: K,
) -> Result<Platform, String>
where
    S: Fn(&LabOrg) -> Result<Arc<dyn Source>, String>,
    K: Fn(&LabProduct) -> Arc<dyn Sink>,
{
    let store = Arc::new(MemoryCredentials::new());
    let mut builder = Platform::builder()
        .credentials(store.clone())
        .max_jitter(interval);
    for (world, org) in worlds.orgs() {
        let i = org.tenant;
        let tenant = format!("tenant-{i:05}");
        let put = |name: &str, credential| {
            store.put(CredentialRef::new(tenant.clone(), name), credential)
        };
        put(
            OKTA_CREDENTIAL,
            Credential::ApiToken {
                token: org.token.clone(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        put(
            PRODUCTS_CREDENTIAL,
            Credential::ClientSecret {
                token_url: world.token_url.clone(),
                client_id: LAB_CLIENT.0.into(),
                secret: SecretString::from(LAB_CLIENT.1),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let source_name = format!("okta-{i:05}");
        let org_source = source(org).map_err(|e| format!("{tenant}: {e}"))?;
        builder = builder.tenant_source(tenant.clone(), source_name.clone(), org_source);
        for (product, prefixes) in PRODUCTS {
            let spec = LabProduct {
                tenant: i,
                product,
                sink_name: format!("{product}-{i:05}"),
                url: world.products_url.clone(),
                dcr: dcr_name(i, product),
            };
            builder = builder.tenant_sink(tenant.clone(), spec.sink_name.clone(), sink(&spec));
            let mut subscription =
                Subscription::new(spec.sink_name, source_name.clone(), ORG_STREAM).every(interval);
            if let Some(filter) = filter_of(prefixes) {
                subscription = subscription.filter(filter);
            }
            builder = builder.subscribe(subscription);
        }
    }
    builder.build().map_err(|e| e.to_string())
}
