//! `/api/v1/tenants/{tenant}/connectors`: "My connectors" and their lifecycle verbs.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::extract::{Body, Caller, IfMatch, OptionalBody, Params, Segments};
use super::{ApiState, Errors};
use crate::views::{
    ConnectorView, CreateConnector, Page, ReasonRequest, ResetOffsets, RestartRequest,
    StreamOffset, UpdateConnector,
};

/// Paging of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Items per page, 1 to 100 (default 50).
    pub page_size: Option<usize>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

/// A connector view with its `ETag`.
fn tagged(status: StatusCode, view: ConnectorView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.revision));
    let mut response = (status, Json(view)).into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// List the tenant's connectors.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/connectors", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ListParams),
    responses((status = 200, description = "One page, by name", body = Page<ConnectorView>), Errors),
    security(("bearer" = [])))]
pub async fn list_connectors(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
    Params(params): Params<ListParams>,
) -> Result<Json<Page<ConnectorView>>, ApiError> {
    Ok(Json(
        state
            .manager
            .list(
                &principal,
                &tenant,
                params.page_size,
                params.page_token.as_deref(),
            )
            .await?,
    ))
}

/// Create (connect) a connector for its products.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connectors", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant")),
    request_body = CreateConnector,
    responses((status = 201, description = "Created and running", body = ConnectorView,
        headers(("ETag" = String, description = "Its revision"), ("Location" = String, description = "Its URL"))), Errors),
    security(("bearer" = [])))]
pub async fn create_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
    Body(body): Body<CreateConnector>,
) -> Result<Response, ApiError> {
    let view = state.manager.create(&principal, &tenant, body).await?;
    let location = format!("/api/v1/tenants/{tenant}/connectors/{}", view.name);
    let mut response = tagged(StatusCode::CREATED, view);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Read a connector, with its health and volumes.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/connectors/{name}", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "The connector", body = ConnectorView,
        headers(("ETag" = String, description = "Its revision, for If-Match"))), Errors),
    security(("bearer" = [])))]
pub async fn get_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let view = state.manager.get(&principal, &tenant, &name).await?;
    Ok(tagged(StatusCode::OK, view))
}

/// Replace a connector's configuration, credentials and products (If-Match required).
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/connectors/{name}", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector"),
        ("If-Match" = String, Header, description = "The ETag of the version read")),
    request_body = UpdateConnector,
    responses((status = 200, description = "Updated", body = ConnectorView,
        headers(("ETag" = String, description = "Its new revision"))), Errors),
    security(("bearer" = [])))]
pub async fn update_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
    IfMatch(revision): IfMatch,
    Body(body): Body<UpdateConnector>,
) -> Result<Response, ApiError> {
    let view = state
        .manager
        .update(&principal, &tenant, &name, revision, body)
        .await?;
    Ok(tagged(StatusCode::OK, view))
}

/// Delete a disconnected connector (Owner).
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/connectors/{name}", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    responses((status = 204, description = "Deleted"), Errors),
    security(("bearer" = [])))]
pub async fn delete_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.manager.delete(&principal, &tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause: no provider call at all while paused; the cursor is kept.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connectors/{name}/pause", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "Paused", body = ConnectorView), Errors),
    security(("bearer" = [])))]
pub async fn pause_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let view = state.manager.pause(&principal, &tenant, &name).await?;
    Ok(tagged(StatusCode::OK, view))
}

/// Resume from the cursor: no gap, no duplicate.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connectors/{name}/resume", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "Running", body = ConnectorView), Errors),
    security(("bearer" = [])))]
pub async fn resume_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<Response, ApiError> {
    let view = state.manager.resume(&principal, &tenant, &name).await?;
    Ok(tagged(StatusCode::OK, view))
}

/// Restart collection and deliveries, or only the failed ones.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connectors/{name}/restart", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    request_body(content = RestartRequest, description = "Optional"),
    responses((status = 200, description = "Restarted", body = ConnectorView), Errors),
    security(("bearer" = [])))]
pub async fn restart_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
    OptionalBody(body): OptionalBody<RestartRequest>,
) -> Result<Response, ApiError> {
    let view = state
        .manager
        .restart(&principal, &tenant, &name, body.only_failed)
        .await?;
    Ok(tagged(StatusCode::OK, view))
}

/// Disconnect: stop delivery for every product (Owner; a reason is required).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connectors/{name}/disconnect", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    request_body = ReasonRequest,
    responses((status = 200, description = "Disconnected", body = ConnectorView), Errors),
    security(("bearer" = [])))]
pub async fn disconnect_connector(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
    OptionalBody(body): OptionalBody<ReasonRequest>,
) -> Result<Response, ApiError> {
    let view = state
        .manager
        .disconnect(&principal, &tenant, &name, body.reason)
        .await?;
    Ok(tagged(StatusCode::OK, view))
}

/// A stopped (paused or disconnected) connector's cursor per stream.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/connectors/{name}/offsets", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    responses((status = 200, description = "Cursors", body = Vec<StreamOffset>), Errors),
    security(("bearer" = [])))]
pub async fn get_offsets(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<Json<Vec<StreamOffset>>, ApiError> {
    Ok(Json(
        state.manager.offsets(&principal, &tenant, &name).await?,
    ))
}

/// Reset a stopped connector's cursors to the start or to a time (Owner; audited).
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/connectors/{name}/offsets", tag = "connectors",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The connector")),
    request_body = ResetOffsets,
    responses((status = 200, description = "Cursors after the reset", body = Vec<StreamOffset>), Errors),
    security(("bearer" = [])))]
pub async fn reset_offsets(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
    Body(body): Body<ResetOffsets>,
) -> Result<Json<Vec<StreamOffset>>, ApiError> {
    Ok(Json(
        state
            .manager
            .reset_offsets(&principal, &tenant, &name, body)
            .await?,
    ))
}
