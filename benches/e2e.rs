//! End to end over loopback, against the status quo of one connector per product.
//!
//! `cargo bench --bench e2e`
//!
//! An Okta org (simulator: high rate limit, a large backlog of ~1 KiB events) feeds three
//! products with different filters: Sentinel (Logs Ingestion emulator, gzip on) and two
//! Event Hubs (emulator, hubs `mdi` and `xspm`). Two ways of doing the same work:
//!
//! - **ucp**: one platform, one Okta source, three subscriptions (one collection job);
//! - **baseline**: three separate platforms, each with its own Okta source, HTTP clients,
//!   token provider, budget and cursor, and ONE product: three independent connectors
//!   polling the same org with their own filter (pushed to Okta as a SCIM filter, as each
//!   connector would).
//!
//! - **floor**: the cost of the bytes themselves: a minimal program (no platform) that
//!   receives the same pages from the org and sends the same events to the three products'
//!   endpoints — JSON arrays of rows within 1 MB, gzip for Sentinel at ucp's default level,
//!   Event Hubs batch framing (`{"Body": …}`, the event escaped as a string) — with no
//!   parsing, filtering or mapping: which product takes which event is given to it (computed
//!   by the parent from the org's events), and it reads only the bytes that frame an event.
//!   ucp's CPU per record ÷ the floor's says what ucp adds to the unavoidable work.
//!
//! Figures: wall time and CPU (user+sys) from the start of the platform(s) until every
//! product holds its share of the backlog; records/s counts the org's events; source calls
//! "to drain" are the job(s)' calls in that time (pages, plus polls every 50 ms of a job
//! that caught up while deliveries finish), "when idle" those in the 2 s after; events
//! fetched: what the job(s) downloaded (the baseline's filtered connectors fetch only their
//! share, so it is less than 3×).
//!
//! Each variant runs in a child process of this binary (`--client ucp|baseline|floor`), so its CPU
//! (user+sys) and peak RSS are its own; the simulator and the emulators run in this parent
//! process, fresh for every run, and their CPU is measured separately. Runs rotate the
//! order of the three variants; the figures are medians with min–max over the runs.
//! Under `cargo test --benches` it runs once at a small size as a smoke test.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::io::Write;

use secrecy::SecretString;
use ucp::credentials::token::HttpTokenFetcher;
use ucp::credentials::token::TokenProvider;
use ucp::credentials::CredentialStore;
use ucp::credentials::{Credential, CredentialError, CredentialRef, MemoryCredentials};
use ucp::health::MemoryHealth;
use ucp::sinks::eventhubs::{sas_token, EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp::sinks::sentinel::{SentinelConfig, SentinelSink, DEFAULT_GZIP_LEVEL};
use ucp::sources::okta::{OktaConfig, OktaSource, SYSTEM_LOG};
use ucp::store::{MemoryCheckpoints, MemoryDeadLetters};
use ucp::*;
use ucp_testkit::azure::{EventHubs, LogsIngestion};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::scale::{cpu_seconds, peak_rss_bytes};
use ucp_testkit::token_endpoint::TokenEndpoint;

const OKTA_TOKEN: &str = "00benchOrgToken";
const DCR: &str = "dcr-bench";
const STREAM: &str = "Custom-OktaSystemLog_CL";
const HUB_KEY: &str = "YmVuY2gtaHViLWtleQ==";
const PRODUCTS: [&str; 3] = ["sentinel", "mdi", "xspm"];
/// Every subscription's interval: short, so a run measures work rather than waiting.
const EVERY: Duration = Duration::from_millis(50);
/// How often the client reads its platforms' stats to see the backlog delivered (each read
/// costs CPU that the floor does not pay; at 10 ms it was 3 % of ucp's profile).
const COMPLETION_POLL: Duration = Duration::from_millis(50);

/// After the backlog is delivered, both variants poll the idle org this long.
const IDLE: Duration = Duration::from_secs(2);

/// Each product's rule.
fn filter(product: &str) -> Filter {
    let prefix = |p: &str| Filter::starts_with("/eventType", p);
    match product {
        // Everything but the sign-on policy evaluations.
        "sentinel" => prefix("policy.").not(),
        "mdi" => prefix("user.authentication").or(prefix("user.session")),
        _ => prefix("user.account")
            .or(prefix("group."))
            .or(prefix("application.")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.iter().position(|a| a == "--client") {
        Some(i) => runtime.block_on(client(&args[i + 1..])),
        None => runtime.block_on(parent(args.iter().any(|a| a == "--bench"))),
    }
}

// ---------------------------------------------------------------- the parent: servers

/// The org and the three product endpoints, fresh for each run.
struct Servers {
    org: OktaSimulator,
    tokens: TokenEndpoint,
    logs: LogsIngestion,
    hubs: EventHubs,
}

impl Servers {
    async fn start(backlog: usize) -> std::io::Result<Servers> {
        // The generated events are real-sized (about 1.5 KiB of JSON each): no padding.
        let org = OktaSimulator::start(
            OktaSimConfig::default()
                .token(OKTA_TOKEN)
                .seed(2026)
                .backlog(backlog)
                .backlog_span(Duration::from_secs(1800))
                .rate_limit(1_000_000),
        )
        .await?;
        let tokens = TokenEndpoint::start().await?;
        tokens.register_secret_client("ucp-app", "app-secret");
        let logs = LogsIngestion::start(tokens.verifier()).await?;
        logs.add_stream(DCR, STREAM);
        logs.grant(DCR, "ucp-app");
        let hubs = EventHubs::start(None).await?;
        hubs.add_hub("mdi");
        hubs.add_hub("xspm");
        hubs.add_key("send", HUB_KEY);
        Ok(Servers {
            org,
            tokens,
            logs,
            hubs,
        })
    }

    /// What each product should receive (the org's events that pass its filter), and each
    /// event's products in the org's order (bit `i`: `PRODUCTS[i]`), for the floor.
    fn expected(&self) -> (Vec<u64>, Vec<u8>, f64) {
        let events = self.org.visible_events();
        let filters: Vec<Filter> = PRODUCTS.iter().map(|p| filter(p)).collect();
        let routes: Vec<u8> = events
            .iter()
            .map(|e| {
                let doc: serde_json::Value = serde_json::from_str(&e.json).unwrap_or_default();
                filters
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.matches(&doc))
                    .fold(0u8, |bits, (i, _)| bits | 1 << i)
            })
            .collect();
        let counts = (0..PRODUCTS.len())
            .map(|i| routes.iter().filter(|r| *r & (1 << i) != 0).count() as u64)
            .collect();
        let mean =
            events.iter().map(|e| e.json.len()).sum::<usize>() as f64 / events.len().max(1) as f64;
        (counts, routes, mean)
    }

    /// What each product did receive.
    fn received(&self) -> Vec<u64> {
        vec![
            self.logs.rows(DCR, STREAM).len() as u64,
            self.hubs.messages("mdi").len() as u64,
            self.hubs.messages("xspm").len() as u64,
        ]
    }
}

/// What one client run reported, plus the parent's view of it.
#[derive(Clone, Debug, Default)]
struct Figures {
    wall: f64,
    cpu: f64,
    rss: f64,
    /// Calls the job(s) made until everything was delivered.
    calls: f64,
    /// Calls the job(s) made while the org was idle for [`IDLE`].
    idle_calls: f64,
    /// Calls the org counted (checks included).
    org_calls: f64,
    /// Events the job(s) fetched from the org.
    fetched: f64,
    /// CPU the parent (simulator + emulators) spent during the run.
    server_cpu: f64,
}

async fn parent(full: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (backlog, mut runs) = if full { (100_000, 3) } else { (3_000, 1) };
    // For profiling: `E2E_RUNS=1`.
    if let Some(n) = std::env::var("E2E_RUNS").ok().and_then(|v| v.parse().ok()) {
        runs = n;
    }
    let mut results: Vec<(String, Figures)> = Vec::new();
    let mut mean_size = 0.0;
    let routes_file = std::env::temp_dir().join(format!("ucp-e2e-routes-{}", std::process::id()));
    for run in 0..runs {
        let mut order = ["ucp", "baseline", "floor"];
        order.rotate_left(run % 3);
        for variant in order {
            let servers = Servers::start(backlog).await?;
            let (expected, routes, mean) = servers.expected();
            mean_size = mean;
            std::fs::File::create(&routes_file)?.write_all(&routes)?;
            let expect_arg = expected
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let args = vec![
                "--client".to_string(),
                variant.to_string(),
                servers.org.base_url().to_string(),
                servers.tokens.entra_token_url("bench-tenant"),
                servers.logs.url().to_string(),
                servers.hubs.url().to_string(),
                expect_arg,
                routes_file.display().to_string(),
            ];
            let cpu_before = cpu_seconds().unwrap_or(0.0);
            let org_before = servers.org.requests();
            let exe = std::env::current_exe()?;
            let output =
                tokio::task::spawn_blocking(move || Command::new(exe).args(&args).output())
                    .await??;
            let server_cpu = cpu_seconds().unwrap_or(0.0) - cpu_before;
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                return Err(format!(
                    "{variant} client failed: {}\n{stdout}",
                    String::from_utf8_lossy(&output.stderr)
                )
                .into());
            }
            let mut figures = parse_result(&stdout)
                .ok_or_else(|| format!("{variant} client printed no result: {stdout}"))?;
            figures.server_cpu = server_cpu;
            figures.org_calls = (servers.org.requests() - org_before) as f64;
            let received = servers.received();
            if received != expected {
                return Err(format!(
                    "{variant}: products received {received:?}, expected {expected:?} (sentinel, mdi, xspm)"
                )
                .into());
            }
            if servers.org.throttled() > 0 {
                return Err(format!("{variant}: the org answered 429").into());
            }
            println!(
                "run {} {variant:<8}: {:.2} s, cpu {:.2} s, rss {:.0} MiB, calls {} (+{} idle), org counted {}, servers' cpu {:.2} s",
                run + 1,
                figures.wall,
                figures.cpu,
                figures.rss / 1048576.0,
                figures.calls,
                figures.idle_calls,
                figures.org_calls,
                figures.server_cpu
            );
            results.push((variant.to_string(), figures));
        }
    }
    let _ = std::fs::remove_file(&routes_file);
    report(&results, backlog as f64, mean_size, runs);
    Ok(())
}

fn parse_result(stdout: &str) -> Option<Figures> {
    let line = stdout.lines().find(|l| l.starts_with("RESULT "))?;
    let mut f = Figures::default();
    for pair in line["RESULT ".len()..].split_whitespace() {
        let (k, v) = pair.split_once('=')?;
        let v: f64 = v.parse().ok()?;
        match k {
            "wall" => f.wall = v,
            "cpu" => f.cpu = v,
            "rss" => f.rss = v,
            "calls" => f.calls = v,
            "idle_calls" => f.idle_calls = v,
            "fetched" => f.fetched = v,
            _ => {}
        }
    }
    Some(f)
}

/// Median, min and max.
fn stats(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn report(results: &[(String, Figures)], events: f64, mean_size: f64, runs: usize) {
    let of = |variant: &str, pick: &dyn Fn(&Figures) -> f64| -> Vec<f64> {
        results
            .iter()
            .filter(|(v, _)| v == variant)
            .map(|(_, f)| pick(f))
            .collect()
    };
    // Ratios are taken run by run (each run has every variant on the same machine state).
    let ratio_to = |other: &str, pick: &dyn Fn(&Figures) -> f64| -> (f64, f64, f64) {
        let u = of("ucp", pick);
        let b = of(other, pick);
        stats(u.iter().zip(&b).map(|(u, b)| u / b).collect())
    };
    let ratio = |pick: &dyn Fn(&Figures) -> f64| ratio_to("baseline", pick);
    let show = |(m, lo, hi): (f64, f64, f64), digits: usize| {
        format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
    };
    println!(
        "\nend to end: {events} Okta events (mean {mean_size:.0} bytes of JSON) → sentinel (gzip), mdi, xspm hubs; {runs} run(s), median (min–max)"
    );
    println!("  ratios ucp / baseline (same run):");
    println!(
        "    source calls to drain   {}   (target 0.33)",
        show(ratio(&|f| f.calls), 3)
    );
    println!(
        "    source calls when idle  {}   (one poll per round each)",
        show(ratio(&|f| f.idle_calls), 3)
    );
    println!(
        "    events fetched          {}",
        show(ratio(&|f| f.fetched), 3)
    );
    println!(
        "    CPU per record          {}   (target ≤ 0.45)",
        show(ratio(&|f| f.cpu), 3)
    );
    println!("    peak RSS                {}", show(ratio(&|f| f.rss), 3));
    println!(
        "    wall time               {}",
        show(ratio(&|f| f.wall), 3)
    );
    println!("  ratios ucp / floor (same run):");
    println!(
        "    CPU per record          {}   (target ≤ 2)",
        show(ratio_to("floor", &|f| f.cpu), 3)
    );
    println!(
        "    peak RSS                {}",
        show(ratio_to("floor", &|f| f.rss), 3)
    );
    println!(
        "    wall time               {}",
        show(ratio_to("floor", &|f| f.wall), 3)
    );
    for variant in ["ucp", "baseline", "floor"] {
        println!("  {variant}:");
        println!(
            "    records/s (org events)  {}",
            show(stats(of(variant, &|f| events / f.wall)), 0)
        );
        println!(
            "    records/s per CPU-s     {}   (target ≥ 100,000 per core)",
            show(stats(of(variant, &|f| events / f.cpu)), 0)
        );
        println!(
            "    CPU-s per 1M records    {}",
            show(stats(of(variant, &|f| f.cpu / events * 1e6)), 2)
        );
        println!(
            "    peak RSS MiB            {}",
            show(stats(of(variant, &|f| f.rss / 1048576.0)), 0)
        );
        println!(
            "    events fetched          {}",
            show(stats(of(variant, &|f| f.fetched)), 0)
        );
        println!(
            "    source calls (drain)    {}",
            show(stats(of(variant, &|f| f.calls)), 0)
        );
        println!(
            "    org calls (all)         {}",
            show(stats(of(variant, &|f| f.org_calls)), 0)
        );
        println!(
            "    servers' CPU-s per 1M   {}   (simulator + emulators, separate process)",
            show(stats(of(variant, &|f| f.server_cpu / events * 1e6)), 2)
        );
    }
}

// ---------------------------------------------------------------- the child: one variant

struct Endpoints {
    org: String,
    entra: String,
    logs: String,
    hubs: String,
}

async fn credentials(entra: &str) -> Result<Arc<MemoryCredentials>, CredentialError> {
    let store = Arc::new(MemoryCredentials::new());
    let put = |name: &str, credential| {
        let store = store.clone();
        let name = name.to_string();
        async move {
            store
                .put(CredentialRef::new("default", name), credential)
                .await
        }
    };
    put(
        "okta",
        Credential::ApiToken {
            token: SecretString::from(OKTA_TOKEN),
        },
    )
    .await?;
    put(
        "entra",
        Credential::ClientSecret {
            token_url: entra.to_string(),
            client_id: "ucp-app".into(),
            secret: SecretString::from("app-secret"),
        },
    )
    .await?;
    put(
        "hubs-sas",
        Credential::SharedAccessKey {
            key_name: "send".into(),
            key: SecretString::from(HUB_KEY),
        },
    )
    .await?;
    Ok(store)
}

/// A platform with one Okta source and the given products: all three (ucp) or one
/// (one baseline connector). Everything in it is its own: clients, tokens, budget, cursor.
async fn platform(
    at: &Endpoints,
    products: &[&str],
) -> Result<RunningPlatform, Box<dyn std::error::Error>> {
    let okta = OktaSource::new(
        OktaConfig::new(&at.org, "okta")
            .start_ago(Duration::from_secs(7200))
            .rate_limit_per_minute(1_000_000)
            .quota_share(1.0),
    )?;
    let tokens = Arc::new(TokenProvider::new(Arc::new(HttpTokenFetcher::new()?)));
    let mut builder = Platform::builder()
        .credentials(credentials(&at.entra).await?)
        .health(Arc::new(MemoryHealth::new()))
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .dead_letters(Arc::new(MemoryDeadLetters::new()))
        .max_jitter(Duration::ZERO)
        .source("okta", okta);
    for product in products {
        builder = match *product {
            "sentinel" => {
                let mut config = SentinelConfig::new(&at.logs, DCR, STREAM, "entra");
                config.gzip = true;
                builder.sink("sentinel", SentinelSink::new(config, tokens.clone()))
            }
            hub => {
                let config = EventHubsConfig::new(
                    hub,
                    &at.hubs,
                    hub,
                    EventHubsAuth::SharedAccessKey {
                        credential: "hubs-sas".into(),
                    },
                )
                .partition_key("/actor/id");
                builder.sink(hub, EventHubsSink::new(config, tokens.clone()))
            }
        };
        builder = builder.subscribe(
            Subscription::new(*product, "okta", SYSTEM_LOG)
                .every(EVERY)
                .filter(filter(product)),
        );
    }
    Ok(builder.build()?.start().await?)
}

async fn delivered(platforms: &[RunningPlatform]) -> Vec<u64> {
    let mut counts = vec![0; PRODUCTS.len()];
    for p in platforms {
        let stats = p.stats().await;
        for (i, product) in PRODUCTS.iter().enumerate() {
            if let Some(s) = stats.subscription(product, "okta", SYSTEM_LOG) {
                counts[i] += s.records_delivered;
            }
        }
    }
    counts
}

/// Source calls and events fetched, over every platform.
async fn collected(platforms: &[RunningPlatform]) -> (u64, u64) {
    let (mut calls, mut fetched) = (0, 0);
    for p in platforms {
        if let Some(job) = p.stats().await.job("okta", SYSTEM_LOG) {
            calls += job.source_calls;
            fetched += job.records_collected;
        }
    }
    (calls, fetched)
}

async fn client(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [variant, org, entra, logs, hubs, expect, routes] = args else {
        return Err(
            "usage: e2e --client <ucp|baseline|floor> <org> <entra> <logs> <hubs> <a,b,c> <routes file>"
                .into(),
        );
    };
    let at = Endpoints {
        org: org.clone(),
        entra: entra.clone(),
        logs: logs.clone(),
        hubs: hubs.clone(),
    };
    let expected: Vec<u64> = expect
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let cpu_before = cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    if variant == "floor" {
        let routes = std::fs::read(routes)?;
        let pages = floor::run(&at, &routes).await?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds().unwrap_or(0.0) - cpu_before;
        let rss = peak_rss_bytes().unwrap_or(0);
        println!(
            "RESULT wall={wall} cpu={cpu} rss={rss} calls={pages} idle_calls=0 fetched={}",
            routes.len()
        );
        return Ok(());
    }
    let platforms = match variant.as_str() {
        "ucp" => vec![platform(&at, &PRODUCTS).await?],
        "baseline" => {
            let mut all = Vec::new();
            for product in PRODUCTS {
                all.push(platform(&at, &[product]).await?);
            }
            all
        }
        other => return Err(format!("unknown variant '{other}'").into()),
    };
    let deadline = started + Duration::from_secs(600);
    loop {
        let got = delivered(&platforms).await;
        if got.iter().zip(&expected).all(|(g, e)| g >= e) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{variant}: delivered {got:?} of {expected:?} after 600 s").into());
        }
        // The harness's own reading of the stats: rare enough to stay out of the figures.
        tokio::time::sleep(COMPLETION_POLL).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu_before;
    let (drained_calls, fetched) = collected(&platforms).await;
    tokio::time::sleep(IDLE).await;
    let idle_calls = collected(&platforms).await.0 - drained_calls;
    let rss = peak_rss_bytes().unwrap_or(0);
    for p in platforms {
        p.shutdown().await?;
    }
    println!(
        "RESULT wall={wall} cpu={cpu} rss={rss} calls={drained_calls} idle_calls={idle_calls} fetched={fetched}"
    );
    Ok(())
}

// ---------------------------------------------------------------- the floor

/// The cost of the bytes themselves: no platform, no parsing, filtering or mapping.
mod floor {
    use std::io::Write;
    use std::time::Duration;

    use bytes::Bytes;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use secrecy::SecretString;

    use super::{sas_token, Endpoints, DCR, DEFAULT_GZIP_LEVEL, HUB_KEY, OKTA_TOKEN, STREAM};

    const MAX_BODY: usize = 1024 * 1024;

    type Error = Box<dyn std::error::Error>;

    /// One product's endpoint and the body being filled for it.
    struct Outgoing {
        url: String,
        authorization: String,
        content_type: &'static str,
        gzip: bool,
        /// `[` and the rows so far.
        body: Vec<u8>,
    }

    impl Outgoing {
        /// Add `row`, first sending the body if the row would not fit in it.
        async fn add(&mut self, http: &reqwest::Client, row: &[u8]) -> Result<(), Error> {
            if self.body.len() > 1 && self.body.len() + row.len() + 2 > MAX_BODY {
                self.send(http).await?;
            }
            self.body
                .push(if self.body.is_empty() { b'[' } else { b',' });
            self.body.extend_from_slice(row);
            Ok(())
        }

        async fn send(&mut self, http: &reqwest::Client) -> Result<(), Error> {
            if self.body.is_empty() {
                return Ok(());
            }
            self.body.push(b']');
            let body = if self.gzip {
                let mut gz = GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 8),
                    Compression::new(DEFAULT_GZIP_LEVEL),
                );
                gz.write_all(&self.body)?;
                Bytes::from(gz.finish()?)
            } else {
                Bytes::copy_from_slice(&self.body)
            };
            self.body.clear();
            let mut request = http
                .post(&self.url)
                .header("authorization", &self.authorization)
                .header("content-type", self.content_type)
                .body(body);
            if self.gzip {
                request = request.header("content-encoding", "gzip");
            }
            let response = request.send().await?;
            if !response.status().is_success() {
                return Err(format!("{} answered {}", self.url, response.status()).into());
            }
            Ok(())
        }
    }

    /// One client-credentials token for the Logs Ingestion API.
    async fn entra_token(http: &reqwest::Client, url: &str) -> Result<String, Error> {
        let answer: serde_json::Value = http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=ucp-app&client_secret=app-secret&scope=https%3A%2F%2Fmonitor.azure.com%2F.default")
            .send()
            .await?
            .json()
            .await?;
        Ok(answer["access_token"]
            .as_str()
            .ok_or("the token endpoint gave no access_token")?
            .to_string())
    }

    /// The events of a page (a JSON array of objects): where each object starts and ends,
    /// found by the brackets and quotes alone.
    fn split(page: &[u8], events: &mut Vec<(usize, usize)>) {
        events.clear();
        let mut depth = 0u32;
        let mut start = 0;
        let mut i = 0;
        while i < page.len() {
            match page[i] {
                b'"' => {
                    i += 1;
                    while i < page.len() && page[i] != b'"' {
                        i += if page[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'{' | b'[' => {
                    if depth == 1 {
                        start = i;
                    }
                    depth += 1;
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 1 {
                        events.push((start, i + 1));
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// The `rel="next"` URL of a `Link` header.
    fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
        headers.get_all("link").iter().find_map(|value| {
            let value = value.to_str().ok()?;
            value.split(',').find_map(|link| {
                let (url, params) = link.split_once(';')?;
                params.contains("rel=\"next\"").then(|| {
                    url.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
            })
        })
    }

    /// Receive every event and send each to its products; returns the pages fetched.
    pub async fn run(at: &Endpoints, routes: &[u8]) -> Result<u64, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let token = entra_token(&http, &at.entra).await?;
        let expiry = chrono::Utc::now().timestamp().max(0) as u64 + 3600;
        let hub = |name: &str| {
            let resource = format!("{}/{name}", at.hubs.trim_end_matches('/'));
            let sas = sas_token(&resource, "send", &SecretString::from(HUB_KEY), expiry);
            Outgoing {
                url: format!("{resource}/messages?timeout=60&api-version=2014-01"),
                authorization: secrecy::ExposeSecret::expose_secret(&sas).to_string(),
                content_type: "application/vnd.microsoft.servicebus.json",
                gzip: false,
                body: Vec::with_capacity(MAX_BODY),
            }
        };
        let mut products = [
            Outgoing {
                url: format!(
                    "{}/dataCollectionRules/{DCR}/streams/{STREAM}?api-version=2023-01-01",
                    at.logs.trim_end_matches('/')
                ),
                authorization: format!("Bearer {token}"),
                content_type: "application/json",
                gzip: true,
                body: Vec::with_capacity(MAX_BODY),
            },
            hub("mdi"),
            hub("xspm"),
        ];
        let since = (chrono::Utc::now() - chrono::Duration::hours(2))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut url = format!(
            "{}/api/v1/logs?since={since}&sortOrder=ASCENDING&limit=1000",
            at.org.trim_end_matches('/')
        );
        let received_at = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let mut events = Vec::new();
        let mut row = Vec::with_capacity(8192);
        let mut received = 0usize;
        let mut pages = 0u64;
        while received < routes.len() {
            let response = http
                .get(&url)
                .header("authorization", format!("SSWS {OKTA_TOKEN}"))
                .header("accept", "application/json")
                .send()
                .await?;
            pages += 1;
            let next = next_link(response.headers()).ok_or("a page without a next link")?;
            let page = response.bytes().await?;
            split(&page, &mut events);
            for &(start, end) in &events {
                let event = &page[start..end];
                let products_of = routes.get(received).copied().unwrap_or(0);
                received += 1;
                for (i, product) in products.iter_mut().enumerate() {
                    if products_of & (1 << i) == 0 {
                        continue;
                    }
                    row.clear();
                    if i == 0 {
                        // A Logs Ingestion row: the event's fields and the time column.
                        row.extend_from_slice(b"{\"TimeGenerated\":\"");
                        row.extend_from_slice(received_at.as_bytes());
                        row.extend_from_slice(b"\",");
                        row.extend_from_slice(&event[1..]);
                    } else {
                        row.extend_from_slice(b"{\"Body\":");
                        serde_json::to_writer(&mut row, std::str::from_utf8(event)?)?;
                        row.push(b'}');
                    }
                    product.add(&http, &row).await?;
                }
            }
            url = next;
        }
        for product in &mut products {
            product.send(&http).await?;
        }
        Ok(pages)
    }
}
