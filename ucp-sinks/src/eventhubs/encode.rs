//! Records → Event Hubs batch bodies: each record one `{"Body", "UserProperties",
//! "BrokerProperties"}` message, written straight into a reused buffer (no tree, no
//! per-message allocation), its partition key looked up in the record's shared JSON view.

use ucp_core::{Record, RejectedRecord, StreamKey};

use super::MAX_BATCH_BYTES;
use crate::azure::{write_rfc3339, Chunk, Packer};

/// Turns records into Event Hubs batches. Pure, so it can be benchmarked alone.
#[derive(Clone, Debug)]
pub struct EventHubsEncoder {
    partition_key: Option<String>,
    max_batch_bytes: usize,
}

/// What [`EventHubsEncoder::encode`] produced.
#[derive(Debug)]
pub struct EncodedMessages {
    pub(crate) chunks: Vec<Chunk>,
    /// Records that cannot be sent, with why.
    pub rejected: Vec<RejectedRecord>,
}

impl EncodedMessages {
    /// Number of batches.
    pub fn batches(&self) -> usize {
        self.chunks.len()
    }

    /// The batch bodies as sent.
    pub fn to_bodies(&self) -> std::io::Result<Vec<bytes::Bytes>> {
        self.chunks.iter().map(|c| c.body(None)).collect()
    }
}

impl EventHubsEncoder {
    /// Partition by the value at JSON pointer `partition_key` when given; batches within
    /// `max_batch_bytes` (at most the service's 1 MB).
    pub fn new(partition_key: Option<String>, max_batch_bytes: usize) -> Self {
        EventHubsEncoder {
            partition_key,
            max_batch_bytes: max_batch_bytes.min(MAX_BATCH_BYTES),
        }
    }

    /// Encode the records of `stream` in order.
    pub fn encode(&self, stream: &StreamKey, records: &[Record]) -> EncodedMessages {
        let mut packer = Packer::new(self.max_batch_bytes);
        let mut rejected = Vec::new();
        let mut message = Vec::with_capacity(4096);
        let properties = Properties::of(stream);
        for record in records {
            message.clear();
            match self.message(&properties, record, &mut message) {
                Ok(()) if packer.fits_alone(message.len()) => {
                    packer.push(record.id.clone(), &message)
                }
                Ok(()) => rejected.push(RejectedRecord {
                    id: record.id.clone(),
                    reason: format!(
                        "message of {} bytes exceeds the event hub batch limit of {} bytes",
                        message.len(),
                        self.max_batch_bytes
                    ),
                }),
                Err(reason) => rejected.push(RejectedRecord {
                    id: record.id.clone(),
                    reason,
                }),
            }
        }
        EncodedMessages {
            chunks: packer.finish(),
            rejected,
        }
    }

    /// One message's JSON into `out`, or why the record cannot be sent.
    fn message(
        &self,
        properties: &Properties,
        record: &Record,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let body = std::str::from_utf8(&record.payload)
            .map_err(|_| "event is not UTF-8 text".to_string())?;
        let partition_key = match &self.partition_key {
            Some(pointer) => partition_key(record, pointer)?,
            None => None,
        };
        let written = (|| -> serde_json::Result<()> {
            out.extend_from_slice(b"{\"Body\":");
            serde_json::to_writer(&mut *out, body)?;
            out.extend_from_slice(b",\"UserProperties\":{\"ucp.id\":");
            serde_json::to_writer(&mut *out, record.id.as_str())?;
            out.extend_from_slice(&properties.source_and_stream);
            out.extend_from_slice(b",\"ucp.time\":\"");
            write_rfc3339(out, &record.time);
            out.extend_from_slice(b"\"}");
            if let Some(key) = partition_key {
                out.extend_from_slice(b",\"BrokerProperties\":{\"PartitionKey\":");
                serde_json::to_writer(&mut *out, key.as_ref())?;
                out.push(b'}');
            }
            out.push(b'}');
            Ok(())
        })();
        written.map_err(|e| format!("message could not be serialized: {e}"))
    }
}

/// The user properties every message of a batch shares, escaped once per batch.
struct Properties {
    /// `,"ucp.source":"…","ucp.stream":"…"`.
    source_and_stream: Vec<u8>,
}

impl Properties {
    fn of(stream: &StreamKey) -> Properties {
        let mut source_and_stream = b",\"ucp.source\":".to_vec();
        let _ = serde_json::to_writer(&mut source_and_stream, &*stream.source);
        source_and_stream.extend_from_slice(b",\"ucp.stream\":");
        let _ = serde_json::to_writer(&mut source_and_stream, &*stream.stream);
        Properties { source_and_stream }
    }
}

/// The value at `pointer` as a partition key: a string's text, any other value's compact
/// JSON, none for null or absent.
fn partition_key<'a>(
    record: &'a Record,
    pointer: &str,
) -> Result<Option<std::borrow::Cow<'a, str>>, String> {
    let json = record.json();
    if !json.is_valid() {
        let why = json
            .to_value()
            .err()
            .map_or_else(|| "unreadable".to_string(), |e| e.to_string());
        return Err(format!("event is not JSON: {why}"));
    }
    let Some(value) = json.pointer(pointer) else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(None);
    }
    if let Some(text) = value.as_str() {
        return Ok(Some(text));
    }
    // Numbers, booleans, objects and arrays: as serde_json writes them.
    Ok(value
        .to_value()
        .map(|v| std::borrow::Cow::Owned(v.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::Value;

    /// The message as the sink wrote it before (a serde struct per message): the reference.
    fn message_by_serde(
        stream: &StreamKey,
        record: &Record,
        pointer: Option<&str>,
    ) -> Result<Vec<u8>, String> {
        #[derive(Serialize)]
        struct WireMessage<'a> {
            #[serde(rename = "Body")]
            body: &'a str,
            #[serde(rename = "UserProperties")]
            user_properties: UserProperties<'a>,
            #[serde(rename = "BrokerProperties", skip_serializing_if = "Option::is_none")]
            broker_properties: Option<BrokerProperties>,
        }
        #[derive(Serialize)]
        struct UserProperties<'a> {
            #[serde(rename = "ucp.id")]
            id: &'a str,
            #[serde(rename = "ucp.source")]
            source: &'a str,
            #[serde(rename = "ucp.stream")]
            stream: &'a str,
            #[serde(rename = "ucp.time")]
            time: String,
        }
        #[derive(Serialize)]
        struct BrokerProperties {
            #[serde(rename = "PartitionKey")]
            partition_key: String,
        }
        let body = std::str::from_utf8(&record.payload)
            .map_err(|_| "event is not UTF-8 text".to_string())?;
        let partition_key = match pointer {
            Some(pointer) => {
                let event: Value = serde_json::from_slice(&record.payload)
                    .map_err(|e| format!("event is not JSON: {e}"))?;
                match event.pointer(pointer) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                }
            }
            None => None,
        };
        let message = WireMessage {
            body,
            user_properties: UserProperties {
                id: record.id.as_str(),
                source: &stream.source,
                stream: &stream.stream,
                time: record.time.to_rfc3339(),
            },
            broker_properties: partition_key
                .map(|partition_key| BrokerProperties { partition_key }),
        };
        serde_json::to_vec(&message).map_err(|e| format!("message could not be serialized: {e}"))
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1000i32..1000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
            any::<String>().prop_map(Value::String),
        ];
        let value = leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z]{1,3}|id", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop_oneof![
            4 => proptest::collection::btree_map("actor|id|eventType|[a-z]{1,3}", value, 0..5)
                .prop_map(|m| serde_json::to_vec(&Value::Object(m.into_iter().collect())).unwrap_or_default()),
            1 => Just(br#"{"actor":{"id":"a\u00e9\n"},"actor":{"id":7}}"#.to_vec()),
            1 => Just(b"not json".to_vec()),
            1 => Just(b"{\"actor\":\xff}".to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..24),
        ]
    }

    proptest! {
        #[test]
        fn messages_are_the_bytes_serde_wrote(
            payload in payload(),
            id in any::<String>(),
            (seconds, nanos) in (0i64..4_000_000_000, prop_oneof![Just(0u32), 0u32..1_000_000_000]),
            pointer in proptest::option::of(prop::sample::select(vec!["/actor/id", "/actor", "/id", "", "/eventType", "/missing"])),
            source in "[a-z.\"é]{0,8}",
        ) {
            let stream = StreamKey::new(source, "system_log");
            let time = Utc.timestamp_opt(seconds, nanos).single().unwrap_or_default();
            let record = Record::new(id, time, payload);
            let encoder = EventHubsEncoder::new(pointer.map(String::from), MAX_BATCH_BYTES);
            let mut ours = Vec::new();
            let ours = encoder
                .message(&Properties::of(&stream), &record, &mut ours)
                .map(|()| ours);
            prop_assert_eq!(ours, message_by_serde(&stream, &record, pointer));
        }
    }
}
