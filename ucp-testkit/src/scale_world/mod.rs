//! The scale lab's world, for running in a process of its own (`scale_world` binary): many
//! simulated Okta orgs, the token endpoint, and the tenants' products — one Logs Ingestion
//! API shaped endpoint that takes every tenant's rows and keeps only tallies (which ids each
//! product got, how many times, whether its filter wanted them, how late they arrived), so
//! the world's memory grows with the tenants, not with the rows.
//!
//! A platform under test runs in another process, so its CPU and resident memory are its
//! own. They talk over the world's standard input and output, one line each:
//!
//! ```text
//! world → platform   TENANT <i> <org url> <okta token>       (one per tenant)
//!                    PRODUCTS <products url> <entra token url>
//!                    READY
//! platform → world   LIVE                                    (the platform runs: lags count from now)
//!                    SNAPSHOT                                (live collection is over)
//! world → platform   NOTED <events>                          (what each product must get)
//!                    REPORT <key=value …>                    (every product complete, or the drain deadline)
//! ```
//!
//! Products of tenant `i` are data collection rules `dcr-<i>-<product>` on the products
//! endpoint, products and filters as [`PRODUCTS`]. [`WorldProcess`] is the platform's side:
//! it starts the binary, reads the tenants and asks for the report; [`lab_platform`] builds
//! a platform for the world's tenants from the caller's connectors.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::okta::{OktaSimConfig, OktaSimulator};
use crate::token_endpoint::TokenEndpoint;

mod process;

pub use process::{
    filter_of, lab_platform, LabOrg, LabProduct, WorldProcess, Worlds, LAB_STREAM, OKTA_CREDENTIAL,
    ORG_STREAM, PRODUCTS_CREDENTIAL,
};

/// Each tenant's products: name and the `eventType` prefixes it takes (none: everything).
pub const PRODUCTS: [(&str, &[&str]); 3] = [
    ("siem", &[]),
    ("identity", &["user."]),
    ("posture", &["group.", "application.", "system."]),
];

/// The client every tenant's product credential names at the world's token endpoint.
pub const LAB_CLIENT: (&str, &str) = ("lab-app", "lab-secret");

/// The world's size and pace.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    /// Simulated orgs.
    pub tenants: usize,
    /// The index of the first (a world serves tenants `first_tenant..first_tenant + tenants`,
    /// so several world processes can share a lab).
    pub first_tenant: usize,
    /// Mean live events per second per org (org `i` gets 0.5x to 1.5x of it).
    pub events_per_second: f64,
    /// Events each org already holds at start.
    pub backlog: usize,
    /// Base rate limit per org per minute (org `i` gets up to +50%).
    pub rate_limit_per_minute: u32,
    /// After `SNAPSHOT`, how long to wait for every product to complete.
    pub drain: Duration,
    /// How long each org takes to answer a System Log request (default none).
    pub log_latency: Duration,
    /// Time compression of the orgs' rate-limit windows (see [`OktaSimConfig::speed`]).
    pub speed: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            tenants: 100,
            first_tenant: 0,
            events_per_second: 1.0,
            backlog: 20,
            rate_limit_per_minute: 600,
            drain: Duration::from_secs(60),
            log_latency: Duration::ZERO,
            speed: 1.0,
        }
    }
}

impl WorldConfig {
    /// The `scale_world` command line that starts this world.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--tenants".into(),
            self.tenants.to_string(),
            "--first".into(),
            self.first_tenant.to_string(),
            "--eps".into(),
            self.events_per_second.to_string(),
            "--backlog".into(),
            self.backlog.to_string(),
            "--rate-limit".into(),
            self.rate_limit_per_minute.to_string(),
            "--drain".into(),
            self.drain.as_secs_f64().to_string(),
            "--latency-ms".into(),
            self.log_latency.as_millis().to_string(),
            "--speed".into(),
            self.speed.to_string(),
        ]
    }

    /// The world a `scale_world` command line asks for (the defaults where it says nothing).
    pub fn from_args(args: &[String]) -> Result<WorldConfig, String> {
        let value = |name: &str| -> Result<Option<f64>, String> {
            let Some(at) = args.iter().position(|a| a == name) else {
                return Ok(None);
            };
            let text = args.get(at + 1).ok_or(format!("{name} needs a value"))?;
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                _ => Err(format!("{name} {text}: not a number of zero or more")),
            }
        };
        let defaults = WorldConfig::default();
        // The casts saturate; a world of 2^64 tenants fails when its sockets run out.
        Ok(WorldConfig {
            tenants: value("--tenants")?.map_or(defaults.tenants, |v| v as usize),
            first_tenant: value("--first")?.map_or(defaults.first_tenant, |v| v as usize),
            events_per_second: value("--eps")?.unwrap_or(defaults.events_per_second),
            backlog: value("--backlog")?.map_or(defaults.backlog, |v| v as usize),
            rate_limit_per_minute: value("--rate-limit")?
                .map_or(defaults.rate_limit_per_minute, |v| v as u32),
            drain: value("--drain")?
                .map_or(defaults.drain, |v| Duration::from_secs_f64(v.min(1e9))),
            log_latency: value("--latency-ms")?.map_or(defaults.log_latency, |v| {
                Duration::from_secs_f64((v / 1000.0).min(1e9))
            }),
            speed: value("--speed")?
                .filter(|v| *v > 0.0)
                .unwrap_or(defaults.speed),
        })
    }
}

/// One row as the tally reads it (the fields a copy-top-level row keeps of an Okta event).
#[derive(Deserialize)]
struct Row {
    uuid: String,
    #[serde(rename = "eventType")]
    event_type: String,
    published: DateTime<Utc>,
}

/// What one product received.
#[derive(Default)]
struct Tally {
    ids: HashSet<u64>,
    duplicates: u64,
    misrouted: u64,
}

#[derive(Default)]
struct Tallies {
    products: HashMap<String, Tally>,
    /// Events published from this moment on count in the lags (the world's start, until
    /// the platform says `LIVE`).
    live_from: DateTime<Utc>,
    /// Arrival minus `published`, in milliseconds, of events published after `live_from`.
    lags: Vec<u64>,
    rows: u64,
    calls: u64,
    refused: u64,
}

struct Shared {
    tallies: Mutex<Tallies>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn id_hash(id: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// Does `product` want an event of this type?
pub fn wants(product: &str, event_type: &str) -> bool {
    PRODUCTS
        .iter()
        .find(|(name, _)| *name == product)
        .is_some_and(|(_, prefixes)| {
            prefixes.is_empty() || prefixes.iter().any(|p| event_type.starts_with(p))
        })
}

async fn ingest(
    State(shared): State<Arc<Shared>>,
    Path((dcr, _stream)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let arrived = Utc::now();
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let mut plain = Vec::new();
    let json: &[u8] = if gzip {
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            return StatusCode::BAD_REQUEST;
        }
        &plain
    } else {
        &body
    };
    let rows: Option<Vec<Row>> = serde_json::from_slice(json).ok();
    let mut tallies = lock(&shared.tallies);
    tallies.calls += 1;
    let (Some(rows), true) = (rows, authorized) else {
        tallies.refused += 1;
        return StatusCode::BAD_REQUEST;
    };
    let product = dcr.rsplit('-').next().unwrap_or_default().to_string();
    let live_from = tallies.live_from;
    let mut lags = Vec::new();
    {
        let tally = tallies.products.entry(dcr).or_default();
        for row in &rows {
            if !tally.ids.insert(id_hash(&row.uuid)) {
                tally.duplicates += 1;
            }
            if !wants(&product, &row.event_type) {
                tally.misrouted += 1;
            }
            if row.published >= live_from {
                let lag = (arrived - row.published).num_milliseconds().max(0);
                lags.push(u64::try_from(lag).unwrap_or(0));
            }
        }
    }
    tallies.rows += rows.len() as u64;
    tallies.lags.extend(lags);
    StatusCode::NO_CONTENT
}

/// A running world.
pub struct World {
    /// The orgs, tenant `first + i` at index `i`.
    pub orgs: Vec<OktaSimulator>,
    /// The first tenant's index.
    pub first: usize,
    /// The token endpoint the products' credentials use.
    pub tokens: TokenEndpoint,
    /// The products endpoint (Logs Ingestion API shaped).
    pub products_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the world found once the products completed or the drain deadline passed.
#[derive(Clone, Debug, Default)]
pub struct WorldReport {
    /// Events the orgs held at the snapshot.
    pub events: u64,
    /// Records the products should have.
    pub expected: u64,
    /// Expected records a product never received.
    pub missing: u64,
    /// Records a product received more than once.
    pub duplicates: u64,
    /// Records a product received although its filter rejects them.
    pub misrouted: u64,
    /// 429 answers the orgs sent.
    pub throttled: u64,
    /// Calls the orgs answered.
    pub org_calls: u64,
    /// Calls the products endpoint answered, and how many it refused.
    pub product_calls: u64,
    /// Refused product calls (not JSON rows, no token).
    pub product_refused: u64,
    /// Lag percentiles of live events, milliseconds: p50, p95, p99, max.
    pub lag_ms: [u64; 4],
    /// Seconds from the snapshot until complete (or the deadline).
    pub drained_in: f64,
    /// The most System Log requests one org answered at once (above one: two collectors
    /// read the same org concurrently).
    pub max_concurrent: u64,
}

impl World {
    /// Start every org, the token endpoint and the products endpoint.
    pub async fn start(config: &WorldConfig) -> std::io::Result<World> {
        let tokens = TokenEndpoint::start().await?;
        tokens.register_secret_client(LAB_CLIENT.0, LAB_CLIENT.1);
        let mut orgs = Vec::with_capacity(config.tenants);
        for i in (0..config.tenants).map(|n| config.first_tenant.saturating_add(n)) {
            let spread = 0.5 + (i % 11) as f64 / 10.0;
            orgs.push(
                OktaSimulator::start(
                    OktaSimConfig::default()
                        .seed(i as u64)
                        .token(org_token(i))
                        .backlog(config.backlog)
                        .backlog_span(Duration::from_secs(600))
                        .live(config.events_per_second * spread)
                        .log_latency(config.log_latency)
                        .speed(config.speed)
                        .rate_limit(
                            config.rate_limit_per_minute
                                + (i % 3) as u32 * config.rate_limit_per_minute / 4,
                        ),
                )
                .await?,
            );
        }
        let shared = Arc::new(Shared {
            tallies: Mutex::new(Tallies {
                live_from: Utc::now(),
                ..Tallies::default()
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let products_url = format!("http://{}", listener.local_addr()?);
        let app = Router::new()
            .route("/dataCollectionRules/{dcr}/streams/{stream}", post(ingest))
            .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "scale world products endpoint stopped");
            }
        });
        Ok(World {
            orgs,
            first: config.first_tenant,
            tokens,
            products_url,
            shared,
            server,
        })
    }

    /// Count lags from now on only (the platform is running: events published while it
    /// was being built would wait for it, not for a round).
    pub fn live(&self) {
        let mut tallies = lock(&self.shared.tallies);
        tallies.live_from = Utc::now();
        tallies.lags.clear();
    }

    /// Note what every product must have now; then wait until each has it, or `drain`.
    pub async fn settle(&self, drain: Duration) -> WorldReport {
        let mut expected: Vec<(String, HashSet<u64>)> = Vec::new();
        let mut report = WorldReport::default();
        for (i, org) in (self.first..).zip(&self.orgs) {
            let visible = org.visible_events();
            report.events += visible.len() as u64;
            for (product, _) in PRODUCTS {
                let ids: HashSet<u64> = visible
                    .iter()
                    .filter(|e| wants(product, &e.event_type))
                    .map(|e| id_hash(&e.uuid))
                    .collect();
                report.expected += ids.len() as u64;
                expected.push((dcr_name(i, product), ids));
            }
        }
        println!("NOTED {}", report.events);
        let started = std::time::Instant::now();
        loop {
            let complete = {
                let tallies = lock(&self.shared.tallies);
                expected.iter().all(|(dcr, ids)| {
                    tallies
                        .products
                        .get(dcr)
                        .is_some_and(|t| ids.is_subset(&t.ids))
                        || ids.is_empty()
                })
            };
            if complete || started.elapsed() >= drain {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        report.drained_in = started.elapsed().as_secs_f64();
        let mut tallies = lock(&self.shared.tallies);
        for (dcr, ids) in &expected {
            match tallies.products.get(dcr) {
                Some(t) => report.missing += ids.difference(&t.ids).count() as u64,
                None => report.missing += ids.len() as u64,
            }
        }
        for t in tallies.products.values() {
            report.duplicates += t.duplicates;
            report.misrouted += t.misrouted;
        }
        report.product_calls = tallies.calls;
        report.product_refused = tallies.refused;
        tallies.lags.sort_unstable();
        let lags = &tallies.lags;
        let pick = |q: f64| {
            lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        report.lag_ms = [
            pick(0.5),
            pick(0.95),
            pick(0.99),
            lags.last().copied().unwrap_or(0),
        ];
        report.throttled = self.orgs.iter().map(|o| o.throttled()).sum();
        report.org_calls = self.orgs.iter().map(|o| o.requests()).sum();
        report.max_concurrent = self
            .orgs
            .iter()
            .map(|o| o.max_concurrent_log_requests())
            .max()
            .unwrap_or(0);
        report
    }

    /// The `LAST` line: when each org's latest System Log request arrived, milliseconds since
    /// the epoch (0: none yet), in tenant order.
    pub fn last_calls_line(&self) -> String {
        let times: Vec<String> = self
            .orgs
            .iter()
            .map(|o| {
                o.last_log_request()
                    .map_or(0, |t| t.timestamp_millis())
                    .to_string()
            })
            .collect();
        format!("LAST {}", times.join(" "))
    }
}

/// Tenant `i`'s Okta token.
pub fn org_token(i: usize) -> String {
    format!("scale-token-{i:05}-{:08x}", i.wrapping_mul(2_654_435_761))
}

/// The data collection rule of tenant `i`'s `product`.
pub fn dcr_name(i: usize, product: &str) -> String {
    format!("dcr-{i:05}-{product}")
}

impl WorldReport {
    /// The `REPORT` line.
    pub fn line(&self) -> String {
        format!(
            "REPORT events={} expected={} missing={} duplicates={} misrouted={} throttled={} org_calls={} product_calls={} product_refused={} lag_p50={} lag_p95={} lag_p99={} lag_max={} drained_in={:.1} max_concurrent={}",
            self.events,
            self.expected,
            self.missing,
            self.duplicates,
            self.misrouted,
            self.throttled,
            self.org_calls,
            self.product_calls,
            self.product_refused,
            self.lag_ms[0],
            self.lag_ms[1],
            self.lag_ms[2],
            self.lag_ms[3],
            self.drained_in,
            self.max_concurrent
        )
    }

    /// Several worlds' reports as one: counts added up, each lag percentile the worst
    /// world's (percentiles do not add; the worlds serve alike tenants, so this is close and
    /// never better than the truth), the drain the longest.
    pub fn sum(reports: &[WorldReport]) -> WorldReport {
        let mut total = WorldReport::default();
        for r in reports {
            total.events += r.events;
            total.expected += r.expected;
            total.missing += r.missing;
            total.duplicates += r.duplicates;
            total.misrouted += r.misrouted;
            total.throttled += r.throttled;
            total.org_calls += r.org_calls;
            total.product_calls += r.product_calls;
            total.product_refused += r.product_refused;
            for (t, l) in total.lag_ms.iter_mut().zip(r.lag_ms) {
                *t = (*t).max(l);
            }
            total.drained_in = total.drained_in.max(r.drained_in);
            total.max_concurrent = total.max_concurrent.max(r.max_concurrent);
        }
        total
    }

    /// The report a `REPORT` line gives (`None` if a field is missing or not a number).
    pub fn parse(line: &str) -> Option<WorldReport> {
        let fields = line.strip_prefix("REPORT ")?;
        let field = |name: &str| -> Option<&str> {
            fields
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        let count = |name: &str| -> Option<u64> { field(name)?.parse().ok() };
        Some(WorldReport {
            events: count("events")?,
            expected: count("expected")?,
            missing: count("missing")?,
            duplicates: count("duplicates")?,
            misrouted: count("misrouted")?,
            throttled: count("throttled")?,
            org_calls: count("org_calls")?,
            product_calls: count("product_calls")?,
            product_refused: count("product_refused")?,
            lag_ms: [
                count("lag_p50")?,
                count("lag_p95")?,
                count("lag_p99")?,
                count("lag_max")?,
            ],
            drained_in: field("drained_in")?.parse().ok()?,
            max_concurrent: count("max_concurrent")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_want_their_prefixes() {
        assert!(wants("siem", "policy.evaluate_sign_on"));
        assert!(wants("identity", "user.session.start"));
        assert!(!wants("identity", "group.user_membership.add"));
        assert!(wants("posture", "system.api_token.create"));
        assert!(!wants("posture", "user.session.start"));
        assert!(!wants("nobody", "user.session.start"));
        assert_eq!(dcr_name(7, "siem").rsplit('-').next(), Some("siem"));
    }

    #[test]
    fn a_report_line_reads_back_as_the_report() {
        let report = WorldReport {
            events: 1200,
            expected: 2100,
            missing: 3,
            duplicates: 4,
            misrouted: 5,
            throttled: 6,
            org_calls: 700,
            product_calls: 800,
            product_refused: 9,
            lag_ms: [10, 20, 30, 40],
            drained_in: 1.5,
            max_concurrent: 2,
        };
        let back = WorldReport::parse(&report.line()).expect("a report");
        assert_eq!(back.max_concurrent, 2);
        assert_eq!(back.line(), report.line());
        assert_eq!(back.lag_ms, [10, 20, 30, 40]);
        assert_eq!(back.missing, 3);
        assert!(WorldReport::parse("REPORT events=1").is_none());
        assert!(WorldReport::parse(&report.line().replace("missing=3", "missing=x")).is_none());
        assert!(WorldReport::parse("NOTED 5").is_none());
    }

    #[test]
    fn reports_of_several_worlds_add_up_and_keep_the_worst_lag() {
        let one = WorldReport {
            events: 10,
            expected: 20,
            missing: 1,
            throttled: 2,
            org_calls: 30,
            lag_ms: [100, 200, 300, 400],
            drained_in: 2.0,
            ..WorldReport::default()
        };
        let two = WorldReport {
            events: 5,
            expected: 7,
            duplicates: 3,
            lag_ms: [150, 180, 350, 390],
            drained_in: 1.0,
            ..WorldReport::default()
        };
        let sum = WorldReport::sum(&[one, two]);
        assert_eq!((sum.events, sum.expected, sum.missing), (15, 27, 1));
        assert_eq!((sum.duplicates, sum.throttled, sum.org_calls), (3, 2, 30));
        assert_eq!(sum.lag_ms, [150, 200, 350, 400]);
        assert_eq!(sum.drained_in, 2.0);
        assert_eq!(WorldReport::sum(&[]).line(), WorldReport::default().line());
    }

    #[test]
    fn a_world_config_survives_its_command_line() {
        let config = WorldConfig {
            tenants: 12,
            first_tenant: 24,
            events_per_second: 2.5,
            backlog: 7,
            rate_limit_per_minute: 900,
            drain: Duration::from_millis(1500),
            log_latency: Duration::from_millis(40),
            speed: 6.0,
        };
        let back = WorldConfig::from_args(&config.args()).expect("a config");
        assert_eq!(back.args(), config.args());
        assert_eq!(back.tenants, 12);
        assert_eq!(back.first_tenant, 24);
        assert_eq!(back.drain, Duration::from_millis(1500));
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(WorldConfig::from_args(&[]).expect("defaults").tenants, 100);
        assert!(WorldConfig::from_args(&args(&["--tenants"])).is_err());
        assert!(WorldConfig::from_args(&args(&["--eps", "-1"])).is_err());
        assert!(WorldConfig::from_args(&args(&["--drain", "NaN"])).is_err());
    }
}
