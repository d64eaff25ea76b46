//! Comments, copied once each way with their author and time ("new only": a comment's later
//! edit or deletion is not followed, as in the Defender XDR connector).
//!
//! **Identity.** A Graph comment has no id: it is known by its time, author and text
//! ([`xdr_key`]). A Sentinel comment has one, chosen by whoever writes it: the copy of an XDR
//! comment gets a deterministic id ([`sentinel_copy_id`]), so writing it twice (after a crash)
//! is the same comment. Graph's `POST` makes a new comment each time, so a copy to XDR is
//! first recorded as pending with its exact text; after a crash the text is looked for among
//! the incident's comments before it is posted again.
//!
//! **Echoes.** Our copies are never copied back: a Sentinel comment whose id is a copy id, or
//! an XDR comment whose text is one the sync posted, is recorded as ours.
//!
//! **Limits.** Sentinel takes at most [`MAX_COMMENT_CHARS`] characters per comment and
//! [`MAX_COMMENTS`] comments per incident: a longer comment is cut with a note of how much
//! was left out; a comment beyond the hundredth is not copied, recorded as skipped and
//! reported once per incident. Neither is retried.

use sha2::{Digest, Sha256};

use crate::sentinel::IncidentComment;
use crate::xdr::XdrComment;

/// The longest Sentinel comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 30_000;
/// The most comments on one Sentinel incident.
pub const MAX_COMMENTS: usize = 100;
/// The prefix of the ids of Sentinel comments copied from XDR.
pub const COPY_PREFIX: &str = "xdr-";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An XDR comment's identity: a digest of its time, author and text.
pub fn xdr_key(comment: &XdrComment) -> String {
    let mut hash = Sha256::new();
    for part in [&comment.at, &comment.by, &comment.comment] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex(&hash.finalize()[..16])
}

/// The id of the Sentinel copy of the XDR comment whose key is `key`.
pub fn sentinel_copy_id(key: &str) -> String {
    format!("{COPY_PREFIX}{key}")
}

/// A Sentinel comment the sync wrote.
pub fn is_sentinel_copy(comment: &IncidentComment) -> bool {
    comment.name.starts_with(COPY_PREFIX)
}

/// At most `max` characters of `text`.
fn short(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `body` with the `footer` after it, cut to `max` characters with a note when longer; and
/// whether it was cut.
fn fit(body: &str, footer: &str, max: usize) -> (String, bool) {
    let whole = format!("{body}\n\n{footer}");
    if whole.chars().count() <= max {
        return (whole, false);
    }
    let total = body.chars().count();
    // Room for the footer, the note, and the separators.
    let note_room = footer.chars().count() + 80;
    let keep = max.saturating_sub(note_room);
    let kept: String = body.chars().take(keep).collect();
    let left_out = total.saturating_sub(keep);
    (
        format!("{kept}\n[… {left_out} more characters in the original]\n\n{footer}"),
        true,
    )
}

/// The Sentinel text of an XDR comment (author and time after it); cut to Sentinel's limit.
pub fn to_sentinel(comment: &XdrComment) -> (String, bool) {
    let by = if comment.by.trim().is_empty() {
        "someone"
    } else {
        comment.by.trim()
    };
    let footer = format!(
        "— {} in Microsoft Defender XDR, {}",
        short(by, 200),
        short(&comment.at, 64)
    );
    fit(&comment.comment, &footer, MAX_COMMENT_CHARS)
}

/// The XDR text of a Sentinel comment (author and time after it), cut to the same limit.
pub fn to_xdr(comment: &IncidentComment) -> (String, bool) {
    let by = comment
        .properties
        .author
        .as_ref()
        .map(|a| a.display().to_string())
        .unwrap_or_else(|| "someone".into());
    let at = comment
        .properties
        .created_time_utc
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let footer = format!("— {} in Microsoft Sentinel, {at}", short(&by, 200));
    fit(&comment.properties.message, &footer, MAX_COMMENT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn xdr(text: &str) -> XdrComment {
        XdrComment {
            comment: text.into(),
            by: "ann@contoso.com".into(),
            at: "2026-03-02T09:00:00Z".into(),
        }
    }

    #[test]
    fn a_copy_carries_author_and_time_and_a_stable_id() {
        let (text, cut) = to_sentinel(&xdr("isolated the host"));
        assert!(!cut);
        assert_eq!(
            text,
            "isolated the host\n\n— ann@contoso.com in Microsoft Defender XDR, 2026-03-02T09:00:00Z"
        );
        assert_eq!(xdr_key(&xdr("a")), xdr_key(&xdr("a")));
        assert_ne!(xdr_key(&xdr("a")), xdr_key(&xdr("b")));
        assert!(sentinel_copy_id(&xdr_key(&xdr("a"))).starts_with("xdr-"));
    }

    #[test]
    fn a_long_comment_is_cut_to_the_limit_with_a_note() {
        let (text, cut) = to_sentinel(&xdr(&"é".repeat(40_000)));
        assert!(cut);
        assert!(text.chars().count() <= MAX_COMMENT_CHARS);
        assert!(text.contains("more characters in the original"));
        assert!(text.ends_with("2026-03-02T09:00:00Z"));
    }

    proptest! {
        #[test]
        fn every_copy_fits_sentinels_limit(len in 0usize..40_000, by in ".{0,300}") {
            let by = by.repeat(200);
            let comment = XdrComment { comment: "x".repeat(len), by, at: "t".into() };
            let (text, cut) = to_sentinel(&comment);
            prop_assert!(text.chars().count() <= MAX_COMMENT_CHARS);
            prop_assert_eq!(cut, text.contains("more characters in the original"));
        }
    }
}
