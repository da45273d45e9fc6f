//! Publishing paced to delivery. While this replica's dispatcher has no
//! room for the next group's deliveries (a backlog waits in the queue, or
//! fewer permits are free than the group is expected to need), the publish
//! writer waits for it to catch up before writing the group, a moment at
//! most, and then writes only as much of the group as fits. Without this, a burst
//! of fan-out publishes outran the requests in flight, went to the queue
//! (a second write and a claim per delivery, so slower still) and every
//! later publish queued behind that backlog until the burst ended: a
//! publisher that waits a few milliseconds for room instead keeps
//! publish-to-delivery latency near the time to send what is in flight.
//! Waiting happens before the write, so what a publish acknowledges is
//! committed exactly as before.

use super::Dispatcher;
use std::sync::atomic::Ordering;

impl Dispatcher {
    /// The room a group waits for: what its deliveries need, at least a
    /// claim's worth, and at most half of all the room, so that a group
    /// never waits for an idle dispatcher.
    fn wanted_room(&self, deliveries: usize) -> usize {
        let most = (self.settings.max_in_flight / 2).max(1);
        deliveries.clamp((self.claim_room() as usize).min(most), most)
    }

    /// True while a group needing `wanted` would only add to the queue.
    fn is_behind(&self, wanted: usize) -> bool {
        self.backlog.load(Ordering::Acquire) || self.permits.available_permits() < wanted
    }

    /// Waits until there is room for `deliveries` (see
    /// [`Dispatcher::wanted_room`]) and returns the room free then; or
    /// `None` at once when the wait is turned off or has been given up
    /// on, or after the setting's `publish_wait` in vain. A dispatcher held
    /// up by slow endpoints does not catch up in a moment: after one wait
    /// in vain the writer stops waiting until there is room again, so slow
    /// endpoints cost publishers one wait, not one each.
    pub(super) async fn catch_up(&self, deliveries: usize) -> Option<usize> {
        let most = self.settings.publish_wait;
        if most.is_zero() {
            return None;
        }
        let wanted = self.wanted_room(deliveries);
        if !self.is_behind(wanted) {
            self.pacing_given_up.store(false, Ordering::Release);
            return Some(self.permits.available_permits());
        }
        if self.pacing_given_up.load(Ordering::Acquire) {
            return None;
        }
        let caught_up = tokio::time::timeout(most, async {
            loop {
                let freed = self.room_freed.notified();
                tokio::pin!(freed);
                // Registered before the check, so a request finishing
                // between the two is not missed.
                freed.as_mut().enable();
                if !self.is_behind(wanted) {
                    return;
                }
                freed.await;
            }
        })
        .await;
        if caught_up.is_err() {
            self.pacing_given_up.store(true, Ordering::Release);
            return None;
        }
        Some(self.permits.available_permits())
    }

    /// A request finished or the backlog drained: a waiting writer looks again.
    pub(super) fn room_may_be_free(&self) {
        self.room_freed.notify_waiters();
    }
}
