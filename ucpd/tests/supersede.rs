//! Issue 16's superseding end to end: a real server's API (the platform, the management
//! layer, SQLite state) over loopback, the Defender for Identity alerts connector and the
//! Defender XDR connector against the simulated Graph security API, delivering alerts to the
//! emulated Sentinel (Logs Ingestion). Real time, collection every second.
//!
//! With both connected, no alert reaches Sentinel twice: connecting XDR supersedes the
//! component (it stops before XDR starts), alerts created afterwards come once, through XDR
//! (Defender for Identity's among them, which the component would have sent a second time).
//! After XDR is disconnected the component is reconnected, its offsets reset to that moment
//! first, and collects the next alerts itself, still with none twice.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{json, Value};
use support::{eventually, Api};
use ucp_manage::Principal;
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};
use ucp_testkit::okta::OktaSimConfig;
use ucpd::demo::{Lab, DCR, SENTINEL_STREAM};
use ucpd::{Config, Server};

const WAIT: Duration = Duration::from_secs(40);
const GRAPH_APP: &str = "ucp-graph-reader";
const GRAPH_SECRET: &str = "graph-reader-secret-5d1e9a";
const MDI: &str = "microsoftDefenderForIdentity";

struct World {
    lab: Lab,
    graph: GraphSimulator,
    _server: Server,
    api: Api,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let lab = Lab::start(OktaSimConfig::default().seed(16)).await.unwrap();
    // Graph's throttling windows 60 times shorter, for the tenant and the connectors alike.
    let graph = GraphSimulator::start(
        GraphSimConfig::default()
            .seed(16)
            .incidents(30)
            .alerts(150)
            .speed(60.0),
    )
    .await
    .unwrap();
    graph.register_app(
        GRAPH_APP,
        GRAPH_SECRET,
        &["SecurityIncident.Read.All", "SecurityAlert.Read.All"],
    );
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
    api.call(
        "PUT",
        "/credentials/graph-app",
        Some(
            json!({"kind": "client_secret", "token_url": graph.token_url(),
                    "client_id": GRAPH_APP, "secret": GRAPH_SECRET}),
        ),
    )
    .await
    .expect(200);
    World {
        lab,
        graph,
        _server: server,
        api,
        _dir: dir,
    }
}

impl World {
    /// A Graph security connector of `definition` sending its alerts to Sentinel every
    /// second, its streams starting `start_ago_seconds` back.
    fn connector(&self, name: &str, definition: &str, start_ago_seconds: u64) -> Value {
        json!({
            "name": name,
            "definition": definition,
            "config": {"tenant_id": TENANT_ID, "graph_url": self.graph.url(),
                       "start_ago_seconds": start_ago_seconds, "overlap_seconds": 1,
                       "time_compression": 60.0},
            "credentials": {"graph": {"name": "graph-app"}},
            "products": [{"product": "sentinel", "streams": ["alerts"], "interval_seconds": 1}]
        })
    }

    /// How many times each alert reached Sentinel, by alert id.
    fn sentinel_alerts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for row in self.lab.logs.rows(DCR, SENTINEL_STREAM) {
            if let Some(id) = row["id"].as_str() {
                *counts.entry(id.to_string()).or_default() += 1;
            }
        }
        counts
    }

    /// The ids of the tenant's alerts, with their service source.
    fn alerts(&self) -> BTreeMap<String, String> {
        self.graph
            .alert_versions()
            .into_iter()
            .map(|(id, _, service)| (id, service))
            .collect()
    }

    /// New incidents until at least `mdi` new Defender for Identity alerts exist; the ids
    /// of every new alert.
    fn new_alerts(&self, mdi: usize) -> Vec<String> {
        let before = self.alerts();
        for _ in 0..60 {
            self.graph.open_incident(3);
            let new: BTreeMap<String, String> = self
                .alerts()
                .into_iter()
                .filter(|(id, _)| !before.contains_key(id))
                .collect();
            if new.values().filter(|s| *s == MDI).count() >= mdi {
                return new.into_keys().collect();
            }
        }
        panic!("the simulator made no Defender for Identity alert in 180");
    }

    async fn wait_in_sentinel(&self, what: &str, ids: &[String]) {
        eventually(what, WAIT, || async {
            let seen = self.sentinel_alerts();
            ids.iter().all(|id| seen.contains_key(id))
        })
        .await;
    }

    fn assert_none_twice(&self, when: &str) {
        let twice: Vec<_> = self
            .sentinel_alerts()
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        assert!(
            twice.is_empty(),
            "{when}: alerts in Sentinel more than once: {twice:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_xdr_and_the_identity_alerts_connector_no_alert_reaches_sentinel_twice() {
    let w = world().await;
    let catalog = w
        .api
        .call("GET", "/catalog/defender-xdr", None)
        .await
        .expect(200)
        .json();
    assert_eq!(catalog["supersedes"], json!(["defender-identity-alerts"]));

    // The component connector sends every Defender for Identity alert of the last 30 days.
    w.api
        .call(
            "POST",
            "/connectors",
            Some(w.connector("mdi", "defender-identity-alerts", 30 * 24 * 3600)),
        )
        .await
        .expect(201);
    let backlog: Vec<String> = w
        .alerts()
        .into_iter()
        .filter(|(_, s)| s == MDI)
        .map(|(id, _)| id)
        .collect();
    assert!(!backlog.is_empty());
    w.wait_in_sentinel("the component's backlog", &backlog)
        .await;
    assert_eq!(
        w.sentinel_alerts().len(),
        backlog.len(),
        "only Defender for Identity's"
    );

    // XDR, from the moment it connects, as Defender XDR's own connector: the component is
    // superseded (stopped, shown, audited).
    w.api
        .call(
            "POST",
            "/connectors",
            Some(w.connector("xdr", "defender-xdr", 0)),
        )
        .await
        .expect(201);
    let mdi = w.api.connector("mdi").await;
    assert_eq!(mdi["state"], "superseded", "{mdi}");
    assert_eq!(mdi["superseded"]["by"], "xdr");
    assert_eq!(
        mdi["superseded"]["by_display_name"],
        "Microsoft Defender XDR"
    );
    assert!(
        mdi.get("volumes").is_none(),
        "a superseded connector runs nothing"
    );
    let audit = w.api.audit("mdi").await;
    assert_eq!(audit[0]["action"], "connector.supersede");
    assert_eq!(audit[0]["actor"], "admin");
    let refused = w
        .api
        .call(
            "POST",
            "/connectors",
            Some(w.connector("mdi-again", "defender-identity-alerts", 0)),
        )
        .await
        .expect(409);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("disconnect 'xdr' first"),
        "{}",
        refused.text
    );
    w.api
        .call("POST", "/connectors/mdi/resume", None)
        .await
        .expect(409);

    // New alerts, Defender for Identity's among them: each once, through XDR.
    let during = w.new_alerts(2);
    w.wait_in_sentinel("the alerts made while XDR is connected", &during)
        .await;
    // A few more rounds of both connectors' intervals: nothing comes a second time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.assert_none_twice("with both connected");
    let xdr = w.api.connector("xdr").await;
    assert!(xdr["volumes"]["records_collected"].as_u64().unwrap() >= during.len() as u64);

    // XDR disconnected: the component is reconnected, from that moment on (its offsets
    // reset to it, so what XDR delivered is not sent again), and collects the next alerts.
    w.api
        .call(
            "POST",
            "/connectors/xdr/disconnect",
            Some(json!({"reason": "back to the component connectors"})),
        )
        .await
        .expect(200);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    w.api
        .call(
            "PUT",
            "/connectors/mdi/offsets",
            Some(json!({"to": "time", "time": now})),
        )
        .await
        .expect(200);
    let resumed = w
        .api
        .call("POST", "/connectors/mdi/resume", None)
        .await
        .expect(200)
        .json();
    assert_eq!(resumed["state"], "active");
    let after: Vec<String> = w
        .new_alerts(1)
        .into_iter()
        .filter(|id| w.alerts()[id] == MDI)
        .collect();
    w.wait_in_sentinel("the component's new alerts", &after)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.assert_none_twice("after reconnecting the component");
    let total = backlog.len() + during.len() + after.len();
    assert_eq!(w.sentinel_alerts().len(), total);
}
