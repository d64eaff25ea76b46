//! Declarative REST connectors: a connector defined in a file, no Rust.
//!
//! The file is Microsoft Sentinel's Codeless Connector Framework (CCF) `RestApiPoller`
//! shape — `auth`, `request`, `paging`, `response`, `dcrConfig` — so an existing definition
//! loads with little or no change (field names match without regard to case), plus an
//! optional `ucp` block for what CCF cannot say:
//!
//! ```json
//! "ucp": {
//!   "id": "okta-system-log", "version": "1.0.0", "description": "Okta System Log",
//!   "provider": "okta", "stream": "system_log",
//!   "recordIdJsonPath": "$.uuid", "recordTimeJsonPath": "$.published",
//!   "lateArrival": { "lookbackInMin": 10, "maxRememberedIds": 20000 },
//!   "catchUpWindowInMin": 1440,
//!   "rateLimit": { "limit": 600, "perSeconds": 60, "share": 0.5 }
//! }
//! ```
//!
//! - `provider` and the API's `host[:port]` key the rate budget, so a declarative connector
//!   and a hand-written one for the same account share one budget.
//! - `lateArrival` overlaps each query window with the previous one by the lookback and
//!   drops records already delivered by id: events persisted up to the lookback late are
//!   collected exactly once. `PersistentLinkHeader` / `PersistentToken` paging is the
//!   polling mode for APIs whose cursor already covers late events.
//! - Records get ids and times from JSON paths (a SHA-256 of the content without an id path).
//!
//! **Secrets by reference.** `{{name}}` placeholders naming a credential field (`apikey`,
//! `token`, `password`, `clientId`, `clientSecret`, `userName`) resolve from the instance's
//! credential in the credential store at call time; every other `{{name}}` is a parameter of
//! the instance ([`RestConfig`]). A secret field of the definition (`apiKey`, `password`,
//! `clientSecret`) must be such a placeholder: a literal secret in the file is refused.
//!
//! **Retries, timeouts, rates.** A source never sleeps or retries: `retryCount` is kept for
//! people but retries belong to the platform (its [`ucp_core::RetryPolicy`] for deliveries,
//! its scheduler for collections: a `Retryable` or `RateLimited` error is tried again at the
//! next round, with backoff); `timeoutInSeconds` is the timeout of every request;
//! `rateLimitQPS` becomes the default budget (`qps × 60` calls a minute) unless
//! `ucp.rateLimit` says otherwise; `rateLimitConfig` chooses which headers carry the limit,
//! the calls left and the reset (every standard dialect is read as well) and whether a 429's
//! reset is honoured.
//!
//! **Not supported** (refused at load with the reason): auth types AWS, GCP, GitHub,
//! ServiceBus and Oracle; OAuth2 `authorization_code`; `xml` responses.
//!
//! Modules, in the order data flows: [`load`] (file → [`RestDefinition`], errors naming the
//! file and JSON path) over `fields`, `template`, `json_path`, `time_format`; then at run time
//! `request` (one HTTP request), `auth` (credentials, tokens, logins), `exchange` (send,
//! read, map failures and rate-limit headers), `response` (body → records), `paging` (the
//! next position), `cursor` (what is saved) and `source` ([`RestSource`]).

mod auth;
pub mod command;
mod config;
mod cursor;
pub mod definition;
mod exchange;
mod fields;
mod json_path;
mod load;
mod paging;
#[cfg(test)]
mod proptests;
mod request;
mod response;
pub mod shipped;
mod source;
mod template;
mod time_format;

pub use config::{RestConfig, StartAt};
pub use definition::RestDefinition;
pub use load::{load, DefinitionError, MAX_DEFINITION_BYTES};
pub use source::RestSource;

/// Load the definition file at `path` (its name is used in errors).
pub fn load_file(path: &std::path::Path) -> Result<RestDefinition, DefinitionError> {
    let origin = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| DefinitionError {
        origin: origin.clone(),
        path: "$".into(),
        problem: format!("cannot read the file ({e})"),
    })?;
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(DefinitionError {
            origin,
            path: "$".into(),
            problem: format!("the file is larger than {MAX_DEFINITION_BYTES} bytes"),
        });
    }
    let text = String::from_utf8(text).map_err(|_| DefinitionError {
        origin: origin.clone(),
        path: "$".into(),
        problem: "the file is not UTF-8 text".into(),
    })?;
    load(&origin, &text)
}
