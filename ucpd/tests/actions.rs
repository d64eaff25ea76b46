//! Issue 18's management API for response actions, through a real server's API over
//! loopback, against the simulated Okta org: the actions a connector offers, a dry run that
//! sends nothing, actions whose effect is read back from the org's users, an idempotency key
//! performed once, the provider's refusals and bad parameters as clear answers, Reader
//! refused and Contributor allowed, an audit entry per call, health, and no secret in any
//! response, audit entry or log line.

mod support;

use secrecy::ExposeSecret;
use serde_json::{json, Value};
use support::Api;
use ucp_manage::{Principal, Role};
use ucp_testkit::leak::{LeakScanner, TraceCapture};
use ucp_testkit::okta::{OktaSimConfig, OktaUser, UserStatus};
use ucpd::demo::{Lab, OKTA_TOKEN, TENANT};
use ucpd::{Config, Server};

/// A user the actions act on: active, two sessions, two OAuth tokens, two factors.
const TARGET: &str = "00uActionTarget00001";

struct World {
    lab: Lab,
    server: Server,
    /// Principal → its client.
    reader: Api,
    contributor: Api,
    owner: Api,
    keys: Vec<String>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let lab = Lab::start(OktaSimConfig::default().seed(18)).await.unwrap();
    let mut target = OktaUser::active(TARGET, "target@example.com", lab.org.now());
    target.sessions = 2;
    target.oauth_tokens = 2;
    target.factors = vec!["push".into(), "token:software:totp".into()];
    lab.org.put_user(target);
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        admins: vec!["admin".into()],
        shutdown_timeout_seconds: 5,
        ..Config::default()
    };
    let server = Server::start(&config, ucpd::definitions()).await.unwrap();
    let manager = server.manager();
    let system = Principal::system();
    let mut keys = Vec::new();
    let mut client = |key: String| {
        keys.push(key.clone());
        Api::new(server.url(), key)
    };
    let mut clients = Vec::new();
    for (who, role) in [
        ("ana", Role::Reader),
        ("carl", Role::Contributor),
        ("olga", Role::Owner),
    ] {
        let (_, key) = manager.create_api_key(&system, who).await.unwrap();
        manager
            .set_role(&system, TENANT, who, Some(role))
            .await
            .unwrap();
        clients.push(client(key.expose_secret().to_string()));
    }
    let owner = clients.pop().unwrap();
    let contributor = clients.pop().unwrap();
    let reader = clients.pop().unwrap();
    owner.provision(&lab).await;
    // The Okta connector, feeding no product: every call the org sees is an action's.
    owner
        .call(
            "POST",
            "/connectors",
            Some(json!({
                "name": "okta",
                "definition": "okta-system-log",
                "config": {"org_url": lab.org.base_url()},
                "credentials": {"okta": {"name": "okta-token"}}
            })),
        )
        .await
        .expect(201);
    World {
        lab,
        server,
        reader,
        contributor,
        owner,
        keys,
        _dir: dir,
    }
}

/// `POST …/connectors/okta/actions/{action}` with `body`.
async fn act(api: &Api, action: &str, body: Value) -> support::Reply {
    api.call(
        "POST",
        &format!("/connectors/okta/actions/{action}"),
        Some(body),
    )
    .await
}

fn status(w: &World) -> UserStatus {
    w.lab.org.user(TARGET).unwrap().status
}

#[tokio::test(flavor = "current_thread")]
async fn actions_through_the_api_act_on_the_org_once_each_audited_and_nothing_leaks() {
    let capture = TraceCapture::new();
    let _guard = capture.set_default();
    let w = world().await;
    let mut replies: Vec<String> = Vec::new();
    let mut keep = |reply: support::Reply| {
        replies.push(reply.text.clone());
        reply
    };

    // What the connector offers, for anyone who can read it.
    let offered = keep(
        w.reader
            .call("GET", "/connectors/okta/actions", None)
            .await
            .expect(200),
    )
    .json();
    let names: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "suspend_user",
            "unsuspend_user",
            "clear_user_sessions",
            "reset_factors"
        ]
    );
    assert_eq!(offered[0]["parameters"]["required"], json!(["user_id"]));
    assert_eq!(offered[0]["permission"], "okta.users.manage");
    assert_eq!(offered[0]["idempotent"], true);

    // A Reader may not act, not even a dry run.
    for path in ["suspend_user", "suspend_user?dry_run=true"] {
        keep(
            act(&w.reader, path, json!({"parameters": {"user_id": TARGET}}))
                .await
                .expect(403),
        );
    }
    // A dry run validates and shows the request; nothing reaches the org.
    let planned = keep(
        act(
            &w.contributor,
            "suspend_user?dry_run=true",
            json!({"parameters": {"user_id": TARGET}}),
        )
        .await
        .expect(200),
    )
    .json();
    assert_eq!(planned["outcome"], "planned");
    assert_eq!(planned["requests"][0]["method"], "POST");
    assert_eq!(
        planned["requests"][0]["url"],
        format!(
            "{}/api/v1/users/{TARGET}/lifecycle/suspend",
            w.lab.org.base_url()
        )
    );
    assert_eq!(w.lab.org.user_calls_total(), 0);
    assert_eq!(status(&w), UserStatus::Active);

    // Suspend, with an idempotency key: done, and the org's user is suspended.
    let body = json!({"parameters": {"user_id": TARGET}, "idempotency_key": "incident-42-suspend"});
    let done = keep(
        act(&w.contributor, "suspend_user", body.clone())
            .await
            .expect(200),
    )
    .json();
    assert_eq!(done["outcome"], "done", "{done}");
    assert_eq!(
        (done["attempts"].as_u64(), done["replayed"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(status(&w), UserStatus::Suspended);
    let calls = w.lab.org.user_calls_total();
    // The same key again: the first result, no call at Okta.
    let again = keep(act(&w.contributor, "suspend_user", body).await.expect(200)).json();
    assert_eq!(
        (again["outcome"].as_str(), again["replayed"].as_bool()),
        (Some("done"), Some(true))
    );
    assert_eq!(again["attempts"], 0);
    assert_eq!(w.lab.org.user_calls_total(), calls);
    // Without a key, Okta is asked and the user is already suspended.
    let already = keep(
        act(
            &w.contributor,
            "suspend_user",
            json!({"parameters": {"user_id": TARGET}}),
        )
        .await
        .expect(200),
    )
    .json();
    assert_eq!(already["outcome"], "already_done", "{already}");

    // Unsuspend, clear the sessions and revoke the tokens, reset the factors: read back.
    keep(
        act(
            &w.contributor,
            "unsuspend_user",
            json!({"parameters": {"user_id": TARGET}}),
        )
        .await
        .expect(200),
    );
    assert_eq!(status(&w), UserStatus::Active);
    keep(
        act(
            &w.contributor,
            "clear_user_sessions",
            json!({"parameters": {"user_id": TARGET, "revoke_oauth_tokens": true}}),
        )
        .await
        .expect(200),
    );
    keep(
        act(
            &w.owner,
            "reset_factors",
            json!({"parameters": {"user_id": TARGET}}),
        )
        .await
        .expect(200),
    );
    let user = w.lab.org.user(TARGET).unwrap();
    assert_eq!((user.sessions, user.oauth_tokens), (0, 0));
    assert!(user.factors.is_empty());

    // The provider's refusal is a clear 409 with its reason, not an error loop.
    let calls = w.lab.org.user_calls_total();
    let refused = keep(
        act(
            &w.contributor,
            "suspend_user",
            json!({"parameters": {"user_id": "00uNobodyHere0000001"}}),
        )
        .await
        .expect(409),
    )
    .json();
    assert_eq!(refused["code"], "action_refused");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("00uNobodyHere0000001"),
        "{refused}"
    );
    assert_eq!(
        w.lab.org.user_calls_total(),
        calls + 1,
        "one call, no retry"
    );

    // Bad parameters: 400 naming the field, before anything is sent.
    for (body, field) in [
        (json!({"parameters": {}}), "parameters.user_id"),
        (
            json!({"parameters": {"user_id": "../../admin"}}),
            "parameters.user_id",
        ),
        (
            json!({"parameters": {"user_id": TARGET, "colour": "red"}}),
            "parameters",
        ),
        (
            json!({"parameters": {"user_id": TARGET}, "idempotency_key": "has space"}),
            "idempotency_key",
        ),
    ] {
        let invalid = keep(
            act(&w.contributor, "suspend_user", body.clone())
                .await
                .expect(400),
        )
        .json();
        assert_eq!(invalid["code"], "invalid");
        assert!(
            invalid["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["field"] == field),
            "{body}: {invalid}"
        );
    }
    let unknown = keep(
        act(&w.contributor, "delete_user", json!({}))
            .await
            .expect(404),
    )
    .json();
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("suspend_user"));
    assert_eq!(w.lab.org.user_calls_total(), calls + 1);

    // A paused connector makes no provider call: 409; a dry run still answers.
    keep(
        w.contributor
            .call("POST", "/connectors/okta/pause", None)
            .await
            .expect(200),
    );
    let paused = keep(
        act(
            &w.contributor,
            "suspend_user",
            json!({"parameters": {"user_id": TARGET}}),
        )
        .await
        .expect(409),
    );
    assert!(paused.text.contains("resume it"), "{}", paused.text);
    keep(
        act(
            &w.contributor,
            "suspend_user?dry_run=true",
            json!({"parameters": {"user_id": TARGET}}),
        )
        .await
        .expect(200),
    );
    assert_eq!(status(&w), UserStatus::Active);
    keep(
        w.contributor
            .call("POST", "/connectors/okta/resume", None)
            .await
            .expect(200),
    );

    // Each call past authorization is audited: who, which action, parameters, result.
    let audit = w.owner.audit("okta").await;
    let actions: Vec<&Value> = audit
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .starts_with("connector.action")
        })
        .collect();
    assert_eq!(actions.len(), 14, "{actions:#?}");
    let first = actions.last().unwrap();
    assert_eq!(first["action"], "connector.action_dry_run");
    assert_eq!(first["actor"], "carl");
    assert_eq!(first["tenant"], TENANT);
    assert_eq!(first["target"], "connector/okta/actions/suspend_user");
    assert_eq!(first["after"]["parameters"], json!({"user_id": TARGET}));
    assert_eq!(first["after"]["result"]["outcome"], "planned");
    let outcomes: Vec<&str> = actions
        .iter()
        .rev()
        .map(|e| e["after"]["result"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "planned",
            "done",
            "done",
            "already_done",
            "done",
            "done",
            "done",
            "refused",
            "invalid",
            "invalid",
            "invalid",
            "invalid",
            "not_running",
            "planned"
        ]
    );
    let replay = actions[actions.len() - 3];
    assert_eq!(replay["after"]["idempotency_key"], "incident-42-suspend");
    assert_eq!(replay["after"]["result"]["replayed"], true);
    assert_eq!(actions[actions.len() - 7]["actor"], "olga");

    // Health: the connector's actions are reported on its page.
    let view = w.reader.connector("okta").await;
    let health = view["health"].as_array().unwrap();
    assert!(
        health
            .iter()
            .any(|h| h["stream"] == "actions" && h["status"] == "Ok"),
        "{health:#?}"
    );

    let mut scanner = LeakScanner::new();
    scanner.secret("the Okta API token", OKTA_TOKEN);
    for key in &w.keys {
        scanner.secret("an API key", key);
    }
    for (i, text) in replies.iter().enumerate() {
        scanner.scan(format!("response {i}"), text);
    }
    for entry in &audit {
        scanner.scan(
            format!("audit entry {}", entry["action"]),
            &entry.to_string(),
        );
    }
    scanner.scan("the log", &capture.text());
    scanner.assert_clean();
    drop(w.server);
}

/// The same API for a Defender XDR connector, against the simulated Graph security API:
/// update an incident and comment on it, each read back from the tenant, a comment once
/// per idempotency key, an incident that does not exist refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xdr_connector_updates_and_comments_on_incidents_through_the_api() {
    use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, TENANT_ID};
    let w = world().await;
    let graph = GraphSimulator::start(
        GraphSimConfig::default()
            .seed(18)
            .incidents(5)
            .alerts(10)
            .speed(60.0),
    )
    .await
    .unwrap();
    graph.register_app(
        "ucp-graph-writer",
        "graph-writer-secret-77c2",
        &[
            "SecurityIncident.Read.All",
            "SecurityIncident.ReadWrite.All",
            "SecurityAlert.Read.All",
        ],
    );
    w.owner
        .call(
            "PUT",
            "/credentials/graph-app",
            Some(
                json!({"kind": "client_secret", "token_url": graph.token_url(),
                        "client_id": "ucp-graph-writer", "secret": "graph-writer-secret-77c2"}),
            ),
        )
        .await
        .expect(200);
    w.owner
        .call(
            "POST",
            "/connectors",
            Some(json!({
                "name": "xdr",
                "definition": "defender-xdr",
                "config": {"tenant_id": TENANT_ID, "graph_url": graph.url(), "time_compression": 60.0},
                "credentials": {"graph": {"name": "graph-app"}}
            })),
        )
        .await
        .expect(201);
    let offered = w
        .reader
        .call("GET", "/connectors/xdr/actions", None)
        .await
        .expect(200)
        .json();
    let names: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["update_incident", "add_comment"]);
    assert_eq!(offered[0]["permission"], "SecurityIncident.ReadWrite.All");

    let incident = graph.incidents()[0]["id"].as_str().unwrap().to_string();
    let xdr = |action: &str, body: Value| {
        let path = format!("/connectors/xdr/actions/{action}");
        let api = &w.contributor;
        async move { api.call("POST", &path, Some(body)).await }
    };
    let update = json!({"parameters": {"incident_id": incident, "status": "resolved",
                                       "classification": "truePositive"}});
    let planned = xdr("update_incident?dry_run=true", update.clone())
        .await
        .expect(200)
        .json();
    assert_eq!(planned["requests"][0]["method"], "PATCH");
    assert!(planned["requests"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1.0/security/incidents/{incident}")));
    assert!(graph.writes().is_empty(), "a dry run sends nothing");

    let done = xdr("update_incident", update).await.expect(200).json();
    assert_eq!(done["outcome"], "done", "{done}");
    let read = graph.incident(&incident).unwrap();
    assert_eq!(
        (read["status"].as_str(), read["classification"].as_str()),
        (Some("resolved"), Some("truePositive"))
    );

    let comment = json!({"parameters": {"incident_id": incident, "comment": "Suspended the user in Okta"},
                         "idempotency_key": "incident-comment-1"});
    xdr("add_comment", comment.clone()).await.expect(200);
    let again = xdr("add_comment", comment).await.expect(200).json();
    assert_eq!(again["replayed"], true);
    let comments = graph.incident(&incident).unwrap()["comments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(comments.len(), 1, "one comment per idempotency key");
    assert_eq!(comments[0]["comment"], "Suspended the user in Okta");

    let refused = xdr(
        "add_comment",
        json!({"parameters": {"incident_id": "987654321", "comment": "x"}}),
    )
    .await
    .expect(409)
    .json();
    assert_eq!(refused["code"], "action_refused");
    let invalid = xdr(
        "update_incident",
        json!({"parameters": {"incident_id": incident, "status": "sleeping"}}),
    )
    .await
    .expect(400)
    .json();
    assert!(
        invalid["problems"].to_string().contains("parameters"),
        "{invalid}"
    );
    assert_eq!(graph.writes().len(), 2, "the update and one comment");
    let audited = w
        .owner
        .audit("xdr")
        .await
        .into_iter()
        .filter(|e| e["action"] == "connector.action")
        .count();
    assert_eq!(audited, 5);
}
