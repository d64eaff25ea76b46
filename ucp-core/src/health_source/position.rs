//! Where the health streams stand, and how their record ids are spelled.
//!
//! Every cursor of the health source is one whole number in decimal: the last sequence read
//! (`health_events`), the start of the last minute emitted (`volumes`, epoch seconds) or the
//! second of the last snapshot (`inventory`). A cursor is read back from the checkpoint
//! store, so anything else — edited by hand, written by another source — is refused with a
//! message saying how to recover, never guessed at.

use crate::record::Cursor;
use crate::source::SourceError;

/// Digits in the largest `u64`: a longer cursor is refused before it is parsed.
const MAX_DIGITS: usize = 20;

/// The number a cursor holds; `None` at the start.
fn number(cursor: &Cursor, stream: &str) -> Result<Option<u64>, SourceError> {
    let Some(text) = cursor.as_str() else {
        return Ok(None);
    };
    let valid =
        !text.is_empty() && text.len() <= MAX_DIGITS && text.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .map(Some)
        .ok_or_else(|| SourceError::Config {
            message: format!(
                "the saved cursor of health stream '{stream}' is not a whole number ({} characters); reset the stream's cursor to the start",
                text.chars().count()
            ),
        })
}

/// The `health_events` cursor: the last sequence read, 0 before any.
pub(super) struct SeqCursor;

impl SeqCursor {
    pub(super) fn parse(cursor: &Cursor, stream: &str) -> Result<u64, SourceError> {
        Ok(number(cursor, stream)?.unwrap_or(0))
    }

    pub(super) fn at(seq: u64) -> Cursor {
        Cursor::new(seq.to_string())
    }
}

/// A cursor holding a time in epoch seconds (`volumes`, `inventory`).
pub(super) struct SecondCursor;

impl SecondCursor {
    pub(super) fn parse(cursor: &Cursor, stream: &str) -> Result<Option<i64>, SourceError> {
        number(cursor, stream)?
            .map(|n| {
                i64::try_from(n).map_err(|_| SourceError::Config {
                    message: format!(
                        "the saved cursor of health stream '{stream}' is beyond any time; reset the stream's cursor to the start"
                    ),
                })
            })
            .transpose()
    }

    pub(super) fn at(second: i64) -> Cursor {
        Cursor::new(second.max(0).to_string())
    }
}

/// A name as one segment of a record id: `%` and `/` escaped, so ids built from different
/// names never collide (`a/b` + `c` is not `a` + `b/c`).
pub(super) fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cursors_read_back_what_they_wrote_and_refuse_the_rest() {
        assert_eq!(SeqCursor::parse(&Cursor::start(), "s").unwrap(), 0);
        assert_eq!(SeqCursor::parse(&SeqCursor::at(57), "s").unwrap(), 57);
        assert_eq!(
            SeqCursor::parse(&SeqCursor::at(u64::MAX), "s").unwrap(),
            u64::MAX
        );
        assert_eq!(
            SecondCursor::parse(&SecondCursor::at(1_700_000_000), "s").unwrap(),
            Some(1_700_000_000)
        );
        assert_eq!(SecondCursor::parse(&Cursor::start(), "s").unwrap(), None);
        for bad in [
            "",
            "-1",
            "+1",
            "1e3",
            " 1",
            "0x10",
            "18446744073709551616",
            "١٢",
        ] {
            let err = SeqCursor::parse(&Cursor::new(bad), "health_events").unwrap_err();
            assert!(
                err.to_string().contains("reset the stream's cursor"),
                "{bad:?}: {err}"
            );
        }
        assert!(SecondCursor::parse(&Cursor::new(u64::MAX.to_string()), "volumes").is_err());
    }

    #[test]
    fn segments_escape_separators() {
        assert_eq!(path_segment("okta-contoso"), "okta-contoso");
        assert_ne!(
            format!("{}/{}", path_segment("a/b"), path_segment("c")),
            format!("{}/{}", path_segment("a"), path_segment("b/c"))
        );
        assert_eq!(path_segment("50%/x"), "50%25%2Fx");
    }

    proptest! {
        #[test]
        fn any_cursor_text_is_a_number_or_a_config_error(text in ".{0,40}") {
            match SeqCursor::parse(&Cursor::new(text.clone()), "health_events") {
                Ok(n) => prop_assert_eq!(n.to_string(), text.clone()),
                Err(SourceError::Config { message }) => {
                    prop_assert!(message.contains("reset the stream's cursor"));
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            let _ = SecondCursor::parse(&Cursor::new(text), "volumes");
        }

        #[test]
        fn segments_round_trip_and_hold_no_separator(name in ".{0,40}") {
            let segment = path_segment(&name);
            prop_assert!(!segment.contains('/'));
            let back = segment.replace("%2F", "/").replace("%25", "%");
            prop_assert_eq!(back, name);
        }
    }
}
