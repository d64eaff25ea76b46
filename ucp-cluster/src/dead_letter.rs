//! Dead letters in the cluster database, so a letter outlives the node that wrote it.

use async_trait::async_trait;
use ucp_core::store::{DeadLetter, DeadLetterError, DeadLetterStore};

use crate::db::Db;

/// The platform's [`DeadLetterStore`] on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgDeadLetters {
    db: Db,
}

impl PgDeadLetters {
    /// Letters in `db`.
    pub fn new(db: Db) -> Self {
        PgDeadLetters { db }
    }

    /// The letters kept, oldest first (at most `limit`).
    pub async fn letters(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>, DeadLetterError> {
        let client = self
            .db
            .client()
            .await
            .map_err(|e| DeadLetterError(e.to_string()))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT product, record_id, reason FROM ucp_dead_letters ORDER BY id LIMIT $1",
                &[&limit],
            )
            .await
            .map_err(|e| DeadLetterError(e.to_string()))?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(|e| DeadLetterError(e.to_string()))?,
                    row.try_get(1).map_err(|e| DeadLetterError(e.to_string()))?,
                    row.try_get(2).map_err(|e| DeadLetterError(e.to_string()))?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl DeadLetterStore for PgDeadLetters {
    async fn put(&self, letters: Vec<DeadLetter>) -> Result<(), DeadLetterError> {
        if letters.is_empty() {
            return Ok(());
        }
        let client = self
            .db
            .client()
            .await
            .map_err(|e| DeadLetterError(e.to_string()))?;
        let mut products = Vec::with_capacity(letters.len());
        let mut sources = Vec::with_capacity(letters.len());
        let mut streams = Vec::with_capacity(letters.len());
        let mut ids = Vec::with_capacity(letters.len());
        let mut times = Vec::with_capacity(letters.len());
        let mut payloads = Vec::with_capacity(letters.len());
        let mut reasons = Vec::with_capacity(letters.len());
        let mut ats = Vec::with_capacity(letters.len());
        for letter in &letters {
            products.push(letter.product.as_str());
            sources.push(&*letter.stream.source);
            streams.push(&*letter.stream.stream);
            ids.push(letter.record.id.to_string());
            times.push(letter.record.time);
            payloads.push(letter.record.payload.as_ref());
            reasons.push(letter.reason.as_str());
            ats.push(letter.time);
        }
        // One statement for the whole batch: the letters are kept together or not at all.
        client
            .execute(
                "INSERT INTO ucp_dead_letters
                    (product, source, stream, record_id, record_time, payload, reason, at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                      $5::timestamptz[], $6::bytea[], $7::text[], $8::timestamptz[])",
                &[&products, &sources, &streams, &ids, &times, &payloads, &reasons, &ats],
            )
            .await
            .map(|_| ())
            .map_err(|e| DeadLetterError(e.to_string()))
    }
}
