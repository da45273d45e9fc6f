//! Group commit for publishing. Every publish goes to one writer task, which
//! takes all requests that arrived while it was writing the previous group
//! and writes them in one transaction with a fixed number of statements.
//! Idle, a request is written at once; under load, one commit (and on
//! SQLite one fsync and one trip through the single connection) serves many
//! publishers. After each commit the writer hands the deliveries it leased
//! to the local dispatcher and wakes it for the ones it queued.

use super::events::{
    FieldPaths, Job, NewEvent, Published, RoutingCache, Written, prepare, write_jobs,
};
use super::handoff::Handoff;
use super::{Caller, ServiceError};
use crate::store::Db;
use crate::store::{now_micros, queue};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// Requests written per transaction at most.
const MAX_GROUP: usize = 128;

type Reply = oneshot::Sender<Result<Vec<Published>, ServiceError>>;
/// Per request of a group, in order: its events, or why it was refused.
type Outcomes = Vec<Result<Vec<Published>, ServiceError>>;

/// How many requests of a group fit in `room`, at `deliveries_per_job`
/// each; at least one, so that a big fan-out still goes out.
fn jobs_fitting(room: usize, deliveries_per_job: f64) -> usize {
    if deliveries_per_job <= 0.0 {
        return MAX_GROUP;
    }
    ((room as f64 / deliveries_per_job) as usize).clamp(1, MAX_GROUP)
}

#[derive(Clone)]
pub struct Publisher {
    requests: mpsc::Sender<(Job, Reply)>,
}

impl Publisher {
    /// Starts the writer; it ends when the last `Publisher` is dropped.
    /// It writes through `db` and looks caller ids up through `lookups`
    /// (see [`Writer::lookups`]). Without a `handoff` every delivery goes
    /// through the queue.
    pub fn start(
        db: Db,
        lookups: Db,
        handoff: Option<Arc<dyn Handoff>>,
        wake: Arc<Notify>,
    ) -> Self {
        let (requests, inbox) = mpsc::channel(1024);
        let writer = Writer {
            db,
            lookups,
            handoff,
            wake,
            routing: RoutingCache::default(),
        };
        tokio::spawn(writer.write_groups(inbox));
        Self { requests }
    }

    /// Publishes atomically: every event of the request is stored with its
    /// deliveries, or (if any is invalid) none is.
    pub async fn publish(
        &self,
        caller: &Caller,
        events: Vec<NewEvent>,
        paths: FieldPaths,
    ) -> Result<Vec<Published>, ServiceError> {
        let events = prepare(caller, events)?;
        let job = || Job {
            tenant_id: caller.tenant_id.clone(),
            events: events.clone(),
            catalog: Some(paths),
        };
        // A publish of the same caller id through another replica can win the
        // insert race; a second pass finds its event and reports a duplicate.
        let published = match self.send(job()).await {
            Err(ServiceError::AlreadyExists { .. }) => self.send(job()).await,
            other => other,
        }?;
        crate::metrics::events_published(published.iter().filter(|p| !p.duplicate).count());
        Ok(published)
    }

    async fn send(&self, job: Job) -> Result<Vec<Published>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || ServiceError::Internal("the publish writer has stopped".to_owned());
        self.requests
            .send((job, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The one task that writes publishes.
struct Writer {
    db: Db,
    /// For reads of the events table, which grows: on Postgres the main
    /// pool, whose statements are planned with their values every time.
    /// The publisher's own pool keeps generic plans for its fixed
    /// statements, and the caller-id lookup's generic plan, made while the
    /// table was small, went on scanning it as it grew: publishes with
    /// caller ids ran at half speed (in-process bench, 16 clients).
    lookups: Db,
    handoff: Option<Arc<dyn Handoff>>,
    /// The local dispatcher's wake-up, for queued deliveries.
    wake: Arc<Notify>,
    routing: RoutingCache,
}

impl Writer {
    async fn write_groups(self, mut inbox: mpsc::Receiver<(Job, Reply)>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        // Deliveries per request in the last group: how much room the
        // next group is expected to need.
        let mut deliveries_per_job = 1.0;
        loop {
            if group.is_empty() && inbox.recv_many(&mut group, MAX_GROUP).await == 0 {
                break;
            }
            let mut later = Vec::new();
            if let Some(handoff) = &self.handoff {
                let expected = (group.len() as f64 * deliveries_per_job).ceil() as usize;
                let room = handoff.catch_up(expected).await;
                // What arrived meanwhile joins the group...
                while group.len() < MAX_GROUP
                    && let Ok(request) = inbox.try_recv()
                {
                    group.push(request);
                }
                // ...and what would not fit in the room waits for the next.
                if let Some(room) = room {
                    let fits = jobs_fitting(room, deliveries_per_job);
                    if group.len() > fits {
                        later = group.split_off(fits);
                    }
                }
            }
            let jobs_in_group = group.len();
            let (jobs, replies): (Vec<Job>, Vec<Reply>) =
                std::mem::take(&mut group).into_iter().unzip();
            match self.write(&jobs).await {
                Ok((outcomes, deliveries)) => {
                    deliveries_per_job = deliveries as f64 / jobs_in_group as f64;
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                }
                // One request's id raced another replica: the group rolled back.
                // Write each request alone so only that one sees the conflict.
                Err(ServiceError::AlreadyExists { .. }) if jobs.len() > 1 => {
                    for (job, reply) in jobs.into_iter().zip(replies) {
                        let outcome = self.write(std::slice::from_ref(&job)).await.and_then(
                            |(mut outcomes, _)| outcomes.pop().unwrap_or_else(|| Ok(Vec::new())),
                        );
                        let _ = reply.send(outcome);
                    }
                }
                Err(err) => {
                    // ServiceError is not Clone (it may hold a DbErr): every request
                    // gets the same class of failure with the same text.
                    let message = err.to_string();
                    let copy = |message: String| match err {
                        ServiceError::Unavailable(_) => {
                            ServiceError::Unavailable(crate::store::unavailable(message))
                        }
                        ServiceError::StorageFull(_) => {
                            ServiceError::StorageFull(crate::store::unavailable(message))
                        }
                        _ => ServiceError::Internal(message),
                    };
                    for reply in replies {
                        let _ = reply.send(Err(copy(message.clone())));
                    }
                }
            }
            group = later;
        }
    }

    /// Writes one group, then sets its deliveries going.
    /// Returns each request's outcome and how many deliveries were written.
    async fn write(&self, jobs: &[Job]) -> Result<(Outcomes, usize), ServiceError> {
        let Written {
            outcomes,
            direct,
            queued,
        } = write_jobs(
            &self.db,
            &self.lookups,
            jobs,
            self.handoff.as_deref(),
            &self.routing,
        )
        .await?;
        let handed_over = direct.len();
        if let Some(handoff) = &self.handoff
            && let Err(unsent) = handoff.send(direct)
        {
            // The dispatcher stopped after the commit: queue them instead
            // (or, if even that fails, their leases run out).
            let ids: Vec<String> = unsent.into_iter().map(|d| d.delivery.id).collect();
            if let Err(err) = queue::release(&self.db, &ids, now_micros()).await {
                tracing::warn!(error = %err, "queueing handed-off deliveries failed; their leases will expire");
            }
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok((outcomes, handed_over + queued))
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_GROUP, jobs_fitting};

    #[test]
    fn a_group_is_cut_to_the_room_it_is_expected_to_need() {
        assert_eq!(jobs_fitting(512, 10.0), 51);
        assert_eq!(jobs_fitting(512, 1.0), MAX_GROUP);
        // A fan-out bigger than the room still goes, one request at a time.
        assert_eq!(jobs_fitting(100, 1_000.0), 1);
        // Requests that routed nowhere need no room.
        assert_eq!(jobs_fitting(0, 0.0), MAX_GROUP);
    }
}
