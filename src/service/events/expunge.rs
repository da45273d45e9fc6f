//! ExpungeEvent: a data-protection request removes one event's data at
//! once, ahead of retention. What stays is what the delivery history needs
//! to make sense: the event's id, type, scope and publish time, its
//! deliveries and their attempts (which never held the body: they keep
//! request headers with signatures redacted, and the receiver's answer).

use super::Event;
use super::reads::to_event;
use crate::domain::Capability;
use crate::service::{Caller, ServiceError};
use crate::store::{Db, Transactional, deliveries, events, now_micros};

/// Why an expunged event's pending deliveries were cancelled.
pub const EXPUNGED_REASON: &str = "cancelled: the event's data was expunged";

/// Removes the event's payload, metadata and attributes and cancels its
/// pending deliveries: sending what was expunged would defeat the point.
/// Expunging an expunged event changes nothing and returns it as it is.
pub async fn expunge(db: &Db, caller: &Caller, id: &str) -> Result<Event, ServiceError> {
    caller.require(Capability::Manage)?;
    let txn = db.begin().await?;
    let visible = events::get(&txn, &caller.tenant_id, id)
        .await?
        .filter(|row| caller.can_see(row.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("event", id))?;
    if visible.expunge_time.is_none() {
        let now = now_micros();
        events::expunge(&txn, &caller.tenant_id, id, now).await?;
        let cancelled =
            deliveries::cancel_pending_of_event(&txn, &caller.tenant_id, id, EXPUNGED_REASON, now)
                .await?;
        tracing::info!(event_id = id, cancelled, "event expunged");
    }
    let row = events::get(&txn, &caller.tenant_id, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("event", id))?;
    txn.commit().await?;
    to_event(row)
}
