//! A real browser for the web pages' tests: Debian's headless Chromium driven through
//! chromedriver (WebDriver) by fantoccini, on loopback.
//!
//! Without `chromium` and `chromedriver` (Debian packages `chromium` and `chromium-driver`)
//! a test skips with a message naming them, except under `CI=true`, where it fails: CI
//! installs them (`.ci/run`).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::time::Instant;

/// How often an element replaced by the page's refresh between finding and reading it is
/// looked up again.
const STALE_RETRIES: usize = 5;

fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    matches!(
        error,
        fantoccini::error::CmdError::Standard(e)
            if e.error == fantoccini::error::ErrorStatus::StaleElementReference
    )
}

/// The accessibility check run in each page (returns a list of problems).
const A11Y_CHECK: &str = include_str!("a11y.js");

/// The window the pages are looked at in (and screenshot at).
pub const WIDE: (u32, u32) = (1280, 800);
/// A narrow window (a phone held upright).
pub const NARROW: (u32, u32) = (400, 800);

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The Chromium and chromedriver binaries, or why there are none (`None` = skip).
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium")
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.is_file()));
    let driver = on_path("chromedriver")
        .or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.is_file()));
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            let message = "the browser tests need Chromium and ChromeDriver: install the Debian packages `chromium` and `chromium-driver` (apt-get install chromium chromium-driver)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{message}; CI installs them in .ci/run");
            }
            eprintln!("skipped: {message}");
            None
        }
    }
}

/// chromedriver on a loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(binary: &Path, log: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log_file = std::fs::File::create(log).expect("chromedriver's log file");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::from(log_file.try_clone().expect("log file")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port} (log: {})",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

/// One headless Chromium session.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
    /// Where screenshots go.
    pub shots: PathBuf,
}

/// Where the browser tests write what they produce: `target/ui-screenshots`.
pub fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("ui-screenshots"))
        .unwrap_or_else(|| PathBuf::from("ui-screenshots"));
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

impl Browser {
    /// A browser, or `None` when Chromium is missing (outside CI).
    pub async fn start(name: &str) -> Option<Browser> {
        let (chromium, driver_binary) = binaries()?;
        let shots = output_dir();
        let driver = Driver::start(
            &driver_binary,
            &shots.join(format!("{name}-chromedriver.log")),
        )
        .await;
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--lang=en-US",
                    format!("--window-size={},{}", WIDE.0, WIDE.1),
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        // chromedriver listens on loopback: plain HTTP.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        let browser = Browser {
            client,
            _driver: driver,
            _profile: profile,
            shots,
        };
        browser.size(WIDE).await;
        Some(browser)
    }

    /// Resize the window so the page's viewport is `width`×`height`.
    pub async fn size(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
        // The window includes the browser's frame: grow it by what the viewport lacks.
        let inner = self
            .js("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let (w, h) = (
            inner[0].as_u64().unwrap_or(width as u64) as u32,
            inner[1].as_u64().unwrap_or(height as u64) as u32,
        );
        if (w, h) != (width, height) {
            self.client
                .set_window_size(
                    width + width.saturating_sub(w),
                    height + height.saturating_sub(h),
                )
                .await
                .unwrap();
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Run `script` in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap()
    }

    pub async fn text(&self, css: &str) -> String {
        // The pages refresh parts of themselves (a small script swaps in fresh HTML), so an
        // element found a moment ago can be replaced before its text is read: find it again.
        for _ in 0..STALE_RETRIES {
            let element = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"));
            match element.text().await {
                Ok(text) => return text,
                Err(e) if is_stale(&e) => continue,
                Err(e) => panic!("text of {css}: {e}"),
            }
        }
        panic!("{css} was replaced {STALE_RETRIES} times in a row while being read")
    }

    pub async fn texts(&self, css: &str) -> Vec<String> {
        'again: for _ in 0..STALE_RETRIES {
            let mut out = Vec::new();
            for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
                match e.text().await {
                    Ok(text) => out.push(text),
                    Err(e) if is_stale(&e) => continue 'again,
                    Err(e) => panic!("text of {css}: {e}"),
                }
            }
            return out;
        }
        panic!("{css} was replaced {STALE_RETRIES} times in a row while being read")
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Type `text` into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        field.clear().await.unwrap();
        if !text.is_empty() {
            field.send_keys(text).await.unwrap();
        }
    }

    /// Click `css`, which loads another page (a link, a form's button), and wait until
    /// that page has loaded: a click may return before its navigation ends.
    pub async fn click(&self, css: &str) {
        self.mark_page().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
        self.wait_for_new_page(css).await;
    }

    /// Mark the current document, so [`Browser::wait_for_new_page`] can tell it from the
    /// next one.
    pub async fn mark_page(&self) {
        self.js("window.__ucpOldPage = true;", vec![]).await;
    }

    /// Wait until a document without the mark has loaded.
    pub async fn wait_for_new_page(&self, after: &str) {
        let loaded = || async {
            self.client
                .execute(
                    "return window.__ucpOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .map(|v| v == Value::Bool(true))
                .unwrap_or(false)
        };
        self.until(
            &format!("the page after {after}"),
            Duration::from_secs(20),
            loaded,
        )
        .await;
    }

    /// Wait (real time, at most `limit`) until `done` holds, failing with `what`.
    pub async fn until<F, Fut>(&self, what: &str, limit: Duration, mut done: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + limit;
        while !done().await {
            if Instant::now() >= deadline {
                let shot = self.shots.join("timed-out.png");
                if let Ok(png) = self.client.screenshot().await {
                    let _ = std::fs::write(&shot, png);
                }
                panic!(
                    "timed out waiting for {what} (screenshot: {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Save a screenshot of the window as `name`.png in the output folder.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Save a screenshot of the whole page (the window made as tall as the page for it) as
    /// `name`.png, then give the window back its size.
    pub async fn screenshot_whole_page(&self, name: &str) -> PathBuf {
        let height = self
            .js("return document.documentElement.scrollHeight;", vec![])
            .await
            .as_u64()
            .unwrap_or(WIDE.1 as u64)
            .clamp(WIDE.1 as u64, 6000) as u32;
        self.size((WIDE.0, height)).await;
        let path = self.screenshot(name).await;
        self.size(WIDE).await;
        path
    }

    /// The accessibility basics of the current page: every field labelled, every button
    /// and link named, images described, text contrast at least 4.5:1, one `h1`, a
    /// language. Fails with every problem found.
    pub async fn check_accessibility(&self, page: &str) {
        let problems = self.js(A11Y_CHECK, vec![]).await;
        let problems: Vec<String> = problems
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| p.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("the check returned {problems}")]);
        assert!(
            problems.is_empty(),
            "accessibility problems on {page}:\n  {}",
            problems.join("\n  ")
        );
    }

    /// The elements reaching past the window's right edge (empty when the page fits the
    /// window's width, with no sideways scrolling of the page itself).
    pub async fn wider_than_window(&self) -> Vec<String> {
        let found = self
            .js(
                "const out = [];
                 if (document.documentElement.scrollWidth > window.innerWidth + 1) {
                   for (const el of document.body.querySelectorAll('*')) {
                     if (el.parentElement && el.parentElement.closest('.scroll')) continue;
                     const r = el.getBoundingClientRect();
                     if (r.right > window.innerWidth + 1) {
                       out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                         (el.className && el.className.baseVal === undefined ? '.' + el.className : '') +
                         ' ends at ' + Math.round(r.right) + 'px');
                     }
                   }
                   if (!out.length) out.push('the page scrolls sideways');
                 }
                 return out;",
                vec![],
            )
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The status of a request from the page's own script, with the session's cookie.
    pub async fn fetch_status(&self, method: &str, path: &str, fields: Value) -> u64 {
        let script = "const [method, path, fields, done] = arguments;
             const init = {method, credentials: 'same-origin', redirect: 'manual'};
             if (method !== 'GET') { init.body = new URLSearchParams(fields); }
             fetch(path, init).then(r => done(r.status), () => done(-1));";
        self.client
            .execute_async(script, vec![json!(method), json!(path), fields])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0)
    }
}
