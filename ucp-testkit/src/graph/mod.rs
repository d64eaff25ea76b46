//! A simulated Entra tenant's Microsoft Graph security API (v1.0), over loopback HTTP.
//!
//! Serves, under `{url}/v1.0`:
//!
//! - `GET /security/incidents`: incidents, newest first, with OData `$filter` (on
//!   `assignedTo`, `classification`, `createdDateTime`, `determination`,
//!   `lastUpdateDateTime`, `severity`, `status`; see [`odata`]), `$top`, `$skip`,
//!   `$count`, `$expand=alerts`, and `@odata.nextLink` while more remain;
//! - `GET /security/alerts_v2`: the same for alerts (also filterable on `serviceSource`);
//! - `POST /security/runHuntingQuery` `{"Query", "Timespan"}`: the 21 advanced hunting tables
//!   of the Defender XDR connector over generated rows (see [`hunting`]);
//! - `GET /security/incidents/{id}` (`$expand=alerts`), `PATCH /security/incidents/{id}`
//!   (the five updatable properties, `SecurityIncident.ReadWrite.All`; 200 with the incident)
//!   and `POST /security/incidents/{id}/comments` (200 with the whole list); people's edits
//!   in the portal come from [`GraphSimulator::edit_incident`] and
//!   [`GraphSimulator::comment_on_incident`], and every app write is kept
//!   ([`GraphSimulator::writes`]) with what it changed.
//!
//! Like Graph it takes an Entra access token for `https://graph.microsoft.com/.default`
//! (from the simulator's own Entra token endpoint, [`GraphSimulator::token_url`]; 401
//! `InvalidAuthenticationToken` otherwise), checks the app's application roles (403
//! `Forbidden`, "Missing application roles. API required roles: …"), and throttles each app
//! per minute and per hour ([`Limits`]; 429 `TooManyRequests` with `Retry-After`, counted
//! apart for incidents and alerts and for hunting). Every answer carries `request-id`, the
//! echoed `client-request-id` and `Date`; every error Graph's body.
//!
//! Time is a [`Clock`] plus an offset moved by [`GraphSimulator::advance`]. The tenant
//! changes as Defender's do: call [`GraphSimulator::advance_status`], `add_alert`, `merge`,
//! `open_incident` or `churn`, or set [`GraphSimConfig::churn_per_minute`] for changes as
//! time passes. `speed` compresses the throttling windows for demos and fast tests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ucp_testkit::graph::{GraphSimConfig, GraphSimulator};
//! let sim = GraphSimulator::start(GraphSimConfig::default().incidents(2_000).alerts(10_000)).await?;
//! sim.register_app("app-id", "app-secret", &["SecurityIncident.Read.All", "ThreatHunting.Read.All"]);
//! println!("Graph at {}, tokens at {}", sim.url(), sim.token_url());
//! # Ok(()) }
//! ```

mod edits;
mod errors;
pub mod hunting;
mod incident_routes;
pub(crate) mod limits;
pub mod odata;
mod server;
mod tenant;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;
use ucp_core::Clock;

use crate::token_endpoint::TokenEndpoint;

pub use edits::IncidentEdit;
pub(crate) use errors::request_id;
pub use limits::Limits;
pub use server::{ALERT_ROLES, HUNTING_ROLES, INCIDENT_ROLES, INCIDENT_WRITE_ROLES};

use hunting::{Hunting, TABLES};
use server::{lock, AppState, Churn, Counters, Shared, SimState};
use tenant::Tenant;

/// The scope a Graph access token must be issued for.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The simulated tenant's directory id.
pub const TENANT_ID: &str = "2f2d7b4c-8c1e-4f7a-9d2b-5e0c1a6b3d90";

/// A family of endpoints, as counted and throttled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /security/incidents`.
    Incidents,
    /// `GET /security/alerts_v2`.
    Alerts,
    /// `POST /security/runHuntingQuery`.
    Hunting,
    /// `PATCH /security/incidents/{id}` (throttled with incidents and alerts).
    IncidentUpdate,
    /// `POST /security/incidents/{id}/comments` (throttled with incidents and alerts).
    IncidentComment,
}

/// One write an app made to an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphWrite {
    /// The incident.
    pub incident: String,
    /// The app's client id.
    pub client: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The properties whose value it changed (`comments` for a comment); empty when the
    /// write changed nothing.
    pub changed: Vec<String>,
}

/// How the simulated tenant starts and behaves.
#[derive(Clone, Debug)]
pub struct GraphSimConfig {
    /// The clock the tenant's time follows.
    pub clock: Clock,
    /// Seed of every generator.
    pub seed: u64,
    /// Incidents at start.
    pub incidents: usize,
    /// Alerts at start, spread over the incidents.
    pub alerts: usize,
    /// The incidents were created over this span before the start.
    pub backlog: Duration,
    /// Hunting rows per hour, per table (default for every table).
    pub rows_per_hour: f64,
    /// Per-table overrides of `rows_per_hour`.
    pub table_rows_per_hour: HashMap<String, f64>,
    /// Hunting rows exist from this long before the start on.
    pub hunting_backlog: Duration,
    /// Most rows one hunting query returns.
    pub row_cap: usize,
    /// Throttling of incidents and alerts.
    pub security_limits: Limits,
    /// Throttling of hunting.
    pub hunting_limits: Limits,
    /// Time compression of the throttling windows (1 = real time).
    pub speed: f64,
    /// Random changes per minute of the tenant's time (0: none).
    pub churn_per_minute: f64,
    /// Items per page without `$top`.
    pub default_top: usize,
    /// Largest `$top` accepted.
    pub max_top: usize,
}

impl Default for GraphSimConfig {
    fn default() -> Self {
        GraphSimConfig {
            clock: Clock::new(),
            seed: 16,
            incidents: 0,
            alerts: 0,
            backlog: Duration::from_secs(7 * 24 * 3600),
            rows_per_hour: 0.0,
            table_rows_per_hour: HashMap::new(),
            hunting_backlog: Duration::from_secs(3600),
            row_cap: hunting::ROW_CAP,
            security_limits: Limits::SECURITY,
            hunting_limits: Limits::HUNTING,
            speed: 1.0,
            churn_per_minute: 0.0,
            default_top: 50,
            max_top: 1_000,
        }
    }
}

impl GraphSimConfig {
    /// Follow this clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
    /// Seed the generators.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Start with `n` incidents.
    pub fn incidents(mut self, n: usize) -> Self {
        self.incidents = n;
        self
    }
    /// Start with `n` alerts over the incidents.
    pub fn alerts(mut self, n: usize) -> Self {
        self.alerts = n;
        self
    }
    /// Create the starting incidents over `span` before the start.
    pub fn backlog(mut self, span: Duration) -> Self {
        self.backlog = span;
        self
    }
    /// `per_hour` hunting rows in every table, from `backlog` before the start on.
    pub fn hunting(mut self, per_hour: f64, backlog: Duration) -> Self {
        self.rows_per_hour = per_hour;
        self.hunting_backlog = backlog;
        self
    }
    /// `per_hour` rows in `table` instead.
    pub fn table_rows(mut self, table: &str, per_hour: f64) -> Self {
        self.table_rows_per_hour.insert(table.to_string(), per_hour);
        self
    }
    /// Return at most `rows` rows per hunting query.
    pub fn row_cap(mut self, rows: usize) -> Self {
        self.row_cap = rows;
        self
    }
    /// Throttle incidents and alerts at `limits`.
    pub fn security_limits(mut self, limits: Limits) -> Self {
        self.security_limits = limits;
        self
    }
    /// Throttle hunting at `limits`.
    pub fn hunting_limits(mut self, limits: Limits) -> Self {
        self.hunting_limits = limits;
        self
    }
    /// Compress the throttling windows `speed` times.
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = speed;
        self
    }
    /// Make `per_minute` random changes per minute of the tenant's time.
    pub fn churn_per_minute(mut self, per_minute: f64) -> Self {
        self.churn_per_minute = per_minute;
        self
    }
}

/// Counters of what the simulator answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphCounts {
    /// Requests per endpoint family (answered or refused).
    pub requests: HashMap<Endpoint, u64>,
    /// 429 answers.
    pub throttled: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// 403 answers.
    pub forbidden: u64,
    /// 400 answers.
    pub bad_requests: u64,
}

/// The most calls one app had in a throttling window, per family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeakUse {
    /// Incidents and alerts, in any minute.
    pub security_minute: u32,
    /// Incidents and alerts, in any hour.
    pub security_hour: u32,
    /// Hunting, in any minute.
    pub hunting_minute: u32,
    /// Hunting, in any hour.
    pub hunting_hour: u32,
}

/// A running simulated tenant. Dropping it stops the servers.
#[derive(Debug)]
pub struct GraphSimulator {
    shared: Shared,
    tokens: TokenEndpoint,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl GraphSimulator {
    /// Start on `127.0.0.1` (Graph and its token endpoint on ephemeral ports).
    pub async fn start(config: GraphSimConfig) -> std::io::Result<GraphSimulator> {
        Self::start_wrapped(config, |router| router).await
    }

    /// Like [`start`](Self::start), with Graph's router passed through `wrap` first (e.g.
    /// `|r| r.layer(faults.layer())`); the token endpoint is not wrapped.
    pub async fn start_wrapped(
        config: GraphSimConfig,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> std::io::Result<GraphSimulator> {
        let tokens = TokenEndpoint::start().await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let now = config.clock.now_utc();
        let backlog =
            chrono::Duration::from_std(config.backlog).unwrap_or(chrono::Duration::days(7));
        let tenant = Tenant::generate(
            config.seed,
            TENANT_ID,
            config.incidents,
            config.alerts,
            now - backlog,
            now,
        );
        let rates: Vec<f64> = TABLES
            .iter()
            .map(|t| {
                config
                    .table_rows_per_hour
                    .get(t.name)
                    .copied()
                    .unwrap_or(config.rows_per_hour)
            })
            .collect();
        let hunting_backlog = chrono::Duration::from_std(config.hunting_backlog)
            .unwrap_or(chrono::Duration::hours(1));
        let hunting = Hunting::new(config.seed, now - hunting_backlog, &rates, config.row_cap);
        let shared: Shared = Arc::new(Mutex::new(SimState {
            clock: config.clock,
            offset: chrono::Duration::zero(),
            tenant,
            hunting,
            roles: HashMap::new(),
            security: HashMap::new(),
            hunting_windows: HashMap::new(),
            security_limits: config.security_limits,
            hunting_limits: config.hunting_limits,
            speed: config.speed,
            counters: Counters::default(),
            churn: (config.churn_per_minute > 0.0).then_some(Churn {
                per_minute: config.churn_per_minute,
                last: now,
                carry: 0.0,
            }),
            default_top: config.default_top,
            max_top: config.max_top,
            base_url: url.clone(),
            writes: Vec::new(),
            before_update: std::collections::VecDeque::new(),
        }));
        let app = wrap(server::router(AppState {
            shared: shared.clone(),
            verifier: tokens.verifier(),
        }));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "graph simulator stopped");
            }
        });
        Ok(GraphSimulator {
            shared,
            tokens,
            url,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:<port>`: Graph's origin (the API is under `/v1.0`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Entra token URL of the simulated tenant.
    pub fn token_url(&self) -> String {
        self.tokens.entra_token_url(TENANT_ID)
    }

    /// The Entra authority (`http://127.0.0.1:<port>`) whose `/{tenant}/oauth2/v2.0/token`
    /// mints the tokens Graph accepts.
    pub fn authority(&self) -> &str {
        self.tokens.url()
    }

    /// The token endpoint, to register certificate apps, count or fail token requests.
    pub fn tokens(&self) -> &TokenEndpoint {
        &self.tokens
    }

    /// Register app `client_id` with a client secret, granted application `roles`.
    pub fn register_app(&self, client_id: &str, secret: &str, roles: &[&str]) {
        self.tokens.register_secret_client(client_id, secret);
        self.grant(client_id, roles);
    }

    /// Grant (replace) the application roles of `client_id`.
    pub fn grant(&self, client_id: &str, roles: &[&str]) {
        lock(&self.shared).roles.insert(
            client_id.to_string(),
            roles.iter().map(|r| r.to_string()).collect::<HashSet<_>>(),
        );
    }

    /// The tenant's current time.
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.shared).now()
    }

    /// Move the tenant's time forward.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        lock(&self.shared).offset += by;
    }

    /// Move incident `id` on (`active` → `inProgress` → `resolved`); false if it cannot.
    pub fn advance_status(&self, id: &str) -> bool {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        sim.tenant.advance_status(id, now)
    }

    /// A new alert in incident `id`; its id.
    pub fn add_alert(&self, id: &str) -> Option<String> {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        sim.tenant.add_alert(id, now)
    }

    /// Merge incident `from` into `into` (`from` becomes `redirected`); false if it cannot.
    pub fn merge(&self, from: &str, into: &str) -> bool {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        sim.tenant.merge(from, into, now)
    }

    /// A new incident with `alerts` alerts; its id.
    pub fn open_incident(&self, alerts: usize) -> String {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        sim.tenant.open(alerts, now)
    }

    /// A person's edit of incident `id` in the Defender portal, signed `by` (its
    /// `lastModifiedBy`); false if there is no such incident.
    pub fn edit_incident(&self, id: &str, by: &str, edit: IncidentEdit) -> bool {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        sim.tenant.edit(id, by, edit, now)
    }

    /// A person's edit of incident `id` that lands just before the next app's `PATCH` (of any
    /// incident) is applied: a change the app's update did not see.
    pub fn edit_before_next_update(&self, id: &str, by: &str, edit: IncidentEdit) {
        lock(&self.shared)
            .before_update
            .push_back((id.to_string(), by.to_string(), edit));
    }

    /// A person's comment on incident `id`; false if there is no such incident.
    pub fn comment_on_incident(&self, id: &str, by: &str, text: &str) -> bool {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        sim.tenant.comment(id, by, text, now).is_ok()
    }

    /// Incident `id` as served (alerts expanded).
    pub fn incident(&self, id: &str) -> Option<Value> {
        let sim = lock(&self.shared);
        sim.tenant
            .incidents
            .iter()
            .find(|i| i.id == id)
            .map(|i| sim.tenant.incident_json(i, true))
    }

    /// Every write an app made (`PATCH` and comments), in order.
    pub fn writes(&self) -> Vec<GraphWrite> {
        lock(&self.shared).writes.clone()
    }

    /// `n` random changes now, all at once.
    pub fn churn(&self, n: usize) {
        let mut sim = lock(&self.shared);
        let now = sim.now();
        for _ in 0..n {
            sim.tenant.churn(now);
        }
    }

    /// Every incident as served (alerts expanded), newest first.
    pub fn incidents(&self) -> Vec<Value> {
        let sim = lock(&self.shared);
        let mut all: Vec<_> = sim.tenant.incidents.iter().collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        all.into_iter()
            .map(|i| sim.tenant.incident_json(i, true))
            .collect()
    }

    /// Every incident's current version, `(id, lastUpdateDateTime)`.
    pub fn incident_versions(&self) -> Vec<(String, String)> {
        let sim = lock(&self.shared);
        sim.tenant
            .incidents
            .iter()
            .map(|i| (i.id.clone(), hunting::kusto_time(i.updated)))
            .collect()
    }

    /// Every alert's current version, `(id, lastUpdateDateTime)`, with its service source.
    pub fn alert_versions(&self) -> Vec<(String, String, String)> {
        let sim = lock(&self.shared);
        sim.tenant
            .alerts
            .iter()
            .map(|a| {
                (
                    a.id.clone(),
                    hunting::kusto_time(a.updated),
                    a.service_source.to_string(),
                )
            })
            .collect()
    }

    /// Rows of hunting table `table` stamped in `[from, to)` and visible now.
    pub fn hunting_rows(&self, table: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        let sim = lock(&self.shared);
        let now = sim.now();
        sim.hunting.count(table, from, to, now)
    }

    /// Answer queries on `table` as a tenant without its product does: 400, "Failed to
    /// resolve table …".
    pub fn remove_table(&self, table: &str) {
        lock(&self.shared).hunting.missing.insert(table.to_string());
    }

    /// When the hunting rows begin.
    pub fn hunting_origin(&self) -> DateTime<Utc> {
        lock(&self.shared).hunting.origin
    }

    /// `(table, rows returned)` of every hunting query answered, in order.
    pub fn hunting_queries(&self) -> Vec<(String, usize)> {
        lock(&self.shared).counters.hunting.clone()
    }

    /// What was answered so far.
    pub fn counts(&self) -> GraphCounts {
        let sim = lock(&self.shared);
        let c = &sim.counters;
        GraphCounts {
            requests: c.requests.clone(),
            throttled: c.throttled,
            unauthorized: c.unauthorized,
            forbidden: c.forbidden,
            bad_requests: c.bad_requests,
        }
    }

    /// The most calls any app had in one throttling window.
    pub fn peak_use(&self) -> PeakUse {
        let sim = lock(&self.shared);
        let peak = |windows: &HashMap<String, limits::Windows>| {
            windows.values().fold((0, 0), |(m, h), w| {
                (m.max(w.peak_minute), h.max(w.peak_hour))
            })
        };
        let (security_minute, security_hour) = peak(&sim.security);
        let (hunting_minute, hunting_hour) = peak(&sim.hunting_windows);
        PeakUse {
            security_minute,
            security_hour,
            hunting_minute,
            hunting_hour,
        }
    }
}

impl Drop for GraphSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
