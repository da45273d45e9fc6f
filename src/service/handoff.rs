//! The seam between publishing and a dispatcher in this process. Publishing
//! owns it, so that `service` never names `dispatch`: the dispatcher
//! implements [`Handoff`] and startup wires one into the publisher. Without
//! one, every delivery goes through the shared queue.

use crate::store::queue::Claimed;
use crate::store::{event, subscription};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a publish asks of a dispatcher in this process.
pub trait Handoff: Send + Sync {
    /// How long a handed-off delivery's lease runs from its commit.
    fn lease(&self) -> Duration;

    /// Reserves room to send `delivery_id` as soon as it commits, or `None`
    /// when it must go through the queue (the dispatcher decides: it is full,
    /// shutting down, or the subscription is ordered or rate-limited).
    fn reserve(&self, subscription: &subscription::Model, delivery_id: &str)
    -> Option<Reservation>;

    /// Waits, a moment at most, while the dispatcher has no room for about
    /// `deliveries` more, and returns the room it has then, or `None` when
    /// it did not wait for room (turned off, or slow requests hold it). The
    /// writer calls it before each group and writes only what fits, so
    /// that publishing keeps pace with delivery instead of piling up a
    /// queue that every later delivery waits behind.
    fn catch_up(
        &self,
        deliveries: usize,
    ) -> Pin<Box<dyn Future<Output = Option<usize>> + Send + '_>>;

    /// Passes committed deliveries over; gives them back if the dispatcher
    /// has stopped, so the caller can return them to the queue.
    fn send(&self, batch: Vec<Direct>) -> Result<(), Vec<Direct>>;
}

/// Room a dispatcher reserved for one delivery. What it holds is the
/// dispatcher's own business; dropped unused (the publish rolled back), it
/// gives the room back.
pub struct Reservation(Box<dyn Any + Send>);

impl Reservation {
    pub fn new<T: Any + Send>(room: T) -> Self {
        Self(Box::new(room))
    }

    /// The dispatcher's own value back, or `None` if it is of another type.
    pub fn into_inner<T: Any>(self) -> Option<T> {
        self.0.downcast().ok().map(|room| *room)
    }
}

/// A committed, leased delivery for the dispatcher to send now.
pub struct Direct {
    pub reservation: Reservation,
    pub delivery: Claimed,
    pub subscription: Arc<subscription::Model>,
    pub event: Arc<event::Model>,
}
