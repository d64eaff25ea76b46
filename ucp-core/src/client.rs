//! The one HTTP client connectors use, and the request id Azure services expect.
//!
//! At the bottom of the module graph so that contexts can build it; partners reach it as
//! part of the HTTP kit, [`crate::http`].

use std::time::Duration;

use reqwest::header::HeaderName;
use reqwest::redirect::{Attempt, Policy};
use reqwest::Url;

/// The `User-Agent` of every connector request: `ucp/<version>`.
pub const USER_AGENT: &str = concat!("ucp/", env!("CARGO_PKG_VERSION"));

/// How long connecting (TCP and TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a whole request may take, body included; a connector may set another per
/// request with `RequestBuilder::timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How many redirects a request follows.
pub const MAX_REDIRECTS: usize = 5;

/// `x-ms-client-request-id`: the id the Azure SDKs send with every request, echoed by the
/// service and quoted to its support. Set it with [`client_request_id`].
pub const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// A builder with the platform's connector settings, for a connector that needs to change
/// one of them (a longer timeout for a slow export). See [`client`].
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(Policy::custom(redirect))
}

/// The connector HTTP client: TLS by rustls, `User-Agent` [`USER_AGENT`], connections within
/// [`CONNECT_TIMEOUT`], requests within [`REQUEST_TIMEOUT`], and at most [`MAX_REDIRECTS`]
/// redirects, each to the same host and never from https down to http (a redirect elsewhere
/// would carry the connector's API-key headers there; reqwest only strips `Authorization`
/// and cookies). Build one per connector and clone it: clones share the connection pool.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder().build()
}

/// A fresh random request id in the UUID version 4 form
/// (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`), for [`CLIENT_REQUEST_ID`].
pub fn client_request_id() -> String {
    let mut bits: u128 = rand::random();
    bits &= !(0xF << 76) & !(0x3 << 62);
    bits |= (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn redirect(attempt: Attempt) -> reqwest::redirect::Action {
    match refuse_redirect(attempt.previous(), attempt.url()) {
        Some(why) => attempt.error(why),
        None => attempt.follow(),
    }
}

/// Why the redirect to `next` after `previous` (the first being the request's URL) is not
/// followed, if it is not.
fn refuse_redirect(previous: &[Url], next: &Url) -> Option<&'static str> {
    let first = previous.first()?;
    let last = previous.last()?;
    if previous.len() > MAX_REDIRECTS {
        Some("too many redirects")
    } else if next.host_str() != first.host_str() {
        Some("redirect to another host refused")
    } else if last.scheme() == "https" && next.scheme() != "https" {
        Some("redirect from https to http refused")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap};
    use axum::response::Redirect;
    use axum::routing::get;
    use axum::Router;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn request_ids_are_uuid_v4_and_fresh() {
        let id = client_request_id();
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(groups[2].starts_with('4'), "{id}");
        assert!(
            matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
        assert_ne!(client_request_id(), client_request_id());
        assert!(reqwest::header::HeaderValue::from_str(&id).is_ok());
    }

    #[test]
    fn the_user_agent_names_the_platform_and_its_version() {
        assert_eq!(USER_AGENT, format!("ucp/{}", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn redirects_stay_on_the_host_never_downgrade_and_are_counted() {
        let start = url("https://o.okta.com/a");
        assert_eq!(
            refuse_redirect(std::slice::from_ref(&start), &url("https://o.okta.com/b")),
            None
        );
        assert_eq!(
            refuse_redirect(&[url("http://h/a")], &url("https://h/b")),
            None
        );
        assert!(
            refuse_redirect(std::slice::from_ref(&start), &url("https://evil.example/b")).is_some()
        );
        assert!(
            refuse_redirect(std::slice::from_ref(&start), &url("http://o.okta.com/b")).is_some()
        );
        let hops = vec![start.clone(); MAX_REDIRECTS];
        assert_eq!(refuse_redirect(&hops, &start), None);
        let too_many = vec![start.clone(); MAX_REDIRECTS + 1];
        assert!(refuse_redirect(&too_many, &start).is_some());
    }

    #[tokio::test]
    async fn the_client_sends_the_user_agent_and_follows_only_safe_redirects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new()
            .route(
                "/agent",
                get(|headers: HeaderMap| async move {
                    headers
                        .get(header::USER_AGENT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                }),
            )
            .route("/here", get(|| async { Redirect::temporary("/agent") }))
            .route("/loop", get(|| async { Redirect::temporary("/loop") }))
            .route(
                "/away",
                get(move || async move {
                    Redirect::temporary(&format!("http://localhost:{port}/agent"))
                }),
            );
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = client().unwrap();
        let base = format!("http://127.0.0.1:{port}");

        let agent = client.get(format!("{base}/agent")).send().await.unwrap();
        assert_eq!(agent.text().await.unwrap(), USER_AGENT);
        let followed = client.get(format!("{base}/here")).send().await.unwrap();
        assert_eq!(followed.text().await.unwrap(), USER_AGENT);
        let looped = client.get(format!("{base}/loop")).send().await.unwrap_err();
        assert!(looped.is_redirect(), "{looped:?}");
        let away = client.get(format!("{base}/away")).send().await.unwrap_err();
        assert!(away.is_redirect(), "{away:?}");
        server.abort();
    }
}
