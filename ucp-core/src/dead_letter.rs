//! Dead letters: records a product refused for good, or that could not be delivered within
//! the retry policy, kept with the reason so that nothing is lost silently.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::record::{Record, StreamKey};
use crate::sync::lock;

/// One record that did not reach its product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The product (sink name).
    pub product: String,
    /// The stream the record came from.
    pub stream: StreamKey,
    /// The record, payload included, so it can be replayed.
    pub record: Record,
    /// Why it was not delivered.
    pub reason: String,
    /// When it was dead-lettered.
    pub time: DateTime<Utc>,
}

/// A dead-letter store could not keep a letter.
#[derive(Debug, thiserror::Error)]
#[error("dead-letter store failed: {0}")]
pub struct DeadLetterError(pub String);

/// Keeps dead letters.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + 'static {
    /// Keep these letters.
    async fn put(&self, letters: Vec<DeadLetter>) -> Result<(), DeadLetterError>;
}

/// Dead letters in process memory.
#[derive(Debug, Default)]
pub struct MemoryDeadLetters {
    letters: Mutex<Vec<DeadLetter>>,
}

impl MemoryDeadLetters {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every letter so far, oldest first.
    pub fn letters(&self) -> Vec<DeadLetter> {
        lock(&self.letters).clone()
    }
}

#[async_trait]
impl DeadLetterStore for MemoryDeadLetters {
    async fn put(&self, letters: Vec<DeadLetter>) -> Result<(), DeadLetterError> {
        lock(&self.letters).extend(letters);
        Ok(())
    }
}
