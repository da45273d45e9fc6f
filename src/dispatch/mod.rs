//! The delivery engine. It takes deliveries handed over by this replica's
//! publishes (see [`handoff`]) and claims due ones from the queue in batches
//! under a lease, sends each as a signed POST with the shared client,
//! records the attempt and schedules what comes next. No transaction or row
//! lock is ever held across a network call: a claim is one statement, a
//! result is one short transaction. Leases are renewed while requests run;
//! a process that dies mid-send loses nothing: its leases expire and the
//! deliveries are claimed again (at-least-once).

mod attempt;
mod handoff;
mod http;
mod leases;
mod listen;
mod recorder;
mod request;
mod test_event;

pub use attempt::decide;
pub use handoff::{Handoff, Slot};
pub use http::{HttpOutcome, MAX_RECORDED_BODY, WebhookClient};
pub use listen::listen_for_wake_ups;
use recorder::Finished;
pub use test_event::{TestAttempt, send_test_event};

use crate::domain::{SecretCipher, WebhookSecret};
use crate::service::changes::{Change, ChangeFeed};
use crate::service::deliveries;
use crate::service::events::{SUBSCRIPTION_DISABLED, publish_operational};
use crate::service::handoff::Direct;
use crate::service::subscriptions::{SubscriptionSpec, signing_secrets, to_subscription};
use crate::store::queue::{self, Claimed};
use crate::store::{event, now_micros, subscription};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct DispatchSettings {
    /// Most deliveries claimed by one statement.
    pub batch_size: u64,
    /// Global bound on requests in flight.
    pub max_in_flight: usize,
    /// Bound on one subscription's requests in flight.
    pub max_in_flight_per_subscription: usize,
    /// How long a claim is held; a crashed holder's work returns after this.
    pub lease: Duration,
    /// Fallback poll when no wake-up arrives (other replicas, retries due).
    pub poll_interval: Duration,
    /// A subscription failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// How long shutdown waits for requests in flight before releasing them.
    pub shutdown_grace: Duration,
}

/// A subscription prepared once per batch: parsed settings and the secrets
/// that sign right now.
struct Target {
    tenant_id: String,
    spec: SubscriptionSpec,
    secrets: Vec<WebhookSecret>,
}

pub struct Dispatcher {
    db: DatabaseConnection,
    cipher: Arc<SecretCipher>,
    client: WebhookClient,
    wake: Arc<Notify>,
    changes: ChangeFeed,
    settings: DispatchSettings,
    permits: Arc<Semaphore>,
    /// Requests in flight per subscription, for the per-subscription bound.
    in_flight: Mutex<HashMap<String, usize>>,
    /// Deliveries this process holds, released if shutdown cuts them short.
    held: Mutex<HashSet<String>>,
    limiters: Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>,
    /// Set when shutdown begins: publishes stop handing deliveries over.
    closing: AtomicBool,
    /// Deliveries publishes handed over; `run` takes the receiver.
    handoff_sender: mpsc::UnboundedSender<Vec<Direct>>,
    handoffs: Mutex<Option<mpsc::UnboundedReceiver<Vec<Direct>>>>,
    /// Signalled when a request finishes, for a dispatcher waiting on a bound.
    request_done: Notify,
}

/// What the run loop waits for before it claims again.
enum Wait {
    /// A free global permit.
    Permit,
    /// A request to finish (a subscription is at its bound), briefly.
    RequestDone,
    /// A wake-up (publish, NOTIFY, a freed ordered subscription) or the time.
    WakeOr(Duration),
    /// Just the time (the database failed).
    Sleep(Duration),
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        cipher: Arc<SecretCipher>,
        client: WebhookClient,
        wake: Arc<Notify>,
        changes: ChangeFeed,
        settings: DispatchSettings,
    ) -> Arc<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        Arc::new(Self {
            handoff_sender: sender,
            handoffs: Mutex::new(Some(receiver)),
            closing: AtomicBool::new(false),
            request_done: Notify::new(),
            db,
            cipher,
            client,
            wake,
            changes,
            permits: Arc::new(Semaphore::new(settings.max_in_flight)),
            settings,
            in_flight: Mutex::new(HashMap::new()),
            held: Mutex::new(HashSet::new()),
            limiters: Mutex::new(HashMap::new()),
        })
    }

    /// What a publisher on this replica uses to hand deliveries over.
    pub fn handoff(self: &Arc<Self>) -> Handoff {
        Handoff::new(Arc::clone(self), self.handoff_sender.clone())
    }

    /// Runs until `shutdown`; then stops claiming, lets requests in flight
    /// finish for the grace period and releases whatever is left.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut handoffs = self
            .handoffs
            .lock()
            .expect("handoffs lock")
            .take()
            .expect("a dispatcher runs once");
        let mut tasks = JoinSet::new();
        let (recorder, results) = mpsc::channel(self.settings.max_in_flight.max(64));
        let recording = tokio::spawn(Arc::clone(&self).record_results(results));
        // Renews until everything is drained: a request finishing in the
        // grace period still holds its lease.
        let drained = CancellationToken::new();
        let renewing = tokio::spawn(Arc::clone(&self).renew_leases(drained.clone()));
        let mut last_reclaim: Option<Instant> = None;
        let reclaim_every = (self.settings.lease / 4).max(Duration::from_millis(200));
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            if last_reclaim.is_none_or(|at| at.elapsed() >= reclaim_every) {
                if let Err(err) = queue::release_expired_leases(&self.db, now_micros()).await {
                    tracing::warn!(error = %err, "releasing expired leases failed");
                }
                last_reclaim = Some(Instant::now());
            }
            let Some(wait) = self.claim_and_start(&mut tasks, &recorder).await else {
                continue;
            };
            let until = self.wait(wait);
            tokio::pin!(until);
            // Handed-over deliveries start while the loop waits: they need no
            // claim, so they never cut the wait short.
            loop {
                tokio::select! {
                    () = &mut until => break,
                    Some(batch) = handoffs.recv() => {
                        self.start_direct(batch, &mut tasks, &recorder).await;
                    }
                    () = shutdown.cancelled() => break,
                }
            }
        }
        self.closing.store(true, Ordering::Release);
        self.drain(tasks, handoffs, recorder, recording).await;
        drained.cancel();
        let _ = renewing.await;
    }

    /// One claim: starts what it got and says what to wait for before the
    /// next, or `None` to claim again at once (the batch was full).
    async fn claim_and_start(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) -> Option<Wait> {
        let free = self.permits.available_permits() as u64;
        if free == 0 {
            return Some(Wait::Permit);
        }
        let limit = free.min(self.settings.batch_size);
        let now = now_micros();
        let lease_until = now + self.settings.lease.as_micros() as i64;
        let claimed = match queue::claim_due(&self.db, now, lease_until, limit).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "claiming deliveries failed; retrying shortly");
                return Some(Wait::Sleep(self.settings.poll_interval));
            }
        };
        let (count, full) = (claimed.len(), claimed.len() as u64 == limit);
        let deferred = if count > 0 {
            self.start(claimed, tasks, recorder).await
        } else {
            0
        };
        if deferred > 0 {
            // A subscription is at its bound: claiming again at once would
            // only hand rows back. Wait for a request to finish first.
            return Some(Wait::RequestDone);
        }
        if full {
            return None;
        }
        // Busy, publishes wake us; only a truly idle dispatcher asks when
        // the next retry falls due (one query instead of one per wake-up).
        Some(Wait::WakeOr(if count == 0 {
            self.idle_time().await
        } else {
            self.settings.poll_interval
        }))
    }

    async fn wait(&self, wait: Wait) {
        match wait {
            Wait::Permit => drop(self.permits.acquire().await),
            Wait::RequestDone => {
                let _ =
                    tokio::time::timeout(Duration::from_millis(20), self.request_done.notified())
                        .await;
            }
            Wait::WakeOr(limit) => {
                let _ = tokio::time::timeout(limit, self.wake.notified()).await;
            }
            Wait::Sleep(duration) => tokio::time::sleep(duration).await,
        }
    }

    /// Sleeps until the next retry falls due, never longer than the poll.
    async fn idle_time(&self) -> Duration {
        match queue::next_due_time(&self.db).await {
            Ok(Some(due)) => {
                let wait = (due - now_micros()).max(0) as u64;
                Duration::from_micros(wait).min(self.settings.poll_interval)
            }
            _ => self.settings.poll_interval,
        }
    }

    /// Loads what the batch needs in two queries and starts one task per
    /// delivery that may go now.
    async fn start(
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
            let (Some(target), Some(event)) = (
                targets.get(&delivery.subscription_id),
                events.get(&(delivery.tenant_id.clone(), delivery.event_id.clone())),
            ) else {
                // Deleted or disabled subscription: nothing will be sent.
                let _ = deliveries::cancel(&self.db, &delivery.id).await;
                continue;
            };
            if !self.admit(&delivery.subscription_id, target.spec.rate_limit) {
                later.push(delivery.id);
                continue;
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
            self.launch(delivery, target, event, permit, tasks, recorder);
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
    async fn start_direct(
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
                .or_insert_with(|| match self.prepare_target(&direct.subscription, now) {
                    Ok(target) => Some(Arc::new(target)),
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
                    let permit = slot.into_permit();
                    self.launch(
                        direct.delivery,
                        &target,
                        &direct.event,
                        permit,
                        tasks,
                        recorder,
                    );
                }
                None => unusable.push(direct.delivery.id),
            }
        }
        if !unusable.is_empty() {
            let _ = queue::release(&self.db, &unusable, now).await;
        }
    }

    /// Sends one delivery in its own task, which records the result and
    /// then gives back the delivery's room.
    fn launch(
        self: &Arc<Self>,
        delivery: Claimed,
        target: &Arc<Target>,
        event: &Arc<event::Model>,
        permit: tokio::sync::OwnedSemaphorePermit,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
    ) {
        let this = Arc::clone(self);
        let target = Arc::clone(target);
        let event = Arc::clone(event);
        let recorder = recorder.clone();
        tasks.spawn(async move {
            crate::metrics::in_flight(1.0);
            let finished = this.deliver(&delivery, &target, &event).await;
            crate::metrics::in_flight(-1.0);
            // The row stays in flight (and leased) until the recorder writes it.
            let _ = recorder.send(finished).await;
            this.finish(&delivery);
            drop(permit);
            this.request_done.notify_one();
        });
    }

    /// Applies the per-subscription in-flight bound and rate limit; counts
    /// the delivery as in flight when it may go.
    fn admit(&self, subscription_id: &str, rate_limit: u32) -> bool {
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
                return false;
            }
        }
        self.count_in(subscription_id)
    }

    /// Counts one more request in flight to the subscription, unless that
    /// would pass its bound.
    fn count_in(&self, subscription_id: &str) -> bool {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        let count = in_flight.entry(subscription_id.to_owned()).or_default();
        if *count >= self.settings.max_in_flight_per_subscription {
            return false;
        }
        *count += 1;
        true
    }

    fn finish(&self, delivery: &Claimed) {
        self.uncount(&delivery.subscription_id, &delivery.id);
    }

    /// The delivery is no longer ours to send: forget it and free its place.
    fn uncount(&self, subscription_id: &str, delivery_id: &str) {
        self.held.lock().expect("held lock").remove(delivery_id);
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        if let Some(count) = in_flight.get_mut(subscription_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(subscription_id);
            }
        }
    }

    async fn load_targets(
        &self,
        claimed: &[Claimed],
        now: i64,
    ) -> Result<HashMap<String, Arc<Target>>, crate::service::ServiceError> {
        let ids: HashSet<&str> = claimed.iter().map(|c| c.subscription_id.as_str()).collect();
        let rows = subscription::Entity::find()
            .filter(subscription::Column::Id.is_in(ids))
            .filter(subscription::Column::Enabled.eq(true))
            .all(&self.db)
            .await?;
        let mut targets = HashMap::new();
        for row in rows {
            let target = self.prepare_target(&row, now)?;
            targets.insert(row.id, Arc::new(target));
        }
        Ok(targets)
    }

    /// A subscription's parsed settings and the secrets that sign at `now`.
    fn prepare_target(
        &self,
        row: &subscription::Model,
        now: i64,
    ) -> Result<Target, crate::service::ServiceError> {
        Ok(Target {
            tenant_id: row.tenant_id.clone(),
            secrets: signing_secrets(&self.cipher, row, now)?,
            spec: to_subscription(row.clone())?.spec,
        })
    }

    async fn load_events(
        &self,
        claimed: &[Claimed],
    ) -> Result<HashMap<(String, String), Arc<event::Model>>, crate::service::ServiceError> {
        // One query per tenant, naming the tenant: the primary key is
        // (tenant_id, id), and ids alone would walk the whole index.
        let mut by_tenant: HashMap<&str, HashSet<&str>> = HashMap::new();
        for delivery in claimed {
            by_tenant
                .entry(delivery.tenant_id.as_str())
                .or_default()
                .insert(delivery.event_id.as_str());
        }
        let mut events = HashMap::new();
        for (tenant_id, ids) in by_tenant {
            let rows = event::Entity::find()
                .filter(event::Column::TenantId.eq(tenant_id))
                .filter(event::Column::Id.is_in(ids))
                .all(&self.db)
                .await?;
            for row in rows {
                events.insert((row.tenant_id.clone(), row.id.clone()), Arc::new(row));
            }
        }
        Ok(events)
    }

    async fn announce_disabled(&self, target: &Target, subscription_id: &str, reason: &str) {
        tracing::warn!(subscription_id, reason, "subscription disabled");
        let payload = serde_json::json!({
            "subscription_id": subscription_id,
            "name": target.spec.name.as_str(),
            "url": target.spec.url.as_str(),
            "reason": reason,
        });
        match publish_operational(&self.db, &target.tenant_id, SUBSCRIPTION_DISABLED, &payload)
            .await
        {
            Ok(published) => {
                if published.subscription_count > 0 {
                    self.wake.notify_one();
                }
                // Watchers see hookrelay's own events like any other.
                self.changes.send(Change::EventPublished {
                    tenant_id: target.tenant_id.clone(),
                    event: published.event,
                });
            }
            Err(err) => tracing::warn!(error = %err, "publishing {SUBSCRIPTION_DISABLED} failed"),
        }
    }
}
