//! An in-process simulator of an Okta org's System Log API (`GET /api/v1/logs`, also served
//! as `/api/v1/logs/` like Okta does).
//!
//! It speaks the real wire protocol over loopback HTTP: `since`, `until`, `after`, `limit`,
//! `filter` (a SCIM subset), `sortOrder`; `Link` headers with `rel="self"` and `rel="next"`;
//! polling versus bounded semantics (below); the three
//! `X-Rate-Limit-*` headers and a fresh `X-Okta-Request-Id` on every response, and
//! `429`/`E0000047` past the per-minute limit;
//! `Authorization: SSWS <token>` (and bearer tokens registered with
//! [`OktaSimulator::allow_bearer`]) with `401`/`E0000011` otherwise; injectable [`Fault`]s;
//! and counters so tests can assert exactly how many calls were made (and with which
//! `User-Agent`).
//!
//! The org also has **users** ([`OktaUser`], seeded with the people the System Log names:
//! most `ACTIVE`, some `SUSPENDED` and `DEPROVISIONED`) and the endpoints response actions
//! call: `GET /api/v1/users/{idOrLogin}`, `POST /api/v1/users/{id}/lifecycle/{suspend,
//! unsuspend, reset_factors}` and `DELETE /api/v1/users/{id}/sessions[?oauthTokens=true]`,
//! with Okta's state rules and codes (see `users_api.rs`), each counted per [`UserCall`] and
//! against its [`RateBucket`].
//!
//! Like a real org it is also its own OAuth 2.0 authorization server: `POST /oauth2/v1/token`
//! on the org URL ([`OktaSimulator::token_url`]) mints access tokens for service apps
//! (`client_credentials` + `private_key_jwt`) registered through [`OktaSimulator::oauth`], a
//! [`TokenEndpoint`] mounted on the org's router that verifies each signed assertion. The
//! System Log takes those tokens as `Authorization: Bearer` while they are live (401
//! `E0000011` once revoked or expired) and only with the `okta.logs.read` scope (403
//! `E0000006` and `WWW-Authenticate: Bearer error="insufficient_scope"` otherwise).
//!
//! **Polling** requests (no `until`, ascending) read events in the order they were persisted,
//! `since` bounds the persistence time, and the `next` link is always present, even on an
//! empty page; its `after` token resumes after the last event returned. **Bounded** requests
//! (`until`, or descending) select `published` in `[since, until)` and end without a `next`
//! link. Filters it cannot parse get `400`/`E0000053` (`Invalid filter '<filter>': <why>`),
//! other invalid parameters `400`/`E0000001` with one `errorCauses` entry naming the
//! parameter. Every error body carries a fresh `errorId` (`oae` + 22 characters) and
//! `errorCauses` (empty unless a validation failed), as Okta's do.
//!
//! Time comes from a [`Clock`] plus an offset the test moves with
//! [`OktaSimulator::advance`]: events are visible once their persistence time is at or
//! before that time. Some events can be **persisted late** (published in the past, visible
//! now): polling clients following `next` links still get them, while a client querying
//! `since`/`until` windows that already passed does not.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
//! let sim = OktaSimulator::start(OktaSimConfig::default().token("t0ken").backlog(500)).await?;
//! println!("Okta org at {}", sim.base_url());
//! # Ok(()) }
//! ```

pub(crate) mod errors;
mod events;
mod faults;
mod log;
mod query;
mod scim;
mod server;
mod users;
mod users_api;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use ucp_core::Clock;

use crate::token_endpoint::TokenEndpoint;

pub use events::{EventGenerator, LogEvent};
pub use faults::Fault;
pub use scim::{Op as ScimOp, Scim};
pub use users::{OktaUser, UserStatus};

use log::{EventLog, Live};
use server::{lock, Counters, RateWindow, Shared, SimState};
use users::Users;

/// How the simulated org behaves.
#[derive(Clone, Debug)]
pub struct OktaSimConfig {
    /// The clock the org's time follows (tests: `Clock::at(...)`).
    pub clock: Clock,
    /// Seed of the event generator.
    pub seed: u64,
    /// Domain of the generated users' logins.
    pub domain: String,
    /// Accepted `SSWS` tokens.
    pub tokens: Vec<String>,
    /// Events already in the log at start.
    pub backlog: usize,
    /// The backlog is published evenly over this span before the start time.
    pub backlog_span: Duration,
    /// Live events per second from the start time (0: none).
    pub live_per_second: f64,
    /// Every n-th live event is persisted late…
    pub late_every: Option<u64>,
    /// …by this much after it was published.
    pub late_by: Duration,
    /// Calls per minute the org allows on `/api/v1/logs`.
    pub rate_limit_per_minute: u32,
    /// Calls per minute of the "get a user by id or login" bucket (default 2,000, Okta's
    /// Workforce Identity figure).
    pub user_read_rate_limit_per_minute: u32,
    /// Calls per minute of the "most other API actions" bucket, where the lifecycle and
    /// session calls count (default 1,200, Okta's Workforce Identity figure).
    pub other_rate_limit_per_minute: u32,
    /// Time compression of the rate limit, for demos and fast tests: the org's minute
    /// window lasts `60 s / speed` of real time (default 1). Headers stay truthful: the
    /// limit and remaining calls per window, and the window's real end (epoch seconds,
    /// rounded up). Event times are not compressed.
    pub speed: f64,
    /// How far the org's clock is from the host's (positive: ahead). Everything the org
    /// says in time follows its own clock — the `Date` header, `X-Rate-Limit-Reset`, event
    /// times, `since` defaults — as a real provider with a skewed clock, or a host with one,
    /// would (default none).
    pub clock_offset: chrono::Duration,
    /// How long each `/api/v1/logs` answer takes (default none): a collection is then
    /// in flight long enough for a second, concurrent one to be seen.
    pub log_latency: Duration,
}

impl Default for OktaSimConfig {
    fn default() -> Self {
        OktaSimConfig {
            clock: Clock::new(),
            seed: 42,
            domain: "example.com".into(),
            tokens: Vec::new(),
            backlog: 0,
            backlog_span: Duration::from_secs(3600),
            live_per_second: 0.0,
            late_every: None,
            late_by: Duration::from_secs(120),
            rate_limit_per_minute: 600,
            user_read_rate_limit_per_minute: 2000,
            other_rate_limit_per_minute: 1200,
            speed: 1.0,
            clock_offset: chrono::Duration::zero(),
            log_latency: Duration::ZERO,
        }
    }
}

impl OktaSimConfig {
    /// Use this clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Run the org's clock `offset` ahead of the host's (negative: behind).
    pub fn clock_offset(mut self, offset: chrono::Duration) -> Self {
        self.clock_offset = offset;
        self
    }

    /// Seed the generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Accept this `SSWS` token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(token.into());
        self
    }

    /// Start with `events` in the log.
    pub fn backlog(mut self, events: usize) -> Self {
        self.backlog = events;
        self
    }

    /// Publish the backlog over `span` before the start.
    pub fn backlog_span(mut self, span: Duration) -> Self {
        self.backlog_span = span;
        self
    }

    /// Generate `per_second` live events.
    pub fn live(mut self, per_second: f64) -> Self {
        self.live_per_second = per_second;
        self
    }

    /// Persist every `every`-th live event `by` after it was published.
    pub fn late(mut self, every: u64, by: Duration) -> Self {
        self.late_every = Some(every);
        self.late_by = by;
        self
    }

    /// Every `/api/v1/logs` answer takes `latency`.
    pub fn log_latency(mut self, latency: Duration) -> Self {
        self.log_latency = latency;
        self
    }

    /// Allow `calls` per minute.
    pub fn rate_limit(mut self, calls: u32) -> Self {
        self.rate_limit_per_minute = calls;
        self
    }

    /// Allow `calls` per minute in the "most other API actions" bucket (the lifecycle and
    /// session calls).
    pub fn other_rate_limit(mut self, calls: u32) -> Self {
        self.other_rate_limit_per_minute = calls;
        self
    }

    /// Run the rate-limit window `speed` times faster than real time (see the field).
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = speed;
        self
    }

    /// The rate-limit window's length in real time.
    pub fn rate_window(&self) -> Duration {
        let speed = if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        };
        Duration::from_millis(((60_000.0 / speed).round() as u64).max(1))
    }
}

/// One visible event, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisibleEvent {
    /// `uuid`.
    pub uuid: String,
    /// `published`.
    pub published: DateTime<Utc>,
    /// `eventType`.
    pub event_type: String,
    /// The exact JSON text the API serves for it.
    pub json: String,
}

/// The org's rate-limit buckets the simulator counts separately, as Okta does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateBucket {
    /// "Get System Log data", `/api/v1/logs`.
    Logs,
    /// "Get a user by ID or login", `GET /api/v1/users/{idOrLogin}` only.
    UserRead,
    /// "Most other API actions", `/api/v1`: the lifecycle and session calls (Okta's "update
    /// or delete a user by ID" row names `/api/v1/users/{id}` *only*).
    Other,
}

/// The calls to the users endpoints the simulator counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserCall {
    /// `GET /api/v1/users/{idOrLogin}`.
    GetUser,
    /// `POST /api/v1/users/{id}/lifecycle/suspend`.
    Suspend,
    /// `POST /api/v1/users/{id}/lifecycle/unsuspend`.
    Unsuspend,
    /// `DELETE /api/v1/users/{id}/sessions`.
    ClearSessions,
    /// `POST /api/v1/users/{id}/lifecycle/reset_factors`.
    ResetFactors,
}

/// A running simulated org. Dropping it stops the server.
#[derive(Debug)]
pub struct OktaSimulator {
    shared: Shared,
    oauth: Arc<TokenEndpoint>,
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl OktaSimulator {
    /// Start the org on `127.0.0.1` with an ephemeral port.
    pub async fn start(config: OktaSimConfig) -> std::io::Result<OktaSimulator> {
        Self::start_wrapped(config, |router| router).await
    }

    /// Like [`OktaSimulator::start`], with the org's router passed through `wrap` first, e.g.
    /// `|router| router.layer(faults.layer())` to inject [`crate::faults`] in front of it.
    pub async fn start_wrapped(
        config: OktaSimConfig,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> std::io::Result<OktaSimulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let now = config.clock.now_utc() + config.clock_offset;
        let live = (config.live_per_second > 0.0).then_some(Live {
            start: now,
            per_second: config.live_per_second,
            late_every: config.late_every,
            late_by: config.late_by,
            next_index: 0,
        });
        let mut log = EventLog::new(EventGenerator::new(config.seed, &config.domain), live);
        let span = chrono::Duration::from_std(config.backlog_span)
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        log.backlog(config.backlog, now - span, now);
        log.advance(now);
        let oauth = Arc::new(TokenEndpoint::mounted(base_url.clone()));
        let window = |limit| RateWindow {
            limit,
            length_ms: config.rate_window().as_millis() as i64,
            window_end_ms: i64::MIN,
            used: 0,
        };
        let shared: Shared = Arc::new(Mutex::new(SimState {
            clock: config.clock,
            offset: config.clock_offset,
            log,
            ssws: config.tokens.iter().cloned().collect(),
            bearer: HashSet::new(),
            rate: window(config.rate_limit_per_minute),
            user_read_rate: window(config.user_read_rate_limit_per_minute),
            other_rate: window(config.other_rate_limit_per_minute),
            faults: Default::default(),
            counters: Counters::default(),
            log_latency: config.log_latency,
            authorized_requests: 0,
            base_url: base_url.clone(),
            oauth: oauth.clone(),
            users: Users::seeded(config.seed, &config.domain, now),
            read_only_ssws: HashSet::new(),
        }));
        let app = wrap(
            server::router(shared.clone())
                .merge(users_api::router(shared.clone()))
                .merge(oauth.okta_routes()),
        );
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "okta simulator stopped");
            }
        });
        Ok(OktaSimulator {
            shared,
            oauth,
            base_url,
            shutdown: Some(tx),
        })
    }

    /// The org authorization server: register service apps (their public keys and granted
    /// scopes), revoke tokens, count token requests, read issued tokens and assertions.
    pub fn oauth(&self) -> &TokenEndpoint {
        &self.oauth
    }

    /// `{org}/oauth2/v1/token`: the org authorization server's token URL.
    pub fn token_url(&self) -> String {
        self.oauth.okta_token_url()
    }

    /// `http://127.0.0.1:<port>`: the org URL to configure a client with.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `127.0.0.1:<port>`: the org's host and port.
    pub fn host(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }

    /// The org's current time (clock plus its offset and advances).
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.shared).now()
    }

    /// Move the org's time forward.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        let mut state = lock(&self.shared);
        state.offset += by;
        let now = state.now();
        state.log.advance(now);
    }

    /// Accept another `SSWS` token.
    pub fn allow_ssws(&self, token: impl Into<String>) {
        lock(&self.shared).ssws.insert(token.into());
    }

    /// Accept `Authorization: Bearer <token>` (an OAuth access token issued elsewhere).
    pub fn allow_bearer(&self, token: impl Into<String>) {
        lock(&self.shared).bearer.insert(token.into());
    }

    /// Stop accepting `token` (either scheme).
    pub fn revoke(&self, token: &str) {
        let mut state = lock(&self.shared);
        state.ssws.remove(token);
        state.bearer.remove(token);
    }

    /// Accept `token` as the `SSWS` token of a read-only administrator: it reads the log and
    /// users, and any change is refused with 403 `E0000006`.
    pub fn allow_read_only_ssws(&self, token: impl Into<String>) {
        lock(&self.shared).read_only_ssws.insert(token.into());
    }

    /// Every user, by id.
    pub fn users(&self) -> Vec<OktaUser> {
        lock(&self.shared).users.all().cloned().collect()
    }

    /// The user with this id or login.
    pub fn user(&self, id_or_login: &str) -> Option<OktaUser> {
        lock(&self.shared).users.find(id_or_login).cloned()
    }

    /// Users with `status`, by id.
    pub fn users_with_status(&self, status: UserStatus) -> Vec<OktaUser> {
        lock(&self.shared)
            .users
            .all()
            .filter(|u| u.status == status)
            .cloned()
            .collect()
    }

    /// Add a user, or replace the one with its id.
    pub fn put_user(&self, user: OktaUser) {
        lock(&self.shared).users.put(user);
    }

    /// Requests of `call` received (whatever the answer).
    pub fn user_calls(&self, call: UserCall) -> u64 {
        lock(&self.shared)
            .counters
            .user_calls
            .get(&call)
            .copied()
            .unwrap_or(0)
    }

    /// Requests to every users endpoint received.
    pub fn user_calls_total(&self) -> u64 {
        lock(&self.shared).counters.user_calls.values().sum()
    }

    /// Requests counted against `bucket` (the ones it refused with 429 included).
    pub fn bucket_calls(&self, bucket: RateBucket) -> u64 {
        lock(&self.shared)
            .counters
            .bucket_calls
            .get(&bucket)
            .copied()
            .unwrap_or(0)
    }

    /// Change the per-minute limit of `bucket`.
    pub fn set_bucket_limit(&self, bucket: RateBucket, calls: u32) {
        lock(&self.shared).window(bucket).limit = calls;
    }

    /// Persist `count` events published at `published` (in the past) now: they become
    /// visible at the org's current time. Returns their uuids.
    pub fn persist_late(
        &self,
        event_type: Option<&str>,
        published: DateTime<Utc>,
        count: usize,
    ) -> Vec<String> {
        let mut state = lock(&self.shared);
        let now = state.now();
        state.log.advance(now);
        let uuids = (0..count)
            .map(|_| {
                let event = state.log.generate(event_type, published);
                state.log.schedule(event, now)
            })
            .collect();
        state.log.advance(now);
        uuids
    }

    /// Publish and persist `count` events now. Returns their uuids.
    pub fn emit(&self, event_type: Option<&str>, count: usize) -> Vec<String> {
        let now = self.now();
        self.persist_late(event_type, now, count)
    }

    /// Every visible event, in persistence order.
    pub fn visible_events(&self) -> Vec<VisibleEvent> {
        let mut state = lock(&self.shared);
        let now = state.now();
        state.log.advance(now);
        state
            .log
            .visible()
            .iter()
            .map(|s| VisibleEvent {
                uuid: s.event.uuid.clone(),
                published: s.event.published,
                event_type: s.event.event_type.clone(),
                json: s.text.to_string(),
            })
            .collect()
    }

    /// Inject `fault` into the next log request that passes auth and the rate limit.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared).faults.push(fault);
    }

    /// Inject `fault` into the `request`-th log request that passes auth and the rate limit
    /// (1-based, counted from start).
    pub fn schedule_fault(&self, request: u64, fault: Fault) {
        lock(&self.shared).faults.schedule(request, fault);
    }

    /// Change the per-minute rate limit.
    pub fn set_rate_limit(&self, calls: u32) {
        lock(&self.shared).rate.limit = calls;
    }

    /// When the current rate-limit window ends (the org's time).
    pub fn rate_window_end(&self) -> DateTime<Utc> {
        let mut state = lock(&self.shared);
        let now = state.now();
        state.rate.roll_at(now);
        DateTime::from_timestamp_millis(state.rate.window_end_ms).unwrap_or(now)
    }

    /// Spend `calls` of the current minute's quota, as another application of the org would.
    pub fn consume_quota(&self, calls: u32) {
        let mut state = lock(&self.shared);
        let now = state.now();
        state.rate.roll_at(now);
        state.rate.used = state.rate.used.saturating_add(calls);
    }

    /// Requests to `/api/v1/logs` that presented `token` (any scheme, accepted or not).
    pub fn requests_with(&self, token: &str) -> u64 {
        lock(&self.shared)
            .counters
            .per_token
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// All requests to `/api/v1/logs`.
    pub fn requests(&self) -> u64 {
        lock(&self.shared).counters.log_requests
    }

    /// The most `/api/v1/logs` requests the org was answering at once: above one, two
    /// collectors read its log concurrently.
    pub fn max_concurrent_log_requests(&self) -> u64 {
        lock(&self.shared).counters.max_log_in_flight
    }

    /// `/api/v1/logs` requests being answered now.
    pub fn log_requests_in_flight(&self) -> u64 {
        lock(&self.shared).counters.log_in_flight
    }

    /// When the latest `/api/v1/logs` request arrived (host time), if any did.
    pub fn last_log_request(&self) -> Option<DateTime<Utc>> {
        lock(&self.shared).counters.last_log_request
    }

    /// `429` responses sent, all buckets.
    pub fn throttled(&self) -> u64 {
        lock(&self.shared).counters.throttled
    }

    /// `401` responses sent.
    pub fn unauthorized(&self) -> u64 {
        lock(&self.shared).counters.unauthorized
    }

    /// `403 E0000006` responses sent (a live access token without the scope a call needs,
    /// or a read-only administrator's token asked to change a user).
    pub fn forbidden(&self) -> u64 {
        lock(&self.shared).counters.forbidden
    }

    /// Every distinct `User-Agent` the org was called with, sorted.
    pub fn user_agents(&self) -> Vec<String> {
        let mut agents: Vec<String> = lock(&self.shared)
            .counters
            .user_agents
            .iter()
            .cloned()
            .collect();
        agents.sort();
        agents
    }

    /// The `X-Okta-Request-Id` of the latest response (every response carries a fresh one).
    pub fn last_request_id(&self) -> Option<String> {
        lock(&self.shared).counters.last_request_id.clone()
    }
}

impl Drop for OktaSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token_endpoint::{test_keys, KeyAlgorithm};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /// A client assertion for `aud`, signed with the test EC key.
    fn assertion(aud: &str, jti: &str) -> String {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": "app", "sub": "app", "aud": aud, "iat": now, "exp": now + 300, "jti": jti,
        });
        let key = EncodingKey::from_ec_pem(test_keys::EC_PRIVATE_PEM.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap()
    }

    async fn token(sim: &OktaSimulator, aud: &str, jti: &str, scope: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(sim.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("scope", scope),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &assertion(aud, jti)),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        let token = body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (status, token)
    }

    async fn logs(sim: &OktaSimulator, bearer: &str) -> (u16, String, Option<String>) {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/logs?limit=1", sim.base_url()))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        (status, response.text().await.unwrap(), challenge)
    }

    #[tokio::test]
    async fn the_org_is_its_own_authorization_server_and_checks_the_logs_scope() {
        let sim = OktaSimulator::start(OktaSimConfig::default().backlog(3))
            .await
            .unwrap();
        sim.oauth()
            .register_key_client("app", test_keys::EC_PUBLIC_PEM, KeyAlgorithm::ES256)
            .unwrap();
        assert_eq!(
            sim.token_url(),
            format!("{}/oauth2/v1/token", sim.base_url())
        );

        // The assertion's audience must be the org's own token URL.
        let (status, _) = token(
            &sim,
            "http://other.example/oauth2/v1/token",
            "j0",
            "okta.logs.read",
        )
        .await;
        assert_eq!(status, 401);

        let (status, logs_token) = token(&sim, &sim.token_url(), "j1", "okta.logs.read").await;
        assert_eq!(status, 200);
        let (status, body, _) = logs(&sim, &logs_token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(sim.requests_with(&logs_token), 1);

        // A live token without okta.logs.read: 403, like Okta.
        let (status, users_token) = token(&sim, &sim.token_url(), "j2", "okta.users.read").await;
        assert_eq!(status, 200);
        let (status, body, challenge) = logs(&sim, &users_token).await;
        assert_eq!(status, 403);
        assert!(body.contains("E0000006"), "{body}");
        assert!(challenge.unwrap().contains("insufficient_scope"));
        assert_eq!(sim.forbidden(), 1);

        // Unknown and revoked tokens: 401.
        assert_eq!(logs(&sim, "not-issued").await.0, 401);
        sim.oauth().revoke_all();
        let (status, body, _) = logs(&sim, &logs_token).await;
        assert_eq!(status, 401);
        assert!(body.contains("E0000011"), "{body}");
        assert_eq!(sim.unauthorized(), 2);
        assert_eq!(sim.oauth().token_requests(), 3);
    }
}
