//! The ids an Azure call carries, as the emulators see and answer them: the caller's
//! `User-Agent` and `x-ms-client-request-id`, and the `x-ms-request-id` the service gives
//! every response (echoing the client's id next to it), which its support asks for.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

/// `x-ms-client-request-id`: the caller's id of a request.
pub const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";
/// `x-ms-request-id`: the service's id of a request.
pub const REQUEST_ID: &str = "x-ms-request-id";

/// What one call said about itself, and the id the emulator answered it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallIds {
    /// Its `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
    /// Its `x-ms-client-request-id`, if it sent one.
    pub client_request_id: Option<String>,
    /// The `x-ms-request-id` of the answer: fresh for every call.
    pub request_id: String,
}

impl CallIds {
    /// The ids of a call with `headers`, and a fresh service id for it.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        CallIds {
            user_agent: text("user-agent"),
            client_request_id: text(CLIENT_REQUEST_ID),
            // The same UUID form the service uses.
            request_id: ucp_core::http::client_request_id(),
        }
    }

    /// Put the service's id, and the echo of the client's, on `response`.
    pub(crate) fn stamp(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&self.request_id) {
            headers.insert(HeaderName::from_static(REQUEST_ID), id);
        }
        if let Some(id) = self
            .client_request_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.insert(HeaderName::from_static(CLIENT_REQUEST_ID), id);
        }
    }
}

/// Asserts that every call carried ucp's `User-Agent` ([`ucp_core::http::USER_AGENT`]) and
/// an `x-ms-client-request-id` of its own: a UUID that no other call shares, as the Azure
/// SDKs send, retries included.
///
/// # Panics
///
/// When a call did not, naming it.
pub fn assert_each_traceable(calls: &[CallIds]) {
    let mut seen = std::collections::HashSet::new();
    for (n, call) in calls.iter().enumerate() {
        assert_eq!(
            call.user_agent.as_deref(),
            Some(ucp_core::http::USER_AGENT),
            "call #{n}: {call:?}"
        );
        let id = call
            .client_request_id
            .as_deref()
            .unwrap_or_else(|| panic!("call #{n} has no client request id: {call:?}"));
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert!(
            groups == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "call #{n}: {id} is not a UUID"
        );
        assert!(seen.insert(id), "call #{n} reuses client request id {id}");
    }
}

/// Asserts that `error` names the service's request id of `call` (`request id <id>`) and that
/// the log (`tracing` output, e.g. a [`TraceCapture`](crate::leak::TraceCapture)'s) has it as
/// a `request_id` field, as a provider's support needs to find the call.
///
/// # Panics
///
/// When either does not.
pub fn assert_request_id_named(error: &impl std::fmt::Display, call: &CallIds, log: &str) {
    let id = &call.request_id;
    assert!(
        error.to_string().contains(&format!("request id {id}")),
        "the error does not name request id {id}: {error}"
    );
    assert!(
        log.contains(&format!("request_id={id}")),
        "the log does not name request id {id}:\n{log}"
    );
}
