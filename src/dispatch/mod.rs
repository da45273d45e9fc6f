//! The delivery engine. It takes deliveries handed over by this replica's
//! publishes (see [`handoff`]) and claims due ones from the queue in batches
//! under a lease, sends each as a signed POST with the shared client,
//! records the attempt and schedules what comes next. No transaction or row
//! lock is ever held across a network call: a claim is one statement, a
//! result is one short transaction. Leases are renewed while requests run;
//! a process that dies mid-send loses nothing: its leases expire and the
//! deliveries are claimed again (at-least-once).

mod attempt;
mod bounds;
mod handoff;
mod health_news;
mod http;
mod leases;
mod listen;
mod pacing;
mod recorder;
mod request;
mod start;
mod targets;
mod test_event;
mod waiting;

pub use handoff::{Handoff, Slot};
pub use http::{HttpOutcome, MAX_RECORDED_BODY, WebhookClient};
pub use listen::listen_for_wake_ups;
use recorder::Finished;
use targets::{PreparedTargets, Target};
pub use test_event::WebhookTestSender;

use crate::domain::SecretCipher;
use crate::service::changes::ChangeFeed;
use crate::service::handoff::Direct;
use crate::store::{Db, now_micros, queue};
use governor::DefaultDirectRateLimiter;
use std::collections::{HashMap, HashSet};
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
    /// Longest a publish waits for room here (see [`pacing`]); zero: never.
    pub publish_wait: Duration,
    /// A subscription failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// Failed attempts in a row that make a subscription "failing" (see
    /// [`health_events`](crate::service::health_events)).
    pub failing_after: u32,
    /// How long before auto-disable its tenant is warned; zero: never.
    pub disable_warning: Duration,
    /// How long shutdown waits for requests in flight before releasing them.
    pub shutdown_grace: Duration,
}

pub struct Dispatcher {
    db: Db,
    cipher: Arc<SecretCipher>,
    client: WebhookClient,
    wake: Arc<Notify>,
    changes: ChangeFeed,
    settings: DispatchSettings,
    permits: Arc<Semaphore>,
    /// Requests in flight per subscription, for the per-subscription bound,
    /// and the deliveries waiting for a place under it (see [`waiting`]).
    places: Mutex<HashMap<String, waiting::Places>>,
    /// Set when a subscription has places free and deliveries waiting that
    /// no finishing request will pass its place to: the run loop starts them.
    stranded: AtomicBool,
    /// Deliveries this process holds, released if shutdown cuts them short.
    held: Mutex<HashSet<String>>,
    limiters: Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>,
    /// Subscriptions prepared for sending, reused while unchanged.
    prepared: Mutex<PreparedTargets>,
    /// Set when shutdown begins: publishes stop handing deliveries over.
    closing: AtomicBool,
    /// Set when a hand-off found the dispatcher full, cleared when a claim
    /// finds the queue drained: meanwhile publishes queue their deliveries
    /// behind the older ones instead of overtaking them.
    backlog: AtomicBool,
    /// Deliveries publishes handed over; `run` takes the receiver.
    handoff_sender: mpsc::UnboundedSender<Vec<Direct>>,
    handoffs: Mutex<Option<mpsc::UnboundedReceiver<Vec<Direct>>>>,
    /// What the recorder remembers to tell tenants how their endpoints do.
    health: health_news::HealthWatch,
    /// Signalled when a request finishes, for a dispatcher waiting on a bound.
    request_done: Notify,
    /// Signalled when room may have come free, for a publish writer
    /// waiting for the dispatcher to catch up (see [`pacing`]).
    room_freed: Notify,
    /// Set when the writer waited for room in vain; cleared when there is
    /// room again (see [`pacing`]).
    pacing_given_up: AtomicBool,
}

/// What the run loop waits for before it claims again.
enum Wait {
    /// Room for a batch ([`Dispatcher::claim_room`] permits), or 20 ms.
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
        db: Db,
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
            backlog: AtomicBool::new(false),
            request_done: Notify::new(),
            room_freed: Notify::new(),
            pacing_given_up: AtomicBool::new(false),
            db,
            cipher,
            client,
            wake,
            changes,
            permits: Arc::new(Semaphore::new(settings.max_in_flight)),
            settings,
            places: Mutex::new(HashMap::new()),
            stranded: AtomicBool::new(false),
            held: Mutex::new(HashSet::new()),
            limiters: Mutex::new(HashMap::new()),
            health: health_news::HealthWatch::default(),
            prepared: Mutex::new(HashMap::new()),
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
        let mut waited_for_room = false;
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            if last_reclaim.is_none_or(|at| at.elapsed() >= reclaim_every) {
                if let Err(err) = queue::release_expired_leases(&self.db, now_micros()).await {
                    tracing::warn!(error = %err, "releasing expired leases failed");
                }
                last_reclaim = Some(Instant::now());
            }
            let Some(wait) = self
                .claim_and_start(&mut tasks, &recorder, waited_for_room)
                .await
            else {
                waited_for_room = false;
                continue;
            };
            waited_for_room = matches!(wait, Wait::Permit);
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
    /// `waited_for_room`: the last wait was for room, so whatever is free
    /// now is claimed (slow requests may hold the rest for long).
    async fn claim_and_start(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        recorder: &mpsc::Sender<Finished>,
        waited_for_room: bool,
    ) -> Option<Wait> {
        self.start_stranded(tasks, recorder);
        let free = self.permits.available_permits() as u64;
        // With a backlog there is more due than room: a claim for the one
        // or two permits just freed would cost a claim, a targets read and
        // an events read for a delivery or two, over and over (twice the
        // Postgres CPU of a fan-out). Wait for a batch's worth instead.
        let short_of_room = free < self.claim_room() && self.backlog.load(Ordering::Acquire);
        if free == 0 || (short_of_room && !waited_for_room) {
            return Some(Wait::Permit);
        }
        let limit = free.min(self.settings.batch_size);
        let now = now_micros();
        let lease_until = now + self.settings.lease.as_micros() as i64;
        let mut claimed = match queue::claim_due(&self.db, now, lease_until, limit).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "claiming deliveries failed; retrying shortly");
                return Some(Wait::Sleep(self.settings.poll_interval));
            }
        };
        let (count, full) = (claimed.len(), claimed.len() as u64 == limit);
        if !full {
            // Nothing more is due: hand-offs may overtake nothing now.
            if self.backlog.swap(false, Ordering::AcqRel) {
                self.room_may_be_free();
            }
        }
        let deferred = if count > 0 {
            // Ids grow with time: started in their order, older ones go first.
            claimed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
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
            Wait::Permit => {
                // Wait for room for a batch (or a moment), not one permit:
                // claiming each freed permit alone was a claim, a targets
                // read and an events read per delivery.
                let _ = tokio::time::timeout(
                    Duration::from_millis(20),
                    self.permits.acquire_many(self.claim_room() as u32),
                )
                .await;
            }
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

    /// The room a claim waits for when there is more to claim than room.
    fn claim_room(&self) -> u64 {
        self.settings
            .batch_size
            .min(self.settings.max_in_flight as u64 / 8)
            .max(1)
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
}
