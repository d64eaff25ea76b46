//! Fault injection for any HTTP simulator: a tower [`Layer`] that wraps an axum `Router`.
//!
//! A [`Faults`] handle holds the plan — faults at given request numbers, faults for the next
//! requests, and optionally a seeded random mix — plus counters. [`Faults::layer`] gives the
//! layer to put around a router (`router.layer(faults.layer())`); the handle stays with the
//! test to change the plan, count requests and list what was injected.
//!
//! For a simulator or emulator whose router you cannot wrap (another crate's, or a real
//! server such as Azurite), [`FaultProxy`] serves the layer in front of its base URL.
//!
//! Rate limits can be stated in any of the [`RateLimitDialect`]s: [`Fault::Throttled`] answers
//! 429 in one, [`Fault::RateLimitHeaders`] restates the simulator's own answer in one.
//!
//! Seeded plans are deterministic: the fault of request *n* depends only on the seed and *n*,
//! so a failing case is replayed by running it again with the seed [`Faults::seed`] reports.
//!
//! ```
//! use std::time::Duration;
//! use ucp_testkit::faults::{Fault, Faults};
//! let faults = Faults::new().at(2, Fault::ServerError(503)).seeded(7, 0.1);
//! faults.push_next(Fault::Latency(Duration::from_millis(20)));
//! let app: axum::Router = axum::Router::new().layer(faults.layer());
//! # let _ = app;
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower_layer::Layer;
use tower_service::Service;
use ucp_core::Clock;

mod dialect;
mod proxy;

pub use dialect::{http_date, Quota, RateLimitDialect, RATE_LIMIT_HEADERS};
pub use proxy::FaultProxy;

/// Largest body the layer buffers to corrupt it.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before passing the request on.
    Latency(Duration),
    /// Answer `429` with `Retry-After` and `X-Rate-Limit-{Limit,Remaining,Reset}` (limit 600, remaining 0,
    /// reset `retry_after` from now, in epoch seconds), without calling the simulator: a
    /// throttle any client recognizes, for checks about retrying rather than about reading
    /// one dialect ([`Fault::Throttled`] speaks exactly one).
    RateLimited {
        /// Seconds until the window resets.
        retry_after: Duration,
    },
    /// Answer `429` stating `quota` in `dialect` and in no other (no `Retry-After` unless the
    /// dialect is one of `Retry-After`'s), without calling the simulator.
    Throttled {
        /// The headers' dialect.
        dialect: RateLimitDialect,
        /// What they say; `reset_in` is when the client may call again.
        quota: Quota,
    },
    /// Pass the request on, then replace every rate-limit header of the simulator's answer
    /// with `quota` stated in `dialect` (the `Retry-After` dialects state nothing on an
    /// answer that is not a 429).
    RateLimitHeaders {
        /// The headers' dialect.
        dialect: RateLimitDialect,
        /// What they say.
        quota: Quota,
    },
    /// Answer this status (e.g. 500, 503) with a JSON error body, without calling the simulator.
    ServerError(u16),
    /// Close the connection without a response.
    ConnectionReset,
    /// Send the simulator's status and headers, then half the body, then close the connection
    /// (the announced `Content-Length` is not met).
    TruncatedBody,
    /// Answer the simulator's status with a body that is not the JSON the API promises.
    MalformedJson,
    /// Send the simulator's answer in `chunk`-byte pieces, `delay` apart.
    SlowDrip {
        /// Bytes per piece.
        chunk: usize,
        /// Pause before each piece.
        delay: Duration,
    },
    /// Answer `401` as if the credential had just expired, without calling the simulator.
    AuthExpired,
}

impl Fault {
    /// Every kind once, with small parameters: the mix a seeded plan draws from.
    pub fn all_kinds() -> Vec<Fault> {
        vec![
            Fault::Latency(Duration::from_millis(30)),
            Fault::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            Fault::ServerError(503),
            Fault::ConnectionReset,
            Fault::TruncatedBody,
            Fault::MalformedJson,
            Fault::SlowDrip {
                chunk: 64,
                delay: Duration::from_millis(1),
            },
            Fault::AuthExpired,
        ]
    }
}

/// The seeded part of a plan: each request faults with probability `rate`, drawing the kind
/// from `kinds`.
#[derive(Clone, Debug)]
struct Seeded {
    seed: u64,
    rate: f64,
    kinds: Vec<Fault>,
}

impl Seeded {
    /// The fault of request `n`, from the seed and `n` alone.
    fn pick(&self, n: u64) -> Option<Fault> {
        if self.kinds.is_empty() {
            return None;
        }
        let mut rng = StdRng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if rng.random::<f64>() >= self.rate {
            return None;
        }
        let index = rng.random_range(0..self.kinds.len());
        self.kinds.get(index).cloned()
    }
}

#[derive(Debug, Default)]
struct Plan {
    at: BTreeMap<u64, Vec<Fault>>,
    next: VecDeque<Fault>,
    seeded: Option<Seeded>,
    requests: u64,
    injected: Vec<(u64, Fault)>,
}

/// A fault plan and its counters, shared by the layer and the test. Cheap to clone.
#[derive(Clone, Default)]
pub struct Faults {
    plan: Arc<Mutex<Plan>>,
    clock: Clock,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.lock();
        f.debug_struct("Faults")
            .field("seed", &plan.seeded.as_ref().map(|s| s.seed))
            .field("requests", &plan.requests)
            .field("injected", &plan.injected.len())
            .finish()
    }
}

impl Faults {
    /// No faults: requests pass through and are counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compute rate-limit resets on this clock (default: a fresh `Clock::new()`).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Inject `fault` into the `request`-th request (1-based, counted from the first request
    /// the layer sees). Several faults on one request combine (latency then the answer).
    pub fn at(self, request: u64, fault: Fault) -> Self {
        self.lock().at.entry(request).or_default().push(fault);
        self
    }

    /// Fault each request with probability `rate`, drawing from [`Fault::all_kinds`];
    /// deterministic given `seed`.
    pub fn seeded(self, seed: u64, rate: f64) -> Self {
        self.seeded_with(seed, rate, Fault::all_kinds())
    }

    /// Like [`Faults::seeded`], drawing from `kinds`.
    pub fn seeded_with(self, seed: u64, rate: f64, kinds: Vec<Fault>) -> Self {
        self.lock().seeded = Some(Seeded { seed, rate, kinds });
        self
    }

    /// Inject `fault` into the next request that has no fault scheduled by number.
    pub fn push_next(&self, fault: Fault) {
        self.lock().next.push_back(fault);
    }

    /// Drop every fault still planned (counters stay).
    pub fn clear(&self) {
        let mut plan = self.lock();
        plan.at.clear();
        plan.next.clear();
        plan.seeded = None;
    }

    /// The seed of the random part of the plan, if any: report it with any failure.
    pub fn seed(&self) -> Option<u64> {
        self.lock().seeded.as_ref().map(|s| s.seed)
    }

    /// Requests the layer has seen.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Faults injected so far, with their request numbers.
    pub fn injected(&self) -> Vec<(u64, Fault)> {
        self.lock().injected.clone()
    }

    /// The layer to wrap a router with.
    pub fn layer(&self) -> FaultLayer {
        FaultLayer {
            faults: self.clone(),
        }
    }

    /// Count a request and decide its faults.
    fn decide(&self) -> Vec<Fault> {
        let mut plan = self.lock();
        plan.requests += 1;
        let n = plan.requests;
        let mut faults = match plan.at.remove(&n) {
            Some(scheduled) => scheduled,
            None => plan.next.pop_front().into_iter().collect(),
        };
        if faults.is_empty() {
            faults.extend(plan.seeded.as_ref().and_then(|s| s.pick(n)));
        }
        plan.injected.extend(faults.iter().map(|f| (n, f.clone())));
        faults
    }

    fn lock(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The tower layer of a [`Faults`] plan. Works around any axum `Router` (or any service of
/// `Request<Body>` that answers `Response<Body>`).
#[derive(Clone, Debug)]
pub struct FaultLayer {
    faults: Faults,
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            faults: self.faults.clone(),
        }
    }
}

/// The service [`FaultLayer`] produces.
#[derive(Clone, Debug)]
pub struct FaultService<S> {
    inner: S,
    faults: Faults,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for FaultService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let faults = self.faults.decide();
        // Take the service that was driven to readiness; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let clock = self.faults.clock;
        Box::pin(async move {
            let mut answer = None;
            let mut body_fault = None;
            let mut restate = None;
            for fault in faults {
                match fault {
                    Fault::Latency(d) => tokio::time::sleep(d).await,
                    Fault::RateLimited { retry_after } => {
                        answer = answer.or(Some(throttled(clock, retry_after)))
                    }
                    Fault::Throttled { dialect, quota } => {
                        answer = answer.or(Some(throttled_in(clock, dialect, &quota)))
                    }
                    Fault::RateLimitHeaders { dialect, quota } => restate = Some((dialect, quota)),
                    Fault::ServerError(status) => answer = answer.or(Some(server_error(status))),
                    Fault::AuthExpired => answer = answer.or(Some(unauthorized())),
                    Fault::ConnectionReset => answer = answer.or(Some(reset())),
                    other => body_fault = Some(other),
                }
            }
            if let Some(answer) = answer {
                return Ok(answer);
            }
            let mut response = inner.call(request).await?;
            if let Some((dialect, quota)) = restate {
                let refusing = response.status() == StatusCode::TOO_MANY_REQUESTS;
                dialect.restate(response.headers_mut(), &quota, clock.now_utc(), refusing);
            }
            Ok(match body_fault {
                Some(fault) => corrupt(response, fault).await,
                None => response,
            })
        })
    }
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Injected errors speak Okta's error body (with a fresh `errorId`), the richest shape of
/// the simulators'; clients of other providers read only the status.
fn error_body(code: &str, summary: &str) -> String {
    crate::okta::errors::error_body(code, summary, &[])
}

fn throttled(clock: Clock, retry_after: Duration) -> Response<Body> {
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        error_body("E0000047", "API call exceeded rate limit (injected fault)"),
    );
    let secs = retry_after.as_secs().max(1);
    let reset = clock.now_utc().timestamp() + secs as i64;
    let headers = response.headers_mut();
    for (name, value) in [
        ("retry-after", secs.to_string()),
        ("x-rate-limit-limit", "600".to_string()),
        ("x-rate-limit-remaining", "0".to_string()),
        ("x-rate-limit-reset", reset.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn throttled_in(clock: Clock, dialect: RateLimitDialect, quota: &Quota) -> Response<Body> {
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        error_body(
            "E0000047",
            &format!("API call exceeded rate limit (injected fault, {dialect} headers)"),
        ),
    );
    dialect.restate(response.headers_mut(), quota, clock.now_utc(), true);
    response
}

fn server_error(status: u16) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(
        status,
        error_body("E0000009", "Internal Server Error (injected fault)"),
    )
}

fn unauthorized() -> Response<Body> {
    json(
        StatusCode::UNAUTHORIZED,
        error_body(
            "E0000011",
            "Invalid token provided (injected fault: expired)",
        ),
    )
}

/// An error from the body before any byte: hyper drops the connection instead of answering.
fn reset() -> Response<Body> {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("1024"));
    response
}

async fn corrupt(response: Response<Body>, fault: Fault) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return reset(),
    };
    let body = match fault {
        Fault::MalformedJson => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from("{\"unexpected\": [\"injected malformed body\"")
        }
        Fault::TruncatedBody => {
            let half = bytes.slice(..bytes.len() / 2);
            if let Ok(full) = HeaderValue::from_str(&bytes.len().max(1).to_string()) {
                parts.headers.insert(header::CONTENT_LENGTH, full);
            }
            // Pause after the half so it is flushed before the connection drops.
            let cut = futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected truncation",
                ))
            });
            let half = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(half) });
            Body::from_stream(futures::StreamExt::chain(half, cut))
        }
        Fault::SlowDrip { chunk, delay } => {
            let chunk = chunk.max(1);
            let pieces: Vec<Bytes> = (0..bytes.len())
                .step_by(chunk)
                .map(|start| bytes.slice(start..(start + chunk).min(bytes.len())))
                .collect();
            let stream = futures::stream::unfold(pieces.into_iter(), move |mut rest| async move {
                let piece = rest.next()?;
                tokio::time::sleep(delay).await;
                Some((Ok::<Bytes, std::io::Error>(piece), rest))
            });
            Body::from_stream(stream)
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_picks_depend_on_seed_and_request_only() {
        let seeded = |seed| Seeded {
            seed,
            rate: 0.5,
            kinds: Fault::all_kinds(),
        };
        let a: Vec<Option<Fault>> = (1..200).map(|n| seeded(3).pick(n)).collect();
        let again: Vec<Option<Fault>> = (1..200).rev().map(|n| seeded(3).pick(n)).collect();
        assert_eq!(a, again.into_iter().rev().collect::<Vec<_>>());
        let hits = a.iter().flatten().count();
        assert!((60..140).contains(&hits), "{hits} of 199 at rate 0.5");
        let b: Vec<Option<Fault>> = (1..200).map(|n| seeded(4).pick(n)).collect();
        assert_ne!(a, b);
        let never = Seeded {
            seed: 3,
            rate: 0.0,
            kinds: Fault::all_kinds(),
        };
        assert!((1..200).all(|n| never.pick(n).is_none()));
    }

    #[test]
    fn scheduled_faults_win_over_next_and_seeded_ones() {
        let faults = Faults::new().at(1, Fault::ServerError(500)).seeded_with(
            1,
            1.0,
            vec![Fault::AuthExpired],
        );
        faults.push_next(Fault::MalformedJson);
        assert_eq!(faults.decide(), vec![Fault::ServerError(500)]);
        assert_eq!(faults.decide(), vec![Fault::MalformedJson]);
        assert_eq!(faults.decide(), vec![Fault::AuthExpired]);
        faults.clear();
        assert!(faults.decide().is_empty());
        assert_eq!(faults.requests(), 4);
        assert_eq!(faults.injected().len(), 3);
    }
}
