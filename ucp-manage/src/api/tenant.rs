//! The rest of a tenant's API: catalog, products, workspace, credentials, roles, audit.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::extract::{Body, Caller, OptionalBody, Params, Segments};
use super::{ApiState, Errors};
use crate::manager::tenancy::AuditFilter;
use crate::model::{AuditEntry, RoleAssignment, Workspace};
use crate::views::{
    AssignRole, CatalogEntry, ConnectWorkspace, CredentialView, Page, ProductEntry, ReasonRequest,
    SecretInput,
};

/// The catalog, with how many of the tenant's connectors use each definition.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/catalog", tag = "catalog",
    params(("tenant" = String, Path, description = "The tenant")),
    responses((status = 200, description = "Every definition's newest version", body = Vec<CatalogEntry>), Errors),
    security(("bearer" = [])))]
pub async fn list_catalog(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
) -> Result<Json<Vec<CatalogEntry>>, ApiError> {
    Ok(Json(
        state.manager.catalog_entries(&principal, &tenant).await?,
    ))
}

/// One definition.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/catalog/{definition}", tag = "catalog",
    params(("tenant" = String, Path, description = "The tenant"), ("definition" = String, Path, description = "The definition's id")),
    responses((status = 200, description = "The definition's newest version", body = CatalogEntry), Errors),
    security(("bearer" = [])))]
pub async fn get_catalog_entry(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, id)): Segments<(String, String)>,
) -> Result<Json<CatalogEntry>, ApiError> {
    Ok(Json(
        state
            .manager
            .catalog_entry(&principal, &tenant, &id)
            .await?,
    ))
}

/// The products connectors can feed.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/products", tag = "workspace",
    params(("tenant" = String, Path, description = "The tenant")),
    responses((status = 200, description = "Products, with their tables once the workspace is connected", body = Vec<ProductEntry>), Errors),
    security(("bearer" = [])))]
pub async fn list_products(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
) -> Result<Json<Vec<ProductEntry>>, ApiError> {
    Ok(Json(state.manager.products(&principal, &tenant).await?))
}

/// The tenant's connected workspace.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/workspace", tag = "workspace",
    params(("tenant" = String, Path, description = "The tenant")),
    responses((status = 200, description = "The workspace", body = Workspace), Errors),
    security(("bearer" = [])))]
pub async fn get_workspace(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(state.manager.workspace(&principal, &tenant).await?))
}

/// Connect the tenant's workspace (Owner; one per tenant, a second is a 409).
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/workspace", tag = "workspace",
    params(("tenant" = String, Path, description = "The tenant")),
    request_body = ConnectWorkspace,
    responses((status = 201, description = "Connected", body = Workspace), Errors),
    security(("bearer" = [])))]
pub async fn connect_workspace(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
    Body(body): Body<ConnectWorkspace>,
) -> Result<(StatusCode, Json<Workspace>), ApiError> {
    let workspace = state
        .manager
        .connect_workspace(&principal, &tenant, body)
        .await?;
    Ok((StatusCode::CREATED, Json(workspace)))
}

/// Offboard the tenant's workspace (Owner; a reason is required).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/workspace/offboard", tag = "workspace",
    params(("tenant" = String, Path, description = "The tenant")),
    request_body = ReasonRequest,
    responses((status = 204, description = "Offboarded"), Errors),
    security(("bearer" = [])))]
pub async fn offboard_workspace(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
    OptionalBody(body): OptionalBody<ReasonRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .manager
        .offboard_workspace(&principal, &tenant, body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Names of the tenant's credentials (Owner).
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/credentials", tag = "credentials",
    params(("tenant" = String, Path, description = "The tenant")),
    responses((status = 200, description = "Names only", body = Vec<CredentialView>), Errors),
    security(("bearer" = [])))]
pub async fn list_credentials(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
) -> Result<Json<Vec<CredentialView>>, ApiError> {
    Ok(Json(state.manager.credentials(&principal, &tenant).await?))
}

/// Store or rotate a credential, write-only (Owner).
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/credentials/{name}", tag = "credentials",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The credential's name")),
    request_body = SecretInput,
    responses((status = 200, description = "Stored (the secret is never returned)", body = CredentialView), Errors),
    security(("bearer" = [])))]
pub async fn put_credential(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
    Body(secret): Body<SecretInput>,
) -> Result<Json<CredentialView>, ApiError> {
    Ok(Json(
        state
            .manager
            .put_credential(&principal, &tenant, &name, secret)
            .await?,
    ))
}

/// Remove a credential no connector uses (Owner).
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/credentials/{name}", tag = "credentials",
    params(("tenant" = String, Path, description = "The tenant"), ("name" = String, Path, description = "The credential's name")),
    responses((status = 204, description = "Removed"), Errors),
    security(("bearer" = [])))]
pub async fn delete_credential(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, name)): Segments<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .manager
        .remove_credential(&principal, &tenant, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's role assignments (Owner).
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/roles", tag = "roles",
    params(("tenant" = String, Path, description = "The tenant")),
    responses((status = 200, description = "Assignments", body = Vec<RoleAssignment>), Errors),
    security(("bearer" = [])))]
pub async fn list_roles(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
) -> Result<Json<Vec<RoleAssignment>>, ApiError> {
    Ok(Json(state.manager.roles(&principal, &tenant).await?))
}

/// Assign a role (Owner).
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/roles/{principal}", tag = "roles",
    params(("tenant" = String, Path, description = "The tenant"), ("principal" = String, Path, description = "The principal's id")),
    request_body = AssignRole,
    responses((status = 200, description = "Assigned", body = RoleAssignment), Errors),
    security(("bearer" = [])))]
pub async fn assign_role(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, who)): Segments<(String, String)>,
    Body(body): Body<AssignRole>,
) -> Result<Json<RoleAssignment>, ApiError> {
    let assigned = state
        .manager
        .set_role(&principal, &tenant, &who, Some(body.role))
        .await?;
    assigned.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the role was not assigned",
        )
    })
}

/// Remove a role assignment (Owner).
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/roles/{principal}", tag = "roles",
    params(("tenant" = String, Path, description = "The tenant"), ("principal" = String, Path, description = "The principal's id")),
    responses((status = 204, description = "Removed"), Errors),
    security(("bearer" = [])))]
pub async fn remove_role(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments((tenant, who)): Segments<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .manager
        .set_role(&principal, &tenant, &who, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only entries about this connector.
    pub connector: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Items per page, 1 to 100 (default 50).
    pub page_size: Option<usize>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

/// The tenant's audit log, newest first.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/audit", tag = "audit",
    params(("tenant" = String, Path, description = "The tenant"), AuditParams),
    responses((status = 200, description = "One page, newest first", body = Page<AuditEntry>), Errors),
    security(("bearer" = [])))]
pub async fn list_audit(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Segments(tenant): Segments<String>,
    Params(params): Params<AuditParams>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let filter = AuditFilter {
        connector: params.connector,
        since: params.since,
        until: params.until,
        page_size: params.page_size,
        page_token: params.page_token,
    };
    Ok(Json(
        state.manager.audit_log(&principal, &tenant, filter).await?,
    ))
}
