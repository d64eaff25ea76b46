//! What outlives a process, and what a new definition version does: a manager started again
//! on the same store brings every instance back in its state; registering a newer version
//! upgrades instances whose configuration it accepts, keeping their source name (so their
//! cursors), and flags the others with the reason.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::{events_definition, Fixture, Persisted, Server, TENANT};
use ucp_core::store::FileCheckpoints;
use ucp_core::Cursor;
use ucp_manage::SqliteStore;

/// The store and checkpoints of a server, in files under `dir`.
async fn on_disk(dir: &std::path::Path) -> Persisted {
    Persisted {
        store: Arc::new(SqliteStore::open(dir.join("manage.db")).unwrap()),
        checkpoints: Arc::new(
            FileCheckpoints::open(dir.join("checkpoints.json"))
                .await
                .unwrap(),
        ),
    }
}

#[tokio::test]
async fn a_restart_brings_every_instance_back_in_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let server = Server::start_on(on_disk(dir.path()).await, Fixture::Full).await;
        // The paused connector's cursor, moved while it is stopped.
        server
            .call(
                "owner",
                "PUT",
                "/connectors/held/offsets",
                Some(json!({"to": "time", "time": "2025-01-02T03:04:05Z"})),
            )
            .await
            .expect_status(200);
        let list = server
            .call("reader", "GET", "/connectors", None)
            .await
            .json();
        let audit = server
            .call("reader", "GET", "/audit?page_size=100", None)
            .await
            .json();
        server.stop().await;
        (list, audit)
    };
    let server = Server::start_on(on_disk(dir.path()).await, Fixture::Empty).await;
    let list = server
        .call("reader", "GET", "/connectors", None)
        .await
        .json();
    assert_eq!(list, before.0);
    let states: Vec<(&str, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("gone", "disconnected"),
            ("held", "paused"),
            ("okta-a", "active")
        ]
    );
    // In the platform: the active one collecting for its two products, the paused one
    // registered and paused (with its subscriptions), the disconnected one absent.
    assert_eq!(server.paused("okta-a").await, Some(false));
    assert_eq!(server.paused("held").await, Some(true));
    assert_eq!(server.paused("gone").await, None);
    assert_eq!(
        server.subscribers("okta-a").await,
        ["contoso.mdi", "contoso.sentinel"]
    );
    // Restored paused before its subscriptions were added: they got no job.
    assert!(server.subscribers("held").await.is_empty());
    assert_eq!(server.cursor("held").await, Some(Cursor::new("1735787045")));
    let audit = server
        .call("reader", "GET", "/audit?page_size=100", None)
        .await
        .json();
    assert_eq!(audit["items"], before.1["items"]);
    // The API keys and roles came back too: the same keys still work.
    server
        .call("owner", "POST", "/connectors/held/resume", None)
        .await
        .expect_status(200);
    assert_eq!(server.paused("held").await, Some(false));
    assert_eq!(
        server.subscribers("held").await,
        ["contoso.mdi", "contoso.sentinel"]
    );
}

#[tokio::test]
async fn a_newer_version_upgrades_instances_it_accepts_and_flags_the_others() {
    let server = Server::start(Fixture::Full).await;
    // v2 accepts the same configuration.
    let outcomes = server
        .manager
        .register(events_definition(server.log.clone(), "1.1.0"))
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes.iter().all(|o| o.upgraded && o.to == "1.1.0"),
        "{outcomes:?}"
    );
    let view = server
        .call("reader", "GET", "/connectors/okta-a", None)
        .await
        .json();
    assert_eq!(
        (view["version"].as_str(), view["revision"].as_u64()),
        (Some("1.1.0"), Some(2))
    );
    // The same source name was registered again, paused stays paused.
    assert_eq!(server.paused("okta-a").await, Some(false));
    assert_eq!(server.paused("held").await, Some(true));
    assert_eq!(server.paused("gone").await, None);
    // v2.0.0 requires a field the instances lack: they stay on 1.1.0, flagged.
    let strict = events_definition(server.log.clone(), "2.0.0");
    let mut schema = strict.config_schema().clone();
    schema["required"] = json!(["account", "region"]);
    schema["properties"]["region"] = json!({"type": "string"});
    let strict = strict.to_builder().config_schema(schema).build().unwrap();
    let outcomes = server.manager.register(strict).await.unwrap();
    assert!(outcomes.iter().all(|o| !o.upgraded));
    let view = server
        .call("reader", "GET", "/connectors/okta-a", None)
        .await
        .json();
    assert_eq!(view["version"], "1.1.0");
    let attention = view["attention"].as_str().unwrap();
    assert!(
        attention.contains("version 2.0.0") && attention.contains("region"),
        "{attention}"
    );
    assert_eq!(server.paused("okta-a").await, Some(false));
    // Updating the configuration to one 2.0.0 accepts moves it there and clears the flag.
    let body = json!({"config": {"account": "acct-1", "region": "eu"},
                      "credentials": {"api": {"name": "shared-token"}}, "products": [{"product": "sentinel"}]});
    let updated = server
        .call_tenant(
            "contributor",
            TENANT,
            "PUT",
            "/connectors/okta-a",
            Some(body),
            Some("\"3\""),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(updated["version"], "2.0.0");
    assert!(updated.get("attention").is_none());
    let audit = server
        .call("reader", "GET", "/audit?connector=okta-a", None)
        .await
        .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..3],
        [
            "connector.update",
            "connector.needs_attention",
            "connector.upgrade"
        ]
    );
    assert_eq!(audit["items"][2]["actor"], "system");
    // A version registered twice is refused.
    assert!(server
        .manager
        .register(events_definition(server.log.clone(), "1.1.0"))
        .await
        .is_err());
}

#[tokio::test]
async fn an_instance_whose_version_is_gone_at_start_needs_attention_and_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = Server::start_on(on_disk(dir.path()).await, Fixture::Full).await;
        server
            .manager
            .register(events_definition(server.log.clone(), "3.0.0"))
            .await
            .unwrap();
        server.stop().await;
    }
    // Started again shipping only 1.0.0: the 3.0.0 instances cannot run.
    let server = Server::start_on(on_disk(dir.path()).await, Fixture::Empty).await;
    let view = server
        .call("reader", "GET", "/connectors/okta-a", None)
        .await
        .json();
    assert!(
        view["attention"]
            .as_str()
            .unwrap()
            .contains("version 3.0.0 is not registered"),
        "{view}"
    );
    for connector in ["okta-a", "held", "gone"] {
        assert_eq!(
            server.paused(connector).await,
            None,
            "{connector} was started"
        );
    }
    let reply = server
        .call("contributor", "POST", "/connectors/okta-a/restart", None)
        .await
        .expect_status(409);
    assert!(reply.text.contains("needs attention"), "{}", reply.text);
}
