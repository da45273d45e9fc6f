//! Group commit for publishing. Every publish goes to one writer task, which
//! takes all requests that arrived while it was writing the previous group
//! and writes them in one transaction with a fixed number of statements.
//! Idle, a request is written at once; under load, one commit (and on
//! SQLite one fsync and one trip through the single connection) serves many
//! publishers.

use super::events::{FieldPaths, Job, NewEvent, Published, prepare, write_jobs};
use super::{Caller, ServiceError};
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

/// Requests written per transaction at most.
const MAX_GROUP: usize = 128;

type Reply = oneshot::Sender<Result<Vec<Published>, ServiceError>>;

#[derive(Clone)]
pub struct Publisher {
    requests: mpsc::Sender<(Job, Reply)>,
}

impl Publisher {
    /// Starts the writer; it ends when the last `Publisher` is dropped.
    pub fn start(db: DatabaseConnection) -> Self {
        let (requests, inbox) = mpsc::channel(1024);
        tokio::spawn(write_groups(db, inbox));
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

async fn write_groups(db: DatabaseConnection, mut inbox: mpsc::Receiver<(Job, Reply)>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while inbox.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (jobs, replies): (Vec<Job>, Vec<Reply>) =
            std::mem::take(&mut group).into_iter().unzip();
        match write_jobs(&db, &jobs).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            // One request's id raced another replica: the group rolled back.
            // Write each request alone so only that one sees the conflict.
            Err(ServiceError::AlreadyExists { .. }) if jobs.len() > 1 => {
                for (job, reply) in jobs.into_iter().zip(replies) {
                    let outcome = write_jobs(&db, std::slice::from_ref(&job))
                        .await
                        .and_then(|mut outcomes| outcomes.pop().unwrap_or_else(|| Ok(Vec::new())));
                    let _ = reply.send(outcome);
                }
            }
            Err(err) => {
                // ServiceError is not Clone (it may hold a DbErr): every request
                // gets the same class of failure with the same text.
                let unavailable = matches!(err, ServiceError::Unavailable(_));
                let message = err.to_string();
                for reply in replies {
                    let _ = reply.send(Err(if unavailable {
                        ServiceError::Unavailable(sea_orm::DbErr::Custom(message.clone()))
                    } else {
                        ServiceError::Internal(message.clone())
                    }));
                }
            }
        }
    }
}
