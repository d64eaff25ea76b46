//! A JSON array body built row by row, that knows where each row is so it can be split in
//! two when the service answers 413; rows packed into such bodies within a size; and a
//! batch's bodies posted in order, split on 413.
//!
//! A chunk holds its body as it will be sent, less the closing `]`: rows are written once,
//! framed as they come, into a buffer reused from body to body (`gzip::take_buffer`), and
//! a gzip body is compressed straight from it.

use std::collections::VecDeque;

use bytes::Bytes;
use ucp_core::{RecordId, RejectedRecord};

use super::gzip::{give_buffer, gzip, take_buffer};
use super::send::Posted;

/// Rows (already-serialized JSON values) destined for one call, with the record each came from.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    /// `[` and the rows so far, separated by commas: the body but for its closing `]`.
    bytes: Vec<u8>,
    bounds: Vec<(usize, usize)>,
    ids: Vec<RecordId>,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        give_buffer(std::mem::take(&mut self.bytes));
    }
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            bytes: take_buffer(),
            bounds: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.bounds.len()
    }

    /// True when no row was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// Size of the JSON array body: rows, commas and brackets.
    pub(crate) fn body_len(&self) -> usize {
        if self.is_empty() {
            2
        } else {
            self.bytes.len() + 1
        }
    }

    /// Size of the body once `row_len` more bytes are added as a row.
    pub(crate) fn body_len_with(&self, row_len: usize) -> usize {
        self.body_len() + row_len + usize::from(!self.is_empty())
    }

    /// The records of the rows, in order.
    pub(crate) fn ids(&self) -> &[RecordId] {
        &self.ids
    }

    /// Append one serialized row.
    pub(crate) fn push(&mut self, id: RecordId, row: &[u8]) {
        if self.bytes.capacity() == 0 {
            self.bytes = take_buffer();
        }
        self.bytes.push(if self.is_empty() { b'[' } else { b',' });
        let start = self.bytes.len();
        self.bytes.extend_from_slice(row);
        self.bounds.push((start, self.bytes.len()));
        self.ids.push(id);
    }

    /// The first and second half of the rows (call only with two rows or more).
    pub(crate) fn split(&self) -> (Chunk, Chunk) {
        let middle = self.len() / 2;
        let mut first = Chunk::new();
        let mut second = Chunk::new();
        for (i, ((start, end), id)) in self.bounds.iter().zip(&self.ids).enumerate() {
            let target = if i < middle { &mut first } else { &mut second };
            target.push(id.clone(), self.bytes.get(*start..*end).unwrap_or_default());
        }
        (first, second)
    }

    /// The JSON array body, gzip-compressed at the given level when `gzip` is set.
    pub(crate) fn body(&self, gzip_level: Option<u32>) -> std::io::Result<Bytes> {
        let rows: &[u8] = if self.is_empty() { b"[" } else { &self.bytes };
        match gzip_level {
            Some(level) => gzip(&[rows, b"]"], level),
            None => {
                let mut plain = Vec::with_capacity(rows.len() + 1);
                plain.extend_from_slice(rows);
                plain.push(b']');
                Ok(Bytes::from(plain))
            }
        }
    }
}

/// Packs rows into chunks whose JSON array body stays within `max_body` bytes.
#[derive(Debug)]
pub(crate) struct Packer {
    max_body: usize,
    current: Chunk,
    done: Vec<Chunk>,
}

impl Packer {
    pub(crate) fn new(max_body: usize) -> Self {
        Packer {
            max_body,
            current: Chunk::new(),
            done: Vec::new(),
        }
    }

    /// Whether a row of `row_len` bytes fits in an empty chunk at all.
    pub(crate) fn fits_alone(&self, row_len: usize) -> bool {
        row_len + 2 <= self.max_body
    }

    /// Add a row that [`fits_alone`](Self::fits_alone).
    pub(crate) fn push(&mut self, id: RecordId, row: &[u8]) {
        if !self.current.is_empty() && self.current.body_len_with(row.len()) > self.max_body {
            self.done
                .push(std::mem::replace(&mut self.current, Chunk::new()));
        }
        self.current.push(id, row);
    }

    pub(crate) fn finish(mut self) -> Vec<Chunk> {
        if !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
        }
        std::mem::take(&mut self.done)
    }
}

/// What posting a batch's chunks came to.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Rows the service refused one by one as too large.
    pub rejected: Vec<RejectedRecord>,
    /// Chunks split after a 413.
    pub splits: u64,
}

/// A batch's chunks to post, in order. A chunk the service refuses as too large (413) comes
/// back split in two, each half posted in its place; a single row refused so is rejected.
/// A sink posts with:
///
/// ```text
/// let mut outbox = Outbox::new(chunks, "the service refused this single row as too large (413)");
/// while let Some(chunk) = outbox.next() {
///     let posted = self.post(cx, &chunk).await?; // the first error ends the batch
///     outbox.answered(chunk, posted);
/// }
/// let sent = outbox.finish();
/// ```
///
/// (An error ends the batch; the platform sends it again, and rows already accepted arrive
/// twice, carrying their record id for readers to drop.)
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<Chunk>,
    too_large: &'static str,
    sent: Sent,
}

impl Outbox {
    /// `chunks` to post; `too_large` is the reason a single row refused with 413 is rejected.
    pub(crate) fn new(chunks: Vec<Chunk>, too_large: &'static str) -> Self {
        Outbox {
            queue: chunks.into(),
            too_large,
            sent: Sent::default(),
        }
    }

    /// The next chunk to post.
    pub(crate) fn next(&mut self) -> Option<Chunk> {
        self.queue.pop_front()
    }

    /// What became of `chunk`.
    pub(crate) fn answered(&mut self, chunk: Chunk, posted: Posted) {
        match posted {
            Posted::Accepted => {}
            Posted::TooLarge if chunk.len() > 1 => {
                self.sent.splits = self.sent.splits.saturating_add(1);
                let (first, second) = chunk.split();
                self.queue.push_front(second);
                self.queue.push_front(first);
            }
            Posted::TooLarge => {
                let reason = self.too_large;
                self.sent
                    .rejected
                    .extend(chunk.ids().iter().map(|id| RejectedRecord {
                        id: id.clone(),
                        reason: reason.to_string(),
                    }))
            }
        }
    }

    /// What posting came to, once [`next`](Self::next) gave `None`.
    pub(crate) fn finish(self) -> Sent {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_a_json_array_and_split_keeps_every_row() {
        let mut chunk = Chunk::new();
        assert_eq!(&chunk.body(None).unwrap()[..], b"[]");
        for i in 0..5 {
            chunk.push(
                RecordId::from(format!("r{i}")),
                format!("{{\"n\":{i}}}").as_bytes(),
            );
        }
        let body = chunk.body(None).unwrap();
        assert_eq!(body.len(), chunk.body_len());
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&chunk.body(Some(1)).unwrap()[..]),
            &mut inflated,
        )
        .unwrap();
        assert_eq!(inflated, body);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(rows.len(), 5);
        let (a, b) = chunk.split();
        assert_eq!((a.len(), b.len()), (2, 3));
        assert_eq!(b.ids()[0].as_str(), "r2");
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&b.body(None).unwrap()).unwrap();
        assert_eq!(rows[0]["n"], 2);
    }

    #[test]
    fn packer_never_exceeds_the_limit() {
        let mut packer = Packer::new(100);
        for i in 0..50 {
            packer.push(RecordId::from(format!("r{i}")), b"{\"abc\":12345}");
        }
        let chunks = packer.finish();
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.body_len() <= 100));
        assert_eq!(chunks.iter().map(Chunk::len).sum::<usize>(), 50);
    }

    #[test]
    fn an_outbox_splits_what_is_too_large_and_rejects_a_single_row() {
        let mut packer = Packer::new(1_000);
        for i in 0..4 {
            packer.push(RecordId::from(format!("r{i}")), b"{\"a\":1}");
        }
        let mut outbox = Outbox::new(packer.finish(), "too large");
        let mut posted = Vec::new();
        // The service takes one row per call, and refuses r2 even alone.
        while let Some(chunk) = outbox.next() {
            let ids: Vec<&str> = chunk.ids().iter().map(|id| id.as_str()).collect();
            let answer = if chunk.len() > 1 || ids == ["r2"] {
                Posted::TooLarge
            } else {
                posted.push(ids[0].to_string());
                Posted::Accepted
            };
            outbox.answered(chunk, answer);
        }
        let sent = outbox.finish();
        assert_eq!(posted, ["r0", "r1", "r3"], "in order");
        assert_eq!(sent.splits, 3);
        assert_eq!(sent.rejected.len(), 1);
        assert_eq!(sent.rejected[0].id.as_str(), "r2");
        assert_eq!(sent.rejected[0].reason, "too large");
    }
}
