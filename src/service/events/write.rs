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
    Connection, DbError, TransactionSession, Transactional, is_unique_violation, now_micros,
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

/// Writes a group of publish requests: the tenants' routing comes from
/// `routing` (one small read of their stamps when nothing changed) and
/// existing ids are read once for the group; events and deliveries are
/// inserted in bulk. A request that fails validation gets its own error and
/// the others proceed; a database error fails the whole group.
///
/// With a `handoff`, each delivery the local dispatcher has room for is
/// written leased to it, to be handed over after the commit; the rest are
/// queued, and only queued deliveries wake other replicas.
pub(in crate::service) async fn write_jobs<C: Connection + Transactional>(
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
    let tenants: HashSet<&str> = jobs.iter().map(|j| j.tenant_id.as_str()).collect();
    // On Postgres a group routes with the kept routing when it has it, and
    // its one write statement checks that the tenants' stamps have not
    // moved: one round trip where reading the stamps first took two. If
    // one moved, nothing was written; the group routes again afresh.
    let mut route_with_kept = !in_transaction && !publish::single_connection(db);
    loop {
        let kept = if route_with_kept {
            cache.kept(&tenants)
        } else {
            None
        };
        let checked_by_write = kept.is_some();
        // Otherwise the reads go first, side by side and outside the write:
        // under READ COMMITTED each statement sees the latest commits
        // anyway, and a race on a caller's event id is caught by the
        // primary key below.
        let (routing, mut duplicates): (Routing, Duplicates) = match kept {
            Some(routing) => (routing, Duplicates::load(db, jobs).await?),
            None => tokio::try_join!(cache.load(db, &tenants), Duplicates::load(db, jobs))?,
        };
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
        let Plan {
            events,
            deliveries,
            direct,
        } = route::plan(
            jobs,
            &mut outcomes,
            &mut duplicates,
            &routing,
            handoff,
            now_micros(),
        );
        let queued = deliveries.len() - direct.len();
        let events: Vec<_> = events.iter().map(AsRef::as_ref).collect();
        if checked_by_write {
            let stamps: Vec<(&str, i64)> = routing
                .iter()
                .map(|(tenant, r)| (tenant.as_str(), r.stamp()))
                .collect();
            let written = if publish::fits_one_statement(events.len(), deliveries.len()) {
                publish::insert_group_if_current(db, &events, deliveries, queued > 0, &stamps)
                    .await
                    .map_err(insert_error)?
            } else if publish::stamps_current(db, &stamps).await? {
                // Too big to check in the same statement: checked just
                // before, as a group that reads the stamps first would.
                publish::insert_group(db, &events, deliveries, queued > 0, false)
                    .await
                    .map_err(insert_error)?;
                true
            } else {
                false
            };
            if !written {
                // Dropping the plan gives its reservations' room back.
                cache.forget(&tenants);
                route_with_kept = false;
                continue;
            }
        } else {
            publish::insert_group(db, &events, deliveries, queued > 0, in_transaction)
                .await
                .map_err(insert_error)?;
        }
        return Ok(Written {
            outcomes,
            direct,
            queued,
        });
    }
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
