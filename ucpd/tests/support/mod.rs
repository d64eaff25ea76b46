//! The end-to-end tests' world: the demo's simulated Okta org and emulated products, and a
//! client of a ucpd API (in this process, or a child process).
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use ucpd::demo::{Lab, TENANT};

/// An API client acting with one key on the demo tenant.
pub struct Api {
    pub base: String,
    pub key: String,
    pub tenant: String,
    pub http: reqwest::Client,
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }
}

impl Api {
    pub fn new(base: impl Into<String>, key: impl Into<String>) -> Api {
        Api {
            base: base.into(),
            key: key.into(),
            tenant: TENANT.into(),
            http: reqwest::Client::new(),
        }
    }

    /// The same client on another tenant.
    pub fn on(&self, tenant: &str) -> Api {
        Api {
            base: self.base.clone(),
            key: self.key.clone(),
            tenant: tenant.into(),
            http: self.http.clone(),
        }
    }

    /// `method` on `/api/v1/tenants/{tenant}{path}`.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}/api/v1/tenants/{}{path}", self.base, self.tenant);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        Reply {
            status: response.status().as_u16(),
            text: response.text().await.unwrap(),
        }
    }

    /// Store the lab's credentials and connect its workspace, as an Owner would.
    pub async fn provision(&self, lab: &Lab) {
        for (name, secret) in lab.credentials() {
            self.call("PUT", &format!("/credentials/{name}"), Some(secret))
                .await
                .expect(200);
        }
        self.call("PUT", "/workspace", Some(lab.workspace()))
            .await
            .expect(201);
    }

    /// A connector's view.
    pub async fn connector(&self, name: &str) -> Value {
        self.call("GET", &format!("/connectors/{name}"), None)
            .await
            .expect(200)
            .json()
    }

    /// The tenant's audit entries about `connector`, newest first.
    pub async fn audit(&self, connector: &str) -> Vec<Value> {
        self.call(
            "GET",
            &format!("/audit?connector={connector}&page_size=100"),
            None,
        )
        .await
        .expect(200)
        .json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Wait (real time) until `done`, failing after `limit` with `what`.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The uuids of the org's visible events, in order, whose type `keep` accepts.
pub fn org_ids(lab: &Lab, keep: impl Fn(&str) -> bool) -> Vec<String> {
    lab.org
        .visible_events()
        .into_iter()
        .filter(|e| keep(&e.event_type))
        .map(|e| e.uuid)
        .collect()
}

pub fn is_mdi(t: &str) -> bool {
    t.starts_with("user.authentication") || t.starts_with("user.session")
}

pub fn is_xspm(t: &str) -> bool {
    t.starts_with("user.account") || t.starts_with("group.") || t.starts_with("application.")
}

/// True when no id is there twice.
pub fn distinct(ids: &[String]) -> bool {
    let set: std::collections::HashSet<&String> = ids.iter().collect();
    set.len() == ids.len()
}
