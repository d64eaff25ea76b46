//! The API's behaviour beyond permissions: validation naming fields, optimistic concurrency,
//! paging, lifecycle verbs and what they do to the engine, onboarding rules, offsets, the
//! audit log, tenant walls, and bodies that are malformed or too large.

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};
use support::{create_body, Fixture, Server, INLINE_SECRET, OTHER_TENANT, TENANT};
use ucp_core::credentials::CredentialStore;
use ucp_core::{Cursor, StreamKey};

fn problems(reply: &support::Reply) -> Vec<(String, String)> {
    reply.json()["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["field"].as_str().unwrap().to_string(),
                        p["message"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn create_validates_every_field_and_names_it() {
    let server = Server::start(Fixture::Workspace).await;
    let mut body = create_body("bad-one");
    body["config"] = json!({"account": "", "page_size": 5000, "colour": "red"});
    body["credentials"] = json!({"api": {"name": "missing-token"}, "extra": {"name": "x"}});
    body["products"] = json!([
        {"product": "nope"},
        {"product": "sentinel", "streams": ["other"], "interval_seconds": 0},
    ]);
    let reply = server
        .call("owner", "POST", "/connectors", Some(body))
        .await
        .expect_status(400);
    let fields: Vec<String> = problems(&reply).into_iter().map(|(f, _)| f).collect();
    for expected in [
        "config.account",
        "config.page_size",
        "config",
        "products.0.product",
        "products.1.streams",
        "products.1.interval_seconds",
        "credentials.api",
        "credentials.extra",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} not in {fields:?}"
        );
    }
    // A bad name and an unknown definition.
    let mut body = create_body("Bad_Name");
    server
        .call("owner", "POST", "/connectors", Some(body.clone()))
        .await
        .expect_status(400);
    body["name"] = json!("fine");
    body["definition"] = json!("nothing");
    let reply = server
        .call("owner", "POST", "/connectors", Some(body))
        .await
        .expect_status(400);
    assert!(reply.text.contains("available: events"), "{}", reply.text);
    // A field of the wrong type is named by the body parser.
    let mut body = create_body("typed");
    body["products"][0]["interval_seconds"] = json!("soon");
    let reply = server
        .call("owner", "POST", "/connectors", Some(body))
        .await
        .expect_status(400);
    assert!(
        reply.text.contains("products[0].interval_seconds"),
        "{}",
        reply.text
    );
    assert!(
        !reply.text.contains("soon"),
        "the value is not repeated: {}",
        reply.text
    );
}

#[tokio::test]
async fn inline_secrets_need_the_owner_are_stored_write_only_and_go_with_the_connector() {
    let server = Server::start(Fixture::Workspace).await;
    let mut body = create_body("inline");
    body["credentials"] = json!({"api": {"secret": {"kind": "api_token", "token": INLINE_SECRET}}});
    let reply = server
        .call("contributor", "POST", "/connectors", Some(body.clone()))
        .await
        .expect_status(403);
    assert!(
        reply
            .text
            .contains("storing a credential needs the owner role"),
        "{}",
        reply.text
    );
    let reply = server
        .call("owner", "POST", "/connectors", Some(body))
        .await
        .expect_status(201);
    assert!(!reply.text.contains(INLINE_SECRET));
    assert_eq!(reply.json()["credentials"]["api"], "inline-api");
    let stored = server
        .credentials
        .get(&ucp_core::credentials::CredentialRef::new(
            TENANT,
            "inline-api",
        ))
        .await
        .unwrap();
    match stored {
        ucp_core::credentials::Credential::ApiToken { token } => {
            assert_eq!(secrecy::ExposeSecret::expose_secret(&token), INLINE_SECRET)
        }
        other => panic!("{}", other.kind()),
    }
    // A wrong kind for the slot is refused, naming it.
    let mut body = create_body("basic-one");
    body["credentials"] =
        json!({"api": {"secret": {"kind": "basic", "user": "u", "password": "p"}}});
    let reply = server
        .call("owner", "POST", "/connectors", Some(body))
        .await
        .expect_status(400);
    assert_eq!(problems(&reply)[0].0, "credentials.api");
    // Deleting the connector removes its own credential.
    server
        .call(
            "owner",
            "POST",
            "/connectors/inline/disconnect",
            Some(json!({"reason": "done"})),
        )
        .await
        .expect_status(200);
    server
        .call("owner", "DELETE", "/connectors/inline", None)
        .await
        .expect_status(204);
    let names = server
        .call("owner", "GET", "/credentials", None)
        .await
        .json();
    assert_eq!(names, json!([{"name": "shared-token"}]));
}

#[tokio::test]
async fn updates_need_the_current_etag() {
    let server = Server::start(Fixture::Full).await;
    let read = server
        .call("reader", "GET", "/connectors/okta-a", None)
        .await
        .expect_status(200);
    assert_eq!(read.etag.as_deref(), Some("\"1\""));
    let body = json!({"config": {"account": "acct-2"}, "credentials": {"api": {"name": "shared-token"}},
                      "products": [{"product": "xspm", "interval_seconds": 30}]});
    let put = |tag: Option<&'static str>| {
        let body = body.clone();
        let server = &server;
        async move {
            server
                .call_tenant(
                    "contributor",
                    TENANT,
                    "PUT",
                    "/connectors/okta-a",
                    Some(body),
                    tag,
                )
                .await
        }
    };
    let missing = put(None).await.expect_status(428);
    assert!(missing.text.contains("If-Match"), "{}", missing.text);
    put(Some("\"7\"")).await.expect_status(412);
    put(Some("soon")).await.expect_status(400);
    let updated = put(Some("\"1\"")).await.expect_status(200);
    assert_eq!(updated.etag.as_deref(), Some("\"2\""));
    assert_eq!(updated.json()["config"]["account"], "acct-2");
    put(Some("\"1\"")).await.expect_status(412);
    // The platform now feeds only xspm, from the same source name (its cursor carries over).
    assert_eq!(server.subscribers("okta-a").await, ["contoso.xspm"]);
}

#[tokio::test]
async fn lifecycle_verbs_drive_the_engine_and_are_audited() {
    let server = Server::start(Fixture::Full).await;
    assert_eq!(server.paused("okta-a").await, Some(false));
    let view = server
        .call("contributor", "POST", "/connectors/okta-a/pause", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(view["state"], "paused");
    assert_eq!(server.paused("okta-a").await, Some(true));
    // Idempotent: a second pause changes nothing and adds no audit entry.
    server
        .call("contributor", "POST", "/connectors/okta-a/pause", None)
        .await
        .expect_status(200);
    server
        .call("contributor", "POST", "/connectors/okta-a/restart", None)
        .await
        .expect_status(409);
    server
        .call("contributor", "POST", "/connectors/okta-a/resume", None)
        .await
        .expect_status(200);
    assert_eq!(server.paused("okta-a").await, Some(false));
    // Restarting everything restarts the job and both deliveries; only the failed parts,
    // none here.
    server
        .call("contributor", "POST", "/connectors/okta-a/restart", None)
        .await
        .expect_status(200);
    server
        .call(
            "contributor",
            "POST",
            "/connectors/okta-a/restart",
            Some(json!({"only_failed": true})),
        )
        .await
        .expect_status(200);
    // Disconnect needs a reason: without a body, with an empty one, with blanks.
    for body in [None, Some(json!({})), Some(json!({"reason": "   "}))] {
        let reply = server
            .call("owner", "POST", "/connectors/okta-a/disconnect", body)
            .await
            .expect_status(400);
        assert_eq!(problems(&reply)[0].0, "reason");
    }
    server
        .call("owner", "DELETE", "/connectors/okta-a", None)
        .await
        .expect_status(409);
    let view = server
        .call(
            "owner",
            "POST",
            "/connectors/okta-a/disconnect",
            Some(json!({"reason": "org retired"})),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        (view["state"].as_str(), view["disconnect_reason"].as_str()),
        (Some("disconnected"), Some("org retired"))
    );
    assert_eq!(server.paused("okta-a").await, None);
    assert!(server.subscribers("okta-a").await.is_empty());
    server
        .call("contributor", "POST", "/connectors/okta-a/resume", None)
        .await
        .expect_status(409);
    let audit = server
        .call("reader", "GET", "/audit?connector=okta-a", None)
        .await
        .expect_status(200)
        .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "connector.disconnect",
            "connector.restart",
            "connector.restart",
            "connector.resume",
            "connector.pause",
            "connector.create"
        ]
    );
    let disconnect = &audit["items"][0];
    assert_eq!(
        (disconnect["actor"].as_str(), disconnect["reason"].as_str()),
        (Some("owner"), Some("org retired"))
    );
    assert_eq!(disconnect["after"]["state"], "disconnected");
    assert_eq!(
        audit["items"][1]["after"],
        json!({"only_failed": true, "streams": [], "deliveries": []})
    );
    assert_eq!(
        audit["items"][2]["after"],
        json!({"only_failed": false, "streams": ["events"],
               "deliveries": ["mdi/events", "sentinel/events"]})
    );
    server
        .call("owner", "DELETE", "/connectors/okta-a", None)
        .await
        .expect_status(204);
    server
        .call("reader", "GET", "/connectors/okta-a", None)
        .await
        .expect_status(404);
}

#[tokio::test]
async fn one_workspace_per_tenant_and_offboarding_needs_a_reason_and_no_delivering_connector() {
    let server = Server::start(Fixture::Full).await;
    let second = server
        .call(
            "owner",
            "PUT",
            "/workspace",
            Some(json!({"name": "law-2", "settings": {"table": "t"}})),
        )
        .await
        .expect_status(409);
    assert!(second.text.contains("'law-1'"), "{}", second.text);
    server
        .call("owner", "POST", "/workspace/offboard", None)
        .await
        .expect_status(400);
    let busy = server
        .call(
            "owner",
            "POST",
            "/workspace/offboard",
            Some(json!({"reason": "moving"})),
        )
        .await
        .expect_status(409);
    assert!(busy.text.contains("held, okta-a"), "{}", busy.text);
    for name in ["okta-a", "held"] {
        server
            .call(
                "owner",
                "POST",
                &format!("/connectors/{name}/disconnect"),
                Some(json!({"reason": "moving"})),
            )
            .await
            .expect_status(200);
    }
    server
        .call(
            "owner",
            "POST",
            "/workspace/offboard",
            Some(json!({"reason": "moving to law-2"})),
        )
        .await
        .expect_status(204);
    for product in ["sentinel", "mdi", "xspm"] {
        let unknown = server
            .platform
            .remove_sink(&format!("contoso.{product}"))
            .await;
        assert!(unknown.is_err(), "{product}'s sink is still registered");
    }
    server
        .call("reader", "GET", "/workspace", None)
        .await
        .expect_status(404);
    // Without a workspace, a connector for products cannot be created.
    let reply = server
        .call(
            "contributor",
            "POST",
            "/connectors",
            Some(create_body("late")),
        )
        .await
        .expect_status(409);
    assert!(reply.text.contains("connect one first"), "{}", reply.text);
    server
        .call(
            "owner",
            "PUT",
            "/workspace",
            Some(json!({"name": "law-2", "settings": {"table": "t2"}})),
        )
        .await
        .expect_status(201);
    let products = server.call("reader", "GET", "/products", None).await.json();
    assert_eq!(products[0]["table"], "t2-sentinel");
    let audit = server.call("reader", "GET", "/audit", None).await.json();
    let offboard = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "workspace.offboard")
        .unwrap();
    assert_eq!(offboard["reason"], "moving to law-2");
    // Settings are validated against the products' schema.
    let other = server
        .call_tenant(
            "outsider",
            OTHER_TENANT,
            "PUT",
            "/workspace",
            Some(json!({"name": "w", "settings": {}})),
            None,
        )
        .await;
    assert_eq!(other.status, 400, "{}", other.text);
    assert_eq!(problems(&other)[0].0, "settings.table");
}

#[tokio::test]
async fn offsets_of_a_stopped_connector_are_read_and_reset_with_an_audit_entry() {
    let server = Server::start(Fixture::Full).await;
    server
        .call("reader", "GET", "/connectors/okta-a/offsets", None)
        .await
        .expect_status(409);
    let key = StreamKey::new("contoso.held", "events");
    server
        .platform
        .set_cursor(&key, Cursor::new("42"))
        .await
        .unwrap();
    let offsets = server
        .call("reader", "GET", "/connectors/held/offsets", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(offsets, json!([{"stream": "events", "cursor": "42"}]));
    let reply = server
        .call(
            "owner",
            "PUT",
            "/connectors/held/offsets",
            Some(json!({"to": "time", "time": "2025-01-02T03:04:05Z"})),
        )
        .await
        .expect_status(200);
    assert_eq!(
        reply.json(),
        json!([{"stream": "events", "cursor": "1735787045"}])
    );
    server
        .call(
            "owner",
            "PUT",
            "/connectors/held/offsets",
            Some(json!({"to": "time"})),
        )
        .await
        .expect_status(400);
    server
        .call(
            "owner",
            "PUT",
            "/connectors/held/offsets",
            Some(json!({"to": "start", "streams": ["x"]})),
        )
        .await
        .expect_status(400);
    server
        .call(
            "owner",
            "PUT",
            "/connectors/held/offsets",
            Some(json!({"to": "start"})),
        )
        .await
        .expect_status(200);
    assert_eq!(server.cursor("held").await, Some(Cursor::start()));
    // A disconnected connector's source is gone from the platform; its cursor is kept,
    // readable and resettable.
    let gone = StreamKey::new("contoso.gone", "events");
    assert_eq!(server.paused("gone").await, None);
    server
        .platform
        .set_cursor(&gone, Cursor::new("7"))
        .await
        .unwrap();
    let offsets = server
        .call("reader", "GET", "/connectors/gone/offsets", None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(offsets, json!([{"stream": "events", "cursor": "7"}]));
    server
        .call(
            "owner",
            "PUT",
            "/connectors/gone/offsets",
            Some(json!({"to": "time", "time": "2025-01-02T03:04:05Z"})),
        )
        .await
        .expect_status(200);
    assert_eq!(server.cursor("gone").await, Some(Cursor::new("1735787045")));
    let audit = server
        .call("reader", "GET", "/audit?connector=held", None)
        .await
        .json();
    let resets: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "connector.offsets_reset")
        .collect();
    assert_eq!(resets.len(), 2);
    assert_eq!(
        resets[1]["before"],
        json!([{"stream": "events", "cursor": "42"}])
    );
    assert_eq!(
        resets[1]["after"],
        json!([{"stream": "events", "cursor": "1735787045"}])
    );
    assert_eq!(
        resets[0]["after"],
        json!([{"stream": "events", "cursor": null}])
    );
}

#[tokio::test]
async fn lists_are_paged_by_name() {
    let server = Server::start(Fixture::Workspace).await;
    for i in 0..7 {
        let mut body = create_body(&format!("c{i}"));
        body["products"] = json!([]);
        server
            .call("contributor", "POST", "/connectors", Some(body))
            .await
            .expect_status(201);
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            None => "/connectors?page_size=3".to_string(),
            Some(t) => format!("/connectors?page_size=3&page_token={t}"),
        };
        let page = server
            .call("reader", "GET", &path, None)
            .await
            .expect_status(200)
            .json();
        pages += 1;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string()),
        );
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);
    for bad in [
        "page_size=0",
        "page_size=101",
        "page_token=%25%25",
        "page_size=x",
        "colour=red",
    ] {
        server
            .call("reader", "GET", &format!("/connectors?{bad}"), None)
            .await
            .expect_status(400);
    }
    let catalog = server.call("reader", "GET", "/catalog", None).await.json();
    assert_eq!(catalog[0]["instances"], 7);
}

#[tokio::test]
async fn other_tenants_see_nothing_not_even_what_exists() {
    let server = Server::start(Fixture::Full).await;
    let existing = server
        .call("outsider", "GET", "/connectors/okta-a", None)
        .await
        .expect_status(404);
    let missing = server
        .call("outsider", "GET", "/connectors/never-was", None)
        .await
        .expect_status(404);
    let absent_tenant = server
        .call_tenant(
            "outsider",
            "no-such-tenant",
            "GET",
            "/connectors/okta-a",
            None,
            None,
        )
        .await
        .expect_status(404);
    assert_eq!(
        existing.text.replace("okta-a", "X"),
        missing.text.replace("never-was", "X")
    );
    assert_eq!(
        existing.text.replace(TENANT, "T"),
        absent_tenant.text.replace("no-such-tenant", "T")
    );
    // Their own tenant is empty.
    let own = server
        .call_tenant("outsider", OTHER_TENANT, "GET", "/connectors", None, None)
        .await
        .expect_status(200);
    assert_eq!(own.json()["items"], json!([]));
    // Audit entries of one tenant are not in another's log.
    let audit = server
        .call_tenant("outsider", OTHER_TENANT, "GET", "/audit", None, None)
        .await
        .json();
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tenant"] == OTHER_TENANT));
}

#[tokio::test]
async fn roles_keep_a_last_owner() {
    let server = Server::start(Fixture::Empty).await;
    let reply = server
        .call(
            "owner",
            "PUT",
            "/roles/owner",
            Some(json!({"role": "reader"})),
        )
        .await
        .expect_status(409);
    assert!(reply.text.contains("last Owner"), "{}", reply.text);
    server
        .call(
            "owner",
            "PUT",
            "/roles/erin",
            Some(json!({"role": "owner"})),
        )
        .await
        .expect_status(200);
    server
        .call("owner", "DELETE", "/roles/owner", None)
        .await
        .expect_status(204);
    server
        .call("owner", "GET", "/roles", None)
        .await
        .expect_status(404);
    server
        .call("owner", "PUT", "/roles/x", Some(json!({"role": "emperor"})))
        .await
        .expect_status(400);
}

#[tokio::test]
async fn oversized_and_misdeclared_bodies_get_a_4xx_with_a_message() {
    let server = Server::start(Fixture::Workspace).await;
    let mut body = create_body("big");
    body["config"]["account"] = json!("a".repeat(70 * 1024));
    let reply = server
        .call("owner", "POST", "/connectors", Some(body))
        .await
        .expect_status(413);
    assert_eq!(reply.json()["code"], "payload_too_large");
    let url = format!("{}/api/v1/tenants/{TENANT}/connectors", server.base);
    let reply = server
        .http
        .post(&url)
        .bearer_auth(&server.keys["owner"])
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 415);
    let reply = server
        .raw("owner", "PATCH", &url, None, None)
        .await
        .expect_status(405);
    assert_eq!(reply.json()["code"], "method_not_allowed");
    server
        .raw(
            "owner",
            "GET",
            &format!("{}/nothing/here", server.base),
            None,
            None,
        )
        .await
        .expect_status(404);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes, and arbitrary JSON values, as bodies of every body-taking route:
    /// always a 4xx with a JSON message, never a 5xx, and the server keeps answering.
    #[test]
    fn malformed_bodies_never_crash_the_server(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        value in arbitrary_json(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let server = Server::start(Fixture::Full).await;
            let routes = [
                ("POST", "/connectors"),
                ("PUT", "/connectors/okta-a"),
                ("POST", "/connectors/okta-a/restart"),
                ("POST", "/connectors/okta-a/disconnect"),
                ("PUT", "/connectors/held/offsets"),
                ("PUT", "/workspace"),
                ("POST", "/workspace/offboard"),
                ("PUT", "/credentials/x1"),
                ("PUT", "/roles/y1"),
                ("POST", "/connectors/okta-a/actions/suspend_user?dry_run=true"),
                ("POST", "/connectors/okta-a/actions/suspend_user"),
            ];
            for (method, path) in routes {
                let url = format!("{}/api/v1/tenants/{TENANT}{path}", server.base);
                for body in [String::from_utf8_lossy(&bytes).into_owned(), value.to_string()] {
                    let reply = server.raw("owner", method, &url, Some(body), Some("\"1\"")).await;
                    prop_assert!(reply.status < 500, "{method} {path}: {} {}", reply.status, reply.text);
                    if reply.status >= 400 {
                        prop_assert!(reply.json()["message"].is_string(), "{}", reply.text);
                    }
                }
            }
            server.call("reader", "GET", "/connectors", None).await.expect_status(200);
            Ok(())
        })?;
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("config".to_string()),
                    Just("reason".to_string()),
                    Just("kind".to_string()),
                    Just("to".to_string()),
                    Just("role".to_string()),
                    Just("products".to_string()),
                    Just("credentials".to_string()),
                    Just("parameters".to_string()),
                    Just("user_id".to_string()),
                    Just("idempotency_key".to_string()),
                    "[a-z]{1,8}".prop_map(String::from)
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
