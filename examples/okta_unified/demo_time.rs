//! Compressed demo time: with `--speed 60` one real second is one demo minute. The products'
//! intervals are divided by the speed, and the volume chart is drawn on the demo time line, so
//! a 30-second run shows half an hour of an org's life.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ucp::health::{HealthEvent, HealthReporter, HealthService, VolumeSample};

/// Demo time: real time since the start, times `speed`.
#[derive(Clone, Copy)]
pub struct DemoTime {
    /// When the run started (real and demo time agree there).
    pub start: DateTime<Utc>,
    /// Demo seconds per real second.
    pub speed: f64,
}

impl DemoTime {
    /// The demo time at a real instant.
    pub fn at(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed = (real - self.start).num_milliseconds().max(0) as f64;
        self.start + chrono::Duration::milliseconds((elapsed * self.speed) as i64)
    }

    /// The real duration of a demo duration.
    pub fn real(&self, demo: Duration) -> Duration {
        demo.div_f64(self.speed)
    }
}

/// Puts volume samples on the demo time line, so the volume chart has one point per demo
/// minute. Status events keep their real times (their messages quote real reset times).
pub struct DemoHealth {
    /// The health service that keeps the samples and the status events.
    pub service: Arc<HealthService>,
    /// The demo time line to put samples on.
    pub time: DemoTime,
}

#[async_trait]
impl HealthReporter for DemoHealth {
    async fn report(&self, event: HealthEvent) {
        self.service.report(event).await;
    }

    fn record_volume(&self, mut sample: VolumeSample) {
        sample.time = self.time.at(sample.time);
        self.service.record_volume(sample);
    }
}
