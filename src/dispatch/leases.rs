//! The leases this dispatcher holds: renewed while their requests run, and
//! at shutdown, after the grace period, handed back to the queue with
//! whatever was handed over but never started or waited for a place under
//! its subscription's bound.

use super::Dispatcher;
use super::recorder::Finished;
use crate::service::handoff::Direct;
use crate::store::{now_micros, queue};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

impl Dispatcher {
    /// Every third of a lease, extends the leases of everything this process
    /// holds, so a request slower than the lease is not sent again while it
    /// is still in flight. Only a process that stops renewing (it died, or
    /// lost the database for a whole lease) gives its deliveries back.
    pub(super) async fn renew_leases(self: Arc<Self>, stop: CancellationToken) {
        let every = (self.settings.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
            let held: Vec<String> = self
                .held
                .lock()
                .expect("held lock")
                .iter()
                .cloned()
                .collect();
            if held.is_empty() {
                continue;
            }
            let until = now_micros() + self.settings.lease.as_micros() as i64;
            if let Err(err) = queue::renew(&self.db, &held, until).await {
                tracing::warn!(error = %err, "renewing leases failed; retrying");
            }
        }
    }

    pub(super) async fn drain(
        &self,
        mut tasks: JoinSet<()>,
        mut handoffs: mpsc::UnboundedReceiver<Vec<Direct>>,
        recorder: mpsc::Sender<Finished>,
        recording: tokio::task::JoinHandle<()>,
    ) {
        let finished = tokio::time::timeout(self.settings.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // Every sender is gone now: the recorder writes what it has and ends.
        drop(recorder);
        // What waited for a place gives back its permit; it is still held,
        // so it is released below with the rest.
        self.drop_waiting();
        let _ = recording.await;
        // A publish that reserved room before `closing` was set may still
        // commit: wait (briefly) until every reservation was handed over or
        // dropped, and give back what was handed over but never started.
        let mut unsent = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            while let Ok(batch) = handoffs.try_recv() {
                unsent.extend(batch.into_iter().map(|direct| direct.delivery.id));
            }
            if self.permits.available_permits() == self.settings.max_in_flight
                || Instant::now() >= deadline
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // From here a hand-off fails and its publisher returns it to the queue.
        handoffs.close();
        while let Ok(batch) = handoffs.try_recv() {
            unsent.extend(batch.into_iter().map(|direct| direct.delivery.id));
        }
        let mut held: Vec<String> = self.held.lock().expect("held lock").drain().collect();
        held.extend(unsent);
        if !held.is_empty() {
            tracing::info!(
                count = held.len(),
                "releasing deliveries cut short by shutdown"
            );
            if let Err(err) = queue::release(&self.db, &held, now_micros()).await {
                tracing::warn!(error = %err, "releasing deliveries failed; their leases will expire");
            }
        }
    }
}
