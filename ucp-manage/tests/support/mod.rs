//! A management server on loopback for API tests: the real running platform, a SQLite
//! store, an event-log connector definition, three recording products, principals with API
//! keys per role.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};
use ucp_core::catalog::{factory, ConnectorDefinition, CredentialKind, FactoryError, Prerequisite};
use ucp_core::credentials::MemoryCredentials;
use ucp_core::store::{CheckpointStore, MemoryCheckpoints};
use ucp_core::{Clock, Cursor, Platform, RunningPlatform, Sink, Source, StreamKey};
use ucp_manage::{
    ApiKeys, Authenticator, Manager, Principal, ProductInfo, ProductSink, Products, Role,
    SqliteStore, Workspace,
};
use ucp_testkit::{EventLog, EventLogSettings, EventLogSource, RecordingSink};

/// The tenant the principals act on, and another one.
pub const TENANT: &str = "contoso";
pub const OTHER_TENANT: &str = "fabrikam";

/// The test connector's configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    pub account: String,
    #[serde(default)]
    pub page_size: Option<usize>,
    /// Only versions whose schema declares it accept it.
    #[serde(default)]
    pub region: Option<String>,
}

/// A connector type reading an in-process event log, with a JSON Schema written by hand.
pub fn events_definition(log: EventLog, version: &str) -> ConnectorDefinition {
    events_definition_as("events", "Events", log, version)
}

/// [`events_definition`] under another id and name (its budget's account is the
/// configuration's `account`).
pub fn events_definition_as(
    id: &str,
    display_name: &str,
    log: EventLog,
    version: &str,
) -> ConnectorDefinition {
    ConnectorDefinition::builder(id, display_name)
        .provider("eventlog")
        .publisher("ucp tests")
        .version(version)
        .description("An in-process event log")
        .stream("events", "Every event")
        .feeds(["sentinel", "mdi", "xspm"])
        .credential(
            "api",
            "The provider's API token",
            [CredentialKind::ApiToken],
        )
        .config_schema(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["account"],
            "properties": {
                "account": {"type": "string", "minLength": 1, "maxLength": 63},
                "page_size": {"type": "integer", "minimum": 1, "maximum": 1000}
            }
        }))
        .prerequisite(Prerequisite::source_check(
            "read",
            "The token can read events",
        ))
        .factory(
            factory(move |s: EventsSettings, _| {
                // A generous limit: the fixtures create connectors of one account in quick
                // succession, and each prerequisite check draws from its budget.
                let settings = EventLogSettings {
                    provider_limit: 60_000,
                    ..EventLogSettings::default()
                };
                let source =
                    EventLogSource::with_settings(s.account, log.clone(), Clock::new(), settings);
                Ok(Arc::new(source) as Arc<dyn Source>)
            })
            .with_cursor_at(|_: EventsSettings, stream, time| {
                if stream != "events" {
                    return Err(FactoryError::config("stream", "no such stream"));
                }
                Ok(Cursor::new(time.timestamp().to_string()))
            }),
        )
        .build()
        .expect("the test definition is valid")
}

/// Three products that record what they get.
#[derive(Default)]
pub struct RecordingProducts {
    pub sinks: std::sync::Mutex<BTreeMap<(String, String), RecordingSink>>,
}

impl Products for RecordingProducts {
    fn products(&self) -> Vec<ProductInfo> {
        ["sentinel", "mdi", "xspm"]
            .into_iter()
            .map(|id| ProductInfo {
                id: id.into(),
                display_name: id.to_uppercase(),
                description: format!("{id} for tests"),
            })
            .collect()
    }

    fn workspace_schema(&self) -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["table"],
            "properties": {"table": {"type": "string", "minLength": 1}}
        })
    }

    fn sinks(&self, workspace: &Workspace) -> Result<Vec<ProductSink>, FactoryError> {
        let table = workspace.settings["table"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut out = Vec::new();
        for product in ["sentinel", "mdi", "xspm"] {
            let sink = self
                .sinks
                .lock()
                .unwrap()
                .entry((workspace.tenant.clone(), product.to_string()))
                .or_insert_with(|| RecordingSink::new(product))
                .clone();
            out.push(ProductSink {
                product: product.into(),
                table: format!("{table}-{product}"),
                sink: Arc::new(sink) as Arc<dyn Sink>,
            });
        }
        Ok(out)
    }
}

/// What a test connector's creation body looks like.
pub fn create_body(name: &str) -> Value {
    json!({
        "name": name,
        "definition": "events",
        "config": {"account": "acct-1"},
        "credentials": {"api": {"name": "shared-token"}},
        "products": [
            {"product": "sentinel"},
            {"product": "mdi", "interval_seconds": 60,
             "filter": {"starts_with": {"path": "/eventType", "prefix": "user."}}}
        ]
    })
}

/// A secret stored in fixtures; the leak scans look for it.
pub const STORED_SECRET: &str = "stored-token-7f3a9c1e5b2d";
/// A secret given inline at creation.
pub const INLINE_SECRET: &str = "inline-token-4e8b2a6c0d9f";

/// The management server.
pub struct Server {
    pub base: String,
    pub manager: Manager,
    pub platform: Arc<RunningPlatform>,
    pub store: Arc<SqliteStore>,
    pub checkpoints: Arc<dyn CheckpointStore>,
    pub credentials: Arc<MemoryCredentials>,
    pub products: Arc<RecordingProducts>,
    pub log: EventLog,
    /// Principal name → API key.
    pub keys: BTreeMap<&'static str, String>,
    pub http: reqwest::Client,
    serve: tokio::task::JoinHandle<()>,
}

/// How much state the server starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fixture {
    /// Principals and roles only.
    Empty,
    /// A workspace and a stored credential, no connector.
    Workspace,
    /// A workspace, credentials (`shared-token`, `spare`), connectors `okta-a` (active),
    /// `held` (paused) and `gone` (disconnected).
    Full,
}

/// What outlives one server: its store and its checkpoints (a restart reuses both).
pub struct Persisted {
    pub store: Arc<SqliteStore>,
    pub checkpoints: Arc<dyn CheckpointStore>,
}

impl Persisted {
    pub fn in_memory() -> Persisted {
        Persisted {
            store: Arc::new(SqliteStore::open_in_memory().unwrap()),
            checkpoints: Arc::new(MemoryCheckpoints::new()),
        }
    }
}

impl Server {
    pub async fn start(fixture: Fixture) -> Server {
        Self::start_on(Persisted::in_memory(), fixture).await
    }

    pub async fn start_on(persisted: Persisted, fixture: Fixture) -> Server {
        Self::start_with(persisted, fixture, None).await
    }

    pub async fn start_with(
        persisted: Persisted,
        fixture: Fixture,
        jwt: Option<ucp_manage::JwtVerifier>,
    ) -> Server {
        Self::start_full(persisted, fixture, jwt, |_| Vec::new()).await
    }

    /// A server that also registers the definitions `more` makes (given the event log the
    /// `events` definition reads).
    pub async fn start_with_definitions(
        fixture: Fixture,
        more: impl FnOnce(&EventLog) -> Vec<ConnectorDefinition>,
    ) -> Server {
        Self::start_full(Persisted::in_memory(), fixture, None, more).await
    }

    async fn start_full(
        persisted: Persisted,
        fixture: Fixture,
        jwt: Option<ucp_manage::JwtVerifier>,
        more: impl FnOnce(&EventLog) -> Vec<ConnectorDefinition>,
    ) -> Server {
        let Persisted { store, checkpoints } = persisted;
        let log = EventLog::new();
        let credentials = Arc::new(MemoryCredentials::new());
        let platform = Arc::new(
            Platform::builder()
                .credentials(credentials.clone())
                .checkpoints(checkpoints.clone())
                .max_jitter(Duration::ZERO)
                .shutdown_timeout(Duration::from_secs(1))
                .build()
                .unwrap()
                .start()
                .await
                .unwrap(),
        );
        let products = Arc::new(RecordingProducts::default());
        let keys = ApiKeys::new(secrecy::SecretSlice::from(vec![7u8; 32])).unwrap();
        let auth = Authenticator::new(store.clone(), keys, jwt, ["admin".to_string()]);
        let mut builder = Manager::builder(
            store.clone(),
            platform.clone(),
            products.clone(),
            credentials.clone(),
            auth,
        )
        .definition(events_definition(log.clone(), "1.0.0"));
        for definition in more(&log) {
            builder = builder.definition(definition);
        }
        let manager = builder.start().await.unwrap();
        let admin = Principal::system();
        let mut keys = BTreeMap::new();
        for (who, tenant, role) in [
            ("reader", TENANT, Role::Reader),
            ("contributor", TENANT, Role::Contributor),
            ("owner", TENANT, Role::Owner),
            ("outsider", OTHER_TENANT, Role::Owner),
        ] {
            let (_, key) = manager.create_api_key(&admin, who).await.unwrap();
            keys.insert(who, key.expose_secret().to_string());
            if manager
                .roles(&admin, tenant)
                .await
                .unwrap()
                .iter()
                .all(|a| a.principal != who)
            {
                manager
                    .set_role(&admin, tenant, who, Some(role))
                    .await
                    .unwrap();
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = ucp_manage::api::router(manager.clone());
        let serve = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let server = Server {
            base,
            manager,
            platform,
            store,
            checkpoints,
            credentials,
            products,
            log,
            keys,
            http: reqwest::Client::new(),
            serve,
        };
        server.setup(fixture).await;
        server
    }

    /// Stop serving and shut the platform down (cursors saved); returns the store and
    /// checkpoints, for a server started again on them.
    pub async fn stop(self) -> Persisted {
        self.serve.abort();
        let _ = self.serve.await;
        drop(self.manager);
        let platform = Arc::try_unwrap(self.platform)
            .unwrap_or_else(|_| panic!("the platform is still shared"));
        platform.shutdown().await.unwrap();
        Persisted {
            store: self.store,
            checkpoints: self.checkpoints,
        }
    }

    /// The products subscribed to the connector's stream in the running platform.
    pub async fn subscribers(&self, connector: &str) -> Vec<String> {
        self.platform
            .plan()
            .await
            .job(&format!("{TENANT}.{connector}"), "events")
            .map(|job| job.subscribers.clone())
            .unwrap_or_default()
    }

    /// Whether the platform holds the connector's source, and whether it is paused.
    pub async fn paused(&self, connector: &str) -> Option<bool> {
        self.platform
            .is_paused(&format!("{TENANT}.{connector}"))
            .await
    }

    /// The connector's saved cursor in the platform's checkpoints.
    pub async fn cursor(&self, connector: &str) -> Option<Cursor> {
        self.platform
            .saved_cursor(&StreamKey::new(format!("{TENANT}.{connector}"), "events"))
            .await
            .unwrap()
    }

    async fn setup(&self, fixture: Fixture) {
        if fixture == Fixture::Empty {
            return;
        }
        let secret = |token: &str| json!({"kind": "api_token", "token": token});
        self.call(
            "owner",
            "PUT",
            "/workspace",
            Some(json!({"name": "law-1", "settings": {"table": "t"}})),
        )
        .await
        .expect_status(201);
        self.call(
            "owner",
            "PUT",
            "/credentials/shared-token",
            Some(secret(STORED_SECRET)),
        )
        .await
        .expect_status(200);
        if fixture == Fixture::Workspace {
            return;
        }
        self.call(
            "owner",
            "PUT",
            "/credentials/spare",
            Some(secret("spare-token-1b2c3d4e5f60")),
        )
        .await
        .expect_status(200);
        for name in ["okta-a", "held", "gone"] {
            self.call(
                "contributor",
                "POST",
                "/connectors",
                Some(create_body(name)),
            )
            .await
            .expect_status(201);
        }
        self.call("contributor", "POST", "/connectors/held/pause", None)
            .await
            .expect_status(200);
        self.call(
            "owner",
            "POST",
            "/connectors/gone/disconnect",
            Some(json!({"reason": "test fixture"})),
        )
        .await
        .expect_status(200);
    }

    /// A request on the tenant's API as `who` (`none`: no credential, `bad`: a forged key).
    pub async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_tenant(who, TENANT, method, path, body, None)
            .await
    }

    pub async fn call_tenant(
        &self,
        who: &str,
        tenant: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Reply {
        let url = format!("{}/api/v1/tenants/{tenant}{path}", self.base);
        self.raw(who, method, &url, body.map(|b| b.to_string()), if_match)
            .await
    }

    pub async fn raw(
        &self,
        who: &str,
        method: &str,
        url: &str,
        body: Option<String>,
        if_match: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url);
        match who {
            "none" => {}
            token if token.starts_with("jwt:") => request = request.bearer_auth(&token[4..]),
            "bad" => {
                request = request.bearer_auth(format!("ucpk_0123456789abcdef_{}", "A".repeat(43)))
            }
            who => request = request.bearer_auth(&self.keys[who]),
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        Reply { status, etag, text }
    }
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub etag: Option<String>,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    #[track_caller]
    pub fn expect_status(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "{}", self.text);
        self
    }
}
