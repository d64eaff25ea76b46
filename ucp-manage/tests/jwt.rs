//! Bearer JWTs: validated against the issuer, audience and a JWKS served over loopback;
//! only asymmetric algorithms; an unknown key id refetches the JWKS at most every 30 s.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use support::{Fixture, Persisted, Server, TENANT};
use ucp_manage::{JwksSource, JwtConfig, JwtVerifier, Principal};

const ISSUER: &str = "https://login.example/contoso";
const AUDIENCE: &str = "api://ucp";

fn private_key() -> EncodingKey {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ucp-testkit/keys/rsa-private.pem"
    ))
    .unwrap();
    EncodingKey::from_rsa_pem(&pem).unwrap()
}

fn token(kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &private_key()).unwrap()
}

fn claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600})
}

/// A JWKS endpoint on loopback counting its fetches.
async fn jwks_server() -> (String, Arc<AtomicUsize>) {
    let mut jwk = Jwk::from_encoding_key(&private_key(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("k1".into());
    let set = serde_json::to_value(JwkSet { keys: vec![jwk] }).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let set = set.clone();
            async move { axum::Json(set) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

#[tokio::test]
async fn tokens_from_the_issuer_authenticate_their_subject_and_others_are_refused() {
    let (url, hits) = jwks_server().await;
    let verifier =
        JwtVerifier::new(JwtConfig::new(ISSUER, AUDIENCE, JwksSource::Url(url))).unwrap();
    let server = Server::start_with(Persisted::in_memory(), Fixture::Full, Some(verifier)).await;
    server
        .manager
        .set_role(
            &Principal::system(),
            TENANT,
            "alice@contoso",
            Some(ucp_manage::Role::Reader),
        )
        .await
        .unwrap();

    let good = token("k1", claims("alice@contoso"));
    let reply = server
        .call(&format!("jwt:{good}"), "GET", "/connectors", None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Reader: may not pause.
    server
        .call(
            &format!("jwt:{good}"),
            "POST",
            "/connectors/okta-a/pause",
            None,
        )
        .await
        .expect_status(403);
    // A subject with no role in the tenant sees nothing.
    server
        .call(
            &format!("jwt:{}", token("k1", claims("mallory"))),
            "GET",
            "/connectors",
            None,
        )
        .await
        .expect_status(404);

    let now = chrono::Utc::now().timestamp();
    let mut wrong_audience = claims("alice@contoso");
    wrong_audience["aud"] = json!("api://other");
    let mut wrong_issuer = claims("alice@contoso");
    wrong_issuer["iss"] = json!("https://evil.example");
    let mut expired = claims("alice@contoso");
    expired["exp"] = json!(now - 3600);
    let mut no_subject = claims("alice@contoso");
    no_subject.as_object_mut().unwrap().remove("sub");
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("alice@contoso"),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for (what, bad) in [
        ("audience", token("k1", wrong_audience)),
        ("issuer", token("k1", wrong_issuer)),
        ("expiry", token("k1", expired)),
        ("subject", token("k1", no_subject)),
        ("algorithm", hs256),
        ("signature", tampered),
        ("key id", token("k9", claims("alice@contoso"))),
        ("shape", "not.a.jwt".to_string()),
    ] {
        let reply = server
            .call(&format!("jwt:{bad}"), "GET", "/connectors", None)
            .await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert!(
            !reply.text.contains(&bad),
            "{what}: the token is not echoed"
        );
        assert_eq!(reply.json()["code"], "unauthenticated");
    }
    // One fetch at first use; the unknown key id fetched again once, not on every request.
    let before = hits.load(Ordering::SeqCst);
    for _ in 0..3 {
        server
            .call(
                &format!("jwt:{}", token("k9", claims("a"))),
                "GET",
                "/connectors",
                None,
            )
            .await
            .expect_status(401);
    }
    assert!(before <= 2, "{before}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "refetches are limited to one per 30 s"
    );
}

#[tokio::test]
async fn the_web_pages_take_a_token_from_the_issuer_as_they_take_an_api_key() {
    let (url, _) = jwks_server().await;
    let verifier =
        JwtVerifier::new(JwtConfig::new(ISSUER, AUDIENCE, JwksSource::Url(url))).unwrap();
    let server = Server::start_with(Persisted::in_memory(), Fixture::Full, Some(verifier)).await;
    server
        .manager
        .set_role(
            &Principal::system(),
            TENANT,
            "alice@contoso",
            Some(ucp_manage::Role::Reader),
        )
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |credential: String| {
        http.post(format!("{}/ui/sign-in", server.base))
            .form(&[("credential", credential.as_str()), ("tenant", TENANT)])
            .send()
    };
    let forged = token(
        "k1",
        json!({"iss": "https://elsewhere.example", "aud": AUDIENCE,
        "sub": "alice@contoso", "exp": chrono::Utc::now().timestamp() + 600}),
    );
    assert_eq!(sign_in(forged).await.unwrap().status(), 401);
    let signed = sign_in(token("k1", claims("alice@contoso"))).await.unwrap();
    assert_eq!(signed.status(), 303);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = http
        .get(format!("{}/ui/t/{TENANT}/connectors", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("alice@contoso (reader)"), "{text}");
    assert!(text.contains("okta-a"));
}
