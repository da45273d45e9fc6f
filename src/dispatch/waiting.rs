//! Deliveries waiting in memory for a place under their subscription's
//! in-flight bound. A subscription at its bound used to send what it could
//! not take to the queue, and each place a finished request freed went to
//! whichever publish came next: the queued ones were put back again and
//! again and waited until publishing stopped (a p90 of up to a second with
//! 64 publishers to one endpoint). Now what a subscription cannot take yet
//! waits here in arrival order, already leased to this process with its
//! event, its prepared subscription and a global permit, and the task whose
//! request finishes takes the next one at once: no second write, no claim,
//! no wake-up. Later deliveries of the subscription wait behind it rather
//! than overtake it.
//!
//! The waiting line is bounded ([`Dispatcher::waiting_room`]); beyond it
//! deliveries go to the queue as before. Waiting deliveries hold global
//! permits, so a subscription that keeps its line full slows publishing
//! (see `pacing`) rather than growing memory, and leaves the rest of the
//! permits to other subscriptions. Only subscriptions that take hand-offs
//! wait here: an ordered one's predecessors, and a rate-limited one's
//! limiter, decide when its deliveries may go. At shutdown the line is
//! handed back to the queue with everything else this process holds.

use super::recorder::Finished;
use super::{Dispatcher, Target};
use crate::store::event;
use crate::store::queue::Claimed;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;

/// One subscription's places in this process.
#[derive(Default)]
pub(super) struct Places {
    /// Requests in flight.
    pub(super) sending: usize,
    /// Deliveries waiting for a place: the ready ones, and those a publish
    /// reserved a place in line for and has not handed over yet.
    pub(super) waiting: usize,
    /// The ones handed over or claimed, oldest first.
    pub(super) ready: VecDeque<Waiter>,
}

impl Places {
    pub(super) fn is_empty(&self) -> bool {
        self.sending == 0 && self.waiting == 0
    }
}

/// A delivery with everything it needs to be sent the moment it has a place.
pub(super) struct Waiter {
    pub(super) delivery: Claimed,
    pub(super) target: Arc<Target>,
    pub(super) event: Arc<event::Model>,
    pub(super) permit: OwnedSemaphorePermit,
}

/// Where a delivery that asked for a place under its bound went.
pub(super) enum Placed {
    /// Counted in flight: send it now.
    Go(Waiter),
    /// In line behind the subscription's other waiting deliveries.
    Waiting,
}

/// Where a delivery that asked to join its subscription's line went.
pub(super) enum Joined {
    Placed(Placed),
    /// The line is full: it goes back to the queue.
    LineFull(Waiter),
}

impl Dispatcher {
    /// Most deliveries one subscription may have waiting: its bound, and
    /// at least an eighth of the dispatcher, so that a small bound still
    /// rides out a burst.
    pub(super) fn waiting_room(&self) -> usize {
        self.settings
            .max_in_flight_per_subscription
            .max(self.settings.max_in_flight / 8)
            .max(1)
    }

    /// Reserves a place in the subscription's line for a delivery a publish
    /// is about to hand over, if the line has room.
    pub(super) fn reserve_waiting(&self, subscription_id: &str) -> bool {
        let mut places = self.places.lock().expect("places lock");
        let entry = places.entry(subscription_id.to_owned()).or_default();
        if entry.waiting >= self.waiting_room() {
            return false;
        }
        entry.waiting += 1;
        true
    }

    /// A reserved place in line that was never used (the publish rolled back).
    pub(super) fn unreserve_waiting(&self, subscription_id: &str, delivery_id: &str) {
        self.held.lock().expect("held lock").remove(delivery_id);
        let mut places = self.places.lock().expect("places lock");
        if let Some(entry) = places.get_mut(subscription_id) {
            entry.waiting = entry.waiting.saturating_sub(1);
            if entry.is_empty() {
                places.remove(subscription_id);
            }
        }
    }

    /// A handed-over delivery takes the place in line reserved for it (see
    /// [`Dispatcher::reserve_waiting`]): see [`Dispatcher::join_line`].
    pub(super) fn take_reserved_place(&self, waiter: Waiter) -> Placed {
        let mut places = self.places.lock().expect("places lock");
        let entry = places
            .entry(waiter.delivery.subscription_id.clone())
            .or_default();
        self.place(entry, waiter)
    }

    /// Sends the delivery now if its subscription has a place and nobody
    /// waits before it, or puts it at the end of the line; gives it back
    /// if the line is full.
    pub(super) fn join_line(&self, waiter: Waiter) -> Joined {
        let mut places = self.places.lock().expect("places lock");
        let entry = places
            .entry(waiter.delivery.subscription_id.clone())
            .or_default();
        if entry.waiting >= self.waiting_room() {
            return Joined::LineFull(waiter);
        }
        entry.waiting += 1;
        Joined::Placed(self.place(entry, waiter))
    }

    /// Places a delivery already counted in `entry.waiting`.
    fn place(&self, entry: &mut Places, waiter: Waiter) -> Placed {
        let bound = self.settings.max_in_flight_per_subscription;
        if entry.sending < bound && entry.ready.is_empty() {
            entry.waiting -= 1;
            entry.sending += 1;
            return Placed::Go(waiter);
        }
        if entry.sending < bound {
            // Places came free while the line was not looked at.
            self.note_stranded();
        }
        entry.ready.push_back(waiter);
        Placed::Waiting
    }

    /// A request of the subscription finished: frees its place, or gives it
    /// to the next delivery in the subscription's line (returned, for the
    /// finished request's task to send). Nothing is passed on once
    /// shutdown began: the line goes back to the queue.
    pub(super) fn pass_place(&self, delivery: &Claimed) -> Option<Waiter> {
        self.held.lock().expect("held lock").remove(&delivery.id);
        let mut places = self.places.lock().expect("places lock");
        let entry = places.get_mut(&delivery.subscription_id)?;
        if !self.closing.load(Ordering::Acquire)
            && let Some(next) = entry.ready.pop_front()
        {
            entry.waiting -= 1;
            return Some(next);
        }
        entry.sending = entry.sending.saturating_sub(1);
        if entry.is_empty() {
            places.remove(&delivery.subscription_id);
        }
        None
    }

    /// Asks the run loop to look for waiting deliveries with a place free.
    pub(super) fn note_stranded(&self) {
        self.stranded.store(true, Ordering::Release);
        self.request_done.notify_one();
        self.wake.notify_one();
    }

    /// Starts the waiting deliveries of subscriptions that have places free
    /// without a request of theirs finishing (a publish rolled back a
    /// reservation, or a claimed delivery found no permit).
    pub(super) fn start_stranded(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) {
        if !self.stranded.swap(false, Ordering::AcqRel) {
            return;
        }
        let bound = self.settings.max_in_flight_per_subscription;
        let mut go = Vec::new();
        {
            let mut places = self.places.lock().expect("places lock");
            for entry in places.values_mut() {
                while entry.sending < bound
                    && let Some(next) = entry.ready.pop_front()
                {
                    entry.waiting -= 1;
                    entry.sending += 1;
                    go.push(next);
                }
            }
        }
        for waiter in go {
            self.launch(waiter, tasks, recorder);
        }
    }

    /// At shutdown: the waiting deliveries give back their permits; they are
    /// still held, so they are released to the queue with the rest.
    pub(super) fn drop_waiting(&self) -> usize {
        let mut places = self.places.lock().expect("places lock");
        let mut dropped = 0;
        for entry in places.values_mut() {
            dropped += entry.ready.len();
            entry.waiting -= entry.ready.len();
            entry.ready.clear();
        }
        places.retain(|_, entry| !entry.is_empty());
        dropped
    }
}
