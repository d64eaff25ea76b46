//! A console sink for examples and debugging: prints one compact line per batch or per
//! record to standard output (or any writer).
//!
//! It keeps nothing, so it is at-least-once like every sink: a retried batch prints again.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ucp_core::{Batch, Delivery, Sink, SinkContext, SinkError, SinkInfo};

/// What the console sink prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleMode {
    /// One line per batch: product, stream, record count, time range, first and last id.
    Batch,
    /// One line per record: product, time, id and the payload cut to this many characters.
    Records {
        /// Characters of payload shown (0: none).
        max_chars: usize,
    },
}

type Out = Arc<Mutex<dyn Write + Send>>;

/// Prints what it receives. Clones share the writer.
#[derive(Clone)]
pub struct ConsoleSink {
    product: String,
    mode: ConsoleMode,
    out: Out,
}

impl std::fmt::Debug for ConsoleSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSink")
            .field("product", &self.product)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ConsoleSink {
    /// Prints to standard output, one line per batch.
    pub fn new(product: impl Into<String>) -> Self {
        Self::with_writer(product, Arc::new(Mutex::new(std::io::stdout())))
    }

    /// Prints to `out` instead (a file, a buffer in tests).
    pub fn with_writer(product: impl Into<String>, out: Arc<Mutex<dyn Write + Send>>) -> Self {
        ConsoleSink {
            product: product.into(),
            mode: ConsoleMode::Batch,
            out,
        }
    }

    /// Print in `mode`.
    pub fn mode(mut self, mode: ConsoleMode) -> Self {
        self.mode = mode;
        self
    }

    /// The lines this sink prints for `batch`.
    pub fn lines(&self, batch: &Batch) -> Vec<String> {
        let (Some(first), Some(last)) = (batch.records.first(), batch.records.last()) else {
            return Vec::new();
        };
        match self.mode {
            ConsoleMode::Batch => vec![format!(
                "[{}] {} record(s) from {} | {} .. {} | ids {} .. {}",
                self.product,
                batch.len(),
                batch.stream,
                first.time.format("%H:%M:%S"),
                last.time.format("%H:%M:%S"),
                first.id,
                last.id
            )],
            ConsoleMode::Records { max_chars } => batch
                .records
                .iter()
                .map(|r| {
                    let text = String::from_utf8_lossy(&r.payload);
                    let one_line: String = text
                        .chars()
                        .map(|c| if c.is_control() { ' ' } else { c })
                        .take(max_chars)
                        .collect();
                    let cut = if text.chars().count() > max_chars {
                        "…"
                    } else {
                        ""
                    };
                    format!(
                        "[{}] {} {} {one_line}{cut}",
                        self.product,
                        r.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        r.id
                    )
                })
                .collect(),
        }
    }
}

#[async_trait]
impl Sink for ConsoleSink {
    fn describe(&self) -> SinkInfo {
        SinkInfo::new(self.product.clone())
    }

    async fn check(&self, _cx: &SinkContext) -> Result<(), SinkError> {
        Ok(())
    }

    async fn deliver(&self, _cx: &SinkContext, batch: &Batch) -> Result<Delivery, SinkError> {
        let lines = self.lines(batch);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let written = lines
            .iter()
            .try_for_each(|line| writeln!(out, "{line}"))
            .and_then(|()| out.flush());
        written.map_err(|e| SinkError::Retryable {
            message: format!("console sink of '{}' could not print: {e}", self.product),
            retry_after: None,
        })?;
        Ok(Delivery::all())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use ucp_core::{Context, Cursor, Record, StreamKey};

    fn batch() -> Batch {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        Batch {
            stream: StreamKey::new("okta-contoso", "system_log"),
            records: Arc::from(vec![
                Record::new("a1", t, &b"{\"eventType\":\"user.session.start\"}"[..]),
                Record::new("a2", t, &b"line one\nline two"[..]),
            ]),
            cursor_after: Cursor::start(),
        }
    }

    #[test]
    fn batch_mode_prints_one_line_per_batch() {
        let sink = ConsoleSink::new("sentinel");
        let lines = sink.lines(&batch());
        assert_eq!(
            lines,
            ["[sentinel] 2 record(s) from okta-contoso/system_log | 09:00:00 .. 09:00:00 | ids a1 .. a2"]
        );
    }

    #[test]
    fn record_mode_prints_one_single_line_per_record_cut_to_size() {
        let sink = ConsoleSink::new("mdi").mode(ConsoleMode::Records { max_chars: 10 });
        let lines = sink.lines(&batch());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "[mdi] 2026-03-02T09:00:00Z a1 {\"eventTyp…");
        assert_eq!(lines[1], "[mdi] 2026-03-02T09:00:00Z a2 line one l…");
    }

    #[tokio::test]
    async fn deliver_writes_to_the_given_writer() {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = ConsoleSink::with_writer("xspm", buffer.clone());
        let cx = SinkContext::new(
            "xspm",
            Context::standalone(
                "t",
                Arc::new(ucp_core::credentials::MemoryCredentials::new()),
                ucp_core::Clock::new(),
            )
            .expect("a standalone context"),
        );
        sink.deliver(&cx, &batch()).await.unwrap();
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("[xspm] 2 record(s)"));
    }
}
