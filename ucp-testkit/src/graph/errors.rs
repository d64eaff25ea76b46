//! Microsoft Graph's error body: `{"error": {"code", "message", "innerError": {"date",
//! "request-id", "client-request-id"}}}`; throttling answers add `innerError.code` and
//! `status` as Graph's do.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// A fresh request id (a random GUID), as Graph stamps every answer.
pub(crate) fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6] & 0x0f, b[7], (b[8] & 0x3f) | 0x80, b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// The JSON text of a Graph error.
pub(crate) fn error_body(
    code: &str,
    message: &str,
    now: DateTime<Utc>,
    request_id: &str,
    client_request_id: Option<&str>,
) -> String {
    let mut inner = json!({
        "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": request_id,
    });
    if let Some(id) = client_request_id {
        inner["client-request-id"] = Value::String(id.to_string());
    }
    if code == "TooManyRequests" {
        inner["code"] = json!("429");
        inner["message"] = json!("Please retry after");
        inner["status"] = json!("429");
    }
    json!({ "error": { "code": code, "message": message, "innerError": inner } }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_graphs_shape() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .to_utc();
        let id = request_id();
        assert_eq!(id.len(), 36);
        let body: Value = serde_json::from_str(&error_body(
            "TooManyRequests",
            "Please retry again later.",
            now,
            &id,
            Some("c1"),
        ))
        .unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
        assert_eq!(body["error"]["innerError"]["status"], "429");
        assert_eq!(body["error"]["innerError"]["client-request-id"], "c1");
        assert_eq!(body["error"]["innerError"]["date"], "2026-03-02T09:00:00");
    }
}
