//! A connector's actions, each confirmed on a page of its own before it is posted: pause,
//! resume and restart (Contributor), disconnect with a reason and delete (Owner). The
//! manager decides: a post the visitor's role does not allow is refused whatever the page
//! offered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::error::{see_other, UiError};
use super::field::{id_of, Frame};
use super::form::Fields;
use super::layout::{self, Tab};
use super::signed_in::{Visitor, CSRF_FIELD};
use super::{UiState, BASE};
use crate::error::ManageError;
use crate::model::Role;
use crate::views::ConnectorView;

/// One of a connector's actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Pause,
    Resume,
    Restart,
    Disconnect,
    Delete,
}

impl Action {
    const ALL: [Action; 5] = [
        Action::Pause,
        Action::Resume,
        Action::Restart,
        Action::Disconnect,
        Action::Delete,
    ];

    /// The action whose address ends in `name`.
    fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.path() == name)
    }

    /// The last segment of its address.
    fn path(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Restart => "restart",
            Action::Disconnect => "disconnect",
            Action::Delete => "delete",
        }
    }

    /// The verb on its button.
    fn verb(self) -> &'static str {
        match self {
            Action::Pause => "Pause",
            Action::Resume => "Resume",
            Action::Restart => "Restart",
            Action::Disconnect => "Disconnect",
            Action::Delete => "Delete",
        }
    }

    /// The role it needs (the manager checks it again).
    fn needs(self) -> Role {
        match self {
            Action::Pause | Action::Resume | Action::Restart => Role::Contributor,
            Action::Disconnect | Action::Delete => Role::Owner,
        }
    }

    /// What it is called in the manager's refusal.
    fn doing(self) -> &'static str {
        match self {
            Action::Pause => "pausing a connector",
            Action::Resume => "resuming a connector",
            Action::Restart => "restarting a connector",
            Action::Disconnect => "disconnecting a connector",
            Action::Delete => "deleting a connector",
        }
    }

    /// What it does, for the confirmation.
    fn explain(self) -> &'static str {
        match self {
            Action::Pause => "Pausing stops every call to the provider for this connector, for all its products. Its cursor is kept: resuming goes on from where it stopped, with no gap and no duplicate.",
            Action::Resume => "Resuming starts collection again from the saved cursor, for all its products.",
            Action::Restart => "Restarting stops and starts the connector's collection and its deliveries; each goes on from its saved position.",
            Action::Disconnect => "Disconnecting stops delivery to every product and removes the connector from the platform. Its record, cursors and audit trail are kept until it is deleted.",
            Action::Delete => "Deleting removes this disconnected connector and the credentials stored for it. The audit log keeps what happened. This cannot be undone.",
        }
    }

    /// What the page says once it is done (`?done=`).
    fn done(self) -> &'static str {
        match self {
            Action::Pause => "paused",
            Action::Resume => "resumed",
            Action::Restart => "restarted",
            Action::Disconnect => "disconnected",
            Action::Delete => "deleted",
        }
    }
}

fn action_of(name: &str) -> Result<Action, UiError> {
    Action::parse(name).ok_or_else(|| {
        UiError::page(
            StatusCode::NOT_FOUND,
            format!("A connector has no action '{name}': it can be paused, resumed, restarted, disconnected or deleted."),
        )
    })
}

/// What went wrong with a posted confirmation.
#[derive(Default)]
struct Outcome {
    reason_error: Option<String>,
    refusal: Option<String>,
    reason: String,
    only_failed: bool,
}

fn render(
    status: StatusCode,
    visitor: &Visitor,
    view: &ConnectorView,
    action: Action,
    outcome: &Outcome,
) -> Response {
    let tenant = visitor.tenant();
    let here = format!("{BASE}/t/{tenant}/connectors/{}", view.name);
    let title = format!("{} {}?", action.verb(), view.name);
    let reason_id = id_of("reason");
    let reason = Frame {
        id: &reason_id,
        label: "Reason",
        hint: Some(
            "Why you disconnect it (1 to 1000 characters). It is kept in the audit log.".into(),
        ),
        error: outcome.reason_error.as_deref(),
        required: true,
    };
    let only_failed_id = id_of("only_failed");
    let only_failed = Frame {
        id: &only_failed_id,
        label: "Only the parts in error",
        hint: Some("Leave the parts that work running.".into()),
        error: None,
        required: false,
    };
    let body = html! {
        p { a href=(here) { "← " (view.name) } }
        h1 { (title) }
        @if let Some(refusal) = &outcome.refusal {
            p class="problem" role="alert" id="refusal" { (refusal) }
        }
        p { (action.explain()) }
        form method="post" action={ (here) "/" (action.path()) } novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(visitor.session.csrf);
            @if action == Action::Disconnect {
                (reason.render(html! {
                    textarea id=(reason_id) name="reason" aria-required="true"
                        aria-describedby=[reason.described_by()] aria-invalid=[reason.invalid()] { (outcome.reason) }
                }))
            }
            @if action == Action::Restart {
                (only_failed.render_check("only_failed", "true", outcome.only_failed))
            }
            ul class="actions" {
                li {
                    button type="submit" class={ "button" @if matches!(action, Action::Disconnect | Action::Delete) { " danger" } } {
                        (action.verb()) " " (view.name)
                    }
                }
                li { a class="button secondary" href=(here) { "Cancel" } }
            }
        }
    };
    (
        status,
        layout::page(&title, visitor, Tab::Connectors, None, body),
    )
        .into_response()
}

/// The confirmation page.
pub(crate) async fn confirm(
    State(state): State<UiState>,
    visitor: Visitor,
    Path((_, name, action)): Path<(String, String, String)>,
) -> Result<Response, UiError> {
    let view = state
        .manager
        .get(&visitor.principal, visitor.tenant(), &name)
        .await?;
    let action = action_of(&action)?;
    if visitor.role < action.needs() {
        return Err(UiError::from(ManageError::Forbidden {
            tenant: visitor.tenant().to_string(),
            action: action.doing().into(),
            needed: action.needs(),
            have: visitor.role,
        }));
    }
    Ok(render(
        StatusCode::OK,
        &visitor,
        &view,
        action,
        &Outcome::default(),
    ))
}

/// Do it.
pub(crate) async fn perform(
    State(state): State<UiState>,
    visitor: Visitor,
    Path((_, name, action)): Path<(String, String, String)>,
    fields: Fields,
) -> Result<Response, UiError> {
    visitor.check_csrf(fields.pairs())?;
    let action = action_of(&action)?;
    let tenant = visitor.tenant().to_string();
    let who = &visitor.principal;
    let manager = &state.manager;
    let reason = fields.get("reason").to_string();
    let only_failed = fields.has("only_failed");
    let done = match action {
        Action::Pause => manager.pause(who, &tenant, &name).await.map(|_| ()),
        Action::Resume => manager.resume(who, &tenant, &name).await.map(|_| ()),
        Action::Restart => manager
            .restart(who, &tenant, &name, only_failed)
            .await
            .map(|_| ()),
        Action::Disconnect => manager
            .disconnect(who, &tenant, &name, Some(reason.clone()))
            .await
            .map(|_| ()),
        Action::Delete => manager.delete(who, &tenant, &name).await,
    };
    let error = match done {
        Ok(()) if action == Action::Delete => {
            return Ok(see_other(&format!(
                "{BASE}/t/{tenant}/connectors?done=deleted&name={name}"
            )))
        }
        Ok(()) => {
            return Ok(see_other(&format!(
                "{BASE}/t/{tenant}/connectors/{name}?done={}",
                action.done()
            )))
        }
        Err(e) => e,
    };
    // Refusals about this connector are shown on the confirmation, next to what caused
    // them; no role, or no such connector, is a page of its own.
    let mut outcome = Outcome {
        reason,
        only_failed,
        ..Outcome::default()
    };
    let status = match error {
        ManageError::Invalid(problems) => {
            let (reason_problems, others): (Vec<_>, Vec<_>) =
                problems.into_iter().partition(|p| p.field == "reason");
            outcome.reason_error = (!reason_problems.is_empty()).then(|| {
                reason_problems
                    .iter()
                    .map(|p| p.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            if !others.is_empty() {
                outcome.refusal = Some(
                    others
                        .iter()
                        .map(|p| format!("{}: {}", p.field, p.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            StatusCode::BAD_REQUEST
        }
        e @ (ManageError::Forbidden { .. }
        | ManageError::NotFound(_)
        | ManageError::Unauthenticated(_)) => return Err(UiError::from(e)),
        other => match UiError::from(other) {
            UiError::Page {
                status, message, ..
            } => {
                outcome.refusal = Some(message);
                status
            }
            sign_in => return Err(sign_in),
        },
    };
    let view = manager.get(who, &tenant, &name).await?;
    Ok(render(status, &visitor, &view, action, &outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_parses_from_its_address_and_needs_its_role() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.path()), Some(a));
        }
        assert_eq!(Action::parse("explode"), None);
        assert_eq!(Action::Pause.needs(), Role::Contributor);
        assert_eq!(Action::Delete.needs(), Role::Owner);
    }
}
