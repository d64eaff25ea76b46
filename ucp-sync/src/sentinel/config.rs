//! Where a Sentinel workspace is, how to reach it, and ARM's limits.

use std::time::Duration;

/// Azure Resource Manager's public origin.
pub const ARM_URL: &str = "https://management.azure.com";
/// The scope of every ARM token.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The stable api-version used (Azure/azure-rest-api-specs, securityinsights stable/2025-09-01).
pub const API_VERSION: &str = "2025-09-01";
/// The budget's provider name.
pub const ARM_PROVIDER: &str = "azure-resource-manager";
/// The longest `$top` ARM takes on incidents.
pub const MAX_TOP: u32 = 1_000;

/// ARM's limits on one principal in one subscription, and the share the client uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArmLimits {
    /// Reads an hour (12,000).
    pub reads_per_hour: u32,
    /// Writes an hour (1,200).
    pub writes_per_hour: u32,
    /// Length of ARM's hour (shorter only against a time-compressed simulator).
    pub hour: Duration,
    /// Share used, in (0, 1].
    pub share: f64,
}

impl ArmLimits {
    /// ARM's documented defaults, 90 % used.
    pub const DEFAULT: ArmLimits = ArmLimits {
        reads_per_hour: 12_000,
        writes_per_hour: 1_200,
        hour: Duration::from_secs(3_600),
        share: 0.9,
    };

    /// The same limits over an hour `speed` times shorter.
    pub fn compressed(mut self, speed: f64) -> Self {
        if speed.is_finite() && speed > 0.0 {
            self.hour = self.hour.div_f64(speed).max(Duration::from_millis(1));
        }
        self
    }
}

/// Where the workspace is and how to reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentinelConfig {
    /// The Azure subscription id.
    pub subscription: String,
    /// The resource group of the workspace.
    pub resource_group: String,
    /// The Log Analytics workspace's name.
    pub workspace: String,
    /// The Entra app's credential in the credential store.
    pub credential: String,
    /// ARM's origin (default [`ARM_URL`]).
    pub arm_url: String,
    /// Incidents per page (`$top`, default 200).
    pub page_size: u32,
    /// Timeout of each request (default: the platform client's).
    pub request_timeout: Option<Duration>,
    /// ARM's limits.
    pub limits: ArmLimits,
}

impl SentinelConfig {
    /// A workspace and the credential that reaches it, with the defaults.
    pub fn new(
        subscription: impl Into<String>,
        resource_group: impl Into<String>,
        workspace: impl Into<String>,
        credential: impl Into<String>,
    ) -> Self {
        SentinelConfig {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            workspace: workspace.into(),
            credential: credential.into(),
            arm_url: ARM_URL.into(),
            page_size: 200,
            request_timeout: Some(Duration::from_secs(60)),
            limits: ArmLimits::DEFAULT,
        }
    }

    /// Call ARM at `url` (a simulator's, a sovereign cloud's).
    pub fn arm_url(mut self, url: impl Into<String>) -> Self {
        self.arm_url = url.into();
        self
    }

    /// Keep to these limits.
    pub fn limits(mut self, limits: ArmLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Incidents per page.
    pub fn page_size(mut self, top: u32) -> Self {
        self.page_size = top;
        self
    }
}
