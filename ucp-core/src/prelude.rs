//! What a connector author needs, in one import: `use ucp_core::prelude::*;`
//!
//! The two traits and what they exchange, the record model, the rate-budget vocabulary, and
//! `async_trait` to implement the traits with.

pub use async_trait::async_trait;

pub use crate::budget::{BudgetKey, BudgetSpec, RateLimitHint};
pub use crate::filter::Filter;
pub use crate::record::{Batch, Cursor, Record, RecordId, StreamKey};
pub use crate::sink::{Delivery, RejectedRecord, Sink, SinkContext, SinkError, SinkInfo};
pub use crate::source::{
    CollectRequest, Page, Source, SourceCapabilities, SourceContext, SourceError, SourceInfo,
    StreamInfo,
};
