//! The Okta simulator's wire protocol, exercised with a plain HTTP client.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use ucp_core::Clock;
use ucp_testkit::okta::{Fault, OktaSimConfig, OktaSimulator};

const TOKEN: &str = "sim-token";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn sim(config: OktaSimConfig) -> OktaSimulator {
    OktaSimulator::start(config.clock(Clock::at(t0())).token(TOKEN))
        .await
        .unwrap()
}

struct Reply {
    status: u16,
    links: Vec<String>,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn link(&self, rel: &str) -> Option<String> {
        let suffix = format!("; rel=\"{rel}\"");
        self.links
            .iter()
            .find(|l| l.ends_with(&suffix))
            .map(|l| l[1..l.find('>').unwrap()].to_string())
    }

    fn uuids(&self) -> Vec<String> {
        self.body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["uuid"].as_str().unwrap().to_string())
            .collect()
    }

    fn header(&self, name: &str) -> u64 {
        self.headers[name].to_str().unwrap().parse().unwrap()
    }
}

async fn get(url: &str, auth: &str) -> Reply {
    let response = reqwest::Client::new()
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let links = headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        links,
        headers,
        body,
    }
}

async fn logs(sim: &OktaSimulator, query: &[(&str, String)]) -> Reply {
    let url =
        reqwest::Url::parse_with_params(&format!("{}/api/v1/logs", sim.base_url()), query).unwrap();
    get(url.as_str(), &format!("SSWS {TOKEN}")).await
}

#[tokio::test]
async fn polling_pages_carry_self_and_next_links_even_when_empty() {
    let sim = sim(OktaSimConfig::default().backlog(250)).await;
    let all: Vec<String> = sim.visible_events().into_iter().map(|e| e.uuid).collect();
    let first = logs(&sim, &[("since", iso(t0() - chrono::Duration::hours(2)))]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.uuids(), all[..100], "default limit is 100");
    assert!(first.link("self").unwrap().contains("since="));
    let mut next = first.link("next").unwrap();
    let mut got = first.uuids();
    loop {
        let page = get(&next, &format!("SSWS {TOKEN}")).await;
        got.extend(page.uuids());
        next = page.link("next").expect("polling always has a next link");
        if page.uuids().is_empty() {
            break;
        }
    }
    assert_eq!(got, all);
    // The last next link resumes after the last event: new events show up there.
    let fresh = sim.emit(Some("user.session.start"), 2);
    assert_eq!(get(&next, &format!("SSWS {TOKEN}")).await.uuids(), fresh);
}

#[tokio::test]
async fn bounded_queries_filter_on_published_and_end_without_a_next_link() {
    let sim = sim(OktaSimConfig::default()
        .backlog(300)
        .backlog_span(Duration::from_secs(300)))
    .await;
    let events = sim.visible_events();
    let (since, until) = (
        t0() - chrono::Duration::seconds(200),
        t0() - chrono::Duration::seconds(100),
    );
    let expected: Vec<String> = events
        .iter()
        .filter(|e| e.published >= since && e.published < until)
        .map(|e| e.uuid.clone())
        .collect();
    assert_eq!(expected.len(), 100);
    let query = |limit: &str, order: &str| {
        vec![
            ("since", iso(since)),
            ("until", iso(until)),
            ("limit", limit.to_string()),
            ("sortOrder", order.to_string()),
        ]
    };
    let page = logs(&sim, &query("60", "ASCENDING")).await;
    assert_eq!(page.uuids(), expected[..60]);
    let rest = get(&page.link("next").unwrap(), &format!("SSWS {TOKEN}")).await;
    assert_eq!(rest.uuids(), expected[60..]);
    assert_eq!(
        rest.link("next"),
        None,
        "an exhausted window has no next link"
    );
    assert!(rest.link("self").is_some());

    let descending = logs(&sim, &query("1000", "DESCENDING")).await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(descending.uuids(), reversed);
}

#[tokio::test]
async fn filters_limits_and_validation() {
    let sim = sim(OktaSimConfig::default().backlog(1500)).await;
    let since = ("since", iso(t0() - chrono::Duration::hours(2)));
    let big = logs(&sim, &[since.clone(), ("limit", "5000".into())]).await;
    assert_eq!(big.uuids().len(), 1000, "limit is capped at 1000");

    let filtered = logs(
        &sim,
        &[
            since.clone(),
            ("limit", "1000".into()),
            (
                "filter",
                r#"eventType sw "user.authentication" or eventType eq "user.account.lock""#.into(),
            ),
        ],
    )
    .await;
    let types: Vec<String> = filtered
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect();
    assert!(!types.is_empty());
    assert!(types
        .iter()
        .all(|t| t.starts_with("user.authentication") || t == "user.account.lock"));

    let bad = logs(
        &sim,
        &[since.clone(), ("filter", r#"eventType gt "x""#.into())],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["errorCode"], "E0000053");
    let summary = bad.body["errorSummary"].as_str().unwrap();
    assert!(
        summary.starts_with(r#"Invalid filter 'eventType gt "x"': "#) && summary.contains("gt"),
        "{summary}"
    );
    assert_eq!(bad.body["errorCauses"], serde_json::json!([]));
    let bad_time = logs(&sim, &[("since", "yesterday".into())]).await;
    assert_eq!(bad_time.status, 400);
    assert_eq!(bad_time.body["errorCode"], "E0000001");
    assert!(bad_time.body["errorSummary"]
        .as_str()
        .unwrap()
        .starts_with("Api validation failed: 'since': 'yesterday'"));
    let causes = bad_time.body["errorCauses"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(causes[0]["errorSummary"]
        .as_str()
        .unwrap()
        .starts_with("since: 'yesterday' is not an ISO 8601 date-time"));
}

#[tokio::test]
async fn the_log_is_served_with_a_trailing_slash_too() {
    let sim = sim(OktaSimConfig::default().backlog(30)).await;
    let query = format!(
        "since={}&limit=10",
        iso(t0() - chrono::Duration::hours(2)).replace(':', "%3A")
    );
    let auth = format!("SSWS {TOKEN}");
    let plain = get(&format!("{}/api/v1/logs?{query}", sim.base_url()), &auth).await;
    let slash = get(&format!("{}/api/v1/logs/?{query}", sim.base_url()), &auth).await;
    assert_eq!((plain.status, slash.status), (200, 200));
    assert_eq!(slash.uuids().len(), 10);
    assert_eq!(slash.uuids(), plain.uuids());
    assert_eq!(slash.link("next"), plain.link("next"));
    assert_eq!(
        slash.header("x-rate-limit-remaining") + 1,
        plain.header("x-rate-limit-remaining")
    );
    let denied = get(&format!("{}/api/v1/logs/", sim.base_url()), "SSWS nope").await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body["errorCode"], "E0000011");
    assert_eq!(sim.requests(), 3);
}

#[tokio::test]
async fn every_error_has_its_own_error_id_and_causes_only_for_validation() {
    let sim = sim(OktaSimConfig::default().backlog(5).rate_limit(2)).await;
    let base = format!("{}/api/v1/logs", sim.base_url());
    let auth = format!("SSWS {TOKEN}");
    let errors = vec![
        get(&base, "SSWS nope").await,
        get(&base, "SSWS nope").await,
        get(&format!("{base}?limit=zero"), &auth).await,
        get(&format!("{base}?filter=eventType%20zz%20%22x%22"), &auth).await,
        get(&base, &auth).await,
    ];
    let codes: Vec<&str> = errors
        .iter()
        .map(|e| e.body["errorCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["E0000011", "E0000011", "E0000001", "E0000053", "E0000047"]
    );
    let ids: std::collections::HashSet<&str> = errors
        .iter()
        .map(|e| e.body["errorId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), errors.len(), "{ids:?}");
    for error in &errors {
        let id = error.body["errorId"].as_str().unwrap();
        assert!(id.starts_with("oae") && id.len() == 25, "{id}");
        assert_eq!(error.body["errorLink"], error.body["errorCode"]);
        let causes = error.body["errorCauses"].as_array().unwrap();
        let expected = usize::from(error.body["errorCode"] == "E0000001");
        assert_eq!(causes.len(), expected, "{}", error.body);
    }
    assert_eq!(
        errors[2].body["errorCauses"][0]["errorSummary"],
        "limit: 'zero' is not a number"
    );
}

#[tokio::test]
async fn auth_rate_limits_faults_and_counters() {
    let sim = sim(OktaSimConfig::default().backlog(10).rate_limit(3)).await;
    let url = format!(
        "{}/api/v1/logs?since={}",
        sim.base_url(),
        iso(t0() - chrono::Duration::hours(2))
    );

    let denied = get(&url, "SSWS nope").await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body["errorCode"], "E0000011");
    assert_eq!(denied.header("x-rate-limit-limit"), 3);
    assert_eq!(get(&url, "Bearer unknown").await.status, 401);
    sim.allow_bearer("issued");
    assert_eq!(get(&url, "Bearer issued").await.status, 200);

    let ok = get(&url, &format!("SSWS {TOKEN}")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-rate-limit-remaining"), 1);
    let reset = ok.header("x-rate-limit-reset") as i64;
    assert_eq!(reset, t0().timestamp() + 60);
    sim.consume_quota(1);
    let throttled = get(&url, &format!("SSWS {TOKEN}")).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.body["errorCode"], "E0000047");
    assert_eq!(throttled.header("x-rate-limit-remaining"), 0);

    sim.advance(Duration::from_secs(60));
    sim.schedule_fault(
        3,
        Fault::ServerError {
            status: 502,
            retry_after: Some(3),
        },
    );
    let failed = get(&url, &format!("SSWS {TOKEN}")).await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.headers["retry-after"], "3");
    sim.push_fault(Fault::Malformed);
    assert!(
        get(&url, &format!("SSWS {TOKEN}")).await.body.is_null(),
        "not JSON"
    );

    assert_eq!(sim.requests_with("nope"), 1);
    assert_eq!(sim.requests_with("issued"), 1);
    assert_eq!(sim.requests_with(TOKEN), 4);
    assert_eq!(sim.requests(), 7);
    assert_eq!(sim.throttled(), 1);
    assert_eq!(sim.unauthorized(), 2);
}

// Paused: both orgs' clocks start at the same instant (running, a busy machine let
// milliseconds pass between the two starts and the backlogs' times differed).
#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_org() {
    let a = sim(OktaSimConfig::default().backlog(50).seed(3)).await;
    let b = sim(OktaSimConfig::default().backlog(50).seed(3)).await;
    let c = sim(OktaSimConfig::default().backlog(50).seed(4)).await;
    assert_eq!(a.visible_events(), b.visible_events());
    assert_ne!(a.visible_events(), c.visible_events());
}
