//! Leak scanning: prove that no secret reaches text a person or a log could see.
//!
//! A [`LeakScanner`] is given the secret values of a test (tokens, passwords, keys, client
//! assertions) and then every piece of text the run emitted: `Debug` and `Display` strings,
//! serialized configs, health messages, and `tracing` output captured at TRACE with a
//! [`TraceCapture`]. It reports which secret (by label, never by value) appeared where.
//!
//! Each secret is also looked for in the forms text tends to take: `Debug`-escaped (a PEM's
//! newlines as `\n`), percent-encoded (a form body), and, for multi-line secrets such as PEM
//! keys, each long line on its own (a partial leak).

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Where one secret showed up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// The secret's label (its value is never recorded here).
    pub secret: String,
    /// The text it was found in, as named by the caller.
    pub source: String,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret '{}' appeared in {}", self.secret, self.source)
    }
}

/// Finds secret values in captured text.
#[derive(Default)]
pub struct LeakScanner {
    needles: Vec<(String, String)>,
    leaks: Vec<Leak>,
    scanned: usize,
    scanned_bytes: usize,
}

impl fmt::Debug for LeakScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakScanner")
            .field("patterns", &self.needles.len())
            .field("scanned", &self.scanned)
            .field("leaks", &self.leaks)
            .finish()
    }
}

/// Shorter fragments match too often by chance to mean anything.
const MIN_FRAGMENT: usize = 12;

impl LeakScanner {
    /// A scanner with no secrets yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Look for `value` (and its encoded forms) under `label`. Empty values are ignored.
    pub fn secret(&mut self, label: impl Into<String>, value: impl AsRef<str>) -> &mut Self {
        let label = label.into();
        let value = value.as_ref();
        if value.is_empty() {
            return self;
        }
        let debug = format!("{value:?}");
        let mut forms = vec![
            value.to_string(),
            debug.trim_matches('"').to_string(),
            percent_encode(value),
        ];
        if value.contains('\n') {
            forms.extend(
                value
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= MIN_FRAGMENT && !l.starts_with("-----"))
                    .map(str::to_string),
            );
        }
        forms.sort();
        forms.dedup();
        for form in forms {
            self.needles.push((label.clone(), form));
        }
        self
    }

    /// Scan `text`, naming it `source` in reports. Returns how many secrets it contained.
    pub fn scan(&mut self, source: impl Into<String>, text: &str) -> usize {
        let source = source.into();
        self.scanned += 1;
        self.scanned_bytes += text.len();
        let mut found: Vec<&str> = self
            .needles
            .iter()
            .filter(|(_, needle)| text.contains(needle.as_str()))
            .map(|(label, _)| label.as_str())
            .collect();
        found.dedup();
        let count = found.len();
        let leaks: Vec<Leak> = found
            .into_iter()
            .map(|label| Leak {
                secret: label.to_string(),
                source: source.clone(),
            })
            .collect();
        self.leaks.extend(leaks);
        count
    }

    /// Scan `value`'s `Debug` form (`{:?}` and `{:#?}`).
    pub fn scan_debug<T: fmt::Debug + ?Sized>(&mut self, source: &str, value: &T) -> usize {
        self.scan(format!("Debug of {source}"), &format!("{value:?}"))
            + self.scan(format!("pretty Debug of {source}"), &format!("{value:#?}"))
    }

    /// Scan `value`'s `Display` form.
    pub fn scan_display<T: fmt::Display + ?Sized>(&mut self, source: &str, value: &T) -> usize {
        self.scan(format!("Display of {source}"), &value.to_string())
    }

    /// Every leak found so far.
    pub fn leaks(&self) -> &[Leak] {
        &self.leaks
    }

    /// How many texts were scanned.
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// How many bytes of text were scanned.
    pub fn scanned_bytes(&self) -> usize {
        self.scanned_bytes
    }

    /// Panic with the list of leaks (labels and sources only) if there is any.
    pub fn assert_clean(&self) {
        if !self.leaks.is_empty() {
            let list: Vec<String> = self.leaks.iter().map(|l| l.to_string()).collect();
            panic!(
                "{} secret leak(s) in {} scanned texts:\n  {}",
                list.len(),
                self.scanned,
                list.join("\n  ")
            );
        }
    }
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Captures `tracing` output at every level into memory, as text.
///
/// ```
/// let capture = ucp_testkit::leak::TraceCapture::new();
/// {
///     let _guard = capture.set_default();
///     tracing::trace!(user = "alice", "hello");
/// }
/// assert!(capture.text().contains("hello"));
/// ```
#[derive(Clone, Default)]
pub struct TraceCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl fmt::Debug for TraceCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceCapture")
            .field("bytes", &self.buffer.lock().map(|b| b.len()).unwrap_or(0))
            .finish()
    }
}

impl TraceCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A subscriber writing every event and span field at TRACE into this capture.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_target(true)
            .with_writer(self.clone())
            .finish()
    }

    /// Install [`subscriber`](Self::subscriber) for the current thread until the guard drops
    /// (use a current-thread runtime so every task's events land here). Events are captured
    /// even when a test running on another thread, with no subscriber, reaches their
    /// callsite first (see [`CaptureGuard`]).
    pub fn set_default(&self) -> CaptureGuard {
        CaptureGuard {
            _default: tracing::subscriber::set_default(self.subscriber()),
            _second: tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()),
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// Keeps a [`TraceCapture`] the current thread's subscriber until dropped.
///
/// It also keeps a second, silent dispatcher registered. While only one dispatcher exists,
/// `tracing` decides whether a callsite is enabled from the subscriber of whichever thread
/// reaches it first, and caches the answer for every thread: a test running in parallel,
/// with no subscriber, would switch those callsites off for the capture too. With two
/// registered, each event asks its own thread's subscriber.
#[must_use = "the capture stops when the guard drops"]
pub struct CaptureGuard {
    _default: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

impl fmt::Debug for CaptureGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureGuard").finish_non_exhaustive()
    }
}

/// One write handle into a [`TraceCapture`].
#[derive(Debug)]
pub struct CaptureWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for TraceCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter {
            buffer: self.buffer.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_raw_escaped_encoded_and_partial_secrets() {
        let pem =
            "-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEE\nFFFFGGGGHHHHIIII\n-----END KEY-----\n";
        let mut scanner = LeakScanner::new();
        scanner.secret("password", "p@ss word!").secret("pem", pem);
        assert_eq!(scanner.scan("clean", "nothing to see"), 0);
        assert_eq!(scanner.scan("raw", "pw=p@ss word!"), 1);
        assert_eq!(scanner.scan("form", "password=p%40ss+word%21"), 1);
        assert_eq!(scanner.scan("debug", &format!("{pem:?}")), 1);
        assert_eq!(scanner.scan("partial", "line FFFFGGGGHHHHIIII"), 1);
        assert_eq!(scanner.leaks().len(), 4);
        assert!(!format!("{:?}", scanner.leaks()).contains("p@ss"));
        let result = std::panic::catch_unwind(|| scanner.assert_clean());
        assert!(result.is_err());
    }

    #[test]
    fn capture_records_trace_events() {
        let capture = TraceCapture::new();
        {
            let _guard = capture.set_default();
            tracing::trace!(field = "visible", "a trace event");
        }
        let text = capture.text();
        assert!(text.contains("a trace event") && text.contains("visible"));
    }

    #[test]
    fn capture_sees_a_callsite_another_thread_reached_first() {
        fn event() {
            tracing::warn!("reached from two threads");
        }
        let capture = TraceCapture::new();
        let _guard = capture.set_default();
        // A thread with no subscriber registers the callsite first.
        std::thread::spawn(event).join().unwrap();
        event();
        assert!(
            capture.text().contains("reached from two threads"),
            "{}",
            capture.text()
        );
    }
}
