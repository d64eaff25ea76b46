//! `/api/v1/tenants/{tenant}/connectors/{name}/actions`: a connector's response actions,
//! and performing one (or a dry run of it).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::extract::{Caller, OptionalBody, Params, Segments};
use super::{ApiState, Errors};
use crate::views::{ActRequest, ActionResponse, ActionView};

/// Options of an action call.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActParams {
    /// Validate the parameters and show the requests it would send, sending nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The response actions a connector offers, with their parameter schemas.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/connectors/{name}/actions", tag = "actions",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "Its actions", body = Vec<ActionView>), Errors),
    security(("bearer" = [])))]
pub async fn list_actions(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<Json<Vec<ActionView>>, ApiError> {
    Ok(Json(
        state.manager.actions(&principal, &tenant, &name).await?,
    ))
}

/// Perform a response action through the connector's credential and rate budget, ahead of
/// its collection (Contributor), or with `dry_run=true` show what it would send. Audited.
/// The provider's refusal is a 409 `action_refused` with its reason; a failure a 502
/// `action_failed` saying what to do; parameters that do not fit the action's schema a 400
/// naming each field (`parameters.user_id`).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connectors/{name}/actions/{action}", tag = "actions",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector"),
        ("action" = String, Path, description = "The action, e.g. suspend_user"), ActParams),
    request_body(content = ActRequest, description = "Its parameters (optional when it takes none)"),
    responses((status = 200, description = "Done, already done, or (dry run) what it would send", body = ActionResponse), Errors),
    security(("bearer" = [])))]
pub async fn perform_action(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name, action)): Segments<(String, String, String)>,
    Params(params): Params<ActParams>,
    OptionalBody(body): OptionalBody<ActRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    Ok(Json(
        state
            .manager
            .act(&principal, &tenant, &name, &action, body, params.dry_run)
            .await?,
    ))
}
