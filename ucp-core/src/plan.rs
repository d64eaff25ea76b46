//! The collect-once plan.
//!
//! Every product subscribes to (source instance, stream) with its own interval, filter, queue
//! and retry policy. `plan` merges subscriptions to the same stream into one collection
//! job: its interval is the shortest requested, its server-side filter the union of the
//! subscribers' filters (when the source can filter), and when the jobs sharing a rate budget
//! need more calls than the budget allows, their intervals stretch by the same factor.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::budget::BudgetKey;
use crate::clock::FAR_FUTURE;
use crate::filter::Filter;
use crate::record::StreamKey;
use crate::source::SourceInfo;
use crate::subscription::Subscription;

/// The collection jobs that serve every subscription.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// One job per subscribed stream, ordered by stream.
    pub jobs: Vec<JobPlan>,
}

impl Plan {
    /// The job collecting `source`/`stream`, if any.
    pub fn job(&self, source: &str, stream: &str) -> Option<&JobPlan> {
        self.jobs
            .iter()
            .find(|j| &*j.stream.source == source && &*j.stream.stream == stream)
    }

    /// Subscriptions served, over jobs run: what collect-once saves.
    pub fn subscriptions(&self) -> usize {
        self.jobs.iter().map(|j| j.subscribers.len()).sum()
    }
}

/// One collection job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// The stream collected.
    pub stream: StreamKey,
    /// The rate budget it draws from.
    pub budget: BudgetKey,
    /// The shortest interval its subscribers asked for.
    pub interval: Duration,
    /// The interval it runs at: `interval`, stretched when the budget cannot serve every job.
    pub effective_interval: Duration,
    /// The filter sent to the provider: the union of the subscribers' filters, or `None`
    /// when a subscriber wants everything or the source cannot filter.
    pub server_filter: Option<Filter>,
    /// The subscribing products, sorted.
    pub subscribers: Vec<String>,
}

impl JobPlan {
    /// How much the budget stretched the interval (1.0 = not at all).
    pub fn stretch(&self) -> f64 {
        if self.interval.is_zero() {
            return 1.0;
        }
        self.effective_interval.as_secs_f64() / self.interval.as_secs_f64()
    }
}

/// Something that describes source instances by name.
pub(crate) trait SourceInfos {
    /// The description of source instance `name`, if it is registered (and collecting).
    fn info(&self, name: &str) -> Option<&SourceInfo>;
}

impl SourceInfos for BTreeMap<String, SourceInfo> {
    fn info(&self, name: &str) -> Option<&SourceInfo> {
        self.get(name)
    }
}

/// Merge `subscriptions` into collection jobs. `sources` describes every source instance by
/// name (subscriptions to others are left out); `capacity` gives each budget's calls per
/// second. Subscriptions are assumed valid (the platform checks them when they are added).
pub(crate) fn plan<'a>(
    subscriptions: impl IntoIterator<Item = &'a Subscription>,
    sources: &impl SourceInfos,
    capacity: &HashMap<BudgetKey, f64>,
) -> Plan {
    // Grouped by borrowed names (the same order as `StreamKey`): one key allocated per job,
    // not per subscription.
    let mut by_stream: BTreeMap<(&str, &str), Vec<&Subscription>> = BTreeMap::new();
    for sub in subscriptions {
        by_stream
            .entry((&sub.source, &sub.stream))
            .or_default()
            .push(sub);
    }
    let mut jobs: Vec<JobPlan> = Vec::with_capacity(by_stream.len());
    for ((source, stream), subs) in by_stream {
        let Some(info) = sources.info(source) else {
            continue;
        };
        let stream = StreamKey::new(source, stream);
        let interval = subs.iter().map(|s| s.every).min().unwrap_or_default();
        let server_filter = if info.capabilities.server_side_filter {
            Filter::union(subs.iter().map(|s| s.filter.as_ref()))
        } else {
            None
        };
        let mut subscribers: Vec<String> = subs.iter().map(|s| s.product.clone()).collect();
        subscribers.sort();
        jobs.push(JobPlan {
            stream,
            budget: info.budget.key.clone(),
            interval,
            effective_interval: interval,
            server_filter,
            subscribers,
        });
    }
    stretch_to_budgets(&mut jobs, capacity);
    Plan { jobs }
}

/// When the jobs of a budget need more calls per second than it allows (one call per round),
/// stretch all their intervals by the same factor.
fn stretch_to_budgets(jobs: &mut [JobPlan], capacity: &HashMap<BudgetKey, f64>) {
    let mut demand: HashMap<&BudgetKey, f64> = HashMap::new();
    for job in jobs.iter() {
        *demand.entry(&job.budget).or_default() += 1.0 / job.interval.as_secs_f64().max(1e-9);
    }
    let factors: HashMap<BudgetKey, f64> = demand
        .into_iter()
        .filter_map(|(key, need)| {
            let allowed = *capacity.get(key)?;
            (allowed > 0.0 && need > allowed).then(|| (key.clone(), need / allowed))
        })
        .collect();
    for job in jobs.iter_mut() {
        if let Some(factor) = factors.get(&job.budget) {
            job.effective_interval = stretched(job.interval, *factor);
        }
    }
}

/// `interval × factor`, held to [`FAR_FUTURE`] (a budget of one call a century stretches a
/// job that far, not into an overflow).
fn stretched(interval: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(interval.as_secs_f64() * factor)
        .unwrap_or(FAR_FUTURE)
        .min(FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::BudgetSpec;
    use crate::retry::RetryPolicy;
    use crate::source::{SourceCapabilities, StreamInfo};

    fn info(filtering: bool, limit: u32) -> SourceInfo {
        SourceInfo {
            provider: "okta".into(),
            streams: vec![StreamInfo::new("logs", ""), StreamInfo::new("users", "")],
            capabilities: SourceCapabilities::default().with_server_side_filter(filtering),
            budget: BudgetSpec::new(
                BudgetKey::new("okta", "org"),
                limit,
                Duration::from_secs(60),
            ),
        }
    }

    fn mins(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn subscriptions_to_one_stream_share_a_job_with_the_shortest_interval() {
        let sources = BTreeMap::from([("okta".to_string(), info(true, 600))]);
        let a = Filter::starts_with("/eventType", "user.");
        let b = Filter::equals("/eventType", "group.user_membership.add");
        let subs = vec![
            Subscription::new("mdi", "okta", "logs")
                .every(mins(5))
                .filter(a.clone()),
            Subscription::new("xspm", "okta", "logs")
                .every(mins(10))
                .filter(b.clone()),
            Subscription::new("sentinel", "okta", "users").every(mins(1)),
        ];
        let plan = plan(&subs, &sources, &HashMap::new());
        assert_eq!(plan.jobs.len(), 2);
        let logs = plan.job("okta", "logs").unwrap();
        assert_eq!(logs.interval, mins(5));
        assert_eq!(logs.subscribers, vec!["mdi", "xspm"]);
        assert_eq!(logs.server_filter, Some(Filter::Or(vec![a, b])));
        assert_eq!(plan.job("okta", "users").unwrap().server_filter, None);
        assert_eq!(plan.subscriptions(), 3);
    }

    #[test]
    fn no_server_filter_when_the_source_cannot_filter_or_a_subscriber_wants_all() {
        let f = Filter::equals("/a", "1");
        let subs = vec![
            Subscription::new("mdi", "okta", "logs").filter(f.clone()),
            Subscription::new("sentinel", "okta", "logs"),
        ];
        let filtering = BTreeMap::from([("okta".to_string(), info(true, 600))]);
        assert_eq!(
            plan(&subs, &filtering, &HashMap::new()).jobs[0].server_filter,
            None
        );
        let blind = BTreeMap::from([("okta".to_string(), info(false, 600))]);
        assert_eq!(
            plan(&subs[..1], &blind, &HashMap::new()).jobs[0].server_filter,
            None
        );
    }

    #[test]
    fn intervals_stretch_evenly_when_the_budget_is_short() {
        let sources = BTreeMap::from([("okta".to_string(), info(false, 600))]);
        let subs = vec![
            Subscription::new("a", "okta", "logs").every(Duration::from_secs(1)),
            Subscription::new("a", "okta", "users").every(Duration::from_secs(2)),
        ];
        // Demand 1.5 calls/s against 0.5 allowed → ×3.
        let capacity = HashMap::from([(BudgetKey::new("okta", "org"), 0.5)]);
        let plan = plan(&subs, &sources, &capacity);
        assert_eq!(
            plan.job("okta", "logs").unwrap().effective_interval,
            Duration::from_secs(3)
        );
        assert_eq!(
            plan.job("okta", "users").unwrap().effective_interval,
            Duration::from_secs(6)
        );
        assert!((plan.jobs[0].stretch() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(policy.backoff(10, 1.0), Duration::from_secs(5));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_secs(1));
    }
}
