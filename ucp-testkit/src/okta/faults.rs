//! Faults the simulator can inject into `/api/v1/logs` responses.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long (real time) before answering normally.
    Latency(Duration),
    /// Answer with this 5xx status, an Okta error body and an optional `Retry-After` (seconds).
    ServerError {
        /// HTTP status, e.g. 500 or 503.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// Answer 200 with a body that is not a JSON array of events.
    Malformed,
    /// Answer 200 with the real page cut in half.
    Truncated,
}

/// Faults waiting for their request: the next ones in order, or at a given request number.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    next: VecDeque<Fault>,
    at: BTreeMap<u64, Vec<Fault>>,
}

impl FaultPlan {
    pub fn push(&mut self, fault: Fault) {
        self.next.push_back(fault);
    }

    pub fn schedule(&mut self, request: u64, fault: Fault) {
        self.at.entry(request).or_default().push(fault);
    }

    /// The faults for the `request`-th authenticated log request (1-based).
    pub fn take(&mut self, request: u64) -> Vec<Fault> {
        let mut faults = self.at.remove(&request).unwrap_or_default();
        faults.extend(self.next.pop_front());
        faults
    }
}
