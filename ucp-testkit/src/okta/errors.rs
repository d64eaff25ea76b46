//! Okta's error body: `errorCode`, `errorSummary`, `errorLink`, a unique `errorId` and
//! `errorCauses` (one `{errorSummary}` per failed validation, empty otherwise).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

/// A fresh error id shaped like Okta's: `oae` then 22 URL-safe characters (128 random bits),
/// so no two errors share one, as support tickets rely on.
pub(crate) fn error_id() -> String {
    format!("oae{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()))
}

/// The JSON text of an Okta error with `causes` as its `errorCauses`.
pub(crate) fn error_body(code: &str, summary: &str, causes: &[String]) -> String {
    let causes: Vec<_> = causes
        .iter()
        .map(|cause| json!({ "errorSummary": cause }))
        .collect();
    json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": error_id(),
        "errorCauses": causes,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_ids_look_like_oktas_and_never_repeat() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| error_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(50) {
            assert_eq!(id.len(), 25, "{id}");
            assert!(id.starts_with("oae"), "{id}");
            assert!(
                id[3..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{id}"
            );
        }
    }

    #[test]
    fn causes_become_error_summaries() {
        let body: serde_json::Value = serde_json::from_str(&error_body(
            "E0000001",
            "Api validation failed: 'until'",
            &["until: not a date".into()],
        ))
        .unwrap();
        assert_eq!(body["errorLink"], "E0000001");
        assert_eq!(
            body["errorCauses"],
            json!([{ "errorSummary": "until: not a date" }])
        );
        let plain: serde_json::Value =
            serde_json::from_str(&error_body("E0000047", "slow down", &[])).unwrap();
        assert_eq!(plain["errorCauses"], json!([]));
    }
}
