//! One connector instance of a definition: which credential, the values of the definition's
//! parameters, where the first collection starts.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where the first collection starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// At this time.
    Time(DateTime<Utc>),
    /// This long before the first collection.
    Ago(Duration),
}

/// The instance's settings. Secrets are not here: the credential is named, and its fields
/// fill the definition's credential placeholders at call time.
#[derive(Clone, Debug, PartialEq)]
pub struct RestConfig {
    /// The credential's name in the tenant's store (`None` for a definition that needs none).
    pub credential: Option<String>,
    /// Values of the definition's `{{name}}` parameters (e.g. `domainname`).
    pub parameters: BTreeMap<String, String>,
    /// Where the first collection starts (default: one query window ago).
    pub start: Option<StartAt>,
    /// Timeout of one request, overriding the definition's `timeoutInSeconds`. `None` keeps
    /// the definition's.
    pub request_timeout: Option<Duration>,
    /// Share of the account's rate limit this platform may use, overriding the definition's.
    pub quota_share: Option<f64>,
}

impl RestConfig {
    /// An instance reading credential `credential`.
    pub fn new(credential: impl Into<String>) -> Self {
        RestConfig {
            credential: Some(credential.into()),
            parameters: BTreeMap::new(),
            start: None,
            request_timeout: None,
            quota_share: None,
        }
    }

    /// An instance without a credential (auth type `None`).
    pub fn anonymous() -> Self {
        RestConfig {
            credential: None,
            ..RestConfig::new("")
        }
    }

    /// Set parameter `name`.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// Start at `time`.
    pub fn start_at(mut self, time: DateTime<Utc>) -> Self {
        self.start = Some(StartAt::Time(time));
        self
    }

    /// Start `ago` before the first collection.
    pub fn start_ago(mut self, ago: Duration) -> Self {
        self.start = Some(StartAt::Ago(ago));
        self
    }

    /// Time out each request after `timeout`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Use at most `share` of the account's rate limit.
    pub fn quota_share(mut self, share: f64) -> Self {
        self.quota_share = Some(share);
        self
    }
}
