//! What the Azure sinks ([`sentinel`](crate::sentinel) and [`eventhubs`](crate::eventhubs))
//! share, written once:
//!
//! - [`Chunk`] and [`Packer`]: rows packed into JSON array bodies within the service's size
//!   limit, each body able to split in two when the service answers 413; an [`Outbox`]
//!   hands a batch's bodies out in order and takes back the halves of one refused with 413.
//! - [`Endpoint`]: one request as the official Azure SDKs make it (ucp's `User-Agent`, a
//!   fresh `x-ms-client-request-id`, an Entra bearer token refreshed once after a 401 or a
//!   SAS header), its answer understood by the HTTP kit ([`ucp_core::http`]): status →
//!   [`SinkError`](ucp_core::SinkError), the service's `x-ms-request-id` logged and named in
//!   every error.
//! - gzip bodies from reused deflate states and buffers (`gzip`), and record times written
//!   straight into bodies (`time`).

// Some shared parts serve only one of the two sinks; with only the other built they are unused.
#![cfg_attr(
    not(all(feature = "sentinel", feature = "eventhubs")),
    allow(dead_code, unused_imports)
)]

mod chunk;
mod gzip;
mod send;
mod time;

pub(crate) use chunk::{Chunk, Outbox, Packer};
pub use gzip::{DEFAULT_GZIP_LEVEL, GZIP_BACKEND};
pub(crate) use send::{token_error, Answer, Authorization, Endpoint, Posted};
pub(crate) use time::{write_millis_z, write_rfc3339};
