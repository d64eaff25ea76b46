//! The shipped local sinks pass the sink suite: [`FileSink`] (plain and gzip) and
//! [`ConsoleSink`] writing into a buffer.
//!
//! Neither can be throttled, refuse a credential or refuse a record, so their fixtures
//! declare those checks not applicable: the report shows them skipped with the reason. They
//! declare no product limit either, so `splits_oversized_batches` skips by itself, and
//! they take no credential, so there is no secret for `no_secret_in_output` to look for.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use flate2::read::MultiGzDecoder;
use ucp_core::credentials::Credential;
use ucp_sinks::{ConsoleMode, ConsoleSink, FileSink, FileSinkConfig};
use ucp_testkit::conformance::{
    checks, sink_suite, ProductSetup, Redelivery, SeenRequest, SinkFixture, SuiteReport,
};

/// The checks neither local sink can take part in, with why.
fn local_not_applicable(what: &str, check: &str) -> Option<String> {
    let why = match check {
        checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS => "takes no credential",
        checks::HONOURS_RETRY_AFTER => "is never throttled",
        checks::REJECTS_RECORDS_INDIVIDUALLY => "refuses no record",
        _ => return None,
    };
    Some(format!("{what} {why}"))
}

/// What both reports must show: the applicable checks passed, the rest skipped.
fn assert_local_report(report: &SuiteReport) {
    report.assert_all_passed();
    assert_eq!(
        report.passed(),
        vec![
            checks::DESCRIBE_IS_STABLE,
            checks::CHECK_OK_WITH_GOOD_CREDENTIALS,
            checks::DELIVERS_A_BATCH,
            checks::REDELIVERY_IS_SAFE,
        ],
        "{report}"
    );
    assert_eq!(
        report.skipped(),
        vec![
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            checks::HONOURS_RETRY_AFTER,
            checks::SPLITS_OVERSIZED_BATCHES,
            checks::REJECTS_RECORDS_INDIVIDUALLY,
            checks::NO_SECRET_IN_OUTPUT,
        ],
        "{report}"
    );
}

// ---- the file sink ----------------------------------------------------------------------

/// A file sink in its own temporary directory.
struct Files {
    dir: tempfile::TempDir,
    sink: FileSink,
}

/// Starts a [`FileSink`] rolling files every 4 KiB, so a check's records span files.
struct FileFixture {
    gzip: bool,
}

fn read_file(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(raw).unwrap()
    }
}

#[async_trait]
impl SinkFixture for FileFixture {
    type Product = Files;

    async fn start(&self, _setup: ProductSetup) -> Result<Files, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = FileSinkConfig::new("file", dir.path())
            .gzip(self.gzip)
            .max_bytes(4096);
        let sink = FileSink::open(config).map_err(|e| e.to_string())?;
        Ok(Files { dir, sink })
    }

    /// A reader sees completed files only: complete the one being written first (as a
    /// shutdown does), then read every line's envelope id, file by file.
    async fn stored(&self, files: &Files) -> Vec<String> {
        files.sink.close().await.unwrap();
        let mut ids = Vec::new();
        for path in files.sink.completed_files().unwrap() {
            assert!(path.starts_with(files.dir.path()));
            for line in read_file(&path).lines() {
                let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
                ids.push(envelope["id"].as_str().unwrap().to_string());
            }
        }
        ids
    }

    async fn requests(&self, _files: &Files) -> Vec<SeenRequest> {
        // Files have no requests; the suite asks only when a product limit is declared.
        Vec::new()
    }

    async fn reject(&self, _files: &Files, _ids: &[String]) {
        // Never called: the check is declared not applicable.
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        local_not_applicable("a local file", check)
    }
}

#[tokio::test]
async fn file_sink_passes_the_sink_suite() {
    for gzip in [false, true] {
        let report = sink_suite(
            |files: &Files| Ok::<_, Infallible>(files.sink.clone()),
            FileFixture { gzip },
        )
        .await;
        println!("gzip {gzip}: {report}");
        assert_local_report(&report);
        assert!(
            report.to_string().contains(
                "skipped honours_retry_after: does not apply to this connector: a local file is never throttled"
            ),
            "{report}"
        );
    }
}

// ---- the console sink -------------------------------------------------------------------

/// The console's output: the text, and one request per flush (the sink flushes once per
/// delivery).
#[derive(Default)]
struct Screen {
    text: Vec<u8>,
    flushed_at: usize,
    requests: Vec<SeenRequest>,
}

impl Write for Screen {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let new = &self.text[self.flushed_at..];
        self.requests.push(SeenRequest {
            records: new.iter().filter(|b| **b == b'\n').count(),
            bytes: new.len(),
        });
        self.flushed_at = self.text.len();
        Ok(())
    }
}

struct Console {
    screen: Arc<Mutex<Screen>>,
    sink: ConsoleSink,
}

/// Starts a [`ConsoleSink`] printing one line per record (`[product] time id`) into a
/// [`Screen`].
struct ConsoleFixture;

#[async_trait]
impl SinkFixture for ConsoleFixture {
    type Product = Console;

    async fn start(&self, _setup: ProductSetup) -> Result<Console, String> {
        let screen = Arc::new(Mutex::new(Screen::default()));
        let sink = ConsoleSink::with_writer("console", screen.clone())
            .mode(ConsoleMode::Records { max_chars: 0 });
        Ok(Console { screen, sink })
    }

    async fn stored(&self, console: &Console) -> Vec<String> {
        let screen = console.screen.lock().unwrap();
        String::from_utf8_lossy(&screen.text)
            .lines()
            .map(|line| line.split_whitespace().nth(2).unwrap_or(line).to_string())
            .collect()
    }

    async fn requests(&self, console: &Console) -> Vec<SeenRequest> {
        console.screen.lock().unwrap().requests.clone()
    }

    async fn reject(&self, _console: &Console, _ids: &[String]) {
        // Never called: the check is declared not applicable.
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        local_not_applicable("a console", check)
    }
}

#[tokio::test]
async fn console_sink_passes_the_sink_suite() {
    let report = sink_suite(
        |console: &Console| Ok::<_, Infallible>(console.sink.clone()),
        ConsoleFixture,
    )
    .await;
    println!("{report}");
    assert_local_report(&report);
}
