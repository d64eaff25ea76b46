//! A partner runs the source suite against their OWN provider simulator. Everything a
//! partner writes is in this file: a small simulator of their "Widgets" audit API, a source
//! for it, and two fixtures. The same source passes the suite with the simulator in process
//! (its router wrapped with each check's fault layer) and out of process (reachable only over
//! HTTP, a `FaultProxy` in front, events appended through the simulator's own control
//! endpoint). `docs/conformance.md` walks through it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use ucp_core::credentials::Credential;
use ucp_core::http::{self, HttpFailure};
use ucp_core::{
    BudgetKey, BudgetSpec, CollectRequest, Cursor, Page, RateLimitHint, Record, Source,
    SourceCapabilities, SourceContext, SourceError, SourceInfo, StreamInfo,
};
use ucp_testkit::conformance::{
    source_suite, Outcome, ProviderSetup, Quota, RateLimitDialect, SourceFixture,
};
use ucp_testkit::faults::FaultProxy;

// ------------------------------------------------------------- the provider simulator

const GOOD_KEY: &str = "widgets-key-7f3a91";
const BAD_KEY: &str = "widgets-key-revoked-0c22";
/// Calls per minute the simulated account allows.
const CALLS_PER_MINUTE: u32 = 600;

#[derive(Default)]
struct Account {
    events: Vec<Value>,
    window: Option<(Instant, u32)>,
}

type Shared = Arc<Mutex<Account>>;

fn lock(account: &Shared) -> MutexGuard<'_, Account> {
    account.lock().unwrap_or_else(|e| e.into_inner())
}

/// Append `count` events stamped now; their ids.
fn append(account: &Shared, count: usize) -> Vec<String> {
    let mut account = lock(account);
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    (0..count)
        .map(|_| {
            let n = account.events.len() + 1;
            let id = format!("w-{n:06}");
            account.events.push(json!({
                "id": id,
                "at": at,
                "action": "widget.updated",
                "actor": format!("user-{}", n % 7),
            }));
            id
        })
        .collect()
}

#[derive(Deserialize)]
struct AuditQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /v2/audit?cursor=<position>&limit=<n>` with `Authorization: Token <key>`: a page
/// `{"items": [...], "next_cursor": "<position>", "has_more": bool}`, the quota stated in the
/// IETF draft's `RateLimit-*` headers, 429 past 600 calls a minute.
async fn audit(
    State(account): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        (status, Json(json!({ "message": message }))).into_response()
    };
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if key != Some(format!("Token {GOOD_KEY}").as_str()) {
        return refuse(StatusCode::UNAUTHORIZED, "invalid API key");
    }
    let Some(start) = query.cursor.as_deref().unwrap_or("0").parse::<usize>().ok() else {
        return refuse(StatusCode::BAD_REQUEST, "cursor must be a position");
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let mut account = lock(&account);

    // One fixed window per minute, stated in the IETF draft dialect.
    let now = Instant::now();
    let (opened, used) = match account.window {
        Some((opened, used)) if now.duration_since(opened) < Duration::from_secs(60) => {
            (opened, used + 1)
        }
        _ => (now, 1),
    };
    account.window = Some((opened, used));
    let quota = Quota::per_minute(
        CALLS_PER_MINUTE,
        CALLS_PER_MINUTE.saturating_sub(used),
        Duration::from_secs(60).saturating_sub(now.duration_since(opened)),
    );
    let refusing = used > CALLS_PER_MINUTE;
    let stated = RateLimitDialect::IetfDraft.headers(&quota, Utc::now(), refusing);
    if refusing {
        return (
            stated_headers(stated),
            refuse(StatusCode::TOO_MANY_REQUESTS, "slow down"),
        )
            .into_response();
    }

    let end = start.saturating_add(limit).min(account.events.len());
    let items = account.events.get(start..end).unwrap_or_default();
    let page = json!({
        "items": items,
        "next_cursor": end.max(start).to_string(),
        "has_more": end < account.events.len(),
    });
    (stated_headers(stated), Json(page)).into_response()
}

fn stated_headers(stated: Vec<(header::HeaderName, header::HeaderValue)>) -> HeaderMap {
    stated.into_iter().collect()
}

#[derive(Deserialize)]
struct AppendQuery {
    count: usize,
}

/// `POST /_sim/events?count=<n>`: the simulator's control plane (tests only, not part of
/// the Widgets API): append events, answer their ids.
async fn control_append(
    State(account): State<Shared>,
    Query(query): Query<AppendQuery>,
) -> Json<Vec<String>> {
    Json(append(&account, query.count.min(10_000)))
}

/// A running Widgets simulator on 127.0.0.1. Stops when dropped.
struct WidgetsApi {
    url: String,
    account: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for WidgetsApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl WidgetsApi {
    /// Serve the simulator, its router passed through `wrap` first (the fault layer).
    async fn start(wrap: impl FnOnce(Router) -> Router) -> std::io::Result<WidgetsApi> {
        let account = Shared::default();
        let app = wrap(
            Router::new()
                .route("/v2/audit", get(audit))
                .route("/_sim/events", post(control_append))
                .with_state(account.clone()),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WidgetsApi {
            url,
            account,
            server,
        })
    }
}

// ------------------------------------------------------------------ the partner's source

/// Reads the Widgets audit stream, one page per call.
struct WidgetsSource {
    base_url: String,
    credential: String,
    page_size: usize,
    timeout: Duration,
}

#[derive(Deserialize)]
struct AuditPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    next_cursor: String,
    has_more: bool,
}

#[derive(Deserialize)]
struct AuditEvent {
    id: String,
    at: DateTime<Utc>,
}

impl WidgetsSource {
    fn new(base_url: &str, credential: &str, page_size: usize, timeout: Duration) -> Self {
        WidgetsSource {
            base_url: base_url.to_string(),
            credential: credential.to_string(),
            page_size,
            timeout,
        }
    }

    async fn get(
        &self,
        cx: &SourceContext,
        cursor: &str,
        limit: usize,
    ) -> Result<(bytes::Bytes, Option<RateLimitHint>), SourceError> {
        let Credential::ApiToken { token } = cx.credential(&self.credential).await? else {
            return Err(SourceError::Config {
                message: format!("credential '{}' must be an API key", self.credential),
            });
        };
        let mut key = header::HeaderValue::from_str(&format!("Token {}", token.expose_secret()))
            .map_err(|_| SourceError::Config {
                message: format!("credential '{}' is not a valid API key", self.credential),
            })?;
        key.set_sensitive(true);
        // The platform's client (ucp's User-Agent, timeouts, safe redirects), and the HTTP
        // kit to read the answer: any status and any rate-limit dialect, written once.
        let what = format!("Widgets at {}", self.base_url);
        let response = cx
            .http()
            .get(format!("{}/v2/audit", self.base_url))
            .query(&[("cursor", cursor.to_string()), ("limit", limit.to_string())])
            .header(header::AUTHORIZATION, key)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http::transport_source_error(&what, e))?;
        let received = cx.clock().now_utc();
        if !response.status().is_success() {
            return Err(HttpFailure::from_response(response, received)
                .await
                .source_error(&what));
        }
        let hint = http::rate_limit_hint(response.headers(), received);
        let body = response
            .bytes()
            .await
            .map_err(|e| http::transport_source_error(&what, e))?;
        Ok((body, hint))
    }
}

#[async_trait]
impl Source for WidgetsSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "widgets".into(),
            streams: vec![StreamInfo::new("audit", "Widgets audit events")],
            capabilities: SourceCapabilities::default(),
            budget: BudgetSpec::new(
                BudgetKey::new("widgets", &self.base_url),
                CALLS_PER_MINUTE,
                Duration::from_secs(60),
            )
            .share(0.5),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        self.get(cx, "0", 1).await.map(|_| ())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let cursor = req.cursor.as_str().unwrap_or("0").to_string();
        let (body, hint) = self.get(cx, &cursor, self.page_size).await?;
        let malformed = |e: serde_json::Error| SourceError::Malformed {
            message: format!("Widgets page after {cursor}: {e}"),
        };
        let page: AuditPage = serde_json::from_slice(&body).map_err(malformed)?;
        let mut records = Vec::with_capacity(page.items.len());
        for raw in page.items {
            let event: AuditEvent = serde_json::from_str(raw.get()).map_err(malformed)?;
            records.push(Record::new(
                event.id,
                event.at,
                body.slice_ref(raw.get().as_bytes()),
            ));
        }
        Ok(Page {
            records,
            next: Cursor::new(page.next_cursor),
            more: page.has_more,
            hint,
        })
    }
}

// ---------------------------------------------------------------- the partner's fixtures

const CREDENTIAL: &str = "widgets-key";
const PAGE_SIZE: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(2);

fn api_key(key: &str) -> Vec<(String, Credential)> {
    vec![(
        CREDENTIAL.to_string(),
        Credential::ApiToken {
            token: SecretString::from(key.to_string()),
        },
    )]
}

/// In process: the simulator's router wrapped with the check's fault layer; events appended
/// straight into its memory.
struct InProcess;

#[async_trait]
impl SourceFixture for InProcess {
    type Provider = WidgetsApi;

    async fn start(&self, setup: ProviderSetup) -> Result<WidgetsApi, String> {
        let layer = setup.faults.layer();
        let api = WidgetsApi::start(|router| router.layer(layer))
            .await
            .map_err(|e| format!("the Widgets simulator did not start: {e}"))?;
        append(&api.account, setup.events);
        Ok(api)
    }

    async fn emit(&self, api: &WidgetsApi, count: usize) -> Result<Vec<String>, String> {
        Ok(append(&api.account, count))
    }

    fn stream(&self) -> String {
        "audit".into()
    }

    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        api_key(GOOD_KEY)
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        api_key(BAD_KEY)
    }

    fn future_cursor(&self, _api: &WidgetsApi) -> Option<Cursor> {
        Some(Cursor::new("1000000"))
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }

    // `rate_limit_dialects` keeps its default, every dialect: this source reads them all.
}

/// Out of process: a simulator the test cannot wrap (here started plainly; in a partner's
/// tests, their simulator binary started in `start` and killed on drop), reached over HTTP
/// only. The fault proxy stands in front of it; events are appended through the
/// simulator's control endpoint, directly, so they do not count as the source's requests.
struct OutOfProcess;

struct Remote {
    proxy: FaultProxy,
    control: String,
    http: reqwest::Client,
    /// Keeps the simulator running; a child process handle in a partner's tests.
    _simulator: WidgetsApi,
}

impl Remote {
    async fn append(&self, count: usize) -> Result<Vec<String>, String> {
        let response = self
            .http
            .post(&self.control)
            .query(&[("count", count)])
            .send()
            .await
            .map_err(|e| format!("the simulator's control endpoint: {e}"))?;
        response
            .json()
            .await
            .map_err(|e| format!("the simulator's control endpoint answered: {e}"))
    }
}

#[async_trait]
impl SourceFixture for OutOfProcess {
    type Provider = Remote;

    async fn start(&self, setup: ProviderSetup) -> Result<Remote, String> {
        let simulator = WidgetsApi::start(|router| router)
            .await
            .map_err(|e| format!("the Widgets simulator did not start: {e}"))?;
        let proxy = FaultProxy::start(simulator.url.clone(), &setup.faults)
            .await
            .map_err(|e| format!("the fault proxy did not start: {e}"))?;
        let remote = Remote {
            proxy,
            control: format!("{}/_sim/events", simulator.url),
            http: reqwest::Client::new(),
            _simulator: simulator,
        };
        remote.append(setup.events).await?;
        Ok(remote)
    }

    async fn emit(&self, remote: &Remote, count: usize) -> Result<Vec<String>, String> {
        remote.append(count).await
    }

    fn stream(&self) -> String {
        "audit".into()
    }

    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        api_key(GOOD_KEY)
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        api_key(BAD_KEY)
    }

    fn future_cursor(&self, _remote: &Remote) -> Option<Cursor> {
        Some(Cursor::new("1000000"))
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }

    /// The Widgets API speaks the IETF draft: the check that matters for this provider.
    fn rate_limit_dialects(&self) -> Vec<RateLimitDialect> {
        vec![RateLimitDialect::IetfDraft]
    }
}

// ------------------------------------------------------------------------------ the runs

fn rate_limit_checks(report: &ucp_testkit::conformance::SuiteReport) -> Vec<&'static str> {
    report
        .checks
        .iter()
        .map(|c| c.name)
        .filter(|name| name.starts_with("rate_limit["))
        .collect()
}

#[tokio::test]
async fn widgets_source_passes_the_suite_against_its_simulator_in_process() {
    let factory = |api: &WidgetsApi| {
        Ok::<_, Infallible>(WidgetsSource::new(&api.url, CREDENTIAL, PAGE_SIZE, TIMEOUT))
    };
    let report = source_suite(factory, InProcess).await;
    println!("{report}");
    report.assert_all_passed();
    // Every check applies, every dialect's included.
    assert!(
        report.checks.iter().all(|c| c.outcome == Outcome::Passed),
        "{report}"
    );
    let every: Vec<&str> = RateLimitDialect::ALL
        .iter()
        .map(|d| d.check_name())
        .collect();
    assert_eq!(rate_limit_checks(&report), every);
}

#[tokio::test]
async fn widgets_source_passes_the_suite_through_the_fault_proxy() {
    let factory = |remote: &Remote| {
        Ok::<_, Infallible>(WidgetsSource::new(
            &remote.proxy.base_url(),
            CREDENTIAL,
            PAGE_SIZE,
            TIMEOUT,
        ))
    };
    let report = source_suite(factory, OutOfProcess).await;
    println!("{report}");
    report.assert_all_passed();
    assert!(
        report.checks.iter().all(|c| c.outcome == Outcome::Passed),
        "{report}"
    );
    assert_eq!(
        rate_limit_checks(&report),
        [RateLimitDialect::IetfDraft.check_name()]
    );
}

#[tokio::test]
async fn the_simulator_states_its_quota_and_throttles_past_it() {
    let api = WidgetsApi::start(|router| router).await.unwrap();
    append(&api.account, 3);
    let client = reqwest::Client::new();
    let call = || {
        client
            .get(format!("{}/v2/audit?limit=2", api.url))
            .header("Authorization", format!("Token {GOOD_KEY}"))
            .send()
    };
    let first = call().await.unwrap();
    assert_eq!(first.headers()["ratelimit-remaining"], "599");
    assert_eq!(first.headers()["ratelimit-policy"], "600;w=60");
    let page: Value = first.json().await.unwrap();
    assert_eq!(
        (page["next_cursor"].as_str(), page["has_more"].as_bool()),
        (Some("2"), Some(true))
    );
    lock(&api.account).window = Some((Instant::now(), CALLS_PER_MINUTE));
    let throttled = call().await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["ratelimit-remaining"], "0");
    let reset: u64 = throttled.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&reset), "{reset}");
}

// ------------------------------ every dialect the fault layer speaks, read back by the kit

mod quota_reader {
    use proptest::prelude::*;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    proptest! {
        /// What any dialect states is read back: the counts, and the reset as an instant
        /// (or, for `Retry-After`, as a delay).
        #[test]
        fn every_dialect_reads_back(
            dialect in proptest::sample::select(RateLimitDialect::ALL.to_vec()),
            limit in any::<u32>(),
            remaining in any::<u32>(),
            reset_in in 0u64..86_400,
            now in 1_600_000_000i64..4_000_000_000,
        ) {
            let now = at(now);
            let quota = Quota::per_minute(limit, remaining, Duration::from_secs(reset_in));
            let headers: header::HeaderMap =
                dialect.headers(&quota, now, true).into_iter().collect();
            let hint = http::rate_limit_hint(&headers, now).unwrap();
            let reset = now + chrono::Duration::seconds(reset_in as i64);
            if dialect.states_quota() {
                prop_assert_eq!((hint.limit, hint.remaining), (Some(limit), Some(remaining)));
                prop_assert_eq!(hint.reset, Some(reset));
            } else {
                prop_assert_eq!(hint.retry_after, Some(Duration::from_secs(reset_in)));
            }
        }
    }
}
