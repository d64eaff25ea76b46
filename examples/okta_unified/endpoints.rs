//! Where the three products' data goes: their ingestion endpoints, emulated on 127.0.0.1 by
//! default or real Azure endpoints named by environment variables; and the credentials those
//! endpoints take, stored once in the credential store.

use secrecy::SecretString;
use ucp::credentials::token::{entra_token_url, ENTRA_AUTHORITY};
use ucp::credentials::Credential;
use ucp::sinks::sentinel::health::HEALTH_EVENTS_DCR;
use ucp_testkit::azure::{EventHubs, LogsIngestion};
use ucp_testkit::token_endpoint::TokenEndpoint;

/// The Entra app's client secret: Sentinel and XSPM get their tokens from it.
pub const ENTRA_CREDENTIAL: &str = "entra-app";
/// The Event Hubs shared access policy key: MDI signs its SAS tokens with it.
pub const HUBS_CREDENTIAL: &str = "eventhubs-send";

/// The DCR stream used when `SENTINEL_STREAM` is not set (and by the emulator).
const DEFAULT_STREAM: &str = "Custom-OktaSystemLog";
/// The emulated Entra app, directory and rule.
const DEMO_TENANT_ID: &str = "contoso-directory";
const DEMO_CLIENT_ID: &str = "ucp-demo-app";
const DEMO_CLIENT_SECRET: &str = "demo-app-secret";
const DEMO_DCR: &str = "dcr-okta-demo";
const DEMO_KEY_NAME: &str = "ucp-send";
const DEMO_KEY: &str = "ZGVtby1ldmVudC1odWJzLXNlbmQta2V5";

/// The emulated Azure endpoints, in this process, restarted empty at every run.
pub struct Emulators {
    /// Entra ID's token endpoint.
    pub tokens: TokenEndpoint,
    /// The Logs Ingestion API (Sentinel's custom table).
    pub logs: LogsIngestion,
    /// One Event Hubs namespace with the hubs `mdi` and `xspm`.
    pub hubs: EventHubs,
}

impl Emulators {
    async fn start() -> std::io::Result<Self> {
        let tokens = TokenEndpoint::start().await?;
        tokens.register_secret_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
        let logs = LogsIngestion::start(tokens.verifier()).await?;
        logs.add_stream(DEMO_DCR, DEFAULT_STREAM);
        logs.add_stream(DEMO_DCR, HEALTH_EVENTS_DCR.stream);
        logs.grant(DEMO_DCR, DEMO_CLIENT_ID);
        let hubs = EventHubs::start(Some(tokens.verifier())).await?;
        hubs.add_hub("mdi");
        hubs.add_hub("xspm");
        hubs.add_key(DEMO_KEY_NAME, DEMO_KEY);
        hubs.grant_sender(DEMO_CLIENT_ID);
        Ok(Emulators { tokens, logs, hubs })
    }
}

/// Real endpoints, as the environment names them.
pub struct RealEndpoints {
    dce_url: String,
    dcr_id: String,
    stream: String,
    health_stream: String,
    tenant_id: String,
    client_id: String,
    client_secret: SecretString,
    namespace_url: String,
    key_name: String,
    key: SecretString,
    mdi_hub: String,
    xspm_hub: String,
}

/// The variables real endpoints need, all of them.
pub const REAL_VARS: [&str; 8] = [
    "SENTINEL_DCE_URL",
    "SENTINEL_DCR_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "EVENTHUBS_NAMESPACE",
    "EVENTHUBS_KEY_NAME",
    "EVENTHUBS_KEY",
];
/// Variables with a default.
const OPTIONAL_VARS: [&str; 4] = [
    "SENTINEL_STREAM",
    "SENTINEL_HEALTH_STREAM",
    "EVENTHUBS_MDI_HUB",
    "EVENTHUBS_XSPM_HUB",
];

/// The real endpoints, if any product variable is set; an error names every missing one.
/// `var` reads one (non-empty) variable.
pub fn real_endpoints(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<RealEndpoints>, String> {
    let set: Vec<&str> = REAL_VARS
        .iter()
        .chain(&OPTIONAL_VARS)
        .copied()
        .filter(|name| var(name).is_some())
        .collect();
    if set.is_empty() {
        return Ok(None);
    }
    let missing: Vec<&str> = REAL_VARS
        .iter()
        .copied()
        .filter(|name| var(name).is_none())
        .collect();
    if !missing.is_empty() {
        let verb = |names: &[&str]| if names.len() == 1 { "is" } else { "are" };
        return Err(format!(
            "{} {} set, but {} {} not: set every product variable to deliver to real endpoints (see the header of examples/okta_unified/main.rs), or none for the emulators",
            set.join(", "),
            verb(&set),
            missing.join(", "),
            verb(&missing)
        ));
    }
    let get = |name: &str| var(name).unwrap_or_default();
    let dce_url = get("SENTINEL_DCE_URL");
    if !dce_url.starts_with("https://") {
        return Err(format!(
            "SENTINEL_DCE_URL '{dce_url}' must be an https:// URL (the data collection endpoint's logs ingestion URL)"
        ));
    }
    Ok(Some(RealEndpoints {
        dce_url,
        dcr_id: get("SENTINEL_DCR_ID"),
        stream: var("SENTINEL_STREAM").unwrap_or_else(|| DEFAULT_STREAM.into()),
        health_stream: var("SENTINEL_HEALTH_STREAM")
            .unwrap_or_else(|| HEALTH_EVENTS_DCR.stream.into()),
        tenant_id: get("AZURE_TENANT_ID"),
        client_id: get("AZURE_CLIENT_ID"),
        client_secret: SecretString::from(get("AZURE_CLIENT_SECRET")),
        namespace_url: namespace_url(&get("EVENTHUBS_NAMESPACE")),
        key_name: get("EVENTHUBS_KEY_NAME"),
        key: SecretString::from(get("EVENTHUBS_KEY")),
        mdi_hub: var("EVENTHUBS_MDI_HUB").unwrap_or_else(|| "mdi".into()),
        xspm_hub: var("EVENTHUBS_XSPM_HUB").unwrap_or_else(|| "xspm".into()),
    }))
}

/// `contoso-hubs` → `https://contoso-hubs.servicebus.windows.net`; a host or URL as given.
fn namespace_url(namespace: &str) -> String {
    let namespace = namespace.trim_end_matches('/');
    if namespace.contains("://") {
        namespace.to_string()
    } else if namespace.contains('.') {
        format!("https://{namespace}")
    } else {
        format!("https://{namespace}.servicebus.windows.net")
    }
}

/// The products' endpoints.
pub enum Endpoints {
    /// Emulated on 127.0.0.1.
    Emulated(Emulators),
    /// Real, from the environment (boxed: it is much larger than the emulators' handles).
    Real(Box<RealEndpoints>),
}

/// Addresses the sinks send to.
pub struct Targets {
    pub dce_url: String,
    pub dcr_id: String,
    pub stream: String,
    /// The DCR stream of the platform's health (`--health-to sentinel`).
    pub health_stream: String,
    pub namespace_url: String,
    pub mdi_hub: String,
    pub xspm_hub: String,
}

impl Endpoints {
    /// Real endpoints if the environment names them, else emulators started now.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(match real_endpoints(var)? {
            Some(real) => Endpoints::Real(Box::new(real)),
            None => Endpoints::Emulated(Emulators::start().await?),
        })
    }

    /// Where the sinks send.
    pub fn targets(&self) -> Targets {
        match self {
            Endpoints::Emulated(e) => Targets {
                dce_url: e.logs.url().to_string(),
                dcr_id: DEMO_DCR.into(),
                stream: DEFAULT_STREAM.into(),
                health_stream: HEALTH_EVENTS_DCR.stream.into(),
                namespace_url: e.hubs.url().to_string(),
                mdi_hub: "mdi".into(),
                xspm_hub: "xspm".into(),
            },
            Endpoints::Real(r) => Targets {
                dce_url: r.dce_url.clone(),
                dcr_id: r.dcr_id.clone(),
                stream: r.stream.clone(),
                health_stream: r.health_stream.clone(),
                namespace_url: r.namespace_url.clone(),
                mdi_hub: r.mdi_hub.clone(),
                xspm_hub: r.xspm_hub.clone(),
            },
        }
    }

    /// The two credentials to store: (Entra client secret, Event Hubs shared access key).
    pub fn credentials(&self) -> (Credential, Credential) {
        let (token_url, client_id, secret, key_name, key) = match self {
            Endpoints::Emulated(e) => (
                e.tokens.entra_token_url(DEMO_TENANT_ID),
                DEMO_CLIENT_ID.to_string(),
                SecretString::from(DEMO_CLIENT_SECRET),
                DEMO_KEY_NAME.to_string(),
                SecretString::from(DEMO_KEY),
            ),
            Endpoints::Real(r) => (
                entra_token_url(ENTRA_AUTHORITY, &r.tenant_id),
                r.client_id.clone(),
                r.client_secret.clone(),
                r.key_name.clone(),
                r.key.clone(),
            ),
        };
        (
            Credential::ClientSecret {
                token_url,
                client_id,
                secret,
            },
            Credential::SharedAccessKey { key_name, key },
        )
    }

    /// One line saying where the products are.
    pub fn describe(&self) -> String {
        let t = self.targets();
        match self {
            Endpoints::Emulated(e) => format!(
                "products (emulated): Entra token endpoint {}, Logs Ingestion {}, Event Hubs {}",
                e.tokens.url(),
                t.dce_url,
                t.namespace_url
            ),
            Endpoints::Real(_) => format!(
                "products (real): Logs Ingestion {} DCR {} stream {}, Event Hubs {} hubs {} and {}",
                t.dce_url, t.dcr_id, t.stream, t.namespace_url, t.mdi_hub, t.xspm_hub
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let pairs = pairs.to_vec();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const ALL: [(&str, &str); 8] = [
        (
            "SENTINEL_DCE_URL",
            "https://okta-dce.eastus-1.ingest.monitor.azure.com",
        ),
        ("SENTINEL_DCR_ID", "dcr-0123"),
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_CLIENT_SECRET", "s3cret"),
        ("EVENTHUBS_NAMESPACE", "contoso-hubs"),
        ("EVENTHUBS_KEY_NAME", "send"),
        ("EVENTHUBS_KEY", "a2V5"),
    ];

    #[test]
    fn real_endpoints_need_every_variable_and_name_the_missing_ones() {
        assert!(real_endpoints(env(&[])).unwrap().is_none());
        let real = real_endpoints(env(&ALL)).unwrap().unwrap();
        assert_eq!(real.stream, DEFAULT_STREAM);
        assert_eq!(real.health_stream, "Custom-UcpHealth_CL");
        assert_eq!(
            real.namespace_url,
            "https://contoso-hubs.servicebus.windows.net"
        );
        assert_eq!(
            (real.mdi_hub.as_str(), real.xspm_hub.as_str()),
            ("mdi", "xspm")
        );

        let error = real_endpoints(env(&ALL[..6])).err().unwrap();
        assert!(
            error.contains("but EVENTHUBS_KEY_NAME, EVENTHUBS_KEY are not"),
            "{error}"
        );
        assert!(!error.contains("s3cret"), "{error}");
        let only_stream = real_endpoints(env(&[("SENTINEL_STREAM", "Custom-X")]))
            .err()
            .unwrap();
        assert!(only_stream
            .starts_with("SENTINEL_STREAM is set, but SENTINEL_DCE_URL, SENTINEL_DCR_ID"));

        let mut plain = ALL;
        plain[0].1 = "http://dce.example";
        assert!(real_endpoints(env(&plain))
            .err()
            .unwrap()
            .contains("https://"));
    }

    #[test]
    fn a_namespace_may_be_a_name_a_host_or_a_url() {
        assert_eq!(
            namespace_url("contoso-hubs"),
            "https://contoso-hubs.servicebus.windows.net"
        );
        assert_eq!(
            namespace_url("hubs.servicebus.chinacloudapi.cn"),
            "https://hubs.servicebus.chinacloudapi.cn"
        );
        assert_eq!(namespace_url("https://x.example/"), "https://x.example");
    }
}
