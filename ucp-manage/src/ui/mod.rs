//! The web pages under `/ui/`: the data connectors gallery — the **Catalog** (with a
//! connect form generated from each definition's configuration schema), **My connectors**,
//! and each **connector's page** with its health, volumes, products, cursors, audit trail
//! and actions.
//!
//! Pages are rendered on the server ([`maud`]) from the same [`Manager`] operations the REST
//! API calls, so authorization, validation and audit are the manager's: a page offers only
//! what the principal's role allows, and the manager refuses the rest whatever is posted.
//! The only script refreshes status and counters in place (`static/live.js`); every page
//! works without it.
//!
//! Sign-in takes an API key or a bearer token in a form (never in a URL) and gives the
//! browser a session cookie ([`session`]); every state-changing form carries the session's
//! CSRF token, and cross-site posts are refused before any handler runs.

mod actions;
mod assets;
mod catalog;
mod chart;
mod connect;
mod connect_form;
mod connector;
mod connectors;
mod error;
mod field;
mod form;
mod layout;
mod schema_form;
pub mod session;
mod sign_in;
mod signed_in;
mod status;
mod timeline;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::manager::Manager;
pub use session::Sessions;

/// Where the pages are mounted.
pub const BASE: &str = "/ui";

/// The largest form accepted.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What every page handler reaches.
#[derive(Clone)]
pub(crate) struct UiState {
    manager: Manager,
    sessions: Arc<Sessions>,
}

/// The pages over `manager`, with sessions of the default timeouts; paths are relative to
/// [`BASE`] (the API's router nests them there).
pub fn router(manager: Manager) -> Router {
    router_with(manager, Arc::new(Sessions::default()))
}

/// The pages over `manager`, keeping sign-ins in `sessions`.
pub fn router_with(manager: Manager, sessions: Arc<Sessions>) -> Router {
    Router::new()
        .route("/", get(sign_in::home))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", axum::routing::post(sign_in::sign_out))
        .route("/static/ui.css", get(assets::css))
        .route("/static/live.js", get(assets::script))
        .route("/t/{tenant}/catalog", get(catalog::page))
        .route(
            "/t/{tenant}/catalog/{definition}/connect",
            get(connect::form).post(connect::submit),
        )
        .route("/t/{tenant}/connectors", get(connectors::page))
        .route("/t/{tenant}/connectors/{name}", get(connector::page))
        .route(
            "/t/{tenant}/connectors/{name}/{action}",
            get(actions::confirm).post(actions::perform),
        )
        .fallback(error::not_found)
        .layer(middleware::from_fn(same_origin_posts))
        .layer(middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(UiState { manager, sessions })
}

/// A post from another site is refused before any handler runs (besides the `SameSite`
/// cookie and the forms' CSRF tokens): browsers say where a request comes from in
/// `Sec-Fetch-Site` and `Origin`.
async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        if let Some(why) = cross_site(request.headers()) {
            return error::page_error(axum::http::StatusCode::FORBIDDEN, "Refused", why)
                .into_response();
        }
    }
    next.run(request).await
}

fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" || site == "same-site" {
            return Some("This form was sent from another site, so it was not accepted. Open the page on this server and send it from there.");
        }
    }
    if let (Some(origin), Some(host)) = (text(header::ORIGIN), text(header::HOST)) {
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(origin);
        if origin == "null" || origin_host != host {
            return Some("This form was sent from another origin, so it was not accepted. Open the page on this server and send it from there.");
        }
    }
    None
}

/// Every page: no framing, no inline script or style, nothing from elsewhere, not cached.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn posts_from_elsewhere_are_told_apart() {
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8640")])).is_none());
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:8640"),
            ("origin", "http://127.0.0.1:8640"),
            ("sec-fetch-site", "same-origin"),
        ]))
        .is_none());
        for bad in [
            [
                ("host", "127.0.0.1:8640"),
                ("origin", "http://evil.example"),
            ],
            [("host", "127.0.0.1:8640"), ("origin", "null")],
            [("host", "127.0.0.1:8640"), ("sec-fetch-site", "cross-site")],
        ] {
            assert!(cross_site(&headers(&bad)).is_some(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_origin_and_host_are_judged_without_panicking(origin in "[ -~]{0,40}", host in "[ -~]{0,30}", site in "[a-z-]{0,12}") {
            let mut map = HeaderMap::new();
            for (name, value) in [("origin", origin.as_str()), ("host", host.as_str()), ("sec-fetch-site", site.as_str())] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    map.insert(name, v);
                }
            }
            let verdict = cross_site(&map);
            if site == "cross-site" {
                proptest::prop_assert!(verdict.is_some());
            }
        }
    }
}
