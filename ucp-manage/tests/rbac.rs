//! Every endpoint × {no key, bad key, other tenant, Reader, Contributor, Owner}: the exact
//! status each gets, on a fresh server each time (so an allowed change never hides the next
//! principal's answer). Every response, log line and audit entry of the run is then scanned
//! for the secrets the fixtures stored; and the OpenAPI document lists exactly these routes.

mod support;

use serde_json::{json, Value};
use support::{Fixture, Server, INLINE_SECRET, STORED_SECRET, TENANT};
use ucp_manage::{AuditEntry, Principal};
use ucp_testkit::leak::{LeakScanner, TraceCapture};

/// The principals, in the matrix's column order.
const WHO: [&str; 6] = ["none", "bad", "outsider", "reader", "contributor", "owner"];

struct Endpoint {
    method: &'static str,
    /// The route as the OpenAPI document names it.
    route: &'static str,
    /// The path under `/api/v1/tenants/contoso`.
    path: &'static str,
    body: Option<Value>,
    if_match: Option<&'static str>,
    fixture: Fixture,
    /// Expected status per principal, in `WHO` order.
    expect: [u16; 6],
}

const T: &str = "/api/v1/tenants/{tenant}";

fn endpoints() -> Vec<Endpoint> {
    let read = [401, 401, 404, 200, 200, 200];
    let contribute = [401, 401, 404, 403, 200, 200];
    let own = [401, 401, 404, 403, 403, 200];
    let e = |method, route: &'static str, path, body: Option<Value>, fixture, expect| Endpoint {
        method,
        route,
        path,
        body,
        if_match: None,
        fixture,
        expect,
    };
    let secret = json!({"kind": "api_token", "token": "new-token-0a1b2c3d4e5f"});
    vec![
        e("GET", "/catalog", "/catalog", None, Fixture::Full, read),
        e(
            "GET",
            "/catalog/{definition}",
            "/catalog/events",
            None,
            Fixture::Full,
            read,
        ),
        e("GET", "/products", "/products", None, Fixture::Full, read),
        e(
            "GET",
            "/connectors",
            "/connectors",
            None,
            Fixture::Full,
            read,
        ),
        e(
            "POST",
            "/connectors",
            "/connectors",
            Some(support::create_body("new-one")),
            Fixture::Full,
            [401, 401, 404, 403, 201, 201],
        ),
        e(
            "GET",
            "/connectors/{name}",
            "/connectors/okta-a",
            None,
            Fixture::Full,
            read,
        ),
        Endpoint {
            if_match: Some("\"1\""),
            ..e(
                "PUT",
                "/connectors/{name}",
                "/connectors/okta-a",
                Some(
                    json!({"config": {"account": "acct-2"}, "credentials": {"api": {"name": "shared-token"}},
                            "products": [{"product": "xspm"}]}),
                ),
                Fixture::Full,
                contribute,
            )
        },
        e(
            "DELETE",
            "/connectors/{name}",
            "/connectors/gone",
            None,
            Fixture::Full,
            [401, 401, 404, 403, 403, 204],
        ),
        e(
            "POST",
            "/connectors/{name}/pause",
            "/connectors/okta-a/pause",
            None,
            Fixture::Full,
            contribute,
        ),
        e(
            "POST",
            "/connectors/{name}/resume",
            "/connectors/held/resume",
            None,
            Fixture::Full,
            contribute,
        ),
        e(
            "POST",
            "/connectors/{name}/restart",
            "/connectors/okta-a/restart",
            Some(json!({"only_failed": true})),
            Fixture::Full,
            contribute,
        ),
        e(
            "POST",
            "/connectors/{name}/disconnect",
            "/connectors/okta-a/disconnect",
            Some(json!({"reason": "moving to another org"})),
            Fixture::Full,
            own,
        ),
        e(
            "GET",
            "/connectors/{name}/offsets",
            "/connectors/held/offsets",
            None,
            Fixture::Full,
            read,
        ),
        e(
            "PUT",
            "/connectors/{name}/offsets",
            "/connectors/held/offsets",
            Some(json!({"to": "start"})),
            Fixture::Full,
            own,
        ),
        e(
            "GET",
            "/connectors/{name}/actions",
            "/connectors/okta-a/actions",
            None,
            Fixture::Full,
            read,
        ),
        e(
            "POST",
            "/connectors/{name}/actions/{action}",
            "/connectors/okta-a/actions/suspend_user?dry_run=true",
            Some(json!({"parameters": {"user_id": "u-1"}})),
            Fixture::Full,
            contribute,
        ),
        e("GET", "/workspace", "/workspace", None, Fixture::Full, read),
        e(
            "PUT",
            "/workspace",
            "/workspace",
            Some(json!({"name": "law-9", "settings": {"table": "x"}})),
            Fixture::Empty,
            [401, 401, 404, 403, 403, 201],
        ),
        e(
            "POST",
            "/workspace/offboard",
            "/workspace/offboard",
            Some(json!({"reason": "moving to law-2"})),
            Fixture::Workspace,
            [401, 401, 404, 403, 403, 204],
        ),
        e(
            "GET",
            "/credentials",
            "/credentials",
            None,
            Fixture::Full,
            own,
        ),
        e(
            "PUT",
            "/credentials/{name}",
            "/credentials/rotated",
            Some(secret),
            Fixture::Full,
            own,
        ),
        e(
            "DELETE",
            "/credentials/{name}",
            "/credentials/spare",
            None,
            Fixture::Full,
            [401, 401, 404, 403, 403, 204],
        ),
        e("GET", "/roles", "/roles", None, Fixture::Full, own),
        e(
            "PUT",
            "/roles/{principal}",
            "/roles/dave",
            Some(json!({"role": "reader"})),
            Fixture::Full,
            own,
        ),
        e(
            "DELETE",
            "/roles/{principal}",
            "/roles/reader",
            None,
            Fixture::Full,
            [401, 401, 404, 403, 403, 204],
        ),
        e("GET", "/audit", "/audit", None, Fixture::Full, read),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn every_endpoint_answers_each_principal_with_the_exact_status_and_nothing_leaks() {
    let capture = TraceCapture::new();
    let _guard = capture.set_default();
    let mut scanner = LeakScanner::new();
    scanner
        .secret("stored credential", STORED_SECRET)
        .secret("rotated credential", "new-token-0a1b2c3d4e5f")
        .secret("inline credential", INLINE_SECRET)
        .secret("spare credential", "spare-token-1b2c3d4e5f60");
    let mut failures = Vec::new();
    let mut audit: Vec<AuditEntry> = Vec::new();
    for endpoint in endpoints() {
        for (i, who) in WHO.iter().enumerate() {
            let server = Server::start(endpoint.fixture).await;
            for key in server.keys.values() {
                scanner.secret("an API key", key);
            }
            let reply = server
                .call_tenant(
                    who,
                    TENANT,
                    endpoint.method,
                    endpoint.path,
                    endpoint.body.clone(),
                    endpoint.if_match,
                )
                .await;
            scanner.scan(
                format!("{} {} as {who}", endpoint.method, endpoint.path),
                &reply.text,
            );
            if reply.status != endpoint.expect[i] {
                failures.push(format!(
                    "{} {} as {who}: expected {}, got {} {}",
                    endpoint.method, endpoint.path, endpoint.expect[i], reply.status, reply.text
                ));
            }
            if reply.status >= 400 {
                let body = reply.json();
                assert!(
                    body["code"].is_string()
                        && body["message"].as_str().is_some_and(|m| m.len() > 10),
                    "{}",
                    reply.text
                );
            }
            let entries = server
                .manager
                .audit_log(
                    &Principal::system(),
                    TENANT,
                    ucp_manage::AuditFilter {
                        page_size: Some(100),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            audit.extend(entries.items);
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for entry in &audit {
        scanner.scan(
            format!("audit entry {} {}", entry.action, entry.target),
            &serde_json::to_string(entry).unwrap(),
        );
    }
    scanner.scan("the log", &capture.text());
    assert!(audit
        .iter()
        .any(|e| e.action == "credential.rotate" || e.action == "credential.store"));
    scanner.assert_clean();
}

#[tokio::test]
async fn the_openapi_document_is_served_parses_and_lists_exactly_the_routes() {
    let server = Server::start(Fixture::Empty).await;
    let reply = server
        .raw(
            "none",
            "GET",
            &format!("{}/openapi.json", server.base),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    let document: Value = serde_json::from_str(&reply.text).expect("the document is JSON");
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let mut tested: Vec<String> = endpoints()
        .iter()
        .map(|e| format!("{} {T}{}", e.method, e.route))
        .collect();
    documented.sort();
    tested.sort();
    assert_eq!(
        documented, tested,
        "the document and the served routes differ"
    );
    // Every reference resolves within the document.
    let text = reply.text.clone();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let name = target.strip_prefix("#/components/schemas/").expect(target);
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "unresolved {target}"
        );
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}
