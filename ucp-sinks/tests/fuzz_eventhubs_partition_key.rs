//! The Event Hubs partition key under arbitrary payloads and pointers (issue 12, item 6).
//!
//! The key is read from each event at a configured JSON Pointer while the sink builds its
//! batch, so it is fuzzed through the public path: `EventHubsSink::deliver` to the Event
//! Hubs emulator over loopback (SAS auth). Inputs covered:
//! - pointers: none, well-formed ones, `""` (the whole event), `/`, escapes, array indices,
//!   no leading slash, any text;
//! - payloads: Okta-like events whose key field is text, a number, a boolean, null, an
//!   object, an array or missing; any JSON; bytes that are not JSON; bytes that are not
//!   UTF-8; each with a planted value.
//!
//! The delivery never fails and never panics; every record is either one message on the hub,
//! with its payload as the body and the partition key the pointer selects (text as it is,
//! other values as JSON text, null or absent as none), or rejected with a reason that does
//! not repeat the event's content.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use secrecy::SecretString;
use serde_json::{json, Value};
use ucp_core::credentials::token::{HttpTokenFetcher, TokenProvider};
use ucp_core::credentials::{Credential, CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::{Batch, Clock, Context, Cursor, Record, Sink, SinkContext, StreamKey};
use ucp_sinks::eventhubs::{EventHubsAuth, EventHubsConfig, EventHubsSink};
use ucp_testkit::azure::EventHubs;

const KEY: &str = "c2VuZC1wb2xpY3kta2V5LWZvci10ZXN0cw==";
const PLANTED: &str = "pl4nted-s3cret-VALUE";

fn pointer() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => select(vec![
            "/actor/id", "/actor", "/uuid", "/missing", "", "/", "/arr/0", "/arr/-", "/a~1b",
            "/~0", "/~2", "actor/id", "//",
        ])
        .prop_map(|p| Some(p.to_string())),
        1 => any::<String>().prop_map(Some),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(vec![PLANTED, "", "actor-1", "é", "\u{0}"]).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            btree_map(
                prop_oneof![
                    select(vec!["id", "a/b", "~", "0"]).prop_map(String::from),
                    any::<String>()
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (json(), json()).prop_map(|(id, other)| {
            serde_json::to_vec(&json!({
                "uuid": PLANTED,
                "actor": {"id": id},
                "arr": [other],
                "a/b": 1,
                "~": 2,
            }))
            .expect("serializes")
        }),
        2 => json().prop_map(|v| serde_json::to_vec(&v).expect("serializes")),
        1 => select(vec![
            format!("{{\"actor\": {{\"id\": \"{PLANTED}"),
            format!("not json {PLANTED}"),
            String::new(),
        ])
        .prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..48).prop_map(|mut bytes| {
            bytes.extend_from_slice(b"\xff\xfe");
            bytes
        }),
    ]
}

/// The key the pointer selects, as the sink documents it.
fn expected_key(payload: &[u8], pointer: Option<&str>) -> Option<String> {
    let event: Value = serde_json::from_slice(payload).ok()?;
    match event.pointer(pointer?)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn deliver(
    pointer: Option<String>,
    payloads: &[Vec<u8>],
) -> Result<(Vec<Record>, ucp_core::Delivery, EventHubs), TestCaseError> {
    let hubs = EventHubs::start(None).await.expect("the emulator starts");
    hubs.add_hub("mdi");
    hubs.add_key("send-policy", KEY);
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new("contoso", "mdi-sas"),
            Credential::SharedAccessKey {
                key_name: "send-policy".into(),
                key: SecretString::from(KEY.to_string()),
            },
        )
        .await
        .expect("stored");
    let mut config = EventHubsConfig::new(
        "mdi",
        hubs.url(),
        "mdi",
        EventHubsAuth::SharedAccessKey {
            credential: "mdi-sas".into(),
        },
    );
    config.partition_key = pointer;
    let tokens = Arc::new(TokenProvider::new(Arc::new(
        HttpTokenFetcher::new().expect("a token fetcher"),
    )));
    let sink = EventHubsSink::new(config, tokens);
    let cx = SinkContext::new(
        "mdi",
        Context::standalone("contoso", store, Clock::new()).expect("a context"),
    );
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    let records: Vec<Record> = payloads
        .iter()
        .enumerate()
        .map(|(i, payload)| Record::new(format!("r{i}"), start, payload.clone()))
        .collect();
    let batch = Batch {
        stream: StreamKey::new("okta-contoso", "system_log"),
        records: records.clone().into(),
        cursor_after: Cursor::new("next"),
    };
    let delivery = sink
        .deliver(&cx, &batch)
        .await
        .map_err(|e| TestCaseError::fail(format!("the delivery failed: {e}")))?;
    Ok((records, delivery, hubs))
}

proptest! {
    // Each case starts an emulator and makes one HTTP call.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_record_is_a_message_keyed_by_its_pointer_or_rejected(
        pointer in pointer(),
        payloads in vec(payload(), 1..8),
    ) {
        let (records, delivery, hubs) = runtime().block_on(deliver(pointer.clone(), &payloads))?;
        let rejected: Vec<&str> = delivery.rejected.iter().map(|r| r.id.as_str()).collect();
        for rejection in &delivery.rejected {
            prop_assert!(!rejection.reason.is_empty());
            prop_assert!(!rejection.reason.contains(PLANTED), "{}", rejection.reason);
        }
        let mut sent = Vec::new();
        for record in &records {
            let utf8 = std::str::from_utf8(&record.payload).is_ok();
            let json = serde_json::from_slice::<Value>(&record.payload).is_ok();
            let sendable = utf8 && (pointer.is_none() || json);
            prop_assert_eq!(
                !rejected.contains(&record.id.as_str()),
                sendable,
                "{:?} with pointer {:?}",
                record.id,
                pointer
            );
            if sendable {
                sent.push((
                    String::from_utf8(record.payload.to_vec()).expect("checked"),
                    expected_key(&record.payload, pointer.as_deref()),
                ));
            }
        }
        let arrived: Vec<(String, Option<String>)> = hubs
            .messages("mdi")
            .into_iter()
            .map(|m| (m.body, m.partition_key))
            .collect();
        prop_assert_eq!(arrived, sent);
    }
}
