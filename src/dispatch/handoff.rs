//! Direct hand-off from a publish to this replica's dispatcher: the
//! dispatcher's side of [`service::handoff`](crate::service::handoff). A publish
//! reserves room in the dispatcher, writes the delivery already leased to
//! this process instead of pending, and after the commit passes it over in
//! memory with its event and subscription. The common case so skips the
//! claim (a second write of every row), the event load and the wake-up.
//! Crash safety is the claim path's: if this process dies, the lease runs
//! out and the queue takes the delivery back.

use super::Dispatcher;
use crate::service::handoff::{self, Direct, Reservation};
use crate::store::subscription;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// The publisher's side of the hand-off.
#[derive(Clone)]
pub struct Handoff {
    dispatcher: Arc<Dispatcher>,
    sender: mpsc::UnboundedSender<Vec<Direct>>,
}

/// Room reserved in the dispatcher for one delivery: a global in-flight
/// permit and a place under its subscription's bound. Dropped unused (the
/// publish rolled back), it gives both back.
pub struct Slot {
    dispatcher: Arc<Dispatcher>,
    permit: Option<OwnedSemaphorePermit>,
    subscription_id: String,
    delivery_id: String,
    /// The place is in the subscription's line, not under its bound.
    in_line: bool,
}

impl Handoff {
    pub(super) fn new(
        dispatcher: Arc<Dispatcher>,
        sender: mpsc::UnboundedSender<Vec<Direct>>,
    ) -> Self {
        Self { dispatcher, sender }
    }
}

impl handoff::Handoff for Handoff {
    fn lease(&self) -> Duration {
        self.dispatcher.settings.lease
    }

    /// Room for a delivery unless it must go through the queue: an ordered
    /// subscription (its predecessors decide when it may go), a rate-limited
    /// one (the limiter decides), one whose line of deliveries waiting for a
    /// place under its bound is full (see `waiting`), a full dispatcher or
    /// one with a backlog in the queue, or one that is shutting down.
    fn reserve(
        &self,
        subscription: &subscription::Model,
        delivery_id: &str,
    ) -> Option<Reservation> {
        if subscription.ordered || subscription.rate_limit > 0 {
            return None;
        }
        let dispatcher = &self.dispatcher;
        if dispatcher.closing.load(Ordering::Acquire) || dispatcher.backlog.load(Ordering::Acquire)
        {
            // Older deliveries wait in the queue: line up behind them
            // rather than overtake them, which starved the queue's tail.
            return None;
        }
        let Ok(permit) = Arc::clone(&dispatcher.permits).try_acquire_owned() else {
            // Full: what overflows goes to the queue, and until the queue
            // is drained everything after it does too.
            dispatcher.backlog.store(true, Ordering::Release);
            return None;
        };
        // At its bound (or with deliveries waiting for a place under it),
        // it waits in the subscription's line in memory (see `waiting`);
        // when that is full, in the queue.
        let in_line = if dispatcher.count_in(&subscription.id) {
            false
        } else if dispatcher.reserve_waiting(&subscription.id) {
            true
        } else {
            return None;
        };
        dispatcher
            .held
            .lock()
            .expect("held lock")
            .insert(delivery_id.to_owned());
        Some(Reservation::new(Slot {
            dispatcher: Arc::clone(dispatcher),
            permit: Some(permit),
            subscription_id: subscription.id.clone(),
            delivery_id: delivery_id.to_owned(),
            in_line,
        }))
    }

    fn catch_up(
        &self,
        deliveries: usize,
    ) -> Pin<Box<dyn Future<Output = Option<usize>> + Send + '_>> {
        Box::pin(self.dispatcher.catch_up(deliveries))
    }

    fn send(&self, batch: Vec<Direct>) -> Result<(), Vec<Direct>> {
        if batch.is_empty() {
            return Ok(());
        }
        self.sender.send(batch).map_err(|err| err.0)
    }
}

impl Slot {
    /// The permit, for the task that sends the delivery, and whether the
    /// delivery waits in its subscription's line; from here the task gives
    /// back (or passes on) the subscription's place.
    pub(super) fn into_parts(mut self) -> (OwnedSemaphorePermit, bool) {
        let permit = self.permit.take().expect("a slot's permit is taken once");
        (permit, self.in_line)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            if self.in_line {
                self.dispatcher
                    .unreserve_waiting(&self.subscription_id, &self.delivery_id);
            } else {
                self.dispatcher
                    .uncount(&self.subscription_id, &self.delivery_id);
            }
        }
    }
}
