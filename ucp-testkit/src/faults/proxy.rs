//! A loopback reverse proxy that puts a [`Faults`] layer in front of any HTTP server.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use axum::Router;

use super::Faults;

/// Headers that belong to one hop, not to the exchange.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
];

#[derive(Clone)]
struct Upstream {
    base: String,
    proxy: String,
    client: reqwest::Client,
}

/// Forwards every request to an upstream base URL through a fault layer. `Link` and
/// `Location` headers naming the upstream are rewritten to the proxy, so a client that
/// follows them stays behind the faults. Stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FaultProxy {
    /// Serve on 127.0.0.1 a proxy to `upstream` (e.g. `http://127.0.0.1:4000`) behind `faults`.
    pub async fn start(upstream: impl Into<String>, faults: &Faults) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| std::io::Error::other(format!("proxy HTTP client: {e}")))?;
        let upstream = Upstream {
            base: upstream.into().trim_end_matches('/').to_string(),
            proxy: format!("http://{addr}"),
            client,
        };
        let app = Router::new()
            .fallback(forward)
            .with_state(upstream)
            .layer(faults.layer());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "fault proxy stopped");
            }
        });
        Ok(FaultProxy { addr, server })
    }

    /// `http://127.0.0.1:<port>`: point the connector here instead of at the upstream.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return bad_gateway(format!("reading the request body: {e}")),
    };
    let mut outgoing = upstream
        .client
        .request(parts.method, format!("{}{path}", upstream.base))
        .body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => return bad_gateway(format!("upstream request: {}", e.without_url())),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return bad_gateway(format!("upstream body: {}", e.without_url())),
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if HOP_BY_HOP.contains(&name.as_str()) || name == "content-length" {
            continue;
        }
        let value = rewrite(name, value, &upstream);
        response.headers_mut().append(name.clone(), value);
    }
    response
}

/// Point links at the proxy.
fn rewrite(name: &HeaderName, value: &HeaderValue, upstream: &Upstream) -> HeaderValue {
    if name != "link" && name != "location" {
        return value.clone();
    }
    value
        .to_str()
        .ok()
        .map(|text| text.replace(&upstream.base, &upstream.proxy))
        .and_then(|text| HeaderValue::from_str(&text).ok())
        .unwrap_or_else(|| value.clone())
}

fn bad_gateway(why: String) -> Response<Body> {
    let mut response = Response::new(Body::from(why));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
