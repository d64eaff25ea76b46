//! Notifications of status transitions: the [`Notifier`] trait, a callback form, and the
//! repeat suppression shared by notifiers.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Component, HealthEvent, Status};
use crate::sync::lock;

/// Why a notification was not delivered. Never contains the webhook's path or query, which
/// often carry a token.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook address is not a usable http(s) URL.
    #[error(
        "webhook address is not a valid http(s) URL ({reason}); check the notifier configuration"
    )]
    InvalidUrl {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("webhook client for {host} could not be built: {reason}")]
    Client {
        /// Host of the webhook.
        host: String,
        /// Cause.
        reason: String,
    },
    /// The webhook refused the message permanently (a 4xx other than 408 and 429).
    #[error(
        "webhook {host} rejected the notification with HTTP {status}; check its URL and token"
    )]
    Rejected {
        /// Host of the webhook.
        host: String,
        /// HTTP status.
        status: u16,
    },
    /// Every attempt failed with a retryable error.
    #[error("webhook {host} failed {attempts} times, last: {last}; the notification was dropped, check that the endpoint is up")]
    GaveUp {
        /// Host of the webhook.
        host: String,
        /// Attempts made.
        attempts: u32,
        /// Last failure.
        last: String,
    },
}

/// Something told about every status transition (webhooks, pagers, embedding code).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Deliver one transition. The [`HealthService`](super::HealthService) calls this from a
    /// background task, in order, so it may take its time (retries, backoff).
    async fn notify(&self, event: &HealthEvent) -> Result<(), NotifyError>;
}

/// A [`Notifier`] that calls a function: the callback form for embedding code.
pub struct CallbackNotifier<F>(F);

impl<F> CallbackNotifier<F>
where
    F: Fn(&HealthEvent) + Send + Sync + 'static,
{
    /// Calls `f` for every transition.
    pub fn new(f: F) -> Self {
        CallbackNotifier(f)
    }
}

#[async_trait]
impl<F> Notifier for CallbackNotifier<F>
where
    F: Fn(&HealthEvent) + Send + Sync + 'static,
{
    async fn notify(&self, event: &HealthEvent) -> Result<(), NotifyError> {
        (self.0)(event);
        Ok(())
    }
}

/// Remembers which (component, status) pairs were sent, so a flapping connector does not
/// page someone every minute. Times are the events' own, so suppression follows the
/// platform clock.
#[derive(Debug)]
pub struct Suppressor {
    window: chrono::Duration,
    sent: Mutex<HashMap<(Component, Status), DateTime<Utc>>>,
}

/// Past this many remembered pairs, expired ones are forgotten.
const REMEMBERED: usize = 1024;

impl Suppressor {
    /// Suppress repeats within `window`. A zero window suppresses nothing.
    pub fn new(window: std::time::Duration) -> Self {
        Suppressor {
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
            sent: Mutex::default(),
        }
    }

    /// Whether the same component reached the same status less than `window` before
    /// `event` and that was sent.
    pub fn is_repeat(&self, event: &HealthEvent) -> bool {
        let sent = lock(&self.sent);
        sent.get(&(event.component.clone(), event.status))
            .is_some_and(|&at| self.within(at, event.time))
    }

    /// Remember that `event` was sent.
    pub fn mark_sent(&self, event: &HealthEvent) {
        let mut sent = lock(&self.sent);
        if sent.len() >= REMEMBERED {
            sent.retain(|_, at| self.within(*at, event.time));
        }
        sent.insert((event.component.clone(), event.status), event.time);
    }

    fn within(&self, sent_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(sent_at) < self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::HealthKind;

    fn event(status: Status, minute: i64) -> HealthEvent {
        HealthEvent {
            time: DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap(),
            component: Component {
                tenant: "t".into(),
                connector: "okta".into(),
                product: None,
                stream: Some("system_log".into()),
            },
            status,
            previous: Status::Ok,
            kind: HealthKind::Collection,
            message: "m".into(),
        }
    }

    #[test]
    fn suppresses_same_status_within_window_only() {
        let s = Suppressor::new(std::time::Duration::from_secs(600));
        assert!(!s.is_repeat(&event(Status::Warning, 0)));
        s.mark_sent(&event(Status::Warning, 0));
        assert!(s.is_repeat(&event(Status::Warning, 9)));
        assert!(!s.is_repeat(&event(Status::Error, 9)), "other status");
        assert!(!s.is_repeat(&event(Status::Warning, 10)), "window over");
    }

    #[test]
    fn zero_window_suppresses_nothing() {
        let s = Suppressor::new(std::time::Duration::ZERO);
        s.mark_sent(&event(Status::Warning, 0));
        assert!(!s.is_repeat(&event(Status::Warning, 0)));
    }

    #[tokio::test]
    async fn callback_sees_every_event() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let n = CallbackNotifier::new(move |e: &HealthEvent| lock(&log).push(e.status));
        n.notify(&event(Status::Warning, 0)).await.unwrap();
        n.notify(&event(Status::Ok, 1)).await.unwrap();
        assert_eq!(*lock(&seen), vec![Status::Warning, Status::Ok]);
    }
}
