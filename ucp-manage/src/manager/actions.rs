//! Response actions through a connector (suspend an Okta user, comment on an XDR incident):
//! the actions it offers, a dry run that validates one and shows what it would send, and
//! performing one through the engine, which draws its permit from the connector's budget
//! ahead of collection, retries temporary failures, performs an idempotency key once and
//! reports to health.
//!
//! Listing and dry runs ask the source the connector's configuration builds (pure: no
//! provider call), so they answer in any state; performing needs the connector running.
//! Every call that gets past authorization is audited — who, connector, action, parameters
//! (values a schema marks secret are redacted), result — whether it was done, refused by
//! the provider, failed or had bad parameters.

use serde_json::{json, Value};
use ucp_core::{ActOptions, ActionError, ActionInfo, ActionOutcome, ActionRequest, Source};

use super::Manager;
use crate::auth::Principal;
use crate::error::{ManageError, ManageResult, Problem};
use crate::model::{InstanceRecord, InstanceState, Role};
use crate::views::{ActRequest, ActionOutcomeView, ActionResponse, ActionView, PlannedRequestView};

/// The longest idempotency key accepted.
const MAX_KEY_CHARS: usize = 128;

/// Parameter names whose string values never reach the audit log, whatever the schema says.
const SECRET_NAMES: [&str; 5] = ["password", "secret", "token", "api_key", "private_key"];

/// One call to audit: what was asked, and what came of it.
struct Call<'a> {
    principal: &'a Principal,
    record: &'a InstanceRecord,
    action: &'a str,
    parameters: Value,
    idempotency_key: Option<&'a str>,
    dry_run: bool,
}

impl Manager {
    /// The actions a connector offers, with their parameter schemas.
    pub async fn actions(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
    ) -> ManageResult<Vec<ActionView>> {
        self.authorize(
            principal,
            tenant,
            Role::Reader,
            "listing a connector's actions",
        )
        .await?;
        let record = self.load(tenant, name).await?;
        let source = self.source_of(&record)?;
        Ok(source.actions().into_iter().map(view).collect())
    }

    /// Perform action `action` of connector `name` (or, `dry_run`, validate it and show what
    /// it would send), audited.
    pub async fn act(
        &self,
        principal: &Principal,
        tenant: &str,
        name: &str,
        action: &str,
        body: ActRequest,
        dry_run: bool,
    ) -> ManageResult<ActionResponse> {
        self.authorize(
            principal,
            tenant,
            Role::Contributor,
            "performing a connector's actions",
        )
        .await?;
        let record = self.load(tenant, name).await?;
        let source = self.source_of(&record)?;
        let offered = source.actions();
        let Some(info) = offered.iter().find(|a| a.name == action) else {
            let names: Vec<&str> = offered.iter().map(|a| a.name.as_str()).collect();
            return Err(ManageError::NotFound(format!(
                "connector '{name}' offers no action '{}' (it offers: {})",
                printable(action),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        let parameters = match body.parameters {
            Value::Null => json!({}),
            other => other,
        };
        let call = Call {
            principal,
            record: &record,
            action,
            parameters: redact(&info.parameters, &parameters),
            idempotency_key: body.idempotency_key.as_deref(),
            dry_run,
        };
        let problems = self.problems(info, &parameters, body.idempotency_key.as_deref())?;
        if !problems.is_empty() {
            self.audit_call(&call, json!({ "outcome": "invalid", "problems": problems }))
                .await?;
            return Err(ManageError::Invalid(problems));
        }
        let request = ActionRequest::new(action, parameters);
        // The connector's own checks, beyond the schema; nothing is sent.
        let plan = match source.plan_action(&request) {
            Ok(plan) => plan,
            Err(e) => {
                let problems = vec![Problem::new("parameters", e.to_string())];
                self.audit_call(&call, json!({ "outcome": "invalid", "problems": problems }))
                    .await?;
                return Err(ManageError::Invalid(problems));
            }
        };
        if dry_run {
            let requests: Vec<PlannedRequestView> = plan
                .requests
                .into_iter()
                .map(|r| PlannedRequestView {
                    method: r.method,
                    url: r.url,
                    body: r.body,
                })
                .collect();
            self.audit_call(&call, json!({ "outcome": "planned", "requests": requests }))
                .await?;
            return Ok(ActionResponse {
                connector: name.to_string(),
                action: action.to_string(),
                outcome: ActionOutcomeView::Planned,
                message: format!("dry run, nothing was sent: {}", plan.summary),
                requests,
                detail: None,
                attempts: 0,
                replayed: false,
            });
        }
        if let Some(why) = self.not_running(&record) {
            self.audit_call(&call, json!({ "outcome": "not_running", "reason": why }))
                .await?;
            return Err(ManageError::Conflict(why));
        }
        let options = ActOptions {
            idempotency_key: body.idempotency_key.clone(),
            ..ActOptions::default()
        };
        let result = self
            .inner
            .engine
            .act(&record.engine_name(), request, options)
            .await;
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                let (outcome, failure) = match error {
                    ActionError::UnknownSource(_) => (
                        "not_running",
                        ManageError::Conflict(format!(
                            "connector '{name}' is not running in the platform: actions go through a running connector"
                        )),
                    ),
                    ActionError::Failed {
                        message,
                        what_to_do,
                        ..
                    } => (
                        "failed",
                        ManageError::ActionFailed(format!(
                            "action '{action}' of connector '{name}' failed: {message}; what to do: {what_to_do}"
                        )),
                    ),
                    other => ("failed", ManageError::ActionFailed(other.to_string())),
                };
                self.audit_call(
                    &call,
                    json!({ "outcome": outcome, "message": failure.to_string() }),
                )
                .await?;
                return Err(failure);
            }
        };
        // `{"outcome": "done", "detail": …}` or `{"outcome": "refused", "reason": …}`.
        let mut audited = serde_json::to_value(&result.outcome).unwrap_or_default();
        if let Value::Object(fields) = &mut audited {
            fields.insert("attempts".into(), result.attempts.into());
            fields.insert("replayed".into(), result.replayed.into());
        }
        self.audit_call(&call, audited).await?;
        let (outcome, detail, message) = match result.outcome {
            ActionOutcome::Done { detail } => (
                ActionOutcomeView::Done,
                detail,
                format!("done: {}", plan.summary),
            ),
            ActionOutcome::AlreadyDone { detail } => (
                ActionOutcomeView::AlreadyDone,
                detail,
                format!("nothing to do, already in that state: {}", plan.summary),
            ),
            ActionOutcome::Refused { reason } => {
                return Err(ManageError::ActionRefused(format!(
                    "the provider refused action '{action}' of connector '{name}' ({}): {reason}",
                    plan.summary
                )))
            }
        };
        Ok(ActionResponse {
            connector: name.to_string(),
            action: action.to_string(),
            outcome,
            message,
            requests: Vec::new(),
            detail: Some(detail),
            attempts: result.attempts,
            replayed: result.replayed,
        })
    }

    /// The source the connector's configuration builds (the one the engine runs).
    fn source_of(&self, record: &InstanceRecord) -> ManageResult<std::sync::Arc<dyn Source>> {
        let registered = self.registered_for(record).ok_or_else(|| {
            ManageError::Conflict(format!(
                "definition '{}' is no longer registered in this server: connector '{}' offers no action",
                record.definition, record.name
            ))
        })?;
        self.build_source(record, &registered)
    }

    /// Problems of the parameters against the action's schema, and of the key.
    fn problems(
        &self,
        info: &ActionInfo,
        parameters: &Value,
        key: Option<&str>,
    ) -> ManageResult<Vec<Problem>> {
        let validator = crate::catalog::compile(&info.parameters).map_err(|e| {
            ManageError::Internal(format!(
                "action '{}' declares a parameter schema that is not usable ({e}): report this to the connector's publisher",
                info.name
            ))
        })?;
        let mut problems = crate::catalog::schema_problems(&validator, parameters, "parameters");
        if let Some(key) = key {
            if key.is_empty()
                || key.chars().count() > MAX_KEY_CHARS
                || !key.chars().all(|c| c.is_ascii_graphic())
            {
                problems.push(Problem::new(
                    "idempotency_key",
                    format!("an idempotency key has 1 to {MAX_KEY_CHARS} printable ASCII characters and no space"),
                ));
            }
        }
        Ok(problems)
    }

    /// Why an action cannot be performed through the connector now, if it cannot.
    fn not_running(&self, record: &InstanceRecord) -> Option<String> {
        let name = &record.name;
        match record.state {
            InstanceState::Active if self.is_attached(record) => None,
            InstanceState::Active => Some(format!(
                "connector '{name}' is not running (it needs attention): actions go through a running connector"
            )),
            InstanceState::Paused => Some(format!(
                "connector '{name}' is paused and makes no provider call while paused: resume it to act through it"
            )),
            InstanceState::Disconnected => Some(format!(
                "connector '{name}' is disconnected: actions go through a connected connector"
            )),
            InstanceState::Superseded => Some(format!(
                "connector '{name}' is superseded by '{}': act through that connector",
                record.superseded_by.as_deref().unwrap_or("another connector")
            )),
        }
    }

    /// Append the audit entry of `call` with its `result`.
    async fn audit_call(&self, call: &Call<'_>, result: Value) -> ManageResult<()> {
        let name = &call.record.name;
        let mut entry = self.audit(
            &call.record.tenant,
            call.principal,
            if call.dry_run {
                "connector.action_dry_run"
            } else {
                "connector.action"
            },
            format!("connector/{name}/actions/{}", call.action),
        );
        entry.connector = Some(name.clone());
        entry.after = Some(json!({
            "action": call.action,
            "parameters": call.parameters,
            "idempotency_key": call.idempotency_key,
            "result": result,
        }));
        self.inner.store.append_audit(entry).await?;
        Ok(())
    }
}

fn view(info: ActionInfo) -> ActionView {
    ActionView {
        name: info.name,
        description: info.description,
        parameters: info.parameters,
        idempotent: info.idempotent,
        permission: info.permission,
    }
}

/// `parameters` with the values of secret fields replaced: those the schema marks
/// `writeOnly` or `format: password`, and strings under a secret-sounding name.
fn redact(schema: &Value, parameters: &Value) -> Value {
    let Value::Object(map) = parameters else {
        return parameters.clone();
    };
    let properties = schema.get("properties");
    let redacted = map
        .iter()
        .map(|(key, value)| {
            let declared = properties.and_then(|p| p.get(key));
            let secret_schema = declared.is_some_and(|d| {
                d.get("writeOnly") == Some(&Value::Bool(true))
                    || d.get("format").and_then(Value::as_str) == Some("password")
            });
            let lower = key.to_ascii_lowercase();
            let secret_name = value.is_string() && SECRET_NAMES.iter().any(|s| lower.contains(s));
            let value = if secret_schema || secret_name {
                Value::String("<redacted>".into())
            } else {
                match declared {
                    Some(inner) if value.is_object() => redact(inner, value),
                    _ => value.clone(),
                }
            };
            (key.clone(), value)
        })
        .collect();
    Value::Object(redacted)
}

/// A name as given, without control characters, at most 64 characters, for a message.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secret_parameters_are_redacted_by_schema_and_by_name() {
        let schema = json!({"type": "object", "properties": {
            "user_id": {"type": "string"},
            "pin": {"type": "string", "writeOnly": true},
            "nested": {"type": "object", "properties": {"code": {"type": "string", "format": "password"}}}
        }});
        let parameters = json!({
            "user_id": "00u1", "pin": "1234", "client_secret": "s3cr3t",
            "revoke_oauth_tokens": true, "nested": {"code": "9876", "note": "kept"}
        });
        assert_eq!(
            redact(&schema, &parameters),
            json!({
                "user_id": "00u1", "pin": "<redacted>", "client_secret": "<redacted>",
                "revoke_oauth_tokens": true, "nested": {"code": "<redacted>", "note": "kept"}
            })
        );
    }

    proptest! {
        #[test]
        fn redacting_never_panics_and_keeps_the_keys(keys in proptest::collection::vec("[a-z_]{1,12}", 0..6)) {
            let parameters: serde_json::Map<String, Value> =
                keys.iter().map(|k| (k.clone(), Value::String("v".into()))).collect();
            let out = redact(&json!({"properties": {}}), &Value::Object(parameters.clone()));
            let kept: Vec<&String> = out.as_object().unwrap().keys().collect();
            prop_assert_eq!(kept, parameters.keys().collect::<Vec<_>>());
        }
    }
}
