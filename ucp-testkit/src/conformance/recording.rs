//! The sink fixture of [`RecordingSink`], the in-process product: the product *is* the sink,
//! so the factory is `|product| Ok(product.clone())`.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use ucp_core::credentials::Credential;

use super::sink::{ProductSetup, Redelivery, SeenRequest, SinkFixture};
use crate::faults::Faults;
use crate::recording_sink::{RecordingSink, SinkBehaviour};

/// Starts a [`RecordingSink`] declaring `max_records` per call. It stores duplicates under
/// their ids ([`Redelivery::DuplicatesCarryIds`]).
#[derive(Clone, Debug)]
pub struct RecordingSinkFixture {
    /// The product name.
    pub product: String,
    /// Records per call the product declares and the suite checks.
    pub max_records: usize,
}

impl Default for RecordingSinkFixture {
    fn default() -> Self {
        RecordingSinkFixture {
            product: "recording".into(),
            max_records: 10,
        }
    }
}

#[async_trait]
impl SinkFixture for RecordingSinkFixture {
    type Product = RecordingSink;

    async fn start(&self, setup: ProductSetup) -> Result<RecordingSink, String> {
        let sink = RecordingSink::with_limit(self.product.clone(), Some(self.max_records));
        if !setup.accept_credentials {
            sink.set_behaviour(SinkBehaviour::Unauthorized);
        }
        Ok(sink)
    }

    async fn stored(&self, product: &RecordingSink) -> Vec<String> {
        product.ids()
    }

    async fn requests(&self, product: &RecordingSink) -> Vec<SeenRequest> {
        product
            .batches()
            .iter()
            .map(|(_, batch)| SeenRequest {
                records: batch.len(),
                bytes: batch.payload_bytes(),
            })
            .collect()
    }

    async fn throttle_next(
        &self,
        product: &RecordingSink,
        _faults: &Faults,
        retry_after: Duration,
    ) {
        product.script([SinkBehaviour::Throttle(retry_after)]);
    }

    async fn reject(&self, product: &RecordingSink, ids: &[String]) {
        product.reject_ids(ids.iter().cloned());
    }

    fn max_records_per_request(&self) -> Option<usize> {
        Some(self.max_records)
    }

    fn redelivery(&self) -> Redelivery {
        Redelivery::DuplicatesCarryIds
    }

    fn credentials(&self) -> Vec<(String, Credential)> {
        vec![(
            "recording-key".into(),
            Credential::ApiToken {
                token: SecretString::from("recording-good-key-4f2a9c".to_string()),
            },
        )]
    }

    fn bad_credentials(&self) -> Vec<(String, Credential)> {
        vec![(
            "recording-key".into(),
            Credential::ApiToken {
                token: SecretString::from("recording-bad-key-7d1e0b".to_string()),
            },
        )]
    }
}
