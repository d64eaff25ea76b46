//! Issue 14's story in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) through WebDriver, against a real server (`ucpd::Server`) on loopback
//! with the demo's simulated Okta org and emulated products.
//!
//! Without Chromium a test skips with a message naming the packages; under `CI=true` it
//! fails instead. Screenshots of the three pages go to `target/ui-screenshots/`.

mod browser;

use std::sync::Arc;
use std::time::Duration;

use browser::{Browser, NARROW, WIDE};
use fantoccini::key::Key;
use fantoccini::Locator;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use ucp_core::catalog::{factory, ConnectorDefinition};
use ucp_core::{Clock, Source};
use ucp_manage::{Principal, Role};
use ucp_testkit::okta::OktaSimConfig;
use ucp_testkit::{EventLog, EventLogSource};
use ucpd::demo::{self, Lab, TENANT};
use ucpd::{Config, Server};

const WAIT: Duration = Duration::from_secs(30);

/// A second connector type, so the catalog has more than one to count and filter.
fn events_definition() -> ConnectorDefinition {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        account: String,
    }
    let log = EventLog::new();
    ConnectorDefinition::builder("app-events", "Application events")
        .provider("contoso-apps")
        .publisher("Contoso IT")
        .version("1.2.0")
        .description("Sign-ins and changes of an in-house application")
        .stream("events", "Every event")
        .feeds(["sentinel"])
        .config_schema(json!({
            "type": "object", "additionalProperties": false, "required": ["account"],
            "properties": {"account": {"type": "string", "minLength": 1}}
        }))
        .factory(factory(move |s: Settings, _| {
            Ok(
                Arc::new(EventLogSource::new(s.account, log.clone(), Clock::new()))
                    as Arc<dyn Source>,
            )
        }))
        .build()
        .expect("the test definition is valid")
}

/// A server with the demo tenant ready (workspace, credentials, an Owner), a Reader of
/// it, and another tenant with a connector of its own.
struct World {
    lab: Lab,
    server: Server,
    owner_key: String,
    reader_key: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let lab = Lab::start(
        OktaSimConfig::default()
            .seed(14)
            .backlog(300)
            .backlog_span(Duration::from_secs(3000))
            .live(2.0),
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
    let mut definitions = ucpd::definitions();
    definitions.push(events_definition());
    let server = Server::start(&config, definitions).await.unwrap();
    let manager = server.manager();
    let owner_key = demo::provision(manager, &lab).await.unwrap();
    let admin = Principal::system();
    let (_, reader_key) = manager.create_api_key(&admin, "auditor").await.unwrap();
    manager
        .set_role(&admin, TENANT, "auditor", Some(Role::Reader))
        .await
        .unwrap();
    manager
        .create(
            &admin,
            "fabrikam",
            serde_json::from_value(json!({
                "name": "fabrikam-events", "definition": "app-events",
                "config": {"account": "fabrikam"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    World {
        lab,
        server,
        owner_key: owner_key.expose_secret().to_string(),
        reader_key: reader_key.expose_secret().to_string(),
        _dir: dir,
    }
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    async fn sign_in(&self, browser: &Browser, key: &str) {
        browser.goto(&self.url("/ui/")).await;
        assert_eq!(browser.path().await, "/ui/sign-in");
        browser.check_accessibility("the sign-in page").await;
        browser.fill("#credential", key).await;
        browser.fill("#tenant", TENANT).await;
        browser.click("main form button[type=submit]").await;
        assert_eq!(browser.path().await, "/ui/t/contoso/connectors");
    }

    /// The demo connector's state, as the manager has it.
    async fn state(&self, name: &str) -> String {
        let view = self
            .server
            .manager()
            .get(&Principal::system(), TENANT, name)
            .await
            .unwrap();
        serde_json::to_value(view.state)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// The instance count the catalog shows for `definition`.
async fn instances(browser: &Browser, definition: &str) -> String {
    browser
        .text(&format!(
            "tr[data-definition=\"{definition}\"] td.instances"
        ))
        .await
}

/// The y values of the chart's first line, and whether any point is above the x axis.
async fn line_has_nonzero_points(browser: &Browser, chart: &str) -> bool {
    let points = browser
        .js(
            "const line = document.querySelector(arguments[0] + ' svg polyline');
             return line ? line.getAttribute('points') : '';",
            vec![json!(chart)],
        )
        .await;
    let ys: Vec<f64> = points
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|p| p.split_once(',').and_then(|(_, y)| y.parse().ok()))
        .collect();
    // Zero-filled: the line spans the window; a record lifts a point above the others.
    ys.len() > 1
        && ys
            .iter()
            .any(|y| (y - ys[0]).abs() > 0.5 || (y - ys[ys.len() - 1]).abs() > 0.5)
}

/// The chart's total for its first series, from its table.
async fn chart_total(browser: &Browser, chart: &str) -> u64 {
    browser
        .texts(&format!("{chart} td.total"))
        .await
        .iter()
        .filter_map(|t| t.trim().parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_connects_okta_for_three_products_watches_it_flow_pauses_and_resumes_it() {
    let Some(browser) = Browser::start("owner").await else {
        return;
    };
    let w = world().await;
    w.sign_in(&browser, &w.owner_key).await;
    assert!(browser.text("main").await.contains("No connectors yet"));
    browser.check_accessibility("My connectors, empty").await;

    // The catalog: every registered definition, none in use yet; search and filters.
    browser.click("nav a[href$=\"/catalog\"]").await;
    assert_eq!(browser.path().await, "/ui/t/contoso/catalog");
    assert_eq!(instances(&browser, "okta-system-log").await, "0");
    assert_eq!(instances(&browser, "app-events").await, "0");
    assert_eq!(browser.count("#catalog tbody tr").await, 4);
    browser.fill("#q", "okta").await;
    browser.click("form[role=search] button[type=submit]").await;
    assert_eq!(browser.count("#catalog tbody tr").await, 1);
    browser
        .goto(&w.url("/ui/t/contoso/catalog?product=mdi"))
        .await;
    assert_eq!(browser.count("#catalog tbody tr").await, 1);
    browser
        .goto(&w.url("/ui/t/contoso/catalog?provider=contoso-apps"))
        .await;
    assert_eq!(
        browser
            .count("#catalog tbody tr[data-definition=\"app-events\"]")
            .await,
        1
    );
    assert_eq!(browser.count("#catalog tbody tr").await, 1);

    // Connect Okta for three products through the form; a bad value first.
    browser.goto(&w.url("/ui/t/contoso/catalog")).await;
    browser
        .click("tr[data-definition=\"okta-system-log\"] a.button")
        .await;
    assert_eq!(
        browser.path().await,
        "/ui/t/contoso/catalog/okta-system-log/connect"
    );
    browser.check_accessibility("the connect form").await;
    browser.fill("#f-name", "okta-demo").await;
    browser
        .fill("#f-config-org_url", w.lab.org.base_url())
        .await;
    browser.fill("#f-config-start_ago_seconds", "3600").await;
    browser.fill("#f-config-page_limit", "5000").await;
    browser.fill("#f-credentials-okta", "okta-token").await;
    let connector = w.lab.okta_connector("okta-demo", 1);
    for (i, product) in ["sentinel", "mdi", "xspm"].into_iter().enumerate() {
        assert!(browser
            .client
            .find(Locator::Css(&format!("#f-products-{product}-feed")))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap());
        browser
            .fill(&format!("#f-products-{product}-interval_seconds"), "1")
            .await;
        if let Some(filter) = connector["products"][i].get("filter") {
            browser
                .fill(
                    &format!("#f-products-{product}-filter"),
                    &filter.to_string(),
                )
                .await;
        }
    }
    browser.click("main form button[type=submit]").await;
    let error = browser.text("#f-config-page_limit-error").await;
    assert!(error.contains("1000"), "{error}");
    assert_eq!(
        browser
            .client
            .find(Locator::Css("#f-config-page_limit"))
            .await
            .unwrap()
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert!(browser
        .text(".error-summary")
        .await
        .contains("config.page_limit"));
    browser
        .check_accessibility("the connect form with an error")
        .await;
    assert_eq!(
        w.lab.org.requests(),
        0,
        "nothing was created, nothing called"
    );
    browser.fill("#f-config-page_limit", "").await;
    browser.click("main form button[type=submit]").await;
    assert_eq!(browser.path().await, "/ui/t/contoso/connectors/okta-demo");
    assert!(browser.text(".notice").await.contains("was created"));
    let view = w
        .server
        .manager()
        .get(&Principal::system(), TENANT, "okta-demo")
        .await
        .unwrap();
    let products: Vec<(&str, u64, bool)> = view
        .products
        .iter()
        .map(|p| (p.product.as_str(), p.interval_seconds, p.filter.is_some()))
        .collect();
    assert_eq!(
        products,
        [("sentinel", 1, false), ("mdi", 1, true), ("xspm", 1, true)]
    );

    // My connectors: it is there, and turns OK once data flows.
    browser.click("nav a[href$=\"/connectors\"]").await;
    let row = "tr[data-connector=\"okta-demo\"]";
    assert_eq!(browser.count(row).await, 1);
    browser
        .until("okta-demo to show OK in My connectors", WAIT, || async {
            browser.goto(&w.url("/ui/t/contoso/connectors")).await;
            browser
                .text(&format!("{row} td.status"))
                .await
                .contains("OK")
        })
        .await;
    let cells = browser.text(row).await;
    for part in ["demo-workspace", "Custom-OktaSystemLog", "newcomer"] {
        assert!(cells.contains(part), "{part} not in {cells}");
    }
    browser.check_accessibility("My connectors").await;
    browser.screenshot("my-connectors").await;

    // The catalog counts it.
    browser.goto(&w.url("/ui/t/contoso/catalog")).await;
    assert_eq!(instances(&browser, "okta-system-log").await, "1");
    assert_eq!(instances(&browser, "app-events").await, "0");
    browser.check_accessibility("the catalog").await;
    browser.screenshot("catalog").await;

    // Its page: a volume chart with non-zero points, per stream and per product, and the
    // last health messages.
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo"))
        .await;
    browser
        .until("records in both charts", WAIT, || async {
            chart_total(&browser, "#chart-collected").await > 0
                && chart_total(&browser, "#chart-delivered").await > 0
        })
        .await;
    assert!(line_has_nonzero_points(&browser, "#chart-collected").await);
    assert!(line_has_nonzero_points(&browser, "#chart-delivered").await);
    let delivered_series = browser.texts("#chart-delivered tbody th").await;
    for product in ["sentinel", "mdi", "xspm"] {
        assert!(
            delivered_series.iter().any(|s| s.contains(product)),
            "{product} not in {delivered_series:?}"
        );
    }
    assert!(browser.count("#messages tbody tr").await >= 1);
    assert!(browser.text("#messages").await.contains("OK"));
    assert!(browser.text("#status").await.contains("OK"));
    assert_eq!(browser.count("#products tbody tr").await, 3);
    assert!(browser.text("#audit").await.contains("connector.create"));
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo?range=day"))
        .await;
    assert!(line_has_nonzero_points(&browser, "#chart-collected").await);
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo"))
        .await;
    browser.check_accessibility("the connector page").await;
    // The keyboard: the first Tab reaches the skip link, which takes focus to the content.
    let body = browser.client.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&char::from(Key::Tab).to_string())
        .await
        .unwrap();
    let focused = browser
        .js("return document.activeElement.className;", vec![])
        .await;
    assert_eq!(focused, json!("skip"));
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    let focused = browser
        .js("return document.activeElement.id;", vec![])
        .await;
    assert_eq!(focused, json!("main"));
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo"))
        .await;
    browser.screenshot("connector").await;
    browser.screenshot_whole_page("connector-whole-page").await;

    // Narrow windows: the pages fit, their tables scroll on their own.
    browser.size(NARROW).await;
    for path in [
        "/ui/t/contoso/connectors/okta-demo",
        "/ui/t/contoso/connectors",
        "/ui/t/contoso/catalog",
    ] {
        browser.goto(&w.url(path)).await;
        let wide = browser.wider_than_window().await;
        assert!(
            wide.is_empty(),
            "{path} is wider than a narrow window: {wide:?}"
        );
    }
    browser.size(WIDE).await;

    // Pause, confirmed with the keyboard: the status says so and the org gets no call.
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo"))
        .await;
    browser.click("a[data-action=\"pause\"]").await;
    assert_eq!(
        browser.path().await,
        "/ui/t/contoso/connectors/okta-demo/pause"
    );
    browser.check_accessibility("the pause confirmation").await;
    browser.mark_page().await;
    browser
        .client
        .find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    browser.wait_for_new_page("Enter on the pause button").await;
    assert_eq!(browser.path().await, "/ui/t/contoso/connectors/okta-demo");
    assert!(browser.text("#status").await.contains("Paused"));
    assert_eq!(w.state("okta-demo").await, "paused");
    let org_calls = w.lab.org.requests();
    let page_calls = browser.text("#calls").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.lab.org.requests(), org_calls, "no call while paused");
    assert_eq!(
        browser.text("#calls").await,
        page_calls,
        "the counter stopped"
    );
    browser
        .goto(&w.url("/ui/t/contoso/connectors?status=paused"))
        .await;
    assert_eq!(browser.count("tr[data-connector=\"okta-demo\"]").await, 1);

    // Resume: calls go on, and the page's counter moves without a reload.
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo"))
        .await;
    browser.click("a[data-action=\"resume\"]").await;
    browser.click("main form button[type=submit]").await;
    assert!(browser.text(".notice").await.contains("was resumed"));
    assert_eq!(w.state("okta-demo").await, "active");
    let resumed_at = browser.text("#calls").await;
    browser
        .until("the org to be called again", WAIT, || async {
            w.lab.org.requests() > org_calls
        })
        .await;
    browser
        .until("the calls counter to move in place", WAIT, || async {
            browser.text("#calls").await != resumed_at
        })
        .await;
    assert!(
        browser.text("#status").await.contains("OK")
            || browser.text("#status").await.contains("Starting")
    );
    assert!(browser.text("#live-stamp").await.contains("Refreshed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_no_action_its_direct_post_is_refused_and_other_tenants_are_not_found() {
    let Some(browser) = Browser::start("reader").await else {
        return;
    };
    let w = world().await;
    let body: Value = w.lab.okta_connector("okta-demo", 1);
    w.server
        .manager()
        .create(
            &Principal::system(),
            TENANT,
            serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    w.sign_in(&browser, &w.reader_key).await;
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo"))
        .await;
    assert!(browser.text("h1").await.contains("okta-demo"));
    assert_eq!(browser.count("[data-action]").await, 0, "no action button");
    assert_eq!(browser.count("main form").await, 0, "no form at all");
    browser
        .check_accessibility("the connector page, as a Reader")
        .await;
    browser.goto(&w.url("/ui/t/contoso/catalog")).await;
    assert_eq!(
        browser.count("#catalog a.button").await,
        0,
        "no connect link"
    );

    // The session's own CSRF token, posted directly: the manager refuses it.
    let csrf = browser
        .js(
            "return document.querySelector('input[name=csrf]').value;",
            vec![],
        )
        .await;
    for action in ["pause", "restart", "disconnect", "delete"] {
        let status = browser
            .fetch_status(
                "POST",
                &format!("/ui/t/contoso/connectors/okta-demo/{action}"),
                json!({"csrf": csrf, "reason": "just because"}),
            )
            .await;
        assert_eq!(status, 403, "a Reader's {action}");
    }
    assert_eq!(w.state("okta-demo").await, "active");
    browser
        .goto(&w.url("/ui/t/contoso/connectors/okta-demo/pause"))
        .await;
    assert!(browser.text("h1").await.contains("Not allowed"));
    assert!(browser.text("main").await.contains("you have reader"));

    // Another tenant's connector: not found, whether by its tenant's address or this one's.
    for path in [
        "/ui/t/fabrikam/connectors/fabrikam-events",
        "/ui/t/fabrikam/connectors",
        "/ui/t/contoso/connectors/fabrikam-events",
    ] {
        browser.goto(&w.url(path)).await;
        assert!(browser.text("h1").await.contains("Not found"), "{path}");
        assert!(!browser.text("main").await.contains("Application events"));
        assert_eq!(
            browser.fetch_status("GET", path, json!({})).await,
            404,
            "{path}"
        );
    }
    assert_eq!(
        browser
            .fetch_status(
                "POST",
                "/ui/t/fabrikam/connectors/fabrikam-events/pause",
                json!({"csrf": csrf})
            )
            .await,
        404
    );
}
