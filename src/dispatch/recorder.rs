//! Writes attempt results in groups: whatever finished while the previous
//! group was being written goes into the next transaction, so under load
//! one commit (one fsync on SQLite) covers many deliveries, and when idle a
//! lone result waits a few milliseconds for company (nothing waits on it:
//! the request is done and its room given back), so that at a trickle too
//! one commit covers several results. After each group, subscriptions that
//! must stop (410 Gone, or failing for too long) are disabled and announced.

use super::{Dispatcher, Target};
use crate::domain::{Streak, latest_by_subscription};
use crate::service::ServiceError;
use crate::service::auto_disable::{self, AnnouncedSubscription};
use crate::service::changes::Change;
use crate::service::deliveries::{self, AttemptRecord, NextStep};
use crate::service::health_events::{self, HealthNews};
use crate::store::{delivery, now_micros};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Most results in one transaction.
const MAX_GROUP: usize = 512;

/// How long a group waits for more results before it is written. A result
/// of an ordered subscription never waits: the next delivery waits for it.
/// Measured with one sequential publisher (external benchmark): one
/// transaction per result was 5 statements and an fsync per delivery on
/// SQLite; 5 ms took that to a group of about 6, and 20 ms (about 20) cut
/// Postgres's CPU per event by another 13% and the publish call's p90 by a
/// fifth, as the publishes meet fewer result writes. What it costs: a
/// result is visible (GetDelivery, WatchDeliveries) up to 20 ms later.
const LINGER: Duration = Duration::from_millis(20);

/// One attempt's result on its way to the database.
pub struct Finished {
    pub record: AttemptRecord,
    pub next: NextStep,
    /// The delivery as it will be after the write, for watchers.
    pub change: delivery::Model,
    pub target: Arc<Target>,
}

/// A subscription to disable once the group is written: why, and as of when.
struct ToDisable {
    target: Arc<Target>,
    subscription_id: String,
    reason: String,
    time: i64,
}

impl Dispatcher {
    pub(super) async fn record_results(self: Arc<Self>, mut results: mpsc::Receiver<Finished>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while results.recv_many(&mut group, MAX_GROUP).await > 0 {
            let deadline = Instant::now() + LINGER;
            // Only what each receive added is looked at for an ordered result.
            let mut ordered = group.iter().any(|f| f.change.ordered);
            while group.len() < MAX_GROUP && !ordered {
                let seen = group.len();
                let more = MAX_GROUP - seen;
                match tokio::time::timeout_at(deadline, results.recv_many(&mut group, more)).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => ordered = group[seen..].iter().any(|f| f.change.ordered),
                }
            }
            self.record_group(std::mem::take(&mut group)).await;
        }
    }

    async fn record_group(&self, group: Vec<Finished>) {
        let mut to_disable = gone_subscriptions(&group);
        let health = self.group_health(&group).await;
        let mut rows = Vec::with_capacity(group.len());
        let mut targets: HashMap<String, Arc<Target>> = HashMap::new();
        let mut changes = Vec::with_capacity(group.len());
        for finished in group {
            targets.insert(finished.record.subscription_id.clone(), finished.target);
            changes.push(finished.change);
            rows.push((finished.record, finished.next));
        }
        let Some(failing) = self.record_until_written(rows).await else {
            return;
        };
        // An ordered subscription's next delivery became claimable just now.
        if changes.iter().any(|change| change.ordered) {
            self.wake.notify_one();
        }
        for change in changes {
            self.changes.send(Change::DeliveryUpdated {
                delivery: change.into(),
            });
        }
        let news = self.health_news(&health, &failing, now_micros());
        to_disable.extend(self.failing_too_long(&failing, &targets));
        for (subscription_id, news) in news {
            let disabled_now = to_disable
                .iter()
                .any(|d| d.subscription_id == subscription_id);
            if disabled_now && matches!(news, HealthNews::Disabling { .. }) {
                continue;
            }
            if let Some(target) = targets.get(&subscription_id) {
                self.announce(target, &subscription_id, news).await;
            }
        }
        for subscription in to_disable {
            self.disable(subscription).await;
        }
    }

    /// Tells the subscription's tenant how its endpoint is doing.
    async fn announce(&self, target: &Target, subscription_id: &str, news: HealthNews) {
        let subscription = AnnouncedSubscription {
            tenant_id: &target.tenant_id,
            id: subscription_id,
            name: target.spec.name.as_str(),
            url: target.spec.url.as_str(),
        };
        match health_events::announce(&self.db, &self.changes, subscription, news).await {
            Ok(true) => self.wake.notify_one(),
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, subscription_id, ?news, "announcing a subscription's health failed");
            }
        }
    }

    /// Writes a group of results, retrying while the database is away (or
    /// full) for
    /// up to a third of a lease: the deliveries stay leased to this process
    /// meanwhile (they were last renewed at most that long ago), so a
    /// database that comes back in time costs no second send. Past that,
    /// or on any other error, the group is dropped: the leases run out and
    /// the deliveries are sent again (at-least-once).
    async fn record_until_written(
        &self,
        rows: Vec<(AttemptRecord, NextStep)>,
    ) -> Option<HashMap<String, Streak>> {
        let give_up = Instant::now() + self.settings.lease / 3;
        let mut pause = Duration::from_millis(100);
        loop {
            match deliveries::record_attempts(&self.db, rows.clone()).await {
                Ok(failing) => return Some(failing),
                Err(ServiceError::Unavailable(err) | ServiceError::StorageFull(err))
                    if Instant::now() + pause < give_up =>
                {
                    tracing::warn!(error = %err, results = rows.len(), retry_in = ?pause, "the database is away or full: recording attempt results again shortly");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(err) => {
                    tracing::warn!(error = %err, results = rows.len(), "recording attempt results failed; their leases will run out and they will be sent again");
                    return None;
                }
            }
        }
    }

    /// The failing subscriptions whose streak passed `disable_after`.
    fn failing_too_long(
        &self,
        failing: &HashMap<String, Streak>,
        targets: &HashMap<String, Arc<Target>>,
    ) -> Vec<ToDisable> {
        let now = now_micros();
        let limit = self.settings.disable_after.as_micros() as i64;
        let reason = format!(
            "deliveries failed continuously for more than {}s",
            self.settings.disable_after.as_secs()
        );
        failing
            .iter()
            .filter(|(_, streak)| now - streak.since > limit)
            .filter_map(|(subscription_id, _)| {
                Some(ToDisable {
                    target: Arc::clone(targets.get(subscription_id)?),
                    subscription_id: subscription_id.clone(),
                    reason: reason.clone(),
                    time: now,
                })
            })
            .collect()
    }

    async fn disable(&self, subscription: ToDisable) {
        let ToDisable {
            target,
            subscription_id,
            reason,
            time,
        } = subscription;
        let disabled = AnnouncedSubscription {
            tenant_id: &target.tenant_id,
            id: &subscription_id,
            name: target.spec.name.as_str(),
            url: target.spec.url.as_str(),
        };
        match auto_disable::disable_and_announce(&self.db, &self.changes, disabled, &reason, time)
            .await
        {
            Ok(true) => self.wake.notify_one(),
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, subscription_id, "auto-disable failed"),
        }
    }
}

/// The subscriptions whose latest result in the group disables them (the
/// endpoint answered 410 Gone).
fn gone_subscriptions(group: &[Finished]) -> Vec<ToDisable> {
    let targets: HashMap<&str, &Arc<Target>> = group
        .iter()
        .map(|f| (f.record.subscription_id.as_str(), &f.target))
        .collect();
    latest_by_subscription(group.iter().map(|f| (&f.record, &f.next)))
        .into_iter()
        .filter_map(|(subscription_id, (record, next))| match next {
            NextStep::DisableSubscription(reason) => Some(ToDisable {
                target: Arc::clone(targets[subscription_id]),
                subscription_id: subscription_id.to_owned(),
                reason: reason.clone(),
                time: record.time,
            }),
            _ => None,
        })
        .collect()
}
