//! Publishing paced to delivery. While this replica's dispatcher has no
//! room for more hand-offs (a backlog waits in the queue, or fewer than a
//! batch's permits are free), the publish writer waits for it to catch up
//! before writing its next group, a moment at most. Without this, a burst
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
    /// True while a publish would only add to the queue's backlog.
    fn is_behind(&self) -> bool {
        self.backlog.load(Ordering::Acquire)
            || (self.permits.available_permits() as u64) < self.claim_room()
    }

    /// Returns when the dispatcher has room again, or after the setting's
    /// `publish_wait`, or at once when it has been given up on. A
    /// dispatcher held up by slow endpoints does not catch up in a moment:
    /// after one wait in vain the writer stops waiting until there is room
    /// again, so slow endpoints cost publishers one wait, not one each.
    pub(super) async fn catch_up(&self) {
        let most = self.settings.publish_wait;
        if most.is_zero() {
            return;
        }
        if !self.is_behind() {
            self.pacing_given_up.store(false, Ordering::Release);
            return;
        }
        if self.pacing_given_up.load(Ordering::Acquire) {
            return;
        }
        let caught_up = tokio::time::timeout(most, async {
            loop {
                let freed = self.room_freed.notified();
                tokio::pin!(freed);
                // Registered before the check, so a request finishing
                // between the two is not missed.
                freed.as_mut().enable();
                if !self.is_behind() {
                    return;
                }
                freed.await;
            }
        })
        .await;
        if caught_up.is_err() {
            self.pacing_given_up.store(true, Ordering::Release);
        }
    }

    /// A request finished or the backlog drained: a waiting writer looks again.
    pub(super) fn room_may_be_free(&self) {
        self.room_freed.notify_waiters();
    }
}
