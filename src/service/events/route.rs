//! The routing step of a publish: which enabled subscriptions receive each
//! new event (type, scope, then payload filter), and for each delivery
//! whether this replica's dispatcher takes it at once (written leased to
//! it) or the queue carries it. An event a filter turns away gets no
//! delivery row and is not counted in its `subscription_count`.

use super::idempotency::{Duplicates, Repeat};
use super::routing::{Routing, Target};
use super::{Event, Job, Published};
use crate::domain::{IdKind, new_id};
use crate::service::ServiceError;
use crate::service::handoff::{Direct, Handoff};
use crate::store::delivery::Status;
use crate::store::publish::NewDelivery;
use crate::store::{event, queue};
use std::sync::Arc;

/// The rows a group writes.
#[derive(Default)]
pub(super) struct Plan {
    pub events: Vec<Arc<event::Model>>,
    pub deliveries: Vec<NewDelivery>,
    /// Deliveries the local dispatcher reserved room for, to hand over
    /// after the commit.
    pub direct: Vec<Direct>,
}

/// Routes the new events of every request not refused yet: fills each
/// request's outcome with its results and returns the rows to write.
pub(super) fn plan(
    jobs: &[Job],
    outcomes: &mut [Result<Vec<Published>, ServiceError>],
    duplicates: &mut Duplicates,
    routing: &Routing,
    handoff: Option<&dyn Handoff>,
    now: i64,
) -> Plan {
    let mut plan = Plan::default();
    let lease_until = handoff.map(|h| now + h.lease().as_micros() as i64);
    for (job_index, job) in jobs.iter().enumerate() {
        if outcomes[job_index].is_err() {
            continue;
        }
        let tenant_id = job.tenant_id.as_str();
        let targets = routing
            .get(tenant_id)
            .map_or(&[][..], |r| r.targets.as_slice());
        let mut results = Vec::with_capacity(job.events.len());
        for new in &job.events {
            let caller_id = new.id.as_ref().map(|id| id.as_str());
            if let Some(id) = caller_id {
                match duplicates.check(tenant_id, id, job_index, &results, outcomes) {
                    Repeat::No => {}
                    Repeat::Of(original) => {
                        results.push(original);
                        continue;
                    }
                    Repeat::OfRefused => continue,
                }
                duplicates.remember(tenant_id, id, job_index, results.len());
            }
            let id = caller_id.map_or_else(|| new_id(IdKind::Event), str::to_owned);
            let stored = Arc::new(event::Model {
                tenant_id: tenant_id.to_owned(),
                id: id.clone(),
                event_type: new.event_type.as_str().to_owned(),
                scope: new.scope.as_ref().map(|s| s.as_str().to_owned()),
                payload: new.payload.clone(),
                metadata: serde_json::Value::Object(new.metadata.clone()).to_string(),
                attributes: new
                    .attributes
                    .as_ref()
                    .map(|a| serde_json::Value::Object(a.clone()).to_string()),
                create_time: now,
                expunge_time: None,
            });
            let mut fanned_out = 0;
            // Parsed at most once per event, and only if a filter asks.
            let mut data = None;
            for target in targets.iter().filter(|t| {
                t.route
                    .accepts(new.event_type.as_str(), stored.scope.as_deref())
            }) {
                if let Some(filter) = &target.filter {
                    let data = data.get_or_insert_with(|| parse_data(&new.payload));
                    if !filter.matches(data) {
                        continue;
                    }
                }
                fanned_out += 1;
                plan.add_delivery(&stored, target, handoff, lease_until);
            }
            results.push(Published {
                event: Event {
                    id,
                    event_type: stored.event_type.clone(),
                    scope: stored.scope.clone(),
                    payload: new.payload.clone(),
                    metadata: new.metadata.clone(),
                    attributes: new.attributes.clone(),
                    create_time: now,
                    expunge_time: None,
                },
                subscription_count: fanned_out,
                duplicate: false,
            });
            plan.events.push(stored);
        }
        outcomes[job_index] = Ok(results);
    }
    plan
}

/// An event's data for payload filters. It was checked to be a JSON
/// object when the request was converted; should it not parse, filters
/// see `null` and a filter on any field does not match.
fn parse_data(payload: &str) -> serde_json::Value {
    serde_json::from_str(payload).unwrap_or(serde_json::Value::Null)
}

impl Plan {
    /// One delivery of `event` to `target`: leased to the local dispatcher
    /// if it has room, else pending for the queue.
    fn add_delivery(
        &mut self,
        event: &Arc<event::Model>,
        target: &Target,
        handoff: Option<&dyn Handoff>,
        lease_until: Option<i64>,
    ) {
        let delivery_id = new_id(IdKind::Delivery);
        let reservation = handoff.and_then(|h| h.reserve(&target.model, &delivery_id));
        let (status, lease_expire_time) = match (&reservation, lease_until) {
            (Some(_), Some(until)) => (Status::InFlight, Some(until)),
            _ => (Status::Pending, None),
        };
        if let Some(reservation) = reservation {
            self.direct.push(Direct {
                reservation,
                delivery: queue::Claimed {
                    id: delivery_id.clone(),
                    tenant_id: event.tenant_id.clone(),
                    event_id: event.id.clone(),
                    subscription_id: target.model.id.clone(),
                    attempts: 0,
                    create_time: event.create_time,
                },
                subscription: Arc::clone(&target.model),
                event: Arc::clone(event),
            });
        }
        self.deliveries.push(NewDelivery {
            id: delivery_id,
            tenant_id: event.tenant_id.clone(),
            event_id: event.id.clone(),
            subscription_id: target.model.id.clone(),
            event_type: event.event_type.clone(),
            ordered: target.model.ordered,
            status,
            lease_expire_time,
            time: event.create_time,
        });
    }
}
