//! Where a delivery stands: the five states a delivery moves through, as the
//! rest of hookrelay speaks of them (the store keeps its own encoding).

/// A delivery's state: queued, being sent, or finished one of three ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a dispatcher, under a lease.
    InFlight,
    Succeeded,
    /// Dead-lettered: retries exhausted or the endpoint is gone; retryable by hand.
    Failed,
    /// Will not be sent: its subscription was disabled or deleted.
    Cancelled,
}
