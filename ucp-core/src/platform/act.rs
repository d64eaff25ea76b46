//! Response actions on the running platform: one permit ahead of collection, a timeout per
//! attempt, bounded retries of temporary failures, one execution per idempotency key, and a
//! health status per connector's actions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::RunningPlatform;
use crate::action::{
    ActOptions, ActionError, ActionInfo, ActionOutcome, ActionPlan, ActionRequest, ActionResult,
};
use crate::error::ErrorClass;
use crate::health::{Component, HealthKind, Status, StatusTracker};
use crate::retry::RetryPolicy;
use crate::source::{Source, SourceContext, SourceError};
use crate::sync::lock;

/// Idempotency keys remembered at most this long…
const KEY_TTL: Duration = Duration::from_secs(24 * 3600);
/// …and at most this many (the oldest are forgotten first).
const MAX_KEYS: usize = 10_000;

type Once = Arc<OnceCell<ActionResult>>;

/// What the platform remembers of actions: results by idempotency key, and a health tracker
/// per source.
#[derive(Default)]
pub(super) struct ActionLedger {
    keys: std::sync::Mutex<HashMap<(String, String), (Instant, Once)>>,
    health: tokio::sync::Mutex<HashMap<String, StatusTracker>>,
}

impl ActionLedger {
    /// The cell of `(source, key)`, made if new; old and excess keys are forgotten.
    fn cell(&self, source: &str, key: &str) -> Once {
        let mut keys = lock(&self.keys);
        let now = Instant::now();
        keys.retain(|_, (at, _)| now.saturating_duration_since(*at) < KEY_TTL);
        if keys.len() >= MAX_KEYS {
            if let Some(oldest) = keys
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                keys.remove(&oldest);
            }
        }
        keys.entry((source.to_string(), key.to_string()))
            .or_insert_with(|| (now, Arc::new(OnceCell::new())))
            .1
            .clone()
    }
}

impl RunningPlatform {
    /// The actions source `name` offers.
    pub async fn actions(&self, source: &str) -> Result<Vec<ActionInfo>, ActionError> {
        let (source_impl, _) = self.action_target(source).await?;
        Ok(source_impl.actions())
    }

    /// What an action would send, with its parameters checked: nothing is sent.
    pub async fn plan_action(
        &self,
        source: &str,
        request: &ActionRequest,
    ) -> Result<ActionPlan, ActionError> {
        let (source_impl, _) = self.action_target(source).await?;
        offered(source, source_impl.as_ref(), request)?;
        source_impl
            .plan_action(request)
            .map_err(|error| failed(source, request, &error))
    }

    /// Perform an action through source `name`'s credentials and rate budget. Its permit comes
    /// before any waiting collection call; temporary failures and throttling are retried up
    /// to `options.max_attempts`; with an idempotency key, a second call returns the first's
    /// result without calling the provider.
    pub async fn act(
        &self,
        source: &str,
        request: ActionRequest,
        options: ActOptions,
    ) -> Result<ActionResult, ActionError> {
        let (source_impl, cx) = self.action_target(source).await?;
        offered(source, source_impl.as_ref(), &request)?;
        let Some(key) = options.idempotency_key.clone() else {
            return self
                .perform(source, source_impl.as_ref(), &cx, &request, &options)
                .await;
        };
        let cell = self.shared.actions.cell(source, &key);
        let mut ran = false;
        let result = cell
            .get_or_try_init(|| {
                ran = true;
                self.perform(source, source_impl.as_ref(), &cx, &request, &options)
            })
            .await?
            .clone();
        Ok(if ran {
            result
        } else {
            ActionResult {
                attempts: 0,
                replayed: true,
                ..result
            }
        })
    }

    async fn action_target(
        &self,
        source: &str,
    ) -> Result<(Arc<dyn Source>, SourceContext), ActionError> {
        let state = self.state.lock().await;
        let entry = state
            .registry
            .sources
            .get(source)
            .ok_or_else(|| ActionError::UnknownSource(source.to_string()))?;
        Ok((entry.source.clone(), entry.cx.clone()))
    }

    /// The attempts of one action, and its health.
    async fn perform(
        &self,
        source: &str,
        source_impl: &dyn Source,
        cx: &SourceContext,
        request: &ActionRequest,
        options: &ActOptions,
    ) -> Result<ActionResult, ActionError> {
        let backoff = RetryPolicy {
            max_attempts: options.max_attempts.max(1),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            attempt_timeout: options.attempt_timeout,
        };
        let mut attempts = 0;
        let error = loop {
            attempts += 1;
            cx.budget().acquire_urgent().await;
            let call = source_impl.act(cx, request);
            let result = match tokio::time::timeout(options.attempt_timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(SourceError::Retryable {
                    message: format!("no answer within {:?}", options.attempt_timeout),
                    retry_after: None,
                }),
            };
            let error = match result {
                Ok(outcome) => {
                    self.action_health(source, cx, request, Ok(&outcome)).await;
                    return Ok(ActionResult {
                        outcome,
                        attempts,
                        replayed: false,
                    });
                }
                Err(error) => error,
            };
            if let SourceError::RateLimited { hint, .. } = &error {
                cx.budget().throttled(hint);
            }
            if error.class() == ErrorClass::Permanent || attempts >= backoff.max_attempts {
                break error;
            }
            let wait = match &error {
                SourceError::Retryable {
                    retry_after: Some(after),
                    ..
                } => *after,
                // Throttled: the budget holds the next permit until the provider's reset.
                SourceError::RateLimited { .. } => Duration::ZERO,
                _ => backoff.backoff(attempts, rand::random_range(0.5..=1.0)),
            };
            tokio::time::sleep(wait).await;
        };
        self.action_health(source, cx, request, Err(&error)).await;
        let mut failure = failed(source, request, &error);
        if let ActionError::Failed { message, .. } = &mut failure {
            if attempts > 1 {
                message.push_str(&format!(" (after {attempts} attempts)"));
            }
        }
        Err(failure)
    }

    /// One status per source's actions: Ok when they are performed (or the provider says no
    /// to one, which is an answer), Warning when they keep failing, Error when the credential
    /// is refused.
    async fn action_health(
        &self,
        source: &str,
        cx: &SourceContext,
        request: &ActionRequest,
        result: Result<&ActionOutcome, &SourceError>,
    ) {
        let (status, message) = match result {
            Ok(ActionOutcome::Refused { reason }) => (
                Status::Ok,
                format!(
                    "{source}: action '{}' was refused by the provider: {reason}",
                    request.action
                ),
            ),
            Ok(_) => (Status::Ok, format!("{source}: actions are performed")),
            Err(error @ SourceError::Auth { .. }) => (
                Status::Error,
                format!(
                    "{source}: action '{}' failed: {error}; what to do: {}",
                    request.action,
                    error.action()
                ),
            ),
            Err(error) => (
                Status::Warning,
                format!(
                    "{source}: action '{}' failed: {error}; what to do: {}",
                    request.action,
                    error.action()
                ),
            ),
        };
        let mut trackers = self.shared.actions.health.lock().await;
        let tracker = trackers.entry(source.to_string()).or_insert_with(|| {
            self.shared.health.tracker(Component {
                tenant: cx.tenant().to_string(),
                connector: source.to_string(),
                product: None,
                stream: Some("actions".into()),
            })
        });
        self.shared
            .health
            .observe(tracker, status, HealthKind::Action, || message)
            .await;
    }
}

/// The source offers the action.
fn offered(
    source: &str,
    source_impl: &dyn Source,
    request: &ActionRequest,
) -> Result<(), ActionError> {
    let actions = source_impl.actions();
    if actions.iter().any(|a| a.name == request.action) {
        return Ok(());
    }
    let offered: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
    Err(ActionError::UnknownAction {
        source_name: source.to_string(),
        action: request.action.clone(),
        offered: if offered.is_empty() {
            "none".into()
        } else {
            offered.join(", ")
        },
    })
}

fn failed(source: &str, request: &ActionRequest, error: &SourceError) -> ActionError {
    ActionError::Failed {
        source_name: source.to_string(),
        action: request.action.clone(),
        message: error.to_string(),
        what_to_do: error.action().to_string(),
    }
}
