//! Scheduled faults shared by the Azure product emulators: throttling, server errors,
//! latency and auth failures, injected on the next calls or on every call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::json;

/// One injected misbehaviour of a product endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductFault {
    /// Answer with this status (429, 500, 503, …) and an optional `Retry-After` in seconds.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` seconds, if any.
        retry_after: Option<u64>,
    },
    /// Answer 401 as if the credential were invalid (token expired at the service).
    Unauthorized,
    /// Answer 403 as if the principal lacked the role.
    Forbidden,
    /// Wait this long, then handle the call normally.
    Latency(Duration),
    /// Answer 429 with `Retry-After` as an HTTP date this many seconds after the service's
    /// clock (which [`set_clock_offset`](super::LogsIngestion::set_clock_offset) may skew).
    ThrottledUntil {
        /// Seconds after the service's "now".
        seconds: u64,
    },
}

impl ProductFault {
    /// 429 with `Retry-After: seconds`.
    pub fn throttle(seconds: u64) -> Self {
        ProductFault::Status {
            status: 429,
            retry_after: Some(seconds),
        }
    }

    /// 503 without `Retry-After`.
    pub fn unavailable() -> Self {
        ProductFault::Status {
            status: 503,
            retry_after: None,
        }
    }
}

/// Faults for the next calls (in order) and, optionally, one for every call after them; and
/// the service's clock, which may run off the host's.
#[derive(Debug, Default)]
pub(crate) struct FaultSchedule {
    inner: Mutex<Schedule>,
    clock: ucp_core::Clock,
    /// Milliseconds the service's clock is ahead of the host's (negative: behind).
    offset_ms: AtomicI64,
}

#[derive(Debug, Default)]
struct Schedule {
    next: VecDeque<ProductFault>,
    always: Option<ProductFault>,
}

impl FaultSchedule {
    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, faults: impl IntoIterator<Item = ProductFault>) {
        self.lock().next.extend(faults);
    }

    pub(crate) fn always(&self, fault: Option<ProductFault>) {
        self.lock().always = fault;
    }

    /// Run the service's clock `offset` off the host's.
    pub(crate) fn set_clock_offset(&self, offset: chrono::Duration) {
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
    }

    /// The service's clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        let now = self.clock.now_utc();
        now.checked_add_signed(offset).unwrap_or(now)
    }

    pub(crate) fn clear(&self) {
        let mut schedule = self.lock();
        schedule.next.clear();
        schedule.always = None;
    }

    /// The fault for this call, if any; latency is served here and reported as no fault.
    pub(crate) async fn take(&self) -> Option<ProductFault> {
        let fault = {
            let mut schedule = self.lock();
            schedule
                .next
                .pop_front()
                .or_else(|| schedule.always.clone())
        };
        match fault {
            Some(ProductFault::Latency(delay)) => {
                tokio::time::sleep(delay).await;
                None
            }
            other => other,
        }
    }
}

/// A refused call: becomes the Azure-style error response.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        azure_error(self.status, self.code, &self.message)
    }
}

/// The Azure-style error response `{"error":{"code","message"}}`.
pub(crate) fn azure_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// Every response carries the service's own `Date` (hyper would send the host's).
pub(crate) fn stamp_date(response: &mut Response, now: DateTime<Utc>) {
    if let Ok(value) = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string().parse() {
        response.headers_mut().insert(header::DATE, value);
    }
}

/// The response for an injected fault, at `now` on the service's clock.
pub(crate) fn fault_response(fault: &ProductFault, now: DateTime<Utc>) -> Response {
    match fault {
        ProductFault::ThrottledUntil { seconds } => {
            let mut response = azure_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "injected fault",
            );
            let until = i64::try_from(*seconds)
                .ok()
                .and_then(|s| now.checked_add_signed(chrono::Duration::seconds(s)))
                .unwrap_or(now);
            if let Ok(value) = until
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string()
                .parse()
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        ProductFault::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = if status == StatusCode::TOO_MANY_REQUESTS {
                "TooManyRequests"
            } else {
                "ServiceUnavailable"
            };
            let mut response = azure_error(status, code, "injected fault");
            if let Some(seconds) = retry_after {
                if let Ok(value) = seconds.to_string().parse() {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        ProductFault::Unauthorized => azure_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "injected fault: the access token is invalid",
        ),
        ProductFault::Forbidden => azure_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "injected fault: the principal lacks the required role",
        ),
        ProductFault::Latency(_) => StatusCode::OK.into_response(),
    }
}
