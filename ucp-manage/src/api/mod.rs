//! The REST API: an axum [`Router`] a host mounts (or `ucpd` serves), with its OpenAPI
//! document at `/openapi.json`.
//!
//! Every route is declared together with its documentation (`utoipa-axum`), so the document
//! lists exactly the routes served. Every error is a JSON body with a code and a sentence;
//! lists are paged; updates need `If-Match` (412 on a stale version); bodies are limited to
//! 64 KiB. The web pages ([`crate::ui`]) are served under `/ui/` by the same router.

mod actions;
mod connectors;
mod error;
mod extract;
mod tenant;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{scrub, ApiError, ErrorBody};

use crate::manager::Manager;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler reaches.
#[derive(Clone)]
pub struct ApiState {
    manager: Manager,
}

/// The error responses every route may give.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Errors {
    /// The request is invalid (each problem names its field).
    #[response(status = 400)]
    Invalid(#[to_schema] ErrorBody),
    /// No or bad credentials.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role is too low.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Not found, or in a tenant the caller has no role in.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The change conflicts with the current state (or, for an action, the provider
    /// refused it: `action_refused`, with the reason).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The version named by If-Match is stale.
    #[response(status = 412)]
    Stale(ErrorBody),
    /// The body is larger than 64 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A prerequisite of the definition is not met.
    #[response(status = 422)]
    Prerequisites(ErrorBody),
    /// An update without If-Match.
    #[response(status = 428)]
    PreconditionRequired(ErrorBody),
    /// A response action failed at the provider (`action_failed`: what happened and what
    /// to do).
    #[response(status = 502)]
    ActionFailed(ErrorBody),
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`ucpk_…`) or a JWT from the configured identity provider",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ucp management API", description = "Catalog, connectors and their lifecycle, workspace, credentials, roles and audit of a ucp platform. Tenants are walls: anything in a tenant you have no role in answers 404."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, crate::error::Problem, crate::error::UnmetPrerequisite)),
    tags(
        (name = "catalog", description = "Connector definitions"),
        (name = "connectors", description = "My connectors and their lifecycle"),
        (name = "actions", description = "Response actions through a connector's credential and budget"),
        (name = "workspace", description = "The tenant's destination workspace and its products"),
        (name = "credentials", description = "Write-only secrets"),
        (name = "roles", description = "Role assignments per tenant"),
        (name = "audit", description = "The append-only audit log"),
    )
)]
struct ApiDoc;

fn parts() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tenant::list_catalog))
        .routes(routes!(tenant::get_catalog_entry))
        .routes(routes!(tenant::list_products))
        .routes(routes!(
            connectors::list_connectors,
            connectors::create_connector
        ))
        .routes(routes!(
            connectors::get_connector,
            connectors::update_connector,
            connectors::delete_connector
        ))
        .routes(routes!(connectors::pause_connector))
        .routes(routes!(connectors::resume_connector))
        .routes(routes!(connectors::restart_connector))
        .routes(routes!(connectors::disconnect_connector))
        .routes(routes!(connectors::get_offsets, connectors::reset_offsets))
        .routes(routes!(actions::list_actions))
        .routes(routes!(actions::perform_action))
        .routes(routes!(tenant::get_workspace, tenant::connect_workspace))
        .routes(routes!(tenant::offboard_workspace))
        .routes(routes!(tenant::list_credentials))
        .routes(routes!(tenant::put_credential, tenant::delete_credential))
        .routes(routes!(tenant::list_roles))
        .routes(routes!(tenant::assign_role, tenant::remove_role))
        .routes(routes!(tenant::list_audit))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().into_openapi()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route: the API is under /api/v1 (see /openapi.json)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method (see /openapi.json)",
    )
}

/// The API over `manager`: `/api/v1/…` and `/openapi.json`, with the web pages under
/// `/ui/` ([`crate::ui`], sessions of the default timeouts).
pub fn router(manager: Manager) -> Router {
    router_with(manager, std::sync::Arc::new(crate::ui::Sessions::default()))
}

/// [`router`] keeping the web pages' sign-ins in `sessions`.
pub fn router_with(manager: Manager, sessions: std::sync::Arc<crate::ui::Sessions>) -> Router {
    let pages = crate::ui::router_with(manager.clone(), sessions);
    let (api, document) = parts().split_for_parts();
    let document = serde_json::to_value(&document).unwrap_or_default();
    api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { Json(document).into_response() }
        }),
    )
    .nest_service(crate::ui::BASE, pages)
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .with_state(ApiState { manager })
}
