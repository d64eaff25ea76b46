//! The shipped Azure sinks pass the sink suite, each against its product's emulator over
//! loopback: [`SentinelSink`] against the Logs Ingestion emulator (plain and gzip bodies),
//! [`EventHubsSink`] against the Event Hubs emulator (SAS and Entra auth), both with Entra
//! tokens from the token endpoint simulator, and [`DataLakeSink`] on the local filesystem.
//!
//! Throttling is the emulators' own fault injection (a 429 with `Retry-After`); the product
//! limit is the services' 1 MB per call. Both services accept or refuse a request as a whole,
//! so `rejects_records_individually` is declared not applicable for them, with why; the
//! local data lake takes no credential, is never throttled and refuses no record. Every copy
//! these products store carries the record id (a `RecordId` column, which the Sentinel
//! fixture asks for with `ColumnMapping::with_id`; the `ucp.id` message property; the
//! Parquet `id` column): redelivery is safe by dedup on id.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, StringArray};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use secrecy::SecretString;
use ucp_core::credentials::token::HttpTokenFetcher;
use ucp_core::credentials::token::TokenProvider;
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::Context;
use ucp_core::{Clock, Sink, SinkContext, SinkError};
use ucp_sinks::datalake::{DataLakeConfig, DataLakeSink};
use ucp_sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp_sinks::sentinel::{ColumnMapping, SentinelConfig, SentinelSink};
use ucp_testkit::azure::{event_hubs, logs_ingestion, EventHubs, LogsIngestion, ProductFault};
use ucp_testkit::conformance::{
    checks, sink_suite, ProductSetup, Redelivery, SeenRequest, SinkFixture, SuiteReport,
};
use ucp_testkit::faults::Faults;
use ucp_testkit::token_endpoint::TokenEndpoint;

/// Every check that applies passed; exactly `skipped` were skipped.
fn assert_report(report: &SuiteReport, skipped: &[&str]) {
    report.assert_all_passed();
    assert_eq!(report.skipped(), skipped, "{report}");
}

/// A platform-shared token provider of its own for each product, so no check sees another's
/// cached token.
fn provider() -> Result<Arc<TokenProvider>, String> {
    let fetcher = HttpTokenFetcher::new().map_err(|e| e.to_string())?;
    Ok(Arc::new(TokenProvider::new(Arc::new(fetcher))))
}

/// An Entra client secret credential for `client` at `tokens`.
fn entra(tokens: &TokenEndpoint, client: &str, secret: &str) -> Credential {
    Credential::ClientSecret {
        token_url: tokens.entra_token_url("conformance-tenant"),
        client_id: client.into(),
        secret: SecretString::from(secret.to_string()),
    }
}

/// Why a service that takes a batch whole cannot take part in the per-record check.
fn whole_requests_only(service: &str) -> String {
    format!(
        "the {service} accepts or refuses a request as a whole and never names a refused record, \
         so there is no per-record refusal to report"
    )
}

// ---- Sentinel (Logs Ingestion API) ------------------------------------------------------

const DCR: &str = "dcr-00000000000000000000000000000c0f";
const STREAM: &str = "Custom-Conformance_CL";
const SENTINEL_CLIENT: &str = "sentinel-conformance-app";
const SENTINEL_SECRET: &str = "sentinel-app-secret-4f1c";

/// One Logs Ingestion emulator with the rule's stream and the app's role on it.
struct SentinelLab {
    logs: LogsIngestion,
    provider: Arc<TokenProvider>,
}

/// Starts a Logs Ingestion emulator trusting one token endpoint simulator. The token
/// endpoint tells the good secret from the bad one itself, so `accept_credentials` needs no
/// help from the emulator.
struct SentinelFixture {
    tokens: Arc<TokenEndpoint>,
}

impl SentinelFixture {
    async fn start() -> Self {
        let tokens = TokenEndpoint::start().await.unwrap();
        tokens.register_secret_client(SENTINEL_CLIENT, SENTINEL_SECRET);
        SentinelFixture {
            tokens: Arc::new(tokens),
        }
    }
}

/// The Sentinel sink for `lab`'s rule and stream, sending gzip bodies when `gzip`.
fn sentinel_sink(lab: &SentinelLab, gzip: bool) -> SentinelSink {
    let config = SentinelConfig {
        gzip,
        // The row keeps the record id, for readers to drop redelivered copies.
        mapping: ColumnMapping::copy_top_level().with_id("RecordId"),
        ..SentinelConfig::new(lab.logs.url(), DCR, STREAM, "entra")
    };
    SentinelSink::new(config, lab.provider.clone())
}

#[async_trait]
impl SinkFixture for SentinelFixture {
    type Product = SentinelLab;

    async fn start(&self, _setup: ProductSetup) -> Result<SentinelLab, String> {
        let logs = LogsIngestion::start(self.tokens.verifier())
            .await
            .map_err(|e| e.to_string())?;
        logs.add_stream(DCR, STREAM);
        logs.grant(DCR, SENTINEL_CLIENT);
        Ok(SentinelLab {
            logs,
            provider: provider()?,
        })
    }

    async fn stored(&self, lab: &SentinelLab) -> Vec<String> {
        lab.logs
            .rows(DCR, STREAM)
            .iter()
            .map(|row| {
                row["RecordId"]
                    .as_str()
                    .unwrap_or("<no RecordId>")
                    .to_string()
            })
            .collect()
    }

    async fn requests(&self, lab: &SentinelLab) -> Vec<SeenRequest> {
        lab.logs
            .calls()
            .iter()
            .map(|call| SeenRequest {
                records: call.rows,
                bytes: call.body_bytes,
            })
            .collect()
    }

    async fn throttle_next(&self, lab: &SentinelLab, _faults: &Faults, retry_after: Duration) {
        lab.logs
            .inject([ProductFault::throttle(retry_after.as_secs())]);
    }

    async fn reject(&self, _lab: &SentinelLab, _ids: &[String]) {
        // Never called: the check is declared not applicable.
    }

    fn max_bytes_per_request(&self) -> Option<usize> {
        Some(logs_ingestion::MAX_BODY_BYTES)
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        (check == checks::REJECTS_RECORDS_INDIVIDUALLY)
            .then(|| whole_requests_only("Logs Ingestion API"))
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        vec![(
            "entra".into(),
            entra(&self.tokens, SENTINEL_CLIENT, SENTINEL_SECRET),
        )]
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        vec![(
            "entra".into(),
            entra(&self.tokens, SENTINEL_CLIENT, "not-the-app-secret-91d2"),
        )]
    }
}

#[tokio::test]
async fn sentinel_sink_passes_the_sink_suite() {
    for gzip in [false, true] {
        let fixture = SentinelFixture::start().await;
        let tokens = fixture.tokens.clone();
        let report = sink_suite(
            move |lab: &SentinelLab| Ok::<_, Infallible>(sentinel_sink(lab, gzip)),
            fixture,
        )
        .await;
        println!("gzip {gzip}: {report}");
        assert_report(&report, &[checks::REJECTS_RECORDS_INDIVIDUALLY]);
        // The bad secret was refused where it is checked: at the token endpoint.
        assert!(!tokens.rejections().is_empty(), "{report}");
    }
}

// ---- Event Hubs (REST batch send) -------------------------------------------------------

const HUB: &str = "conformance-hub";
const POLICY: &str = "send-policy";
const POLICY_KEY: &str = "Y29uZm9ybWFuY2Utc2VuZC1wb2xpY3kta2V5";
const HUB_CLIENT: &str = "hub-conformance-app";
const HUB_SECRET: &str = "hub-app-secret-7e20";

/// How the Event Hubs fixture's sink authenticates.
#[derive(Clone, Copy, Debug)]
enum HubAuth {
    Sas,
    Entra,
}

/// One Event Hubs namespace emulator with the hub, the Send policy and the app's role.
struct HubLab {
    hubs: EventHubs,
    provider: Arc<TokenProvider>,
}

/// Starts Event Hubs emulators that check SAS signatures against the policy key and bearer
/// tokens against one token endpoint simulator: both tell good from bad credentials.
struct HubFixture {
    auth: HubAuth,
    tokens: Arc<TokenEndpoint>,
}

impl HubFixture {
    async fn start(auth: HubAuth) -> Self {
        let tokens = TokenEndpoint::start().await.unwrap();
        tokens.register_secret_client(HUB_CLIENT, HUB_SECRET);
        HubFixture {
            auth,
            tokens: Arc::new(tokens),
        }
    }

    fn credential(&self, good: bool) -> Vec<(String, Credential)> {
        match self.auth {
            HubAuth::Sas => vec![(
                "hub-sas".into(),
                Credential::SharedAccessKey {
                    key_name: POLICY.into(),
                    key: SecretString::from(if good {
                        POLICY_KEY.to_string()
                    } else {
                        "bm90LXRoZS1wb2xpY3kta2V5LWF0LWFsbA==".to_string()
                    }),
                },
            )],
            HubAuth::Entra => vec![(
                "hub-entra".into(),
                entra(
                    &self.tokens,
                    HUB_CLIENT,
                    if good {
                        HUB_SECRET
                    } else {
                        "not-the-hub-secret-03b9"
                    },
                ),
            )],
        }
    }
}

/// The Event Hubs sink for `lab`'s hub, authenticating with `auth`.
fn hub_sink(lab: &HubLab, auth: HubAuth) -> EventHubsSink {
    let auth = match auth {
        HubAuth::Sas => EventHubsAuth::SharedAccessKey {
            credential: "hub-sas".into(),
        },
        HubAuth::Entra => EventHubsAuth::Entra {
            credential: "hub-entra".into(),
        },
    };
    let config = EventHubsConfig::new("event-hubs", lab.hubs.url(), HUB, auth);
    EventHubsSink::new(config, lab.provider.clone())
}

#[async_trait]
impl SinkFixture for HubFixture {
    type Product = HubLab;

    async fn start(&self, _setup: ProductSetup) -> Result<HubLab, String> {
        let hubs = EventHubs::start(Some(self.tokens.verifier()))
            .await
            .map_err(|e| e.to_string())?;
        hubs.add_hub(HUB);
        hubs.add_key(POLICY, POLICY_KEY);
        hubs.grant_sender(HUB_CLIENT);
        Ok(HubLab {
            hubs,
            provider: provider()?,
        })
    }

    async fn stored(&self, lab: &HubLab) -> Vec<String> {
        lab.hubs
            .messages(HUB)
            .iter()
            .map(|message| {
                message
                    .user_properties
                    .get("ucp.id")
                    .and_then(|id| id.as_str())
                    .unwrap_or("<no ucp.id>")
                    .to_string()
            })
            .collect()
    }

    async fn requests(&self, lab: &HubLab) -> Vec<SeenRequest> {
        lab.hubs
            .calls()
            .iter()
            .map(|call| SeenRequest {
                records: call.messages,
                bytes: call.body_bytes,
            })
            .collect()
    }

    async fn throttle_next(&self, lab: &HubLab, _faults: &Faults, retry_after: Duration) {
        lab.hubs
            .inject([ProductFault::throttle(retry_after.as_secs())]);
    }

    async fn reject(&self, _lab: &HubLab, _ids: &[String]) {
        // Never called: the check is declared not applicable.
    }

    fn max_bytes_per_request(&self) -> Option<usize> {
        Some(event_hubs::MAX_BATCH_BYTES)
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        (check == checks::REJECTS_RECORDS_INDIVIDUALLY)
            .then(|| whole_requests_only("Event Hubs batch send"))
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        self.credential(true)
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        self.credential(false)
    }
}

#[tokio::test]
async fn event_hubs_sink_with_sas_passes_the_sink_suite() {
    let fixture = HubFixture::start(HubAuth::Sas).await;
    let report = sink_suite(
        |lab: &HubLab| Ok::<_, Infallible>(hub_sink(lab, HubAuth::Sas)),
        fixture,
    )
    .await;
    println!("{report}");
    assert_report(&report, &[checks::REJECTS_RECORDS_INDIVIDUALLY]);
}

#[tokio::test]
async fn event_hubs_sink_with_entra_passes_the_sink_suite() {
    let fixture = HubFixture::start(HubAuth::Entra).await;
    let tokens = fixture.tokens.clone();
    let report = sink_suite(
        |lab: &HubLab| Ok::<_, Infallible>(hub_sink(lab, HubAuth::Entra)),
        fixture,
    )
    .await;
    println!("{report}");
    assert_report(&report, &[checks::REJECTS_RECORDS_INDIVIDUALLY]);
    assert!(!tokens.rejections().is_empty(), "{report}");
}

// ---- the data lake on the local filesystem ----------------------------------------------

/// A data lake sink writing Parquet under its own temporary directory.
struct Lake {
    dir: tempfile::TempDir,
    sink: DataLakeSink,
}

/// Starts a [`DataLakeSink`] on the local disk, under the prefix `lake`.
struct LakeFixture;

/// The `id` column of every final Parquet file under `lake/`, file by file in path order
/// (partitions sort by date and hour); staged parts are excluded, as readers skip them.
async fn lake_ids(lake: &Lake) -> Vec<String> {
    let store = LocalFileSystem::new_with_prefix(lake.dir.path()).unwrap();
    let mut files: Vec<ObjectMeta> = store
        .list(Some(&Path::from("lake")))
        .try_collect()
        .await
        .unwrap();
    files.retain(|f| !f.location.as_ref().starts_with("lake/_staging/"));
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let mut ids = Vec::new();
    for file in files {
        let bytes: Bytes = store
            .get(&file.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            ids.extend((0..column.len()).map(|i| column.value(i).to_string()));
        }
    }
    ids
}

#[async_trait]
impl SinkFixture for LakeFixture {
    type Product = Lake;

    async fn start(&self, _setup: ProductSetup) -> Result<Lake, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sink = DataLakeSink::local(dir.path(), DataLakeConfig::new("lake"))
            .map_err(|e| e.to_string())?;
        Ok(Lake { dir, sink })
    }

    /// Readers see final files only: combine the staged parts first (as a shutdown does).
    async fn stored(&self, lake: &Lake) -> Vec<String> {
        lake.sink.flush(Utc::now()).await.unwrap();
        lake_ids(lake).await
    }

    async fn requests(&self, _lake: &Lake) -> Vec<SeenRequest> {
        // A local disk has no requests; the suite asks only when a product limit is declared.
        Vec::new()
    }

    async fn reject(&self, _lake: &Lake, _ids: &[String]) {
        // Never called: the check is declared not applicable.
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn not_applicable(&self, check: &str) -> Option<String> {
        let why = match check {
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS => {
                "the local filesystem takes no credential (Azure storage keys are checked by object_store, against Azurite in datalake_azurite.rs)"
            }
            checks::HONOURS_RETRY_AFTER => "the local filesystem is never throttled",
            checks::REJECTS_RECORDS_INDIVIDUALLY => {
                "the data lake stores every record (a payload that is not JSON is kept raw), so it refuses none"
            }
            _ => return None,
        };
        Some(why.into())
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        Vec::new()
    }
}

#[tokio::test]
async fn data_lake_sink_on_the_local_filesystem_passes_the_sink_suite() {
    let report = sink_suite(
        |lake: &Lake| Ok::<_, Infallible>(lake.sink.clone()),
        LakeFixture,
    )
    .await;
    println!("{report}");
    assert_report(
        &report,
        &[
            checks::CHECK_AUTH_ERROR_WITH_BAD_CREDENTIALS,
            checks::HONOURS_RETRY_AFTER,
            // No product limit on a local disk: the suite skips it by itself.
            checks::SPLITS_OVERSIZED_BATCHES,
            checks::REJECTS_RECORDS_INDIVIDUALLY,
            // No credential, so no secret to look for.
            checks::NO_SECRET_IN_OUTPUT,
        ],
    );
}

/// A context whose tenant holds `credentials`.
async fn context(credentials: Vec<(String, Credential)>) -> SinkContext {
    let store = Arc::new(MemoryCredentials::new());
    for (name, credential) in credentials {
        store
            .put(CredentialRef::new("contoso", name), credential)
            .await
            .unwrap();
    }
    SinkContext::new(
        "event-hubs",
        Context::standalone("contoso", store, Clock::new()).expect("a standalone context"),
    )
}

fn setup() -> ProductSetup {
    ProductSetup {
        accept_credentials: true,
        faults: Faults::new(),
    }
}

/// What made the SAS fixture pass: `check` asks the hub (an empty batch, storing nothing),
/// so it also catches a missing hub and an Entra app without the Data Sender role.
#[tokio::test]
async fn event_hubs_check_asks_the_hub_and_stores_nothing() {
    for auth in [HubAuth::Sas, HubAuth::Entra] {
        let fixture = HubFixture::start(auth).await;
        let cx = context(fixture.credentials()).await;
        let lab = fixture.start(setup()).await.unwrap();
        hub_sink(&lab, auth).check(&cx).await.unwrap();
        assert_eq!(lab.hubs.calls().len(), 1, "{auth:?}: one probe");
        assert!(lab.hubs.messages(HUB).is_empty(), "{auth:?}");

        let no_hub = EventHubs::start(Some(fixture.tokens.verifier()))
            .await
            .unwrap();
        no_hub.add_key(POLICY, POLICY_KEY);
        no_hub.grant_sender(HUB_CLIENT);
        let no_hub = HubLab {
            hubs: no_hub,
            provider: provider().unwrap(),
        };
        let error = hub_sink(&no_hub, auth).check(&cx).await.unwrap_err();
        assert!(matches!(error, SinkError::Permanent { .. }), "{error}");
    }

    // An app the token endpoint knows, but that the namespace never gave the role.
    let fixture = HubFixture::start(HubAuth::Entra).await;
    fixture
        .tokens
        .register_secret_client("hub-other-app", "other-app-secret");
    let cx = context(vec![(
        "hub-entra".into(),
        entra(&fixture.tokens, "hub-other-app", "other-app-secret"),
    )])
    .await;
    let lab = fixture.start(setup()).await.unwrap();
    let error = hub_sink(&lab, HubAuth::Entra).check(&cx).await.unwrap_err();
    assert!(matches!(error, SinkError::Auth { .. }), "{error}");
    assert!(error.to_string().contains("hub-entra"), "{error}");
}
