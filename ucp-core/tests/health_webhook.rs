//! The webhook notifier against a loopback HTTP server: JSON body, suppression, retries.
//!
//! Real clock on purpose: these tests wait on loopback I/O, and the backoffs are milliseconds.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use ucp_core::health::{
    Component, HealthEvent, HealthKind, HealthReporter, HealthService, NotifyError, RetryPolicy,
    Status, WebhookNotifier, WebhookOutcome,
};

/// What the hook answers, in order; 200 once the script runs out.
#[derive(Clone, Default)]
struct Hook {
    script: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    fn bodies(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    fn statuses(&self) -> Vec<String> {
        self.bodies()
            .iter()
            .map(|b| b["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

async fn receive(State(hook): State<Hook>, Json(body): Json<Value>) -> StatusCode {
    hook.received.lock().unwrap().push(body);
    let code = hook.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

/// Starts the hook; returns it and its URL (with a token in the path, as real hooks have).
async fn serve(script: &[u16]) -> (Hook, String) {
    let hook = Hook::default();
    hook.script.lock().unwrap().extend(script);
    let app = Router::new()
        .route("/hooks/{token}", post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hook, format!("http://{addr}/hooks/s3cr3t-token"))
}

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    }
}

fn event(minute: i64, status: Status, previous: Status) -> HealthEvent {
    HealthEvent {
        time: DateTime::<Utc>::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap(),
        component: Component {
            tenant: "contoso".into(),
            connector: "okta".into(),
            product: Some("sentinel".into()),
            stream: Some("system_log".into()),
        },
        status,
        previous,
        kind: HealthKind::Delivery,
        message: "HTTP 503 from the ingestion endpoint; retrying".into(),
    }
}

#[tokio::test]
async fn posts_the_transition_as_json() {
    let (hook, url) = serve(&[]).await;
    let n = WebhookNotifier::new(&url).unwrap().retry(fast_retries(1));
    let outcome = n
        .send(&event(0, Status::Warning, Status::Ok))
        .await
        .unwrap();
    assert_eq!(outcome, WebhookOutcome::Sent { attempts: 1 });
    assert_eq!(
        hook.bodies(),
        vec![json!({
            "component": {
                "tenant": "contoso",
                "connector": "okta",
                "product": "sentinel",
                "stream": "system_log",
            },
            "status": "Warning",
            "previous": "Ok",
            "kind": "Delivery",
            "message": "HTTP 503 from the ingestion endpoint; retrying",
            "time": "2023-11-14T22:13:20Z",
        })]
    );
}

#[tokio::test]
async fn repeats_within_the_window_are_suppressed() {
    let (hook, url) = serve(&[]).await;
    let n = WebhookNotifier::new(&url)
        .unwrap()
        .suppress_within(Duration::from_secs(600))
        .retry(fast_retries(1));
    let sent = |e| {
        let n = &n;
        async move { n.send(&e).await.unwrap() }
    };
    use Status::*;
    assert!(matches!(
        sent(event(0, Warning, Ok)).await,
        WebhookOutcome::Sent { .. }
    ));
    assert!(matches!(
        sent(event(1, Ok, Warning)).await,
        WebhookOutcome::Sent { .. }
    ));
    assert_eq!(
        sent(event(2, Warning, Ok)).await,
        WebhookOutcome::Suppressed
    );
    assert_eq!(
        sent(event(3, Ok, Warning)).await,
        WebhookOutcome::Suppressed
    );
    assert!(matches!(
        sent(event(10, Warning, Ok)).await,
        WebhookOutcome::Sent { .. }
    ));
    assert_eq!(hook.statuses(), ["Warning", "Ok", "Warning"]);
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let (hook, url) = serve(&[503, 429]).await;
    let n = WebhookNotifier::new(&url).unwrap().retry(fast_retries(4));
    let outcome = n.send(&event(0, Status::Error, Status::Ok)).await.unwrap();
    assert_eq!(outcome, WebhookOutcome::Sent { attempts: 3 });
    assert_eq!(hook.bodies().len(), 3);
}

#[tokio::test]
async fn retries_are_bounded_and_failures_not_suppressed() {
    let (hook, url) = serve(&[500, 500, 500]).await;
    let n = WebhookNotifier::new(&url).unwrap().retry(fast_retries(3));
    let err = n
        .send(&event(0, Status::Error, Status::Ok))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("HTTP 500") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t-token"), "{text}");
    assert_eq!(hook.bodies().len(), 3);
    // Not delivered, so the same transition is tried again rather than suppressed.
    let again = n.send(&event(1, Status::Error, Status::Ok)).await.unwrap();
    assert_eq!(again, WebhookOutcome::Sent { attempts: 1 });
}

#[tokio::test]
async fn permanent_rejections_are_not_retried() {
    let (hook, url) = serve(&[403]).await;
    let n = WebhookNotifier::new(&url).unwrap().retry(fast_retries(4));
    let err = n
        .send(&event(0, Status::Error, Status::Ok))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(hook.bodies().len(), 1);
}

#[tokio::test]
async fn unreachable_hook_gives_up_without_leaking_the_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let n = WebhookNotifier::new(&format!("http://{addr}/hooks/s3cr3t-token"))
        .unwrap()
        .retry(fast_retries(2));
    let err = n
        .send(&event(0, Status::Error, Status::Ok))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotifyError::GaveUp { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("s3cr3t-token"), "{err}");
}

#[tokio::test]
async fn health_service_notifies_in_order_from_the_background() {
    let (hook, url) = serve(&[503]).await;
    let n = WebhookNotifier::new(&url).unwrap().retry(fast_retries(3));
    let service = HealthService::builder().notifier(Arc::new(n)).build();
    use Status::*;
    service.report(event(0, Ok, Starting)).await;
    service.report(event(1, Warning, Ok)).await;
    service.report(event(2, Error, Warning)).await;
    service.flush_notifications().await;
    // The first POST got a 503 and was retried before the others.
    assert_eq!(hook.statuses(), ["Ok", "Ok", "Warning", "Error"]);
}
