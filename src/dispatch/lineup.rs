//! Subscriptions lined up behind their own queued deliveries (experimental,
//! on with `dispatch.line_up_at_bound`). When a subscription is at its
//! in-flight bound, what it cannot take waits in the queue; from then until
//! that queue is drained the subscription is lined up:
//!
//! - its new deliveries are not handed over but queued behind the older
//!   ones (handed over, they took every place a finished request freed, and
//!   the queued ones starved until publishing stopped);
//! - what the general claim finds of it is put back due a lease from now,
//!   out of the general claim's way, instead of 20 ms from now (which sent
//!   it behind newer deliveries and claimed it again and again);
//! - its freed places are refilled by a claim of its own, oldest first,
//!   which takes first attempts whatever their due time.
//!
//! A lined-up delivery is an ordinary pending row: at shutdown it is made
//! due at once, and if this process dies it falls due within a lease; any
//! replica then sends it.

use super::Dispatcher;
use super::recorder::Finished;
use crate::store::queue::Claimed;
use crate::store::{now_micros, queue};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The lined-up subscriptions, each with the turn at which it last had a
/// delivery put in line, so that a claim which found its queue drained can
/// tell whether more was put in line meanwhile.
#[derive(Default)]
pub(super) struct LineUp {
    turns: Mutex<HashMap<String, u64>>,
    /// How many are lined up, read without the lock on every hand-off.
    count: AtomicUsize,
    next_turn: AtomicU64,
}

impl LineUp {
    pub(super) fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    pub(super) fn contains(&self, subscription_id: &str) -> bool {
        !self.is_empty()
            && self
                .turns
                .lock()
                .expect("line-up lock")
                .contains_key(subscription_id)
    }

    /// Lines the subscription up, or renews its turn if it already is.
    pub(super) fn put_in_line(&self, subscription_id: &str) {
        let turn = self.next_turn.fetch_add(1, Ordering::AcqRel);
        let mut turns = self.turns.lock().expect("line-up lock");
        if turns.insert(subscription_id.to_owned(), turn).is_none() {
            self.count.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The turn a claim starting now compares with when it ends.
    fn turn(&self) -> u64 {
        self.next_turn.load(Ordering::Acquire)
    }

    /// Takes the subscription out of line unless something was put in line
    /// for it at or after `turn`.
    fn leave(&self, subscription_id: &str, turn: u64) {
        let mut turns = self.turns.lock().expect("line-up lock");
        if turns.get(subscription_id).is_some_and(|&last| last < turn) {
            turns.remove(subscription_id);
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub(super) fn snapshot(&self) -> Vec<String> {
        self.turns
            .lock()
            .expect("line-up lock")
            .keys()
            .cloned()
            .collect()
    }
}

impl Dispatcher {
    /// Refills each lined-up subscription's free places from its own queue,
    /// oldest first, once it has a few free: claiming for each freed place
    /// alone would cost a claim per delivery.
    pub(super) async fn refill_lined_up(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) {
        if self.lineup.is_empty() {
            return;
        }
        let bound = self.settings.max_in_flight_per_subscription;
        let enough = (bound / 8).max(1);
        for subscription_id in self.lineup.snapshot() {
            let free = self.permits.available_permits();
            if free == 0 {
                return;
            }
            let places = bound.saturating_sub(self.in_flight_of(&subscription_id));
            if places < enough {
                continue;
            }
            let limit = places.min(free).min(self.settings.batch_size as usize);
            let turn = self.lineup.turn();
            let now = now_micros();
            let lease_until = now + self.settings.lease.as_micros() as i64;
            let mut claimed = match queue::claim_lined_up(
                &self.db,
                &subscription_id,
                now,
                lease_until,
                limit as u64,
            )
            .await
            {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(error = %err, "claiming a lined-up subscription's deliveries failed; retrying shortly");
                    return;
                }
            };
            if claimed.len() < limit {
                // Its queue is drained: hand-offs may go straight to it again.
                self.lineup.leave(&subscription_id, turn);
            }
            if !claimed.is_empty() {
                claimed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
                self.start(claimed, tasks, recorder, Source::LineUp).await;
            }
        }
    }

    /// Whether the general claim must put this delivery back in line rather
    /// than send it: its subscription is lined up and it is a first attempt,
    /// so older ones of the same subscription wait in line before it.
    pub(super) fn belongs_in_line(&self, delivery: &Claimed, source: Source) -> bool {
        source == Source::Queue
            && delivery.attempts == 0
            && self.lineup.contains(&delivery.subscription_id)
    }
}

/// Where a batch being started came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// The general claim: the oldest due deliveries of every subscription.
    Queue,
    /// A lined-up subscription's own claim.
    LineUp,
}

#[cfg(test)]
mod tests {
    use super::LineUp;

    #[test]
    fn a_subscription_leaves_the_line_only_if_nothing_joined_since() {
        let lineup = LineUp::default();
        assert!(lineup.is_empty());
        lineup.put_in_line("sub_a");
        assert!(lineup.contains("sub_a"));
        let turn = lineup.turn();
        // Put in line again while its queue was being claimed: it stays.
        lineup.put_in_line("sub_a");
        lineup.leave("sub_a", turn);
        assert!(lineup.contains("sub_a"));
        let turn = lineup.turn();
        lineup.leave("sub_a", turn);
        assert!(!lineup.contains("sub_a"));
        assert!(lineup.is_empty());
        // Leaving twice, or leaving what never joined, changes nothing.
        lineup.leave("sub_a", turn);
        lineup.leave("sub_b", turn);
        assert!(lineup.is_empty());
    }
}
