//! Which recorded results are news to a subscription's tenant (told by
//! [`health_events`](crate::service::health_events)): a run of failures
//! reaching `failing_after`, a run that will soon be disabled, a success
//! ending a run that was announced as failing.
//!
//! A run's length is on the subscription's row, moved by each recorded
//! group; a success resets it, so whether a success ends an announced run
//! is read before the group is written, and only for subscriptions this
//! process has seen failing or prepared while they were failing.

use super::Dispatcher;
use super::recorder::Finished;
use crate::domain::{HealthChange, Streak, health_changes, latest_by_subscription};
use crate::service::deliveries::NextStep;
use crate::service::health_events::{self, HealthNews};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// What this process remembers between groups.
#[derive(Default)]
pub(super) struct HealthWatch {
    /// Subscriptions that may be in a run of failures.
    maybe_failing: Mutex<HashSet<String>>,
    /// The start of the run each subscription was last warned about.
    warned: Mutex<HashMap<String, i64>>,
}

impl HealthWatch {
    /// The subscription was seen with failures on its row (when prepared).
    pub(super) fn may_be_failing(&self, subscription_id: &str) {
        self.maybe_failing
            .lock()
            .expect("health watch lock")
            .insert(subscription_id.to_owned());
    }
}

/// A group's results per subscription, before it is written.
pub(super) struct GroupHealth {
    changes: HashMap<String, HealthChange>,
    /// Subscriptions whose latest result in the group is a success.
    succeeded: HashSet<String>,
    /// Their run's length before the group, where it may have been one.
    runs_before: HashMap<String, u32>,
}

impl Dispatcher {
    /// Reads what the news will need before the group is written.
    pub(super) async fn group_health(&self, group: &[Finished]) -> GroupHealth {
        let results = group.iter().map(|f| (&f.record, &f.next));
        let changes = health_changes(results.clone())
            .into_iter()
            .map(|(id, change)| (id.to_owned(), change))
            .collect();
        let succeeded: HashSet<String> = latest_by_subscription(results)
            .into_iter()
            .filter(|(_, (_, next))| **next == NextStep::Succeeded)
            .map(|(id, _)| id.to_owned())
            .collect();
        let candidates: Vec<String> = {
            let maybe = self.health.maybe_failing.lock().expect("health watch lock");
            succeeded
                .iter()
                .filter(|id| maybe.contains(*id))
                .cloned()
                .collect()
        };
        let runs_before = if candidates.is_empty() {
            HashMap::new()
        } else {
            health_events::failure_counts(&self.db, &candidates)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "reading failure counts failed; a recovery may go unannounced");
                    HashMap::new()
                })
        };
        GroupHealth {
            changes,
            succeeded,
            runs_before,
        }
    }

    /// The news in a written group: `failing` is each failing
    /// subscription's run as it now stands, `now` the time of writing.
    pub(super) fn health_news(
        &self,
        group: &GroupHealth,
        failing: &HashMap<String, Streak>,
        now: i64,
    ) -> Vec<(String, HealthNews)> {
        let threshold = self.settings.failing_after;
        let disable_after = self.settings.disable_after.as_micros() as i64;
        let warning = self.settings.disable_warning.as_micros() as i64;
        let mut news = Vec::new();
        let mut maybe = self.health.maybe_failing.lock().expect("health watch lock");
        let mut warned = self.health.warned.lock().expect("health watch lock");
        for id in &group.succeeded {
            maybe.remove(id);
            warned.remove(id);
            if let Some(&failures) = group.runs_before.get(id)
                && failures >= threshold
            {
                news.push((id.clone(), HealthNews::Recovered { failures }));
            }
        }
        for (id, streak) in failing {
            maybe.insert(id.clone());
            let in_group = group.changes.get(id).map_or(0, |c| c.failures_after);
            if streak.failures >= threshold && streak.failures.saturating_sub(in_group) < threshold
            {
                news.push((id.clone(), HealthNews::Failing(*streak)));
            }
            let disable_time = streak.since + disable_after;
            if warning > 0
                && now >= disable_time - warning
                && now <= disable_time
                && warned.get(id) != Some(&streak.since)
            {
                warned.insert(id.clone(), streak.since);
                news.push((
                    id.clone(),
                    HealthNews::Disabling {
                        streak: *streak,
                        disable_time,
                    },
                ));
            }
        }
        news
    }
}
