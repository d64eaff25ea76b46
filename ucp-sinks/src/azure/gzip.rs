//! Gzip bodies (RFC 1952) from deflate streams whose state is kept and reused: a deflate
//! state is a few hundred KiB that every body would otherwise allocate and free. Spare body
//! buffers are kept the same way. Both pools are per process and small, whatever the number
//! of sinks or tenants.

use std::io;
use std::sync::Mutex;

use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The gzip level used when none is configured: chosen by `benches/compression.rs` on
/// Okta-shaped Logs Ingestion bodies (BENCHMARKS.md, "Compression").
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// The deflate back end flate2 is built with, as this crate's features choose it.
pub const GZIP_BACKEND: &str = if cfg!(feature = "zlib-ng") {
    "zlib-ng"
} else if cfg!(feature = "zlib-rs") {
    "zlib-rs"
} else {
    "miniz_oxide"
};

/// Deflate states and body buffers kept for reuse, at most this many of each.
const KEEP: usize = 4;
/// A buffer larger than this is not kept (bodies are at most 1 MB).
const KEEP_CAPACITY: usize = 2 * 1024 * 1024;

static DEFLATERS: Mutex<Vec<(u32, Compress)>> = Mutex::new(Vec::new());
static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// An empty buffer, with the capacity of an earlier body when one is spare.
pub(crate) fn take_buffer() -> Vec<u8> {
    lock(&BUFFERS).pop().unwrap_or_default()
}

/// Give a body buffer back for the next body.
pub(crate) fn give_buffer(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > KEEP_CAPACITY {
        return;
    }
    buffer.clear();
    let mut spare = lock(&BUFFERS);
    if spare.len() < KEEP {
        spare.push(buffer);
    }
}

/// The gzip member of `parts` concatenated, compressed at `level` (0–9; above 9 is 9).
pub(crate) fn gzip(parts: &[&[u8]], level: u32) -> io::Result<Bytes> {
    let level = level.min(9);
    let mut deflater = {
        let mut spare = lock(&DEFLATERS);
        match spare.iter().position(|(l, _)| *l == level) {
            Some(at) => spare.swap_remove(at).1,
            None => Compress::new(Compression::new(level), false),
        }
    };
    let result = deflate(&mut deflater, parts, level);
    deflater.reset();
    let mut spare = lock(&DEFLATERS);
    if spare.len() < KEEP {
        spare.push((level, deflater));
    }
    result
}

fn deflate(deflater: &mut Compress, parts: &[&[u8]], level: u32) -> io::Result<Bytes> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    // Okta-shaped JSON deflates 20 to 30 times; start at an eighth and grow if needed.
    let mut out = Vec::with_capacity(total / 8 + 64);
    // The extra flags say "fastest" or "best" as gzip(1) writes them; OS 255: unknown.
    let xfl = match level {
        9 => 2,
        0 | 1 => 4,
        _ => 0,
    };
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    let mut crc = Crc::new();
    for (n, part) in parts.iter().enumerate() {
        crc.update(part);
        let last = n + 1 == parts.len();
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::None
        };
        let mut input: &[u8] = part;
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().max(4096));
            }
            let before = deflater.total_in();
            let status = deflater
                .compress_vec(input, &mut out, flush)
                .map_err(io::Error::other)?;
            let consumed = usize::try_from(deflater.total_in() - before).unwrap_or(usize::MAX);
            input = input.get(consumed..).unwrap_or_default();
            match status {
                Status::StreamEnd => break,
                _ if !last && input.is_empty() => break,
                _ => {}
            }
        }
    }
    if parts.is_empty() {
        // No part: still a complete (empty) stream.
        loop {
            out.reserve(64);
            if let Status::StreamEnd = deflater
                .compress_vec(&[], &mut out, FlushCompress::Finish)
                .map_err(io::Error::other)?
            {
                break;
            }
        }
    }
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .unwrap();
        plain
    }

    #[test]
    fn parts_come_back_whole_at_every_level_and_states_are_reused() {
        let row = br#"{"eventType":"user.session.start","actor":{"id":"00u1"}},"#.repeat(4000);
        for level in [0, 1, 6, 9, 12] {
            for _ in 0..3 {
                let body = gzip(&[b"[", &row, b"]"], level).unwrap();
                let mut expected = b"[".to_vec();
                expected.extend_from_slice(&row);
                expected.push(b']');
                assert_eq!(gunzip(&body), expected, "level {level}");
                if level > 0 {
                    assert!(body.len() < row.len() / 10, "compressed at level {level}");
                }
            }
        }
        assert_eq!(gunzip(&gzip(&[], 1).unwrap()), b"");
        assert_eq!(gunzip(&gzip(&[b"", b""], 1).unwrap()), b"");
        assert!(lock(&DEFLATERS).len() <= KEEP);
    }
}
