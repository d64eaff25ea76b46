//! The fault layer around a plain axum router: each fault as the client sees it, and seeded
//! plans that replay.

use std::time::{Duration, Instant};

use axum::routing::get;
use ucp_testkit::faults::{Fault, Faults, Quota, RateLimitDialect, RATE_LIMIT_HEADERS};
use ucp_testkit::okta::{OktaSimConfig, OktaSimulator};

const BODY: &str = r#"[{"id":"a","n":1},{"id":"b","n":2},{"id":"c","n":3},{"id":"d","n":4}]"#;

/// A router behind `faults`, served on loopback; its base URL.
async fn serve(faults: &Faults) -> String {
    let app = axum::Router::new()
        .route("/events", get(|| async { BODY }))
        .layer(faults.layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Status and body, or the transport error's text.
async fn fetch(url: &str) -> Result<(u16, reqwest::header::HeaderMap, String), String> {
    let response = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.map_err(|e| format!("body: {e}"))?;
    Ok((status, headers, body))
}

#[tokio::test]
async fn requests_pass_through_and_are_counted() {
    let faults = Faults::new();
    let url = serve(&faults).await;
    for _ in 0..3 {
        let (status, _, body) = fetch(&url).await.unwrap();
        assert_eq!((status, body.as_str()), (200, BODY));
    }
    assert_eq!(faults.requests(), 3);
    assert!(faults.injected().is_empty());
}

#[tokio::test]
async fn scheduled_and_next_faults_hit_their_requests() {
    let faults = Faults::new().at(2, Fault::ServerError(503));
    let url = serve(&faults).await;
    assert_eq!(fetch(&url).await.unwrap().0, 200);
    let (status, _, body) = fetch(&url).await.unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("errorCode"), "{body}");
    faults.push_next(Fault::AuthExpired);
    assert_eq!(fetch(&url).await.unwrap().0, 401);
    assert_eq!(fetch(&url).await.unwrap().0, 200);
    assert_eq!(
        faults.injected(),
        vec![(2, Fault::ServerError(503)), (3, Fault::AuthExpired)]
    );
}

#[tokio::test]
async fn rate_limited_answers_carry_retry_after_and_reset() {
    let faults = Faults::new().at(
        1,
        Fault::RateLimited {
            retry_after: Duration::from_secs(30),
        },
    );
    let url = serve(&faults).await;
    let (status, headers, _) = fetch(&url).await.unwrap();
    assert_eq!(status, 429);
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
    assert_eq!(header("retry-after"), "30");
    assert_eq!(header("x-rate-limit-remaining"), "0");
    let reset: i64 = header("x-rate-limit-reset").parse().unwrap();
    let expected = chrono::Utc::now().timestamp() + 30;
    assert!((reset - expected).abs() <= 2, "reset {reset} vs {expected}");
}

/// The rate-limit headers of an answer, any dialect's, sorted by name.
fn rate_limit_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| RATE_LIMIT_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn throttles_speak_exactly_the_chosen_dialect() {
    let quota = Quota::per_minute(60, 0, Duration::from_secs(30));
    for dialect in RateLimitDialect::ALL {
        let faults = Faults::new();
        faults.push_next(Fault::Throttled { dialect, quota });
        let url = serve(&faults).await;
        let before = chrono::Utc::now();
        let (status, headers, body) = fetch(&url).await.unwrap();
        assert_eq!(status, 429, "{dialect}");
        assert!(body.contains("E0000047"), "{body}");
        let said = rate_limit_headers(&headers);
        let names: Vec<&str> = said.iter().map(|(n, _)| n.as_str()).collect();
        let value = |name: &str| headers[name].to_str().unwrap().to_string();
        let epoch_ok = |name: &str| {
            let reset: i64 = value(name).parse().unwrap();
            (reset - (before.timestamp() + 30)).abs() <= 2
        };
        match dialect {
            RateLimitDialect::Okta => {
                assert_eq!(
                    names,
                    [
                        "x-rate-limit-limit",
                        "x-rate-limit-remaining",
                        "x-rate-limit-reset"
                    ]
                );
                assert!(epoch_ok("x-rate-limit-reset"));
            }
            RateLimitDialect::GitHub => {
                assert_eq!(
                    names,
                    [
                        "x-ratelimit-limit",
                        "x-ratelimit-remaining",
                        "x-ratelimit-reset"
                    ]
                );
                assert!(epoch_ok("x-ratelimit-reset"));
            }
            RateLimitDialect::IetfDraft => {
                assert_eq!(
                    said,
                    [
                        ("ratelimit-limit".to_string(), "60".to_string()),
                        ("ratelimit-policy".into(), "60;w=60".into()),
                        ("ratelimit-remaining".into(), "0".into()),
                        ("ratelimit-reset".into(), "30".into()),
                    ]
                );
            }
            RateLimitDialect::IetfStructured => {
                assert_eq!(value("ratelimit"), "limit=60, remaining=0, reset=30");
                assert_eq!(names, ["ratelimit", "ratelimit-policy"]);
            }
            RateLimitDialect::RetryAfterSeconds => {
                assert_eq!(said, [("retry-after".to_string(), "30".to_string())]);
            }
            RateLimitDialect::RetryAfterDate => {
                assert_eq!(names, ["retry-after"]);
                let at = chrono::DateTime::parse_from_rfc2822(&value("retry-after")).unwrap();
                assert!((at.timestamp() - (before.timestamp() + 30)).abs() <= 2);
            }
        }
    }
}

#[tokio::test]
async fn rate_limit_headers_replace_the_simulators_own() {
    // The Okta simulator states its quota in Okta's dialect; restated in GitHub's, only
    // GitHub's headers reach the client, with the body untouched.
    let faults = Faults::new();
    let sim =
        OktaSimulator::start_wrapped(OktaSimConfig::default().token("t").backlog(3), |router| {
            router.layer(faults.layer())
        })
        .await
        .unwrap();
    let url = format!("{}/api/v1/logs?since=2000-01-01T00:00:00Z", sim.base_url());
    let get = || async {
        let response = reqwest::Client::new()
            .get(&url)
            .header("Authorization", "SSWS t")
            .send()
            .await
            .unwrap();
        let headers = response.headers().clone();
        let events: serde_json::Value = response.json().await.unwrap();
        (headers, events)
    };
    let (own, events) = get().await;
    assert!(own.contains_key("x-rate-limit-remaining"));
    faults.push_next(Fault::RateLimitHeaders {
        dialect: RateLimitDialect::GitHub,
        quota: Quota::per_minute(77, 41, Duration::from_secs(23)),
    });
    let (restated, again) = get().await;
    assert_eq!(again, events);
    let names: Vec<String> = rate_limit_headers(&restated)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset"
        ]
    );
    assert_eq!(restated["x-ratelimit-remaining"], "41");
    // A Retry-After dialect has nothing to say on a 200: the answer carries no quota at all.
    faults.push_next(Fault::RateLimitHeaders {
        dialect: RateLimitDialect::RetryAfterSeconds,
        quota: Quota::per_minute(77, 41, Duration::from_secs(23)),
    });
    assert!(rate_limit_headers(&get().await.0).is_empty());
}

#[tokio::test]
async fn connection_reset_and_truncation_are_transport_errors() {
    let faults = Faults::new()
        .at(1, Fault::ConnectionReset)
        .at(2, Fault::TruncatedBody);
    let url = serve(&faults).await;
    let reset = fetch(&url).await.unwrap_err();
    assert!(reset.starts_with("send"), "no response at all: {reset}");
    let truncated = fetch(&url).await.unwrap_err();
    assert!(
        truncated.starts_with("body"),
        "headers then a cut body: {truncated}"
    );
    assert_eq!(fetch(&url).await.unwrap().2, BODY);
}

#[tokio::test]
async fn malformed_json_replaces_the_body() {
    let faults = Faults::new().at(1, Fault::MalformedJson);
    let url = serve(&faults).await;
    let (status, _, body) = fetch(&url).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_err(),
        "{body}"
    );
}

#[tokio::test]
async fn slow_drip_and_latency_delay_but_keep_the_body() {
    let faults = Faults::new()
        .at(
            1,
            Fault::SlowDrip {
                chunk: 8,
                delay: Duration::from_millis(10),
            },
        )
        .at(2, Fault::Latency(Duration::from_millis(150)));
    let url = serve(&faults).await;
    let start = Instant::now();
    assert_eq!(fetch(&url).await.unwrap().2, BODY);
    let pieces = BODY.len().div_ceil(8) as u32;
    assert!(start.elapsed() >= Duration::from_millis(10) * pieces);
    let start = Instant::now();
    assert_eq!(fetch(&url).await.unwrap().2, BODY);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_seed_replays_the_same_faults() {
    async fn run(seed: u64) -> Vec<(u64, Fault)> {
        let faults = Faults::new().seeded_with(
            seed,
            0.4,
            vec![
                Fault::ServerError(500),
                Fault::AuthExpired,
                Fault::MalformedJson,
            ],
        );
        let url = serve(&faults).await;
        for _ in 0..40 {
            let _ = fetch(&url).await;
        }
        assert_eq!(faults.seed(), Some(seed));
        faults.injected()
    }
    let first = run(11).await;
    assert!(first.len() >= 5 && first.len() <= 30, "{first:?}");
    assert_eq!(run(11).await, first);
    assert_ne!(run(12).await, first);
}

#[tokio::test]
async fn the_okta_simulator_takes_the_layer() {
    let faults = Faults::new().at(1, Fault::ServerError(502));
    let layer = faults.layer();
    let sim = OktaSimulator::start_wrapped(OktaSimConfig::default().token("t0ken-123"), |r| {
        r.layer(layer)
    })
    .await
    .unwrap();
    let url = format!("{}/api/v1/logs", sim.base_url());
    let get = || {
        reqwest::Client::new()
            .get(&url)
            .header("Authorization", "SSWS t0ken-123")
            .send()
    };
    assert_eq!(get().await.unwrap().status().as_u16(), 502);
    assert_eq!(sim.requests(), 0, "the fault answered before the simulator");
    assert_eq!(get().await.unwrap().status().as_u16(), 200);
    assert_eq!((sim.requests(), faults.requests()), (1, 2));
}

#[tokio::test]
async fn the_proxy_puts_faults_in_front_of_any_server() {
    let sim = OktaSimulator::start(OktaSimConfig::default().token("t0ken-456").backlog(5))
        .await
        .unwrap();
    let faults = Faults::new().at(1, Fault::ServerError(503));
    let proxy = ucp_testkit::faults::FaultProxy::start(sim.base_url(), &faults)
        .await
        .unwrap();
    let url = format!("{}/api/v1/logs?limit=2", proxy.base_url());
    let get = || {
        reqwest::Client::new()
            .get(&url)
            .header("Authorization", "SSWS t0ken-456")
            .send()
    };
    assert_eq!(get().await.unwrap().status().as_u16(), 503);
    let answer = get().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let link = answer
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(link.contains(&proxy.base_url()), "{link}");
    assert!(!link.contains(sim.base_url()), "{link}");
    let events: Vec<serde_json::Value> = answer.json().await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!((sim.requests(), faults.requests()), (1, 2));
}
