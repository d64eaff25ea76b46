//! A provider whose clock is 5 minutes ahead of the host, or 5 minutes behind: rate-limit
//! pauses last as long as the provider's reset requires (± 2 s), and health warns about the
//! skew.
//!
//! The source here reads Okta's System Log through the partner HTTP kit, as every source on
//! the kit does (the shipped Okta source moves to the kit separately); the simulated org runs
//! its own clock `clock_offset` off the host's, in its `Date` header and its
//! `X-Rate-Limit-Reset` epochs alike.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::SecretString;
use tokio::time::Instant;
use ucp_core::health::{HealthKind, MemoryHealth, Status};
use ucp_core::http::{self, HttpFailure};
use ucp_core::*;
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};
use ucp_testkit::RecordingSink;

const TOKEN: &str = "ssws-skew-test";

/// One call as the source saw it: when it returned, and, when the org said no calls are
/// left, the wait its reset asks for on its own clock (reset minus its `Date`).
#[derive(Clone, Debug)]
struct Call {
    at: Instant,
    wait_asked: Option<Duration>,
}

/// The System Log read with the HTTP kit: polling with `since`, following `next` links.
struct KitSystemLog {
    base: String,
    token: SecretString,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// Seconds since the epoch in a header, if any.
fn epoch(headers: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl KitSystemLog {
    fn note(&self, headers: &reqwest::header::HeaderMap, status: u16) {
        let remaining = epoch(headers, "x-rate-limit-remaining");
        let reset = epoch(headers, "x-rate-limit-reset");
        let date = headers
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(http::http_date)
            .map(|d| d.timestamp());
        let wait_asked = match (remaining, reset, date) {
            (Some(0), Some(reset), Some(date)) | (_, Some(reset), Some(date))
                if status == 429 || remaining == Some(0) =>
            {
                u64::try_from(reset - date).ok().map(Duration::from_secs)
            }
            _ => None,
        };
        self.calls.lock().unwrap().push(Call {
            at: Instant::now(),
            wait_asked,
        });
    }
}

#[async_trait]
impl Source for KitSystemLog {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "okta".into(),
            streams: vec![StreamInfo::new("system_log", "the System Log")],
            capabilities: SourceCapabilities::default(),
            // Generous on purpose: the org's own headers are what stop the calls.
            budget: BudgetSpec::new(
                BudgetKey::new("okta", "skewed-org"),
                600,
                Duration::from_secs(60),
            ),
        }
    }

    async fn check(&self, _cx: &SourceContext) -> Result<(), SourceError> {
        Ok(())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        use secrecy::ExposeSecret;
        let what = "the skewed org's System Log";
        let url = match req.cursor.as_str() {
            Some(next) => next.to_string(),
            None => format!(
                "{}/api/v1/logs?limit=20&since={}",
                self.base,
                (Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ")
            ),
        };
        let response = cx
            .http()
            .get(&url)
            .header(
                "authorization",
                format!("SSWS {}", self.token.expose_secret()),
            )
            .send()
            .await
            .map_err(|e| http::transport_source_error(what, e))?;
        let received = cx.clock().now_utc();
        self.note(response.headers(), response.status().as_u16());
        if !response.status().is_success() {
            return Err(HttpFailure::from_response(response, received)
                .await
                .source_error(what));
        }
        let hint = http::rate_limit_hint(response.headers(), received);
        let next = http::next_link(response.headers());
        let events: Vec<serde_json::Value> =
            response.json().await.map_err(|e| SourceError::Malformed {
                message: e.to_string(),
            })?;
        let records: Vec<Record> = events
            .iter()
            .filter_map(|e| {
                let id = e["uuid"].as_str()?;
                let time = e["published"].as_str()?.parse().ok()?;
                Some(Record::new(id, time, e.to_string()))
            })
            .collect();
        Ok(Page {
            more: !records.is_empty() && next.is_some(),
            next: Cursor::new(next.unwrap_or(url)),
            records,
            hint,
        })
    }
}

async fn run_with_offset(minutes: i64) {
    let offset = chrono::Duration::minutes(minutes);
    // One host clock for the org and the platform: the org's offset is the only skew.
    let clock = Clock::new();
    let sim = OktaSimulator::start(
        OktaSimConfig::default()
            .clock(clock)
            .token(TOKEN)
            .backlog(400)
            .rate_limit(60)
            .clock_offset(offset),
    )
    .await
    .unwrap();
    // Early in a window, another application uses the org's 60 calls: the source's first
    // call is refused with most of the window still to wait.
    let next_window = (sim.rate_window_end() - sim.now()).to_std().unwrap();
    tokio::time::sleep(next_window + Duration::from_millis(200)).await;
    sim.consume_quota(60);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let source = KitSystemLog {
        base: sim.base_url().to_string(),
        token: SecretString::from(TOKEN),
        calls: calls.clone(),
    };
    let health = Arc::new(MemoryHealth::new());
    let sink = RecordingSink::new("sentinel");
    let running = Platform::builder()
        .clock(clock)
        .health(health.clone())
        .max_jitter(Duration::ZERO)
        .source("okta", source)
        .sink("sentinel", sink.clone())
        .subscribe(
            Subscription::new("sentinel", "okta", "system_log").every(Duration::from_secs(60)),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(200)).await;
    running.shutdown().await.unwrap();

    let calls = calls.lock().unwrap().clone();
    // The first time the org said "none left": the next call waits for its reset on the
    // org's clock, not this host's (which would add or cut 5 minutes).
    let first = calls
        .iter()
        .position(|c| c.wait_asked.is_some())
        .unwrap_or_else(|| panic!("clock {minutes:+} min: the call was refused: {calls:?}"));
    let asked = calls[first].wait_asked.unwrap_or_default();
    assert!(
        asked >= Duration::from_secs(30),
        "clock {minutes:+} min: most of the window is left: {asked:?}"
    );
    let next = calls
        .get(first + 1)
        .unwrap_or_else(|| panic!("clock {minutes:+} min: no call after the reset: {calls:?}"));
    let took = next.at.saturating_duration_since(calls[first].at);
    // The reset and the Date are whole seconds: the wait asked is ± 1 s already.
    assert!(
        took.as_secs_f64() >= asked.as_secs_f64() - 2.0
            && took.as_secs_f64() <= asked.as_secs_f64() + 2.0,
        "clock {minutes:+} min: the org asked for {asked:?}, the pause lasted {took:?}"
    );
    assert!(
        !sink.ids().is_empty(),
        "clock {minutes:+} min: collection went on after the reset"
    );

    let way = if minutes > 0 { "ahead of" } else { "behind" };
    let warnings: Vec<String> = health
        .events()
        .into_iter()
        .filter(|e| e.kind == HealthKind::Budget && e.status == Status::Warning)
        .map(|e| e.message)
        .filter(|m| m.contains("clock"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|m| near_five_minutes(m) && m.contains(way) && m.contains("okta/system_log")),
        "clock {minutes:+} min: the skew is a health Warning: {warnings:?}"
    );
}

/// The message names a skew of 5 minutes, ± 2 s (`Date` has whole seconds).
fn near_five_minutes(message: &str) -> bool {
    [
        "4 min 58 s",
        "4 min 59 s",
        "5 min 0 s",
        "5 min 1 s",
        "5 min 2 s",
    ]
    .iter()
    .any(|skew| message.contains(skew))
}

#[tokio::test(start_paused = true)]
async fn a_provider_clock_five_minutes_ahead_changes_no_pause_and_is_warned_about() {
    run_with_offset(5).await;
}

#[tokio::test(start_paused = true)]
async fn a_provider_clock_five_minutes_behind_changes_no_pause_and_is_warned_about() {
    run_with_offset(-5).await;
}
