//! A subscription's health: when its endpoint last answered 2xx, how many
//! attempts have failed since, and how the last 24 hours went. The
//! counters live on the subscription's row and move with every recorded
//! group of results; this decides how one group moves them.

use super::{AttemptRecord, NextStep};
use std::collections::HashMap;

/// How a subscription's endpoint has been doing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubscriptionHealth {
    /// `None`: never succeeded (as far as the attempts kept tell).
    pub last_success_time: Option<i64>,
    /// Start of the current run of failures; `None` while not failing.
    pub failing_since: Option<i64>,
    pub consecutive_failures: u32,
    pub attempts_24h: u64,
    pub succeeded_24h: u64,
}

impl SubscriptionHealth {
    /// Succeeded / attempts over the last 24 hours; 0 without attempts.
    pub fn success_ratio_24h(&self) -> f64 {
        if self.attempts_24h == 0 {
            0.0
        } else {
            self.succeeded_24h as f64 / self.attempts_24h as f64
        }
    }
}

/// A failing subscription's run of failures, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streak {
    /// When the first failure of the run was made.
    pub since: i64,
    /// Failed attempts in the run so far.
    pub failures: u32,
}

/// How one group of results moves one subscription's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthChange {
    /// When the group's latest success was answered (its start plus its
    /// duration); `None` if nothing in the group succeeded.
    pub last_success: Option<i64>,
    /// Failures after that success, or all of the group's if none.
    pub failures_after: u32,
    /// Start of the first of those failures.
    pub first_failure: Option<i64>,
}

/// Each subscription's [`HealthChange`], taking results in the order they
/// were made (on equal times, in group order, as
/// [`latest_by_subscription`](super::latest_by_subscription) does).
pub fn health_changes<'a>(
    results: impl IntoIterator<Item = (&'a AttemptRecord, &'a NextStep)>,
) -> HashMap<&'a str, HealthChange> {
    let mut ordered: Vec<_> = results.into_iter().collect();
    ordered.sort_by_key(|(record, _)| record.time);
    let mut changes: HashMap<&str, HealthChange> = HashMap::new();
    for (record, next) in ordered {
        let change = changes.entry(record.subscription_id.as_str()).or_default();
        if *next == NextStep::Succeeded {
            let answered = record.time + record.duration.as_micros() as i64;
            change.last_success = Some(change.last_success.map_or(answered, |t| t.max(answered)));
            change.failures_after = 0;
            change.first_failure = None;
        } else {
            change.failures_after += 1;
            change.first_failure.get_or_insert(record.time);
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(subscription: &str, time: i64, ok: bool) -> (AttemptRecord, NextStep) {
        let record = AttemptRecord {
            delivery_id: format!("dlv_{time}"),
            tenant_id: "t".to_owned(),
            subscription_id: subscription.to_owned(),
            attempt_number: 1,
            request_headers: Default::default(),
            status_code: Some(if ok { 200 } else { 500 }),
            response_body: String::new(),
            error: None,
            duration: Duration::from_micros(5),
            time,
        };
        let next = if ok {
            NextStep::Succeeded
        } else {
            NextStep::RetryAt(time + 1_000)
        };
        (record, next)
    }

    #[test]
    fn failures_after_the_latest_success_count() {
        // Out of order in the group; made in time order a: ok, fail, fail.
        let results = [
            result("a", 30, false),
            result("a", 10, true),
            result("a", 20, false),
            result("b", 40, false),
            result("c", 50, false),
            result("c", 60, true),
        ];
        let changes = health_changes(results.iter().map(|(r, n)| (r, n)));
        assert_eq!(
            changes["a"],
            HealthChange {
                last_success: Some(15),
                failures_after: 2,
                first_failure: Some(20),
            }
        );
        assert_eq!(
            changes["b"],
            HealthChange {
                last_success: None,
                failures_after: 1,
                first_failure: Some(40),
            }
        );
        assert_eq!(
            changes["c"],
            HealthChange {
                last_success: Some(65),
                failures_after: 0,
                first_failure: None,
            }
        );
    }

    #[test]
    fn the_ratio_is_zero_without_attempts() {
        let mut health = SubscriptionHealth::default();
        assert_eq!(health.success_ratio_24h(), 0.0);
        health.attempts_24h = 4;
        health.succeeded_24h = 3;
        assert_eq!(health.success_ratio_24h(), 0.75);
    }
}
