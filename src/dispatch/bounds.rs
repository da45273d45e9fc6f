//! The bounds on what is sent at once: the per-subscription in-flight
//! bound and rate limit, counted here as requests start and finish (the
//! deliveries waiting for a place under the bound are `waiting`'s).

use super::Dispatcher;
use crate::store::queue::Claimed;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Whether a claimed delivery may be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Counted in flight: send it.
    Go,
    /// Its subscription's rate limit says not yet.
    RateLimited,
    /// Its subscription has as many requests in flight as it may.
    AtBound,
}

impl Dispatcher {
    /// Applies the per-subscription in-flight bound and rate limit; counts
    /// the delivery as in flight when it may go.
    pub(super) fn admit(&self, subscription_id: &str, rate_limit: u32) -> Admission {
        if let Some(per_second) = NonZeroU32::new(rate_limit) {
            let limiter = {
                let mut limiters = self.limiters.lock().expect("limiter lock");
                let entry = limiters
                    .entry(subscription_id.to_owned())
                    .or_insert_with(|| {
                        (
                            0,
                            Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
                        )
                    });
                if entry.0 != rate_limit {
                    *entry = (
                        rate_limit,
                        Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
                    );
                }
                Arc::clone(&entry.1)
            };
            if limiter.check().is_err() {
                return Admission::RateLimited;
            }
        }
        if self.count_in(subscription_id) {
            Admission::Go
        } else {
            Admission::AtBound
        }
    }

    /// Counts one more request in flight to the subscription, unless that
    /// would pass its bound or overtake deliveries waiting for a place.
    pub(super) fn count_in(&self, subscription_id: &str) -> bool {
        let mut places = self.places.lock().expect("places lock");
        let places = places.entry(subscription_id.to_owned()).or_default();
        if places.sending >= self.settings.max_in_flight_per_subscription || places.waiting > 0 {
            return false;
        }
        places.sending += 1;
        true
    }

    pub(super) fn finish(&self, delivery: &Claimed) {
        self.uncount(&delivery.subscription_id, &delivery.id);
    }

    /// The delivery is no longer ours to send: forget it and free its place.
    /// A place freed this way (not by a finished request, whose task takes
    /// the next waiting delivery itself) may leave deliveries waiting with
    /// a place free: the run loop starts them.
    pub(super) fn uncount(&self, subscription_id: &str, delivery_id: &str) {
        self.held.lock().expect("held lock").remove(delivery_id);
        let mut places = self.places.lock().expect("places lock");
        if let Some(entry) = places.get_mut(subscription_id) {
            entry.sending = entry.sending.saturating_sub(1);
            if !entry.ready.is_empty() {
                self.note_stranded();
            }
            if entry.is_empty() {
                places.remove(subscription_id);
            }
        }
    }
}
