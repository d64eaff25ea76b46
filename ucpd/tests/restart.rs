//! The server as a child process, killed (SIGKILL, no shutdown) and started again on its
//! data directory: every connector comes back in its state with its status, the audit log
//! is intact, a paused connector's cursor is where it was reset to, and the active one
//! continues from its saved cursor (it collects only what is new).

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::SecondsFormat;
use serde_json::{json, Value};
use support::{eventually, Api};
use ucp_testkit::okta::OktaSimConfig;
use ucpd::demo::Lab;

const WAIT: Duration = Duration::from_secs(30);
const BIN: &str = env!("CARGO_BIN_EXE_ucpd");

/// A running `ucpd` child and the API URL it announced.
struct Ucpd {
    child: Child,
    url: String,
}

impl Drop for Ucpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `ucpd --config <config>` and wait for the line announcing its URL; its stderr is
/// drained by a thread from then on.
fn spawn(config: &Path) -> Ucpd {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ucpd starts");
    let stderr = child.stderr.take().unwrap();
    let (lines, announced) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let url = loop {
        let line = announced
            .recv_timeout(WAIT)
            .expect("ucpd announces its API");
        if let Some(rest) = line.strip_prefix("ucpd: management API on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        assert!(!line.starts_with("ucpd: "), "ucpd failed: {line}");
    };
    Ucpd { child, url }
}

/// The parts of a listed connector that must survive a restart.
fn kept(list: &Value) -> Vec<Value> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!([
                c["name"],
                c["state"],
                c["status"],
                c["version"],
                c["revision"],
                c["config"],
                c["credentials"],
                c["products"],
                c["workspace"],
                c["created_by"],
                c["created_at"],
                c["updated_by"],
                c["updated_at"]
            ])
        })
        .collect()
}

async fn collected(api: &Api, name: &str) -> u64 {
    api.connector(name).await["volumes"]["records_collected"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_comes_back_with_every_connector_status_audit_entry_and_cursor() {
    let lab = Lab::start(
        OktaSimConfig::default()
            .seed(7)
            .backlog(100)
            .backlog_span(Duration::from_secs(3000)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ucpd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nadmins = [\"admin\"]\nshutdown_timeout_seconds = 5\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let minted = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "api-key", "admin"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(minted.status.success(), "{minted:?}");
    let key = String::from_utf8(minted.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("ucpk_"));

    // First life: two connectors, one paused with its cursor moved.
    let server = spawn(&config);
    let api = Api::new(&server.url, &key);
    api.provision(&lab).await;
    for name in ["live", "held"] {
        api.call("POST", "/connectors", Some(lab.okta_connector(name, 1)))
            .await
            .expect(201);
    }
    for name in ["live", "held"] {
        eventually("the backlog collected", WAIT, || async {
            collected(&api, name).await == 100
        })
        .await;
    }
    api.call("POST", "/connectors/held/pause", None)
        .await
        .expect(200);
    let events = lab.org.visible_events();
    let time = events[60]
        .published
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let held_cursor = api
        .call(
            "PUT",
            "/connectors/held/offsets",
            Some(json!({"to": "time", "time": time})),
        )
        .await
        .expect(200)
        .json();
    let api_ref = &api;
    eventually("every delivery accepted", WAIT, || async {
        let view = api_ref.connector("live").await;
        ["sentinel", "mdi", "xspm"]
            .iter()
            .all(|p| view["volumes"]["delivered"][p].as_u64().is_some())
            && view["volumes"]["delivered"]["sentinel"] == 100
            && view["status"] == "Ok"
    })
    .await;
    // A round for the accepted page's cursor to be committed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let list = api
        .call("GET", "/connectors", None)
        .await
        .expect(200)
        .json();
    let audit = api
        .call("GET", "/audit?page_size=100", None)
        .await
        .expect(200)
        .json();
    assert_eq!(kept(&list).len(), 2);

    drop(server); // SIGKILL: no shutdown, no last save.

    // Second life on the same directory.
    let server = spawn(&config);
    let api = Api::new(&server.url, &key);
    let again = api
        .call("GET", "/connectors", None)
        .await
        .expect(200)
        .json();
    assert_eq!(kept(&again), kept(&list));
    let states: Vec<(&str, &str)> = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("held", "paused"), ("live", "active")]);
    let audit_again = api
        .call("GET", "/audit?page_size=100", None)
        .await
        .expect(200)
        .json();
    assert_eq!(audit_again["items"], audit["items"]);
    assert_eq!(
        api.call("GET", "/connectors/held/offsets", None)
            .await
            .expect(200)
            .json(),
        held_cursor
    );
    // The active connector goes on from its saved cursor: only the new events are
    // collected, and they reach the products.
    let new = lab.org.emit(None, 10);
    eventually("the new events collected", WAIT, || async {
        collected(&api, "live").await == 10
    })
    .await;
    eventually("the new events in Sentinel", WAIT, || async {
        let have = lab.sentinel_ids();
        new.iter().all(|id| have.contains(id))
    })
    .await;
    assert_eq!(
        collected(&api, "held").await,
        0,
        "a paused connector collected"
    );
}
