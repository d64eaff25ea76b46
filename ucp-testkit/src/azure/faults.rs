//! Scheduled faults shared by the Azure product emulators: throttling, server errors,
//! latency and auth failures, injected on the next calls or on every call.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
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

/// Faults for the next calls (in order) and, optionally, one for every call after them.
#[derive(Debug, Default)]
pub(crate) struct FaultSchedule {
    inner: Mutex<Schedule>,
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

/// The response for an injected fault.
pub(crate) fn fault_response(fault: &ProductFault) -> Response {
    match fault {
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
