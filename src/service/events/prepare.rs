//! The first step of a publish: what needs no database. Also the publish of
//! hookrelay's own operational events, which skips the catalog.

use super::routing::RoutingCache;
use super::write::write_jobs_afresh;
use super::{Job, NewEvent, Published};
use crate::domain::{Capability, EventTypeName};
use crate::service::{Caller, ServiceError};
use crate::store::{Connection, Transactional};

/// Most events one call may publish.
pub const MAX_BATCH: usize = 1_000;

/// Checks the caller's capability, the batch size and each event's scope
/// before a publish goes to the [`Publisher`](crate::service::publisher::Publisher).
pub fn prepare(caller: &Caller, mut events: Vec<NewEvent>) -> Result<Vec<NewEvent>, ServiceError> {
    caller.require(Capability::Publish)?;
    check_batch_size(events.len())?;
    for event in &mut events {
        event.scope = caller.effective_scope(event.scope.take())?;
    }
    Ok(events)
}

/// The one check of how many events a call may publish. The gRPC layer
/// calls it before converting a batch, so a huge one is refused early.
pub fn check_batch_size(count: usize) -> Result<(), ServiceError> {
    if count == 0 {
        return Err(ServiceError::invalid(
            "events",
            "must contain at least one event",
        ));
    }
    if count > MAX_BATCH {
        return Err(ServiceError::invalid(
            "events",
            format!("at most {MAX_BATCH} events per call (got {count})"),
        ));
    }
    Ok(())
}

/// Publishes one of hookrelay's own `hookrelay.*` events to a tenant. The
/// reserved types are not in the catalog, so the catalog check is skipped.
/// Returns the stored event and how many deliveries it queued.
pub async fn publish_operational<C: Connection + Transactional>(
    db: &C,
    tenant_id: &str,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<Published, ServiceError> {
    let event_type = EventTypeName::parse(event_type)
        .map_err(|e| ServiceError::Internal(format!("operational event type: {e}")))?;
    let event = NewEvent {
        id: None,
        event_type,
        scope: None,
        payload: data.to_string(),
        metadata: Default::default(),
        attributes: None,
    };
    let job = Job {
        tenant_id: tenant_id.to_owned(),
        events: vec![event],
        catalog: None,
    };
    // Rare, and possibly inside the transaction that changed the tenant's
    // subscriptions: read the routing afresh.
    let routing = RoutingCache::default();
    let mut written = write_jobs_afresh(db, std::slice::from_ref(&job), None, &routing).await?;
    written
        .outcomes
        .pop()
        .unwrap_or_else(|| Ok(Vec::new()))?
        .pop()
        .ok_or_else(|| ServiceError::Internal("operational publish stored nothing".to_owned()))
}
