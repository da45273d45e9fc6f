//! Starting deliveries: a claimed batch (its subscriptions and events loaded
//! in two queries) or a batch a publish handed over, one task per delivery
//! that may go now; the rest go back to the queue.

use super::bounds::Admission;
use super::recorder::Finished;
use super::waiting::{Joined, Placed, Waiter};
use super::{Dispatcher, Slot, Target};
use crate::service::events::EXPUNGED_REASON;
use crate::service::handoff::Direct;
use crate::store::queue::{self, Claimed};
use crate::store::{deliveries, event, now_micros};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

impl Dispatcher {
    /// Loads what the batch needs in two queries and starts one task per
    /// delivery that may go now; at its subscription's bound, a delivery
    /// joins the subscription's line (see `waiting`). Returns how many were
    /// handed back to the queue because a bound held them up.
    pub(super) async fn start(
        self: &Arc<Self>,
        claimed: Vec<Claimed>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) -> usize {
        let now = now_micros();
        let targets = match self.load_targets(&claimed, now).await {
            Ok(targets) => targets,
            Err(err) => {
                tracing::warn!(error = %err, "loading subscriptions failed; releasing the batch");
                let ids: Vec<String> = claimed.into_iter().map(|c| c.id).collect();
                let _ = queue::release(&self.db, &ids, now).await;
                return 0;
            }
        };
        let events = match self.load_events(&claimed).await {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(error = %err, "loading events failed; releasing the batch");
                let ids: Vec<String> = claimed.into_iter().map(|c| c.id).collect();
                let _ = queue::release(&self.db, &ids, now).await;
                return 0;
            }
        };
        let mut later = Vec::new();
        for delivery in claimed {
            let target = targets.get(&delivery.subscription_id);
            let event = events.get(&(delivery.tenant_id.clone(), delivery.event_id.clone()));
            let (Some(target), Some(event)) = (target, event) else {
                // Nothing will be sent, and the delivery says why: its
                // subscription was disabled or deleted (by hand, by the
                // server, or with its scope), or its event's data was
                // expunged (expunged events are not loaded).
                let reason = if target.is_none() {
                    "cancelled: the subscription was disabled or deleted"
                } else {
                    EXPUNGED_REASON
                };
                let _ = deliveries::cancel(&self.db, &delivery.id, reason).await;
                continue;
            };
            match self.admit(&delivery.subscription_id, target.spec.rate_limit) {
                Admission::Go => {}
                // At its bound, a subscription that takes hand-offs keeps
                // what it cannot send yet in its line (see `waiting`);
                // ordered and rate-limited ones never take hand-offs, so for
                // them the queue keeps its order anyway.
                Admission::AtBound if !target.spec.ordered && target.spec.rate_limit == 0 => {
                    if let Some(delivery) =
                        self.claimed_waits(delivery, target, event, tasks, recorder)
                    {
                        later.push(delivery.id);
                    }
                    continue;
                }
                Admission::AtBound | Admission::RateLimited => {
                    later.push(delivery.id);
                    continue;
                }
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                self.finish(&delivery);
                later.push(delivery.id);
                continue;
            };
            self.held
                .lock()
                .expect("held lock")
                .insert(delivery.id.clone());
            let waiter = Waiter {
                delivery,
                target: Arc::clone(target),
                event: Arc::clone(event),
                permit,
            };
            self.launch(waiter, tasks, recorder);
        }
        if !later.is_empty() {
            // Over a bound: hand them back, due a moment from now.
            let _ = queue::release(&self.db, &later, now + 20_000).await;
        }
        later.len()
    }

    /// Starts deliveries a publish handed over. Their room was reserved and
    /// their rows are leased to us; only the subscriptions' secrets and
    /// settings are prepared here, once per subscription in the batch.
    pub(super) async fn start_direct(
        self: &Arc<Self>,
        batch: Vec<Direct>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) {
        while tasks.try_join_next().is_some() {}
        let now = now_micros();
        let mut targets: HashMap<String, Option<Arc<Target>>> = HashMap::new();
        let mut unusable = Vec::new();
        for direct in batch {
            let target = targets
                .entry(direct.subscription.id.clone())
                .or_insert_with(|| match self.target(&direct.subscription, now) {
                    Ok(target) => Some(target),
                    Err(err) => {
                        tracing::warn!(error = %err, "preparing a subscription failed; returning its deliveries to the queue");
                        None
                    }
                });
            match target {
                Some(target) => {
                    let target = Arc::clone(target);
                    let Some(slot) = direct.reservation.into_inner::<Slot>() else {
                        // Only this dispatcher makes the reservations it is sent.
                        unusable.push(direct.delivery.id);
                        continue;
                    };
                    let (permit, in_line) = slot.into_parts();
                    let waiter = Waiter {
                        delivery: direct.delivery,
                        target,
                        event: direct.event,
                        permit,
                    };
                    if !in_line {
                        self.launch(waiter, tasks, recorder);
                        continue;
                    }
                    if let Placed::Go(waiter) = self.take_reserved_place(waiter) {
                        self.launch(waiter, tasks, recorder);
                    }
                }
                None => unusable.push(direct.delivery.id),
            }
        }
        if !unusable.is_empty() {
            let _ = queue::release(&self.db, &unusable, now).await;
        }
    }

    /// A claimed delivery whose subscription is at its bound joins the
    /// subscription's line, or is sent at once if a place came free; it
    /// comes back if the line is full (or no permit is free for it).
    fn claimed_waits(
        self: &Arc<Self>,
        delivery: Claimed,
        target: &Arc<Target>,
        event: &Arc<event::Model>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) -> Option<Claimed> {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return Some(delivery);
        };
        let id = delivery.id.clone();
        self.held.lock().expect("held lock").insert(id.clone());
        let waiter = Waiter {
            delivery,
            target: Arc::clone(target),
            event: Arc::clone(event),
            permit,
        };
        match self.join_line(waiter) {
            Joined::Placed(Placed::Go(waiter)) => self.launch(waiter, tasks, recorder),
            Joined::Placed(Placed::Waiting) => {}
            Joined::LineFull(waiter) => {
                self.held.lock().expect("held lock").remove(&id);
                return Some(waiter.delivery);
            }
        }
        None
    }

    /// Sends one delivery in its own task, which records the result and
    /// then passes the delivery's place to the next delivery waiting for
    /// one under its subscription's bound, sending that one too, or gives
    /// the place back.
    pub(super) fn launch(
        self: &Arc<Self>,
        waiter: Waiter,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) {
        let this = Arc::clone(self);
        let recorder = recorder.clone();
        tasks.spawn(async move {
            let mut next = Some(waiter);
            while let Some(Waiter {
                delivery,
                target,
                event,
                permit,
            }) = next
            {
                crate::metrics::in_flight(1.0);
                let finished = this.deliver(&delivery, &target, &event).await;
                crate::metrics::in_flight(-1.0);
                // The row stays in flight (and leased) until the recorder writes it.
                let _ = recorder.send(finished).await;
                next = this.pass_place(&delivery);
                drop(permit);
                this.request_done.notify_one();
                this.room_may_be_free();
            }
        });
    }
}
