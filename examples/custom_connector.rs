//! A partner's connector in one file: a `Source` for the "Acme" events API and a `Sink` for
//! products that take NDJSON files, run for three products with their own filters.
//!
//! With no configuration it starts Acme's API simulator on 127.0.0.1 (a backlog plus a live
//! event every 100 ms), so it runs anywhere:
//!
//! ```text
//! cargo run --release --example custom_connector -- --duration 10
//! ```
//!
//! It prints progress every second and ends with a summary: how many calls the API
//! received (once per round for all three products), what each product got, and health.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::AsyncWriteExt;
use ucp::budget::{BudgetKey, BudgetSpec};
use ucp::*;
use ucp_testkit::demo_api::DemoApi;
use ucp_testkit::EventLog;

// ---------------------------------------------------------------- the partner's Source

/// Acme's events API: `GET /v1/events?after=<position>&limit=<n>`, bearer token, rate-limit
/// headers, 429 when over the limit.
struct AcmeSource {
    base_url: String,
    account: String,
    credential: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct AcmePage<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    next: String,
    has_more: bool,
}

#[derive(Deserialize)]
struct AcmeEvent {
    uuid: String,
    published: DateTime<Utc>,
}

impl AcmeSource {
    async fn get(
        &self,
        cx: &SourceContext,
        query: &[(&str, String)],
    ) -> Result<(RateLimitHint, bytes::Bytes), SourceError> {
        let token = match cx.credential(&self.credential).await? {
            Credential::ApiToken { token } => token,
            other => {
                return Err(SourceError::Config {
                    message: format!(
                        "credential '{}' is a {}, Acme needs an API token",
                        self.credential,
                        other.kind()
                    ),
                })
            }
        };
        use secrecy::ExposeSecret;
        let response = self
            .http
            .get(format!("{}/v1/events", self.base_url))
            .query(query)
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| SourceError::Retryable {
                message: format!("Acme {}: {e}", self.account),
                retry_after: None,
            })?;
        let hint = hint_from(response.headers());
        match response.status().as_u16() {
            200 => {}
            401 | 403 => {
                return Err(SourceError::Auth {
                    message: format!(
                        "Acme account {} rejected the API token '{}'",
                        self.account, self.credential
                    ),
                })
            }
            429 => {
                return Err(SourceError::RateLimited {
                    message: format!("Acme account {} throttled the call", self.account),
                    hint: RateLimitHint {
                        throttled: true,
                        ..hint
                    },
                })
            }
            status => {
                return Err(SourceError::Retryable {
                    message: format!("Acme account {} answered {status}", self.account),
                    retry_after: hint.retry_after,
                })
            }
        }
        let body = response.bytes().await.map_err(|e| SourceError::Retryable {
            message: format!("Acme {}: body cut short: {e}", self.account),
            retry_after: None,
        })?;
        Ok((hint, body))
    }
}

fn hint_from(headers: &reqwest::header::HeaderMap) -> RateLimitHint {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.parse::<i64>().ok();
    RateLimitHint {
        limit: number("x-ratelimit-limit").map(|n| n as u32),
        remaining: number("x-ratelimit-remaining").map(|n| n as u32),
        reset: number("x-ratelimit-reset").and_then(|s| DateTime::from_timestamp(s, 0)),
        retry_after: number("retry-after").map(|s| Duration::from_secs(s as u64)),
        throttled: false,
    }
}

#[async_trait]
impl Source for AcmeSource {
    fn describe(&self) -> SourceInfo {
        SourceInfo {
            provider: "acme".into(),
            streams: vec![StreamInfo::new("events", "Acme's audit events")],
            capabilities: SourceCapabilities::default(),
            // Acme allows 120 calls a minute per account; leave half for other applications.
            budget: BudgetSpec::new(
                BudgetKey::new("acme", &self.account),
                120,
                Duration::from_secs(60),
            )
            .share(0.5),
        }
    }

    async fn check(&self, cx: &SourceContext) -> Result<(), SourceError> {
        self.get(cx, &[("limit", "1".into())]).await.map(|_| ())
    }

    async fn collect(&self, cx: &SourceContext, req: CollectRequest) -> Result<Page, SourceError> {
        let after = req.cursor.as_str().unwrap_or("0").to_string();
        let (hint, body) = self
            .get(cx, &[("after", after.clone()), ("limit", "1000".into())])
            .await?;
        let malformed = |e: serde_json::Error| SourceError::Malformed {
            message: format!("Acme {}: page after {after}: {e}", self.account),
        };
        let page: AcmePage = serde_json::from_slice(&body).map_err(malformed)?;
        let mut records = Vec::with_capacity(page.events.len());
        for raw in page.events {
            let event: AcmeEvent = serde_json::from_str(raw.get()).map_err(malformed)?;
            // Keep the provider's bytes as they came: a slice of the body, not a copy.
            let payload = body.slice_ref(raw.get().as_bytes());
            records.push(Record::new(event.uuid, event.published, payload));
        }
        Ok(Page {
            records,
            next: Cursor::new(page.next),
            more: page.has_more,
            hint: Some(hint),
        })
    }
}

// ---------------------------------------------------------------- the partner's Sink

/// A product that ingests NDJSON files: one line per record.
struct NdjsonProduct {
    path: PathBuf,
}

#[async_trait]
impl Sink for NdjsonProduct {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new("ndjson-file")
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| SinkError::Permanent {
                message: format!("cannot create {}: {e}", dir.display()),
            })
    }

    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let mut lines = Vec::with_capacity(batch.payload_bytes() + batch.len());
        for record in batch.records.iter() {
            lines.extend_from_slice(&record.payload);
            lines.push(b'\n');
        }
        let failed = |e: std::io::Error| SinkError::Retryable {
            message: format!("{}: {e}", self.path.display()),
            retry_after: None,
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(failed)?;
        file.write_all(&lines).await.map_err(failed)?;
        file.flush().await.map_err(failed)?;
        Ok(Delivery::all())
    }
}

// ---------------------------------------------------------------- running it

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let duration = std::env::args()
        .skip_while(|a| a != "--duration")
        .nth(1)
        .map(|d| d.parse::<u64>())
        .transpose()?
        .unwrap_or(10);

    // Acme's API, simulated on loopback: 2,000 events of backlog, then one every 100 ms.
    let log = EventLog::new();
    log.generate(2_000, Utc::now() - chrono::Duration::hours(1));
    let api = DemoApi::start(log.clone(), "acme-demo-token", 120).await?;
    let live = log.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            live.generate(1, Utc::now());
        }
    });

    // Authenticate once: the token lives in the credential store, not in the connector.
    let credentials = Arc::new(MemoryCredentials::new());
    credentials
        .put(
            CredentialRef::new("contoso", "acme"),
            Credential::ApiToken {
                token: "acme-demo-token".into(),
            },
        )
        .await?;

    let out = PathBuf::from("ucp-out/custom_connector");
    let _ = tokio::fs::remove_dir_all(&out).await;
    let health = Arc::new(MemoryHealth::new());
    let source = AcmeSource {
        base_url: api.base_url(),
        account: "contoso".into(),
        credential: "acme".into(),
        http: reqwest::Client::new(),
    };
    let sink = |product: &str| {
        Arc::new(NdjsonProduct {
            path: out.join(format!("{product}.ndjson")),
        }) as Arc<dyn Sink>
    };
    let auth = Filter::starts_with("/eventType", "user.authentication")
        .or(Filter::starts_with("/eventType", "user.session"));
    let changes = Filter::is_in(
        "/eventType",
        [
            "group.user_membership.add",
            "application.user_membership.add",
            "user.account.lock",
        ],
    );

    // Connect once, collect once: three products subscribe to the same stream.
    let platform = Platform::builder()
        .credentials(credentials)
        .health(health.clone())
        .checkpoints(Arc::new(MemoryCheckpoints::new()))
        .tenant_source("contoso", "acme-contoso", Arc::new(source))
        .tenant_sink("contoso", "sentinel", sink("sentinel"))
        .tenant_sink("contoso", "mdi", sink("mdi"))
        .tenant_sink("contoso", "xspm", sink("xspm"))
        .max_jitter(Duration::ZERO)
        .subscribe(
            Subscription::new("sentinel", "acme-contoso", "events").every(Duration::from_secs(2)),
        )
        .subscribe(
            Subscription::new("mdi", "acme-contoso", "events")
                .every(Duration::from_secs(2))
                .filter(auth.clone()),
        )
        .subscribe(
            Subscription::new("xspm", "acme-contoso", "events")
                .every(Duration::from_secs(4))
                .filter(changes.clone()),
        )
        .build()?;
    for job in &platform.plan().jobs {
        println!(
            "plan: {} every {:?} for {}",
            job.stream,
            job.effective_interval,
            job.subscribers.join(", ")
        );
    }
    let running = platform.start().await?;
    for outcome in running.check().await {
        println!("check: {outcome:?}");
    }

    for second in 1..=duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stats = running.stats().await;
        let got = |p: &str| {
            stats
                .subscription(p, "acme-contoso", "events")
                .map_or(0, |s| s.records_delivered)
        };
        println!(
            "[{second:>3}s] api calls {:>4} | sentinel {:>6} | mdi {:>6} | xspm {:>6}",
            api.requests(),
            got("sentinel"),
            got("mdi"),
            got("xspm")
        );
    }

    let stats = running.stats().await;
    running.shutdown().await?;
    let job = stats.job("acme-contoso", "events").ok_or("no job")?;
    println!("\nsummary");
    println!(
        "  source API calls           {:>8}  (calls saved by collecting once: {})",
        api.requests(),
        job.calls_saved
    );
    println!("  records collected          {:>8}", job.records_collected);
    for (product, filter) in [
        ("sentinel", None),
        ("mdi", Some(&auth)),
        ("xspm", Some(&changes)),
    ] {
        let s = stats
            .subscription(product, "acme-contoso", "events")
            .ok_or("no subscription")?;
        let expected = log.ids_matching(filter).len();
        println!(
            "  {product:<9} delivered {:>8}  filtered out {:>8}  → {}  (the log holds {expected} such events by now)",
            s.records_delivered,
            s.filtered_out,
            out.join(format!("{product}.ndjson")).display()
        );
    }
    for event in health.events() {
        println!(
            "  health: {} {} → {}: {}",
            event.component, event.previous, event.status, event.message
        );
    }
    Ok(())
}
