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
    /// one (the limiter decides), one at its in-flight bound or lined up
    /// behind it (see `lineup`), a full dispatcher or one with a backlog in
    /// the queue, or one that is shutting down.
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
        if dispatcher.lineup.contains(&subscription.id) {
            // Its older deliveries wait in the queue behind its bound.
            return None;
        }
        let Ok(permit) = Arc::clone(&dispatcher.permits).try_acquire_owned() else {
            // Full: what overflows goes to the queue, and until the queue
            // is drained everything after it does too.
            dispatcher.backlog.store(true, Ordering::Release);
            return None;
        };
        if !dispatcher.count_in(&subscription.id) {
            // At its bound: this one waits in the queue, and (when lining
            // up is on) the ones after it line up behind it.
            if dispatcher.settings.line_up {
                dispatcher.lineup.put_in_line(&subscription.id);
            }
            return None;
        }
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
    /// The permit, for the task that sends the delivery; from here the
    /// task's `finish` gives back the subscription's place.
    pub(super) fn into_permit(mut self) -> OwnedSemaphorePermit {
        self.permit.take().expect("a slot's permit is taken once")
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            self.dispatcher
                .uncount(&self.subscription_id, &self.delivery_id);
        }
    }
}
