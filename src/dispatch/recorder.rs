//! Writes attempt results in groups: whatever finished while the previous
//! group was being written goes into the next transaction, so under load
//! one commit (one fsync on SQLite) covers many deliveries, and when idle a
//! single result is written at once.

use super::{Dispatcher, Target};
use crate::service::changes::Change;
use crate::service::deliveries::{self, AttemptRecord, NextStep};
use crate::store::{delivery, now_micros};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most results in one transaction.
const MAX_GROUP: usize = 512;

/// One attempt's result on its way to the database.
pub struct Finished {
    pub record: AttemptRecord,
    pub next: NextStep,
    /// The delivery as it will be after the write, for watchers.
    pub change: delivery::Model,
    pub target: Arc<Target>,
}

impl Dispatcher {
    pub(super) async fn record_results(self: Arc<Self>, mut results: mpsc::Receiver<Finished>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while results.recv_many(&mut group, MAX_GROUP).await > 0 {
            self.record_group(std::mem::take(&mut group)).await;
        }
    }

    async fn record_group(&self, group: Vec<Finished>) {
        let mut rows = Vec::with_capacity(group.len());
        let mut announcements = Vec::new();
        let mut targets: HashMap<String, Arc<Target>> = HashMap::new();
        let mut changes = Vec::with_capacity(group.len());
        for finished in group {
            let subscription_id = finished.record.subscription_id.clone();
            if let NextStep::DisableSubscription(reason) = &finished.next {
                announcements.push((
                    Arc::clone(&finished.target),
                    subscription_id.clone(),
                    reason.clone(),
                ));
            }
            targets.insert(subscription_id, finished.target);
            changes.push(finished.change);
            rows.push((finished.record, finished.next));
        }
        let failing = match deliveries::record_attempts(&self.db, rows).await {
            Ok(failing) => failing,
            Err(err) => {
                // Their leases run out and they are sent again: at-least-once.
                tracing::warn!(error = %err, "recording attempt results failed");
                return;
            }
        };
        // An ordered subscription's next delivery became claimable just now.
        if changes.iter().any(|change| change.ordered) {
            self.wake.notify_one();
        }
        for change in changes {
            self.changes
                .send(Change::DeliveryUpdated { delivery: change });
        }
        let now = now_micros();
        let limit = self.settings.disable_after.as_micros() as i64;
        for (subscription_id, since) in failing {
            if now - since <= limit {
                continue;
            }
            let reason = format!(
                "deliveries failed continuously for more than {}s",
                self.settings.disable_after.as_secs()
            );
            let disabled =
                deliveries::disable_subscription(&self.db, &subscription_id, &reason, now).await;
            if let (Ok(()), Some(target)) = (disabled, targets.get(&subscription_id)) {
                announcements.push((Arc::clone(target), subscription_id, reason));
            }
        }
        for (target, subscription_id, reason) in announcements {
            self.announce_disabled(&target, &subscription_id, &reason)
                .await;
        }
    }
}
