//! Issue 13's end-to-end story, through the REST API of a real server (the platform, the
//! management layer, SQLite state) over loopback, against the simulated Okta org and the
//! emulated Azure products (Entra token endpoint, Logs Ingestion, Event Hubs). Real time,
//! collection every second: each test takes a few seconds.

mod support;

use std::time::Duration;

use chrono::SecondsFormat;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use support::{distinct, eventually, is_mdi, is_xspm, org_ids, Api};
use ucp_manage::Principal;
use ucp_testkit::okta::OktaSimConfig;
use ucpd::demo::{Lab, CLIENT_ID, DCR};
use ucpd::{Config, Server};

const WAIT: Duration = Duration::from_secs(30);

struct World {
    lab: Lab,
    server: Server,
    api: Api,
    _dir: tempfile::TempDir,
}

/// An org with 50 minutes of backlog (the connector starts an hour back), a server with
/// the lab's workspace and credentials.
async fn world() -> World {
    let lab = Lab::start(
        OktaSimConfig::default()
            .seed(13)
            .backlog(200)
            .backlog_span(Duration::from_secs(3000)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        admins: vec!["admin".into()],
        shutdown_timeout_seconds: 5,
        ..Config::default()
    };
    let server = Server::start(&config, ucpd::definitions()).await.unwrap();
    let (_, key) = server
        .manager()
        .create_api_key(&Principal::system(), "admin")
        .await
        .unwrap();
    let api = Api::new(server.url(), key.expose_secret());
    api.provision(&lab).await;
    World {
        lab,
        server,
        api,
        _dir: dir,
    }
}

impl World {
    /// Create the Okta connector `name` for the three products, collecting every second.
    async fn connect(&self, name: &str) -> Value {
        self.api
            .call(
                "POST",
                "/connectors",
                Some(self.lab.okta_connector(name, 1)),
            )
            .await
            .expect(201)
            .json()
    }

    /// True when each product holds exactly its share of the org's events, in order.
    fn all_delivered(&self) -> bool {
        self.lab.sentinel_ids() == org_ids(&self.lab, |_| true)
            && self.lab.hub_ids("mdi") == org_ids(&self.lab, is_mdi)
            && self.lab.hub_ids("xspm") == org_ids(&self.lab, is_xspm)
    }

    async fn wait_all_delivered(&self, what: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.all_delivered() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: sentinel {}/{}, mdi {}/{}, xspm {}/{}",
                self.lab.sentinel_ids().len(),
                org_ids(&self.lab, |_| true).len(),
                self.lab.hub_ids("mdi").len(),
                org_ids(&self.lab, is_mdi).len(),
                self.lab.hub_ids("xspm").len(),
                org_ids(&self.lab, is_xspm).len(),
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn volumes(view: &Value, counter: &str) -> u64 {
    view["volumes"][counter].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_okta_connector_created_through_the_api_feeds_each_of_three_products_its_events() {
    let w = world().await;
    let view = w.connect("okta").await;
    let tables: Vec<&str> = view["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        tables,
        [
            "Custom-OktaSystemLog (rule dcr-okta-demo)",
            "event hub mdi",
            "event hub xspm"
        ]
    );
    w.lab.org.emit(Some("user.session.start"), 4);
    w.lab.org.emit(Some("group.user_membership.add"), 4);
    w.lab.org.emit(None, 20);
    w.wait_all_delivered("every product's events").await;
    assert!(!org_ids(&w.lab, is_mdi).is_empty() && !org_ids(&w.lab, is_xspm).is_empty());
    assert!(org_ids(&w.lab, is_mdi).len() + org_ids(&w.lab, is_xspm).len() < 228);

    // Collected once for the three: every call the org saw was the one job's, plus the
    // prerequisite check before the connector was created (read between two rounds, when
    // no call is in flight).
    let view = w.api.connector("okta").await;
    assert_eq!(volumes(&view, "records_collected"), 228);
    assert_eq!(view["status"], "Ok");
    let (api, org) = (&w.api, &w.lab.org);
    eventually("the org's calls to be the job's", WAIT, || async {
        volumes(&api.connector("okta").await, "source_calls") + 1 == org.requests()
    })
    .await;
    assert_eq!(
        view["volumes"]["delivered"]["sentinel"].as_u64(),
        Some(w.lab.sentinel_ids().len() as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_connector_makes_no_call_and_resumes_without_gap_or_duplicate() {
    let w = world().await;
    w.connect("okta").await;
    w.wait_all_delivered("the backlog").await;
    let paused = w
        .api
        .call("POST", "/connectors/okta/pause", None)
        .await
        .expect(200)
        .json();
    assert_eq!(paused["state"], "paused");
    let calls = w.lab.org.requests();
    w.lab.org.emit(None, 30);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        w.lab.org.requests(),
        calls,
        "the org was called while paused"
    );
    assert_eq!(w.lab.sentinel_ids().len(), 200);

    w.api
        .call("POST", "/connectors/okta/resume", None)
        .await
        .expect(200);
    w.wait_all_delivered("the events of the pause").await;
    for ids in [
        w.lab.sentinel_ids(),
        w.lab.hub_ids("mdi"),
        w.lab.hub_ids("xspm"),
    ] {
        assert!(distinct(&ids));
    }
    // The resumed collection started from the saved cursor: it fetched only the 30.
    let view = w.api.connector("okta").await;
    assert_eq!(volumes(&view, "records_collected"), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_only_the_failed_parts_restarts_the_one_delivery_in_error() {
    let w = world().await;
    w.connect("okta").await;
    w.wait_all_delivered("the backlog").await;
    // Sentinel's rule stops accepting the app: its delivery fails (403), the others go on.
    w.lab.logs.revoke(DCR, CLIENT_ID);
    w.lab.org.emit(Some("user.session.start"), 5);
    w.lab.org.emit(Some("group.user_membership.add"), 5);
    let api = &w.api;
    eventually("sentinel's delivery in error", WAIT, || async {
        let view = api.connector("okta").await;
        view["status"] == "Error"
            && view["health"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["product"] == "sentinel" && h["status"] == "Error")
    })
    .await;
    eventually("mdi and xspm still delivered", WAIT, || async {
        w.lab.hub_ids("mdi") == org_ids(&w.lab, is_mdi)
            && w.lab.hub_ids("xspm") == org_ids(&w.lab, is_xspm)
    })
    .await;

    w.api
        .call(
            "POST",
            "/connectors/okta/restart",
            Some(json!({"only_failed": true})),
        )
        .await
        .expect(200);
    let restart = &w.api.audit("okta").await[0];
    assert_eq!(restart["action"], "connector.restart");
    assert_eq!(
        restart["after"],
        json!({"only_failed": true, "streams": [], "deliveries": ["sentinel/system_log"]})
    );

    // With its role back, the restarted delivery takes what comes next.
    w.lab.logs.grant(DCR, CLIENT_ID);
    let next = w.lab.org.emit(None, 5);
    eventually("sentinel delivering again", WAIT, || async {
        let have = w.lab.sentinel_ids();
        next.iter().all(|id| have.contains(id))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_of_a_paused_connector_are_read_reset_to_a_time_and_audited() {
    let w = world().await;
    w.connect("okta").await;
    w.wait_all_delivered("the backlog").await;
    w.api
        .call("GET", "/connectors/okta/offsets", None)
        .await
        .expect(409);
    w.api
        .call("POST", "/connectors/okta/pause", None)
        .await
        .expect(200);
    let before = w
        .api
        .call("GET", "/connectors/okta/offsets", None)
        .await
        .expect(200)
        .json();
    let cursor = before[0]["cursor"].as_str().unwrap();
    assert_eq!(before[0]["stream"], "system_log");
    assert!(cursor.contains("after="), "{cursor}");

    // Back to the 151st event of the backlog: the last fifty are collected again.
    let events = w.lab.org.visible_events();
    let time = events[150]
        .published
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let expected = events
        .iter()
        .filter(|e| e.published.to_rfc3339_opts(SecondsFormat::Millis, true) >= time)
        .count();
    assert_eq!(expected, 50);
    let reset = w
        .api
        .call(
            "PUT",
            "/connectors/okta/offsets",
            Some(json!({"to": "time", "time": time})),
        )
        .await
        .expect(200)
        .json();
    let after = reset[0]["cursor"].as_str().unwrap();
    assert!(after.contains("since="), "{after}");
    assert_eq!(
        w.api
            .call("GET", "/connectors/okta/offsets", None)
            .await
            .json(),
        reset
    );
    let entry = &w.api.audit("okta").await[0];
    assert_eq!(entry["action"], "connector.offsets_reset");
    assert_eq!(entry["actor"], "admin");
    assert_eq!(entry["before"], before);
    assert_eq!(entry["after"], reset);

    w.api
        .call("POST", "/connectors/okta/resume", None)
        .await
        .expect(200);
    let api = &w.api;
    eventually("the reset range collected again", WAIT, || async {
        volumes(&api.connector("okta").await, "records_collected") == expected as u64
    })
    .await;
    // A reset replays: Sentinel receives the reset range a second time, in order.
    let all = org_ids(&w.lab, |_| true);
    let replayed = &all[all.len() - expected..];
    eventually("the replayed range in Sentinel", WAIT, || async {
        w.lab.sentinel_ids().len() == all.len() + expected
    })
    .await;
    assert_eq!(&w.lab.sentinel_ids()[all.len()..], replayed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_definition_upgrades_the_connector_in_place_keeping_its_cursor() {
    let w = world().await;
    w.connect("okta").await;
    w.wait_all_delivered("the backlog").await;
    let newer = ucp_sources::okta::definition()
        .unwrap()
        .to_builder()
        .version("0.2.0")
        .build()
        .unwrap();
    let outcomes = w.server.manager().register(newer).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].upgraded, "{outcomes:?}");
    let view = w.api.connector("okta").await;
    assert_eq!(
        (view["version"].as_str(), view["revision"].as_u64()),
        (Some("0.2.0"), Some(2))
    );

    w.lab.org.emit(None, 7);
    w.wait_all_delivered("the events after the upgrade").await;
    assert!(distinct(&w.lab.sentinel_ids()));
    // The upgraded source continued from the cursor: nothing collected twice.
    let view = w.api.connector("okta").await;
    assert_eq!(volumes(&view, "records_collected"), 7);
    let audit = w.api.audit("okta").await;
    assert_eq!(
        (audit[0]["action"].as_str(), audit[0]["actor"].as_str()),
        (Some("connector.upgrade"), Some("system"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_rules_a_reason_to_disconnect_one_workspace_and_a_destination_per_product() {
    let w = world().await;
    w.connect("okta").await;
    w.wait_all_delivered("the backlog").await;
    for body in [None, Some(json!({})), Some(json!({"reason": " "}))] {
        let reply = w
            .api
            .call("POST", "/connectors/okta/disconnect", body)
            .await
            .expect(400);
        assert_eq!(reply.json()["problems"][0]["field"], "reason");
    }
    let second = w
        .api
        .call(
            "PUT",
            "/workspace",
            Some(json!({"name": "another", "settings": w.lab.workspace()["settings"]})),
        )
        .await
        .expect(409);
    assert!(second.text.contains("'demo-workspace'"), "{}", second.text);

    // Disconnecting stops every product's delivery: the org hears nothing more.
    w.api
        .call(
            "POST",
            "/connectors/okta/disconnect",
            Some(json!({"reason": "the org moves to another tenant"})),
        )
        .await
        .expect(200);
    let calls = w.lab.org.requests();
    w.lab.org.emit(None, 10);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.lab.org.requests(), calls);
    assert_eq!(w.lab.sentinel_ids().len(), 200);

    // A tenant whose workspace has only Sentinel cannot feed MDI or XSPM.
    let other = w.api.on("fabrikam");
    for (name, secret) in w.lab.credentials() {
        other
            .call("PUT", &format!("/credentials/{name}"), Some(secret))
            .await
            .expect(200);
    }
    let mut workspace = w.lab.workspace();
    workspace["settings"] = json!({"sentinel": workspace["settings"]["sentinel"].clone()});
    other
        .call("PUT", "/workspace", Some(workspace))
        .await
        .expect(201);
    let refused = other
        .call("POST", "/connectors", Some(w.lab.okta_connector("okta", 1)))
        .await
        .expect(409);
    assert!(
        refused.text.contains("no destination for mdi, xspm"),
        "{}",
        refused.text
    );
}
