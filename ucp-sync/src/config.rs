//! How a tenant's sync behaves.

use std::time::Duration;

use crate::mapping::XDR_COVERED_PRODUCTS;

/// A tenant's sync settings. Build with [`SyncConfig::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct SyncConfig {
    /// The sync's name in health, metrics and logs (e.g. `defender-sentinel-sync`).
    pub name: String,
    /// How often both sides are polled (default 30 s).
    pub interval: Duration,
    /// How far before the last Sentinel change seen each poll asks again (default 2 min):
    /// covers changes ARM makes visible a little after their time.
    pub sentinel_overlap: Duration,
    /// Turn off Sentinel's Microsoft incident creation rules for the products Defender XDR
    /// covers when connecting (default true). False is the opt-out: the rules stay on and
    /// health warns that duplicate incidents are expected.
    pub disable_creation_rules: bool,
    /// The products whose creation rules are turned off (Sentinel's names).
    pub covered_products: Vec<String>,
    /// Times a Sentinel write is merged again after a newer version (409) (default 5).
    pub merge_attempts: u32,
    /// Attempts of one call that fails for a while (429, 5xx, timeouts) (default 4).
    pub call_attempts: u32,
    /// The longest wait between two attempts (default 30 s).
    pub max_retry_wait: Duration,
}

impl SyncConfig {
    /// The defaults, named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        SyncConfig {
            name: name.into(),
            interval: Duration::from_secs(30),
            sentinel_overlap: Duration::from_secs(120),
            disable_creation_rules: true,
            covered_products: XDR_COVERED_PRODUCTS.iter().map(|p| p.to_string()).collect(),
            merge_attempts: 5,
            call_attempts: 4,
            max_retry_wait: Duration::from_secs(30),
        }
    }

    /// Poll every `interval`.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Leave Sentinel's Microsoft incident creation rules on (duplicates are then expected).
    pub fn keep_creation_rules(mut self) -> Self {
        self.disable_creation_rules = false;
        self
    }

    /// Wait at most `wait` between two attempts of a call.
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.max_retry_wait = wait;
        self
    }

    /// Why the settings cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.name.trim().is_empty() {
            return Some("the sync's name is empty".into());
        }
        if self.interval.is_zero() {
            return Some(format!(
                "{}: the polling interval must be longer than zero",
                self.name
            ));
        }
        if self.merge_attempts == 0 || self.call_attempts == 0 {
            return Some(format!("{}: attempts must be at least one", self.name));
        }
        None
    }
}
