//! What a page answers instead of itself: the sign-in page (no session, or it ended), or a
//! page with the status and the manager's sentence (the same status and sentence the API
//! would give).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{layout, BASE};
use crate::api::ApiError;
use crate::error::ManageError;

/// Why a page is not shown.
#[derive(Debug)]
pub(crate) enum UiError {
    /// Sign in first, then come back to `next` (a path under [`BASE`]).
    SignIn {
        /// Where to go after signing in.
        next: String,
        /// The session ended (timeout, revoked key), rather than never existed.
        ended: bool,
    },
    /// A page saying what is wrong.
    Page {
        /// The status.
        status: StatusCode,
        /// The page's title.
        title: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

impl UiError {
    /// A page with `status` and `message`.
    pub(crate) fn page(status: StatusCode, message: impl Into<String>) -> Self {
        UiError::Page {
            status,
            title: title_of(status),
            message: message.into(),
        }
    }
}

fn title_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Not valid",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::UNPROCESSABLE_ENTITY => "Prerequisites not met",
        s if s.is_server_error() => "Something failed",
        _ => "Not done",
    }
}

impl From<ManageError> for UiError {
    fn from(error: ManageError) -> Self {
        // The API's mapping: the same status, and a store's internals kept in the log.
        let api = ApiError::from(error);
        UiError::page(api.status(), api.body().message.clone())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next, ended } => {
                let mut to = format!("{BASE}/sign-in?next={}", encode(&next));
                if ended {
                    to.push_str("&ended=1");
                }
                see_other(&to)
            }
            UiError::Page {
                status,
                title,
                message,
            } => page_error(status, title, &message),
        }
    }
}

/// A page with `status`, a heading and a sentence.
pub(crate) fn page_error(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p class="problem" role="alert" { (message) }
        p { a href={ (BASE) "/" } { "Back to the gallery" } }
    };
    (status, layout::bare(title, body)).into_response()
}

/// Any path under `/ui/` without a page.
pub(crate) async fn not_found() -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page here. Check the address, or go back to the gallery.",
    )
}

/// A `303 See Other` to `to` (after a form, so reloading does not send it again).
pub(crate) fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `text` for a query string: everything but unreserved characters percent-encoded.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode("/ui/t/contoso/connectors?sort=name&x=a b"),
            "/ui/t/contoso/connectors%3Fsort%3Dname%26x%3Da%20b"
        );
    }

    #[test]
    fn manager_errors_keep_the_apis_status_and_sentence() {
        let UiError::Page {
            status, message, ..
        } = UiError::from(ManageError::NotFound("connector 'x' not found".into()))
        else {
            panic!("a page");
        };
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(message, "connector 'x' not found");
    }

    proptest::proptest! {
        #[test]
        fn encoding_keeps_only_safe_characters_and_decodes_back(text in ".{0,40}") {
            let encoded = encode(&text);
            proptest::prop_assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b)));
            let mut bytes = Vec::new();
            let raw = encoded.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'%' {
                    let hex = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap();
                    bytes.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    bytes.push(raw[i]);
                    i += 1;
                }
            }
            proptest::prop_assert_eq!(String::from_utf8(bytes).unwrap(), text);
        }
    }
}
