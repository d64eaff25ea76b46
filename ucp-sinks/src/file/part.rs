//! The file being written (`….part`): it only ever holds whole batches.
//!
//! A batch is appended as one write after the batches before it. When a write (or its
//! fsync) fails — a full disk, an I/O error, a file system gone read-only — the file is cut
//! back to the end of the last whole batch before the error is returned, so the retry
//! neither tears a line nor writes one twice. When even the cut fails (the handle died with
//! the disk), the handle is dropped and the file is opened again and cut before the next
//! write.
//!
//! **Gzip** files are one gzip stream (RFC 1952) written piecewise: the header, then each
//! batch deflated on its own and sync-flushed (so it ends on a byte boundary, and the file
//! decodes up to there), then on completion a final empty block and the trailer (CRC-32 and
//! length of all the text). Each batch starting a fresh deflate block sequence is what makes
//! cutting back at a batch boundary possible; the cost is the 32 KiB dictionary restarting per
//! batch.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};
use tokio::time::Instant;

/// A gzip member header: deflate, no flags, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// A final, empty stored block: ends the deflate stream after the last sync-flushed batch.
const DEFLATE_END: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

/// The open `.part` file of a sink.
pub(super) struct Part {
    pub seq: u64,
    pub path: PathBuf,
    /// `None` after a failure that may have killed the handle: opened again before use.
    file: Option<File>,
    /// Bytes of the file that hold whole batches (the gzip header included).
    len: u64,
    /// NDJSON bytes written, before compression.
    pub text_bytes: u64,
    /// For gzip: the CRC-32 of the text written so far.
    gzip: Option<Crc>,
    /// The trailer is written and the file fsynced: it only waits for its rename.
    finished: bool,
    /// Opened again after a failure, the file was shorter than what was written to it (the
    /// disk lost unsynced writes) or gone: it cannot take more batches and is completed with
    /// the whole lines it still has.
    pub damaged: bool,
    pub opened: Instant,
}

impl Part {
    /// A new, empty part at `path` (which must not exist).
    pub fn create(path: PathBuf, seq: u64, gzip: bool, now: Instant) -> io::Result<Part> {
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)?;
        Ok(Part {
            seq,
            path,
            file: Some(file),
            len: 0,
            text_bytes: 0,
            gzip: gzip.then(Crc::new),
            finished: false,
            damaged: false,
            opened: now,
        })
    }

    /// Nothing was written to it yet (or every write failed).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append one batch of whole lines. On failure the file is cut back to the batches before
    /// it (see the module docs) and the error returned.
    pub fn append(&mut self, text: &[u8], fsync: bool) -> io::Result<()> {
        if self.finished {
            // Completion failed at the rename and more batches came: drop the trailer.
            self.finished = false;
            self.cut_back()?;
        }
        let bytes = match &self.gzip {
            None => None,
            Some(_) => Some(self.deflate(text)?),
        };
        let bytes = bytes.as_deref().unwrap_or(text);
        if let Err(error) = self.write_at_end(bytes, fsync) {
            let _ = self.cut_back();
            return Err(error);
        }
        self.len += bytes.len() as u64;
        self.text_bytes += text.len() as u64;
        if let Some(crc) = &mut self.gzip {
            crc.update(text);
        }
        Ok(())
    }

    /// Write the gzip trailer (once) and fsync: the part is ready for its rename.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        let trailer = self.gzip.as_ref().map(|crc| {
            let mut trailer = DEFLATE_END.to_vec();
            trailer.extend_from_slice(&crc.sum().to_le_bytes());
            trailer.extend_from_slice(&crc.amount().to_le_bytes());
            trailer
        });
        let written = match &trailer {
            Some(trailer) => self.write_at_end(trailer, true),
            None => self.handle().and_then(|f| f.sync_all()),
        };
        match written {
            Ok(()) => {
                self.finished = true;
                Ok(())
            }
            Err(error) => {
                let _ = self.cut_back();
                Err(error)
            }
        }
    }

    /// A batch's bytes as they go into the file: for gzip, deflated and sync-flushed (with
    /// the header before the first batch).
    fn deflate(&self, text: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() / 4 + 64);
        if self.len == 0 {
            out.extend_from_slice(&GZIP_HEADER);
        }
        let mut encoder = DeflateEncoder::new(out, Compression::default());
        encoder.write_all(text)?;
        // A sync flush ends on a byte boundary without ending the stream.
        encoder.flush()?;
        Ok(std::mem::take(encoder.get_mut()))
    }

    fn write_at_end(&mut self, bytes: &[u8], fsync: bool) -> io::Result<()> {
        let len = self.len;
        let file = self.handle()?;
        file.seek(SeekFrom::Start(len))?;
        file.write_all(bytes)?;
        if fsync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// The file handle, opened again (and cut back to its whole batches) after a failure.
    fn handle(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new().read(true).write(true).open(&self.path);
            let actual = match &file {
                Ok(file) => file.metadata()?.len(),
                Err(_) => 0,
            };
            let file = match file {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound && self.len == 0 => {
                    OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .read(true)
                        .write(true)
                        .open(&self.path)?
                }
                Err(e) => {
                    self.damaged = self.damaged || e.kind() == io::ErrorKind::NotFound;
                    return Err(e);
                }
            };
            if actual < self.len {
                self.damaged = true;
                return Err(io::Error::other(format!(
                    "the file holds {actual} bytes but {} were written to it: the disk lost unsynced writes; the file is completed with the whole lines it has and the batch goes into a new one",
                    self.len
                )));
            }
            file.set_len(self.len)?;
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the part file is not open"))
    }

    /// Cut the file back to its whole batches; when that fails too, forget the handle so the
    /// next write opens the file again and cuts it first.
    fn cut_back(&mut self) -> io::Result<()> {
        let cut = match &self.file {
            Some(file) => file.set_len(self.len),
            None => Err(io::Error::other("the part file is not open")),
        };
        if cut.is_err() {
            self.file = None;
        }
        cut
    }
}

/// Complete a `.part` a crashed run left: keep its whole lines (a trailing half line, or a
/// gzip stream cut short, is dropped), rename it to `done`. A part without a whole line is
/// removed. Plain parts are cut in place; gzip ones are written again through `….recovering`,
/// which is removed if that fails.
pub(super) fn recover(part: &Path, done: &Path, gzip: bool) -> io::Result<bool> {
    let mut raw = Vec::new();
    File::open(part)?.read_to_end(&mut raw)?;
    let mut text = if gzip {
        let mut decoded = Vec::new();
        let mut decoder = GzDecoder::new(&raw[..]);
        let mut chunk = [0u8; 8192];
        // A stream without its trailer decodes up to the last flush, then errors: keep that.
        while let Ok(n) = decoder.read(&mut chunk) {
            if n == 0 {
                break;
            }
            decoded.extend_from_slice(&chunk[..n]);
        }
        decoded
    } else {
        raw
    };
    let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    text.truncate(whole);
    if text.is_empty() {
        fs::remove_file(part)?;
        return Ok(false);
    }
    if !gzip {
        let file = OpenOptions::new().write(true).open(part)?;
        file.set_len(whole as u64)?;
        file.sync_all()?;
        drop(file);
        fs::rename(part, done)?;
        return Ok(true);
    }
    let tmp = recovering_path(part);
    let rewritten = (|| {
        let mut again = Part::create(tmp.clone(), 0, true, Instant::now())?;
        again.append(&text, false)?;
        again.finish()
    })();
    if let Err(error) = rewritten.and_then(|()| fs::rename(&tmp, done)) {
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    fs::remove_file(part)?;
    Ok(true)
}

/// Where a gzip part is written again during recovery.
fn recovering_path(part: &Path) -> PathBuf {
    part.with_extension("recovering")
}
