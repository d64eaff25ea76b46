//! Superseding through the API: a "suite" definition that supersedes a "component" one (as
//! Defender XDR supersedes the Defender for Identity alerts connector). Connecting the suite
//! stops the tenant's component connectors of the same provider account (out of the engine,
//! shown as superseded, audited); connecting or resuming one is refused with a 409 that says
//! why and what to do; once the suite is disconnected, the component resumes. The real
//! Defender connectors are tested end to end in ucpd's `tests/supersede.rs`.

mod support;

use serde_json::{json, Value};
use support::{events_definition_as, Fixture, Server};

fn definitions(log: &ucp_testkit::EventLog) -> Vec<ucp_core::catalog::ConnectorDefinition> {
    let component = events_definition_as("component", "Component alerts", log.clone(), "1.0.0");
    let suite = events_definition_as("suite", "The suite", log.clone(), "1.0.0")
        .to_builder()
        .supersedes("component")
        .build()
        .unwrap();
    vec![component, suite]
}

fn body(name: &str, definition: &str, account: &str) -> Value {
    json!({
        "name": name,
        "definition": definition,
        "config": {"account": account},
        "credentials": {"api": {"name": "shared-token"}},
        "products": [{"product": "sentinel"}]
    })
}

async fn create(server: &Server, name: &str, definition: &str, account: &str) -> support::Reply {
    server
        .call(
            "contributor",
            "POST",
            "/connectors",
            Some(body(name, definition, account)),
        )
        .await
}

async fn state(server: &Server, name: &str) -> Value {
    server
        .call("reader", "GET", &format!("/connectors/{name}"), None)
        .await
        .expect_status(200)
        .json()
}

async fn audit_actions(server: &Server, connector: &str) -> Vec<Value> {
    server
        .call(
            "reader",
            "GET",
            &format!("/audit?connector={connector}"),
            None,
        )
        .await
        .expect_status(200)
        .json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn connecting_the_suite_supersedes_the_component_until_it_is_disconnected() {
    let server = Server::start_with_definitions(Fixture::Workspace, definitions).await;
    create(&server, "mdi", "component", "dir-1")
        .await
        .expect_status(201);
    create(&server, "mdi-other", "component", "dir-2")
        .await
        .expect_status(201);
    server
        .call("contributor", "POST", "/connectors/mdi-other/pause", None)
        .await
        .expect_status(200);
    assert_eq!(server.paused("mdi").await, Some(false));

    // The suite for dir-1: the component of dir-1 stops; dir-2's is another account's.
    create(&server, "xdr", "suite", "dir-1")
        .await
        .expect_status(201);
    let mdi = state(&server, "mdi").await;
    assert_eq!(mdi["state"], "superseded");
    assert_eq!(mdi["superseded"]["by"], "xdr");
    assert_eq!(mdi["superseded"]["by_display_name"], "The suite");
    let message = mdi["superseded"]["message"].as_str().unwrap();
    assert!(
        message.contains("superseded by connector 'xdr'") && message.contains("disconnect 'xdr'"),
        "{message}"
    );
    assert_eq!(
        server.paused("mdi").await,
        None,
        "a superseded connector is out of the engine"
    );
    assert!(server.subscribers("mdi").await.is_empty());
    assert_eq!(state(&server, "mdi-other").await["state"], "paused");
    assert_eq!(server.paused("mdi-other").await, Some(true));
    assert_eq!(server.paused("xdr").await, Some(false));

    // Audited: who, why, before and after.
    let entries = audit_actions(&server, "mdi").await;
    let superseded = entries
        .iter()
        .find(|e| e["action"] == "connector.supersede")
        .expect("a supersede entry");
    assert_eq!(superseded["actor"], "contributor");
    assert!(superseded["reason"].as_str().unwrap().contains("'xdr'"));
    assert_eq!(superseded["before"]["state"], "active");
    assert_eq!(superseded["after"]["superseded_by"], "xdr");

    // A new component connector of dir-1 is refused, saying why and what to do; dir-2's is not.
    let refused = create(&server, "mdi-2", "component", "dir-1")
        .await
        .expect_status(409);
    let why = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        why.contains("'xdr' (The suite) is connected")
            && why.contains("arrive twice")
            && why.contains("disconnect 'xdr' first"),
        "{why}"
    );
    create(&server, "mdi-3", "component", "dir-2")
        .await
        .expect_status(201);
    // So is resuming the superseded one; pausing it has nothing to pause.
    let refused = server
        .call("contributor", "POST", "/connectors/mdi/resume", None)
        .await
        .expect_status(409);
    assert!(
        refused.text.contains("disconnect 'xdr' first"),
        "{}",
        refused.text
    );
    server
        .call("contributor", "POST", "/connectors/mdi/pause", None)
        .await
        .expect_status(409);
    // A paused suite is still connected.
    server
        .call("contributor", "POST", "/connectors/xdr/pause", None)
        .await
        .expect_status(200);
    server
        .call("contributor", "POST", "/connectors/mdi/resume", None)
        .await
        .expect_status(409);

    // Disconnecting the suite lets the component resume, from its cursor.
    server
        .call(
            "owner",
            "POST",
            "/connectors/xdr/disconnect",
            Some(json!({"reason": "back to the component connectors"})),
        )
        .await
        .expect_status(200);
    let mdi = state(&server, "mdi").await;
    assert_eq!(mdi["state"], "superseded");
    assert!(mdi["superseded"]["message"]
        .as_str()
        .unwrap()
        .contains("no longer connected"));
    let resumed = server
        .call("contributor", "POST", "/connectors/mdi/resume", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(resumed["state"], "active");
    assert!(resumed.get("superseded").is_none());
    assert_eq!(server.paused("mdi").await, Some(false));
    assert_eq!(server.subscribers("mdi").await, ["contoso.sentinel"]);
    let entries = audit_actions(&server, "mdi").await;
    assert_eq!(entries[0]["action"], "connector.resume");
    assert_eq!(entries[0]["before"]["state"], "superseded");
    create(&server, "mdi-2", "component", "dir-1")
        .await
        .expect_status(201);
}

#[tokio::test]
async fn a_superseded_connector_can_be_disconnected_deleted_and_its_offsets_read() {
    let server = Server::start_with_definitions(Fixture::Workspace, definitions).await;
    create(&server, "mdi", "component", "dir-1")
        .await
        .expect_status(201);
    create(&server, "xdr", "suite", "dir-1")
        .await
        .expect_status(201);
    // Stopped, so its offsets can be read (and reset) as a paused one's.
    server
        .call("reader", "GET", "/connectors/mdi/offsets", None)
        .await
        .expect_status(200);
    // Superseded connectors deliver nothing: offboarding waits only for the suite.
    let refused = server
        .call(
            "owner",
            "POST",
            "/workspace/offboard",
            Some(json!({"reason": "moving"})),
        )
        .await
        .expect_status(409);
    assert!(
        refused.text.contains("xdr") && !refused.text.contains("mdi"),
        "{}",
        refused.text
    );
    server
        .call("owner", "DELETE", "/connectors/mdi", None)
        .await
        .expect_status(204);
    create(&server, "mdi-b", "component", "dir-1")
        .await
        .expect_status(409);
    // Updating the suite to another account frees dir-1's component and supersedes dir-2's.
    create(&server, "mdi-c", "component", "dir-2")
        .await
        .expect_status(201);
    let etag = server
        .call("reader", "GET", "/connectors/xdr", None)
        .await
        .etag
        .unwrap();
    server
        .call_tenant(
            "contributor",
            support::TENANT,
            "PUT",
            "/connectors/xdr",
            Some(json!({"config": {"account": "dir-2"}, "credentials": {"api": {"name": "shared-token"}},
                        "products": [{"product": "sentinel"}]})),
            Some(&etag),
        )
        .await
        .expect_status(200);
    assert_eq!(state(&server, "mdi-c").await["state"], "superseded");
    create(&server, "mdi-b", "component", "dir-1")
        .await
        .expect_status(201);
}

/// The web pages show a superseded connector as such, by whom and what to do.
#[tokio::test]
async fn the_pages_show_a_superseded_connector_with_its_superseder() {
    let server = Server::start_with_definitions(Fixture::Workspace, definitions).await;
    create(&server, "mdi", "component", "dir-1")
        .await
        .expect_status(201);
    create(&server, "xdr", "suite", "dir-1")
        .await
        .expect_status(201);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(format!("{}/ui/sign-in", server.base))
        .form(&[
            ("credential", server.keys["reader"].as_str()),
            ("tenant", "contoso"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = |path: &str| {
        let request = http
            .get(format!("{}/ui/t/contoso{path}", server.base))
            .header("cookie", &cookie);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let connector = page("/connectors/mdi").await;
    assert!(connector.contains("badge-superseded"), "{connector}");
    assert!(
        connector.contains("Superseded: superseded by connector 'xdr' (The suite)"),
        "{connector}"
    );
    let list = page("/connectors?status=superseded").await;
    assert!(list.contains("data-connector=\"mdi\"") && !list.contains("data-connector=\"xdr\""));
    assert!(list.contains("Superseded by xdr"), "{list}");
}
