//! A notifier that POSTs each status transition as JSON to a webhook.
//!
//! Body: `{"component": {tenant, connector, product, stream}, "status", "previous", "kind",
//! "message", "time"}`. Repeats of the same (component, status) within a window are
//! suppressed; transient failures (network, 408, 429, 5xx) are retried with bounded backoff.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::notify::{Notifier, NotifyError, Suppressor};
use super::{Component, HealthEvent, HealthKind, Status};

/// How a webhook delivery is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubles after each failure.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 1 s doubling to at most 30 s, 10 s per attempt.
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// What happened to one notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Accepted (2xx) after this many attempts.
    Sent {
        /// Attempts made.
        attempts: u32,
    },
    /// Not sent: the same status of the same component was sent within the window.
    Suppressed,
}

/// The JSON body of a notification.
#[derive(Serialize)]
struct Body<'a> {
    component: &'a Component,
    status: Status,
    previous: Status,
    kind: HealthKind,
    message: &'a str,
    time: chrono::DateTime<chrono::Utc>,
}

/// POSTs status transitions to a webhook.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: reqwest::Url,
    /// Host only: webhook paths and queries often hold tokens.
    host: String,
    suppressor: Suppressor,
    retry: RetryPolicy,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("host", &self.host)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier for `url`, suppressing repeats within 15 minutes, with the default retries.
    pub fn new(url: &str) -> Result<Self, NotifyError> {
        let url = reqwest::Url::parse(url).map_err(|e| NotifyError::InvalidUrl {
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotifyError::InvalidUrl {
                reason: format!("scheme {:?} is not http or https", url.scheme()),
            });
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(NotifyError::InvalidUrl {
                    reason: "no host".into(),
                })
            }
        };
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| NotifyError::Client {
                host: host.clone(),
                reason: e.to_string(),
            })?;
        Ok(WebhookNotifier {
            client,
            url,
            host,
            suppressor: Suppressor::new(Duration::from_secs(15 * 60)),
            retry: RetryPolicy::default(),
        })
    }

    /// Suppress repeats of the same (component, status) within `window`.
    pub fn suppress_within(mut self, window: Duration) -> Self {
        self.suppressor = Suppressor::new(window);
        self
    }

    /// Retry with `policy`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            attempts: policy.attempts.max(1),
            ..policy
        };
        self
    }

    /// Sends `event` unless it repeats a recent one; retries transient failures.
    pub async fn send(&self, event: &HealthEvent) -> Result<WebhookOutcome, NotifyError> {
        if self.suppressor.is_repeat(event) {
            tracing::debug!(component = %event.component, status = %event.status, "webhook notification suppressed");
            return Ok(WebhookOutcome::Suppressed);
        }
        let body = Body {
            component: &event.component,
            status: event.status,
            previous: event.previous,
            kind: event.kind,
            message: &event.message,
            time: event.time,
        };
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            if attempt > 1 {
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
            }
            let sent = self
                .client
                .post(self.url.clone())
                .timeout(self.retry.timeout)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    self.suppressor.mark_sent(event);
                    return Ok(WebhookOutcome::Sent { attempts: attempt });
                }
                Ok(resp) => {
                    let status = resp.status();
                    let retryable = status.is_server_error()
                        || status == reqwest::StatusCode::REQUEST_TIMEOUT
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                    if !retryable {
                        return Err(NotifyError::Rejected {
                            host: self.host.clone(),
                            status: status.as_u16(),
                        });
                    }
                    last = format!("HTTP {}", status.as_u16());
                }
                // Without the URL: reqwest errors print it, and it may hold a token.
                Err(e) => last = e.without_url().to_string(),
            }
            tracing::warn!(host = %self.host, attempt, error = %last, "webhook notification failed");
        }
        Err(NotifyError::GaveUp {
            host: self.host.clone(),
            attempts: self.retry.attempts,
            last,
        })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, event: &HealthEvent) -> Result<(), NotifyError> {
        self.send(event).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(1),
        };
        let waits: Vec<_> = (1..=5).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn rejects_non_http_urls_without_echoing_them() {
        let err = WebhookNotifier::new("ftp://hooks.example/secret-token").unwrap_err();
        assert!(matches!(err, NotifyError::InvalidUrl { .. }));
        assert!(!err.to_string().contains("secret-token"));
        let n = WebhookNotifier::new("https://hooks.example/path/secret-token").unwrap();
        assert!(!format!("{n:?}").contains("secret-token"));
    }
}
