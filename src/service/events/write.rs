//! The write step of a publish: a group of requests in one transaction with
//! a fixed number of statements, however many requests and events.

use super::catalog;
use super::idempotency::Duplicates;
use super::route::{self, Plan};
use super::routing::{Routing, RoutingCache};
use super::{Job, Published};
use crate::service::ServiceError;
use crate::service::handoff::{Direct, Handoff};
use crate::store::{
    Connection, Db, DbError, TransactionSession, Transactional, is_unique_violation, now_micros,
    publish,
};
use std::collections::{HashMap, HashSet};

/// What a group of publishes wrote.
pub(in crate::service) struct Written {
    /// Per request, in order: its events, or why it was refused.
    pub outcomes: Vec<Result<Vec<Published>, ServiceError>>,
    /// Deliveries written leased to this replica, to hand over now.
    pub direct: Vec<Direct>,
    /// Deliveries written pending, for whichever dispatcher claims them.
    pub queued: usize,
}

/// Writes a group of publish requests for the [`Publisher`]: the tenants'
/// routing comes from `routing` and existing ids are read once for the
/// group; events and deliveries are inserted in bulk. A request that fails
/// validation gets its own error and the others proceed; a database error
/// fails the whole group.
///
/// When every tenant's routing is kept, the group routes with it and its
/// write checks that their routing stamps have not moved: no read of its
/// own, and on SQLite the whole transaction in one turn of the connection.
/// Its caller ids are looked up (through `lookups`, see the publisher's
/// writer) only if the write finds one taken.
/// If a stamp moved, nothing was written and the group routes again
/// afresh ([`write_jobs_afresh`]).
///
/// With a `handoff`, each delivery the local dispatcher has room for is
/// written leased to it, to be handed over after the commit; the rest are
/// queued, and only queued deliveries wake other replicas.
///
/// [`Publisher`]: crate::service::publisher::Publisher
pub(in crate::service) async fn write_jobs(
    db: &Db,
    lookups: &Db,
    jobs: &[Job],
    handoff: Option<&dyn Handoff>,
    routing: &RoutingCache,
) -> Result<Written, ServiceError> {
    let tenants = tenants_of(jobs);
    if let Some(kept) = routing.kept(&tenants) {
        let stamps: Vec<(&str, i64)> = kept
            .iter()
            .map(|(tenant, r)| (tenant.as_str(), r.stamp()))
            .collect();
        // Caller ids are first taken to be new, as nearly all are: the
        // insert itself tells when one is not (its primary key), and only
        // then are the group's ids looked up and the group planned again.
        // A lookup before every write was a round trip per group.
        let has_caller_ids = jobs.iter().any(|j| j.events.iter().any(|e| e.id.is_some()));
        let mut duplicates = Duplicates::none();
        let mut looked_up = false;
        loop {
            let (outcomes, plan) = plan_group(jobs, &kept, duplicates, handoff);
            let queued = plan.deliveries.len() - plan.direct.len();
            let events: Vec<_> = plan.events.iter().map(AsRef::as_ref).collect();
            let written =
                publish::insert_group_if_current(db, &events, plan.deliveries, queued > 0, &stamps)
                    .await;
            // From here on, dropping the plan gives its reservations' room back.
            match written {
                Ok(true) => {
                    return Ok(Written {
                        outcomes,
                        direct: plan.direct,
                        queued,
                    });
                }
                // A routing stamp moved: route afresh.
                Ok(false) => break,
                Err(err) if is_unique_violation(&err) && has_caller_ids && !looked_up => {
                    duplicates = Duplicates::load(lookups, jobs).await?;
                    looked_up = true;
                }
                Err(err) => return Err(insert_error(err)),
            }
        }
        routing.forget(&tenants);
    }
    write_jobs_afresh(db, jobs, handoff, routing).await
}

/// Writes a group with its tenants' routing read from the database (and
/// kept in `routing` for the next group), the reads before the write.
pub(in crate::service) async fn write_jobs_afresh<C: Connection + Transactional>(
    db: &C,
    jobs: &[Job],
    handoff: Option<&dyn Handoff>,
    routing: &RoutingCache,
) -> Result<Written, ServiceError> {
    if publish::single_connection(db) {
        // One connection: reads and writes in one transaction take one turn
        // at it, where separate reads would queue for it one by one.
        let txn = db.begin().await?;
        let written = route_and_store(&txn, jobs, handoff, routing, true).await?;
        txn.commit().await?;
        return Ok(written);
    }
    route_and_store(db, jobs, handoff, routing, false).await
}

/// `in_transaction`: `db` is already a transaction the caller commits.
async fn route_and_store<C: Connection + Transactional>(
    db: &C,
    jobs: &[Job],
    handoff: Option<&dyn Handoff>,
    cache: &RoutingCache,
    in_transaction: bool,
) -> Result<Written, ServiceError> {
    let tenants = tenants_of(jobs);
    // The reads side by side and outside the write: under READ COMMITTED
    // each statement sees the latest commits anyway, and a race on a
    // caller's event id is caught by the primary key below.
    let (routing, duplicates) =
        tokio::try_join!(cache.load(db, &tenants), Duplicates::load(db, jobs))?;
    let (outcomes, plan) = plan_group(jobs, &routing, duplicates, handoff);
    let queued = plan.deliveries.len() - plan.direct.len();
    let events: Vec<_> = plan.events.iter().map(AsRef::as_ref).collect();
    publish::insert_group(db, &events, plan.deliveries, queued > 0, in_transaction)
        .await
        .map_err(insert_error)?;
    Ok(Written {
        outcomes,
        direct: plan.direct,
        queued,
    })
}

fn tenants_of(jobs: &[Job]) -> HashSet<&str> {
    jobs.iter().map(|j| j.tenant_id.as_str()).collect()
}

/// Checks each request against its tenant's catalog and routes those that
/// pass: every request's outcome so far, and the rows to write.
fn plan_group(
    jobs: &[Job],
    routing: &Routing,
    mut duplicates: Duplicates,
    handoff: Option<&dyn Handoff>,
) -> (Vec<Result<Vec<Published>, ServiceError>>, Plan) {
    let no_catalog = HashMap::new();
    let mut outcomes: Vec<Result<Vec<Published>, ServiceError>> = jobs
        .iter()
        .map(|job| {
            let catalog = routing
                .get(&job.tenant_id)
                .map_or(&no_catalog, |r| &r.catalog);
            catalog::check(catalog, job).map(|()| Vec::new())
        })
        .collect();
    let plan = route::plan(
        jobs,
        &mut outcomes,
        &mut duplicates,
        routing,
        handoff,
        now_micros(),
    );
    (outcomes, plan)
}

fn insert_error(err: DbError) -> ServiceError {
    if is_unique_violation(&err) {
        // Another replica (or group) published one of these ids just now.
        ServiceError::AlreadyExists {
            kind: "event",
            id: String::new(),
        }
    } else {
        err.into()
    }
}
