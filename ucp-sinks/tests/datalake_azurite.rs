//! The data lake sink on Azure Blob Storage, against Azurite (the Azure Storage emulator,
//! npm package `azurite`; `.ci/run` installs and starts `azurite-blob`).
//!
//! Uses `AZURITE_BLOB_URL` (default `http://127.0.0.1:10000`) and the emulator's well-known
//! `devstoreaccount1` key. When Azurite is not reachable the test says so and passes, except
//! under `CI=true`, where it fails.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::RngCore;
use serde_json::json;
use sha2::Sha256;
use ucp_core::credentials::MemoryCredentials;
use ucp_core::Context;
use ucp_core::*;
use ucp_sinks::datalake::{open_store, DataLakeConfig, DataLakeSink};

const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key (not a secret).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn blob_url() -> String {
    std::env::var("AZURITE_BLOB_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:10000".into())
        .trim_end_matches('/')
        .to_string()
}

/// True when Azurite answers; otherwise skips (locally) or fails (CI).
async fn azurite_available(url: &str) -> bool {
    let address = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let reachable = matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(&address)
        )
        .await,
        Ok(Ok(_))
    );
    if !reachable {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "Azurite (azurite-blob) is not reachable at {url}: .ci/run must install and start it"
        );
        eprintln!(
            "skipping: Azurite (npm package azurite, `azurite-blob`) is not reachable at {url}; \
             start it with `azurite-blob --blobHost 127.0.0.1 --blobPort 10000` to run this test"
        );
    }
    reachable
}

/// Create a container with the Blob REST API (object_store has no call for it), signed with
/// the account's Shared Key.
async fn create_container(url: &str, container: &str) {
    let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(ACCOUNT_KEY)
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let response = reqwest::Client::new()
        .put(format!("{url}/{ACCOUNT}/{container}?restype=container"))
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("Content-Length", "0")
        .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.as_u16() == 201,
        "create container: {status} {}",
        response.text().await.unwrap_or_default()
    );
}

fn batch(count: usize) -> Batch {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let event = json!({"uuid": format!("evt-{i}"), "eventType": "user.session.start",
                "actor": {"id": format!("actor-{i}")}});
            Record::new(
                format!("evt-{i}"),
                start + chrono::Duration::seconds(i as i64),
                serde_json::to_vec(&event).unwrap(),
            )
        })
        .collect();
    Batch {
        stream: StreamKey::new("okta-contoso", "system_log"),
        records: records.into(),
        cursor_after: Cursor::new("next"),
    }
}

#[tokio::test]
async fn parquet_files_land_in_azure_blob_storage_and_read_back() {
    let url = blob_url();
    if !azurite_available(&url).await {
        return;
    }
    let mut random = [0u8; 6];
    rand::rng().fill_bytes(&mut random);
    let container: String = format!(
        "ucp-lake-{}",
        random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    create_container(&url, &container).await;

    // The URL path a deployment would configure: az://container/prefix plus options.
    let (store, prefix) = open_store(
        &format!("az://{container}/security"),
        [
            (
                "azure_storage_account_name".to_string(),
                ACCOUNT.to_string(),
            ),
            (
                "azure_storage_account_key".to_string(),
                ACCOUNT_KEY.to_string(),
            ),
            (
                "azure_storage_endpoint".to_string(),
                format!("{url}/{ACCOUNT}"),
            ),
            ("azure_allow_http".to_string(), "true".to_string()),
        ],
    )
    .unwrap();
    assert_eq!(prefix, "security");
    let config = DataLakeConfig {
        roll_bytes: 20_000,
        ..DataLakeConfig::new(prefix)
    };
    let sink = DataLakeSink::new(store.clone(), config);
    let cx = SinkContext::new(
        "datalake",
        Context::standalone("contoso", Arc::new(MemoryCredentials::new()), Clock::new())
            .expect("a standalone context"),
    );
    sink.check(&cx).await.unwrap();
    sink.deliver(&cx, &batch(300)).await.unwrap();
    sink.flush(Utc::now()).await.unwrap();

    let files: Vec<_> = store.list(None).try_collect().await.unwrap();
    assert!(!files.is_empty());
    let mut ids = Vec::new();
    for file in &files {
        let path = file.location.to_string();
        assert!(
            path.starts_with("security/system_log/date=2026-11-01/hour=08/")
                && path.ends_with(".parquet"),
            "{path}"
        );
        let bytes: Bytes = store
            .get(&file.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            let column = batch
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap()
                .clone();
            ids.extend(column.iter().flatten().map(str::to_string));
        }
    }
    ids.sort_by_key(|id| id[4..].parse::<usize>().unwrap());
    assert_eq!(
        ids,
        (0..300).map(|i| format!("evt-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(sink.stats().files_written as usize, files.len());
}
