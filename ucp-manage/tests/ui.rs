//! The web pages over HTTP, on the real running platform: signing in (the key only in a
//! posted form, a strict HttpOnly cookie), CSRF and cross-site refusals on every form, the
//! manager's RBAC behind every action, tenants as walls, the connect form's field errors,
//! actions with their confirmations, and My connectors' filter and sort. The browser
//! story (Chromium) is `ucpd/tests/ui_browser.rs`.

mod support;

use secrecy::ExposeSecret;
use support::{Fixture, Server, STORED_SECRET};
use ucp_manage::{Principal, Role};

/// A browser without a browser: one session cookie, no redirects followed.
struct Visit {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
}

/// A response.
#[derive(Debug)]
struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    text: String,
}

impl Page {
    /// The session's CSRF token, from a form on the page.
    fn csrf(&self) -> String {
        let at = self
            .text
            .find("name=\"csrf\" value=\"")
            .expect("a form with the CSRF token");
        let rest = &self.text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    #[track_caller]
    fn expect(self, status: u16) -> Page {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }

    /// The text of the element with `id`, without its inner tags.
    fn element(&self, id: &str) -> Option<String> {
        let at = self.text.find(&format!("id=\"{id}\""))?;
        let start = self.text[..at].rfind('<')?;
        let tag: String = self.text[start + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let open_end = at + self.text[at..].find('>')? + 1;
        let close = open_end + self.text[open_end..].find(&format!("</{tag}>"))?;
        let mut text = String::new();
        let mut in_tag = false;
        for c in self.text[open_end..close].chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        Some(text)
    }
}

impl Visit {
    fn new(server: &Server) -> Visit {
        Visit {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(c) => request.header("cookie", c),
            None => request,
        };
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let location = header("location");
        let set_cookie = header("set-cookie");
        if let Some(set) = &set_cookie {
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
        Page {
            status: response.status().as_u16(),
            location,
            set_cookie,
            text: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// Sign in with `key` on `tenant`; returns the CSRF token of the first page.
    async fn sign_in(&mut self, key: &str, tenant: &str) -> String {
        let page = self
            .post("/ui/sign-in", &[("credential", key), ("tenant", tenant)])
            .await
            .expect(303);
        let to = page.location.unwrap();
        self.get(&to).await.expect(200).csrf()
    }
}

const CONNECTORS: &str = "/ui/t/contoso/connectors";

#[tokio::test]
async fn signing_in_takes_the_key_in_a_form_and_gives_a_strict_http_only_cookie() {
    let server = Server::start(Fixture::Full).await;
    let key = server.keys["owner"].clone();
    let mut visit = Visit::new(&server);
    // Not signed in: every page leads to the sign-in form, remembering where it was going.
    let page = visit.get("/ui/").await.expect(303);
    assert_eq!(page.location.as_deref(), Some("/ui/sign-in"));
    let page = visit.get(CONNECTORS).await.expect(303);
    assert_eq!(
        page.location.as_deref(),
        Some("/ui/sign-in?next=/ui/t/contoso/connectors")
    );
    let form = visit.get("/ui/sign-in").await.expect(200);
    assert!(form.text.contains("type=\"password\""), "{}", form.text);
    assert!(form.text.contains("method=\"post\""));
    // A wrong key is said next to the key field, and is not repeated back.
    let wrong = format!("{}x", &key[..key.len() - 1]);
    let refused = visit
        .post(
            "/ui/sign-in",
            &[("credential", wrong.as_str()), ("tenant", "contoso")],
        )
        .await
        .expect(401);
    assert!(refused
        .element("credential-error")
        .unwrap()
        .contains("not accepted"));
    assert!(!refused.text.contains(&wrong));
    assert!(refused.set_cookie.is_none());
    // A tenant without a role is said next to the tenant field, as "not there".
    let refused = visit
        .post(
            "/ui/sign-in",
            &[("credential", key.as_str()), ("tenant", "fabrikam")],
        )
        .await
        .expect(404);
    assert!(refused
        .element("tenant-error")
        .unwrap()
        .contains("no role in tenant"));
    // Signed in: a session cookie, strict and out of scripts' reach, then the pages.
    let signed = visit
        .post(
            "/ui/sign-in",
            &[
                ("credential", key.as_str()),
                ("tenant", "contoso"),
                ("next", "/ui/t/contoso/catalog"),
            ],
        )
        .await
        .expect(303);
    assert_eq!(signed.location.as_deref(), Some("/ui/t/contoso/catalog"));
    let cookie = signed.set_cookie.unwrap();
    for part in ["ucp_session=", "HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains(&key));
    let catalog = visit.get("/ui/t/contoso/catalog").await.expect(200);
    assert!(catalog.text.contains("Events"), "{}", catalog.text);
    // An address never carries the key, and no page shows it or a stored secret.
    let list = visit.get(CONNECTORS).await.expect(200);
    for page in [&catalog, &list] {
        assert!(!page.text.contains(&key));
        assert!(!page.text.contains(STORED_SECRET));
    }
    // Pages are not framed, run only this server's script and are not cached.
    let response = reqwest::Client::new()
        .get(format!("{}/ui/sign-in", server.base))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(response.headers()["cache-control"], "no-store");
    // An off-site "next" is not followed.
    let mut other = Visit::new(&server);
    let page = other
        .post(
            "/ui/sign-in",
            &[
                ("credential", key.as_str()),
                ("tenant", "contoso"),
                ("next", "//evil.example/ui/"),
            ],
        )
        .await
        .expect(303);
    assert_eq!(page.location.as_deref(), Some(CONNECTORS));
}

#[tokio::test]
async fn every_form_needs_the_sessions_csrf_token_and_posts_from_other_sites_are_refused() {
    let server = Server::start(Fixture::Full).await;
    let mut visit = Visit::new(&server);
    let csrf = visit
        .sign_in(&server.keys["contributor"].clone(), "contoso")
        .await;
    let pause = "/ui/t/contoso/connectors/okta-a/pause";
    visit.post(pause, &[]).await.expect(403);
    visit.post(pause, &[("csrf", "forged")]).await.expect(403);
    // Another session's token is not this one's.
    let mut other = Visit::new(&server);
    let other_csrf = other
        .sign_in(&server.keys["contributor"].clone(), "contoso")
        .await;
    assert_ne!(other_csrf, csrf);
    visit
        .post(pause, &[("csrf", other_csrf.as_str())])
        .await
        .expect(403);
    // The right token from another site.
    let request = visit
        .http
        .post(format!("{}{pause}", server.base))
        .header("origin", "http://evil.example")
        .form(&[("csrf", csrf.as_str())]);
    visit.send(request).await.expect(403);
    let request = visit
        .http
        .post(format!("{}{pause}", server.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", csrf.as_str())]);
    visit.send(request).await.expect(403);
    assert_eq!(
        server.paused("okta-a").await,
        Some(false),
        "nothing changed"
    );
    // From this site with the token, it is done.
    let done = visit
        .post(pause, &[("csrf", csrf.as_str())])
        .await
        .expect(303);
    assert_eq!(
        done.location.as_deref(),
        Some("/ui/t/contoso/connectors/okta-a?done=paused")
    );
    assert_eq!(server.paused("okta-a").await, Some(true));
}

#[tokio::test]
async fn a_reader_sees_no_action_and_the_manager_refuses_its_posts() {
    let server = Server::start(Fixture::Full).await;
    let mut visit = Visit::new(&server);
    let csrf = visit
        .sign_in(&server.keys["reader"].clone(), "contoso")
        .await;
    let page = visit
        .get("/ui/t/contoso/connectors/okta-a")
        .await
        .expect(200);
    assert!(!page.text.contains("data-action="), "{}", page.text);
    let catalog = visit.get("/ui/t/contoso/catalog").await.expect(200);
    assert!(!catalog.text.contains("/connect\""), "no connect link");
    // The confirmation and the post itself are refused, with the manager's sentence.
    visit
        .get("/ui/t/contoso/connectors/okta-a/pause")
        .await
        .expect(403);
    visit
        .get("/ui/t/contoso/catalog/events/connect")
        .await
        .expect(403);
    for action in ["pause", "restart", "disconnect", "delete"] {
        let refused = visit
            .post(
                &format!("/ui/t/contoso/connectors/okta-a/{action}"),
                &[("csrf", csrf.as_str()), ("reason", "because")],
            )
            .await
            .expect(403);
        assert!(
            refused.text.contains("needs the") && refused.text.contains("you have reader"),
            "{}",
            refused.text
        );
    }
    visit
        .post(
            "/ui/t/contoso/catalog/events/connect",
            &[
                ("csrf", csrf.as_str()),
                ("name", "sneaky"),
                ("config.account", "a"),
            ],
        )
        .await
        .expect(403);
    assert_eq!(server.paused("okta-a").await, Some(false));
    // A Contributor sees pause and restart, not disconnect; an Owner sees disconnect too.
    let mut contributor = Visit::new(&server);
    contributor
        .sign_in(&server.keys["contributor"].clone(), "contoso")
        .await;
    let page = contributor
        .get("/ui/t/contoso/connectors/okta-a")
        .await
        .expect(200);
    assert!(page.text.contains("data-action=\"pause\""));
    assert!(page.text.contains("data-action=\"restart\""));
    assert!(!page.text.contains("data-action=\"disconnect\""));
    let mut owner = Visit::new(&server);
    owner
        .sign_in(&server.keys["owner"].clone(), "contoso")
        .await;
    let page = owner
        .get("/ui/t/contoso/connectors/okta-a")
        .await
        .expect(200);
    assert!(page.text.contains("data-action=\"disconnect\""));
    let gone = owner.get("/ui/t/contoso/connectors/gone").await.expect(200);
    assert!(gone.text.contains("data-action=\"delete\""));
    assert!(!gone.text.contains("data-action=\"pause\""));
}

#[tokio::test]
async fn another_tenants_connectors_are_not_found_by_address() {
    let server = Server::start(Fixture::Full).await;
    let mut outsider = Visit::new(&server);
    let csrf = outsider
        .sign_in(&server.keys["outsider"].clone(), "fabrikam")
        .await;
    for path in [
        "/ui/t/contoso/connectors/okta-a",
        "/ui/t/contoso/connectors/nothing-here",
        "/ui/t/contoso/connectors",
        "/ui/t/contoso/catalog",
        "/ui/t/contoso/connectors/okta-a/pause",
    ] {
        outsider.get(path).await.expect(404);
    }
    outsider
        .post(
            "/ui/t/contoso/connectors/okta-a/pause",
            &[("csrf", csrf.as_str())],
        )
        .await
        .expect(404);
    assert_eq!(server.paused("okta-a").await, Some(false));
    // A missing connector of one's own tenant answers the same.
    let mut reader = Visit::new(&server);
    reader
        .sign_in(&server.keys["reader"].clone(), "contoso")
        .await;
    let missing = reader
        .get("/ui/t/contoso/connectors/nothing-here")
        .await
        .expect(404);
    assert!(missing.text.contains("not found"), "{}", missing.text);
    reader.get("/ui/no/such/page").await.expect(404);
}

#[tokio::test]
async fn the_connect_form_shows_the_managers_problems_next_to_their_fields() {
    let server = Server::start(Fixture::Workspace).await;
    let mut visit = Visit::new(&server);
    let csrf = visit
        .sign_in(&server.keys["contributor"].clone(), "contoso")
        .await;
    let catalog = visit.get("/ui/t/contoso/catalog").await.expect(200);
    assert!(catalog.text.contains("class=\"number instances\">0<"));
    let form = visit
        .get("/ui/t/contoso/catalog/events/connect")
        .await
        .expect(200);
    for id in [
        "f-name",
        "f-config-account",
        "f-config-page_size",
        "f-credentials-api",
        "f-products-sentinel-feed",
        "f-products-mdi-interval_seconds",
        "f-products-xspm-filter",
    ] {
        assert!(
            form.text.contains(&format!("for=\"{id}\"")),
            "no label for {id}"
        );
    }
    let connect = "/ui/t/contoso/catalog/events/connect";
    // Bad values: each message is next to its field, from the manager's validation.
    let refused = visit
        .post(
            connect,
            &[
                ("csrf", csrf.as_str()),
                ("name", "Bad Name"),
                ("config.page_size", "5000"),
                ("credentials.api", "shared-token"),
                ("product", "sentinel"),
                ("product", "mdi"),
                ("products.mdi.interval_seconds", "0"),
            ],
        )
        .await
        .expect(400);
    assert!(
        refused.element("f-name-error").is_some(),
        "{}",
        refused.text
    );
    assert!(refused
        .element("f-config-account-error")
        .unwrap()
        .contains("required"));
    assert!(refused
        .element("f-config-page_size-error")
        .unwrap()
        .contains("1000"));
    assert!(refused
        .element("f-products-mdi-interval_seconds-error")
        .unwrap()
        .contains("interval"));
    assert!(refused
        .element("f-products-sentinel-interval_seconds-error")
        .is_none());
    // What was typed is kept, and marked invalid where refused.
    assert!(refused.text.contains("value=\"5000\""));
    assert!(refused.text.contains("aria-invalid=\"true\""));
    // A filter that is not JSON is said before anything is sent.
    let refused = visit
        .post(
            connect,
            &[
                ("csrf", csrf.as_str()),
                ("name", "events-1"),
                ("config.account", "acct-1"),
                ("credentials.api", "shared-token"),
                ("product", "sentinel"),
                ("products.sentinel.filter", "{not json"),
            ],
        )
        .await
        .expect(400);
    assert!(refused
        .element("f-products-sentinel-filter-error")
        .unwrap()
        .contains("not a filter"));
    // Right: created for the products ticked, and the catalog counts it.
    let created = visit
        .post(
            connect,
            &[
                ("csrf", csrf.as_str()),
                ("name", "events-1"),
                ("config.account", "acct-1"),
                ("config.page_size", "50"),
                ("credentials.api", "shared-token"),
                ("product", "sentinel"),
                ("product", "mdi"),
                ("products.mdi.interval_seconds", "60"),
                (
                    "products.mdi.filter",
                    r#"{"starts_with": {"path": "/eventType", "prefix": "user."}}"#,
                ),
            ],
        )
        .await
        .expect(303);
    assert_eq!(
        created.location.as_deref(),
        Some("/ui/t/contoso/connectors/events-1?done=created")
    );
    let view = server
        .manager
        .get(&Principal::system(), "contoso", "events-1")
        .await
        .unwrap();
    assert_eq!(view.config["page_size"], 50);
    let products: Vec<(&str, u64, bool)> = view
        .products
        .iter()
        .map(|p| (p.product.as_str(), p.interval_seconds, p.filter.is_some()))
        .collect();
    assert_eq!(products, [("sentinel", 300, false), ("mdi", 60, true)]);
    assert_eq!(view.created_by, "contributor");
    let catalog = visit.get("/ui/t/contoso/catalog").await.expect(200);
    assert!(catalog.text.contains("class=\"number instances\">1<"));
    // The same name again: the manager's refusal is said at the top of the form.
    let again = visit
        .post(
            connect,
            &[
                ("csrf", csrf.as_str()),
                ("name", "events-1"),
                ("config.account", "acct-1"),
                ("credentials.api", "shared-token"),
            ],
        )
        .await
        .expect(409);
    assert!(again.text.contains("already exists"), "{}", again.text);
}

#[tokio::test]
async fn disconnect_needs_a_reason_said_next_to_its_field_then_delete_removes_it() {
    let server = Server::start(Fixture::Full).await;
    let mut owner = Visit::new(&server);
    let csrf = owner
        .sign_in(&server.keys["owner"].clone(), "contoso")
        .await;
    let confirm = owner
        .get("/ui/t/contoso/connectors/okta-a/disconnect")
        .await
        .expect(200);
    assert!(confirm.text.contains("for=\"f-reason\""));
    let refused = owner
        .post(
            "/ui/t/contoso/connectors/okta-a/disconnect",
            &[("csrf", csrf.as_str()), ("reason", "  ")],
        )
        .await
        .expect(400);
    assert!(refused
        .element("f-reason-error")
        .unwrap()
        .contains("needs a reason"));
    // Deleting a connected connector: the manager's sentence on the confirmation.
    let refused = owner
        .post(
            "/ui/t/contoso/connectors/okta-a/delete",
            &[("csrf", csrf.as_str())],
        )
        .await
        .expect(409);
    assert!(refused
        .element("refusal")
        .unwrap()
        .contains("disconnect it first"));
    owner
        .post(
            "/ui/t/contoso/connectors/okta-a/disconnect",
            &[("csrf", csrf.as_str()), ("reason", "moving to a new org")],
        )
        .await
        .expect(303);
    let page = owner
        .get("/ui/t/contoso/connectors/okta-a")
        .await
        .expect(200);
    assert!(page.text.contains("moving to a new org"));
    assert!(
        page.text.contains("connector.disconnect"),
        "the audit trail"
    );
    let deleted = owner
        .post(
            "/ui/t/contoso/connectors/okta-a/delete",
            &[("csrf", csrf.as_str())],
        )
        .await
        .expect(303);
    assert_eq!(
        deleted.location.as_deref(),
        Some("/ui/t/contoso/connectors?done=deleted&name=okta-a")
    );
    owner
        .get("/ui/t/contoso/connectors/okta-a")
        .await
        .expect(404);
}

#[tokio::test]
async fn my_connectors_filters_by_status_and_sorts() {
    let server = Server::start(Fixture::Full).await;
    let mut visit = Visit::new(&server);
    visit
        .sign_in(&server.keys["reader"].clone(), "contoso")
        .await;
    let rows = |page: &Page| -> Vec<String> {
        page.text
            .match_indices("data-connector=\"")
            .map(|(at, m)| {
                let rest = &page.text[at + m.len()..];
                rest[..rest.find('"').unwrap()].to_string()
            })
            .collect()
    };
    let all = visit.get(CONNECTORS).await.expect(200);
    assert_eq!(rows(&all), ["gone", "held", "okta-a"]);
    for part in [
        "Workspace",
        "Tables",
        "Last health message",
        "law-1",
        "sentinel: t-sentinel",
    ] {
        assert!(all.text.contains(part), "{part}");
    }
    let paused = visit
        .get(&format!("{CONNECTORS}?status=paused"))
        .await
        .expect(200);
    assert_eq!(rows(&paused), ["held"]);
    assert!(paused.text.contains("Paused"));
    let gone = visit
        .get(&format!("{CONNECTORS}?status=disconnected"))
        .await
        .expect(200);
    assert_eq!(rows(&gone), ["gone"]);
    // Last updated first: the fixture disconnected `gone` last, paused `held` before.
    let updated = visit
        .get(&format!("{CONNECTORS}?sort=updated"))
        .await
        .expect(200);
    assert_eq!(rows(&updated), ["gone", "held", "okta-a"]);
    // A query that does not fit shows the whole list.
    let odd = visit
        .get(&format!("{CONNECTORS}?status=purple&sort=%FF"))
        .await
        .expect(200);
    assert_eq!(rows(&odd), ["gone", "held", "okta-a"]);
}

#[tokio::test]
async fn signing_out_or_revoking_the_key_ends_the_session() {
    let server = Server::start(Fixture::Full).await;
    let admin = Principal::system();
    let (id, key) = server
        .manager
        .create_api_key(&admin, "temporary")
        .await
        .unwrap();
    server
        .manager
        .set_role(&admin, "contoso", "temporary", Some(Role::Reader))
        .await
        .unwrap();
    let mut visit = Visit::new(&server);
    let csrf = visit.sign_in(key.expose_secret(), "contoso").await;
    let cookie = visit.cookie.clone();
    let out = visit
        .post("/ui/sign-out", &[("csrf", csrf.as_str())])
        .await
        .expect(303);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    // The old cookie opens nothing.
    visit.cookie = cookie;
    let page = visit.get(CONNECTORS).await.expect(303);
    assert!(page.location.unwrap().contains("ended=1"));
    // A key revoked while its session lives ends the session at the next request.
    visit.cookie = None;
    visit.sign_in(key.expose_secret(), "contoso").await;
    visit.get(CONNECTORS).await.expect(200);
    server.manager.revoke_api_key(&admin, &id).await.unwrap();
    let page = visit.get(CONNECTORS).await.expect(303);
    assert!(page.location.unwrap().starts_with("/ui/sign-in?next="));
}
