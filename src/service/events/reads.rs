//! GetEvent and ListEvents: a tenant's stored events, as its caller may see them.

use super::{Event, EventFilter};
use crate::domain::Capability;
use crate::service::{Caller, ServiceError};
use crate::store::events::{self, EventQuery};
use crate::store::{Connection, event};

pub async fn get<C: Connection>(db: &C, caller: &Caller, id: &str) -> Result<Event, ServiceError> {
    caller.require(Capability::Read)?;
    let row = events::get(db, &caller.tenant_id, id)
        .await?
        .filter(|row| caller.can_see(row.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("event", id))?;
    to_event(row)
}

/// Where a page of events ends: publish time, then id (caller-chosen ids
/// need not sort by time, so the id alone cannot be the key).
pub fn event_page_key(event: &Event) -> String {
    format!("{}:{}", event.create_time, event.id)
}

fn parse_event_page_key(key: &str) -> Option<(i64, &str)> {
    let (time, id) = key.split_once(':')?;
    Some((time.parse().ok()?, id))
}

/// Events oldest (or newest) first, paged by (publish time, id).
pub async fn list<C: Connection>(
    db: &C,
    caller: &Caller,
    filter: EventFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Event>, ServiceError> {
    caller.require(Capability::Read)?;
    let scope = caller.effective_scope(filter.scope)?;
    let after = after
        .map(|key| {
            parse_event_page_key(key).ok_or_else(|| {
                ServiceError::invalid("page_token", "is not a token this server issued")
            })
        })
        .transpose()?;
    let query = EventQuery {
        tenant_id: &caller.tenant_id,
        scope: scope.as_ref().map(|s| s.as_str()),
        event_type: filter.event_type.as_deref(),
        start_time: filter.start_time,
        end_time: filter.end_time,
        newest_first: filter.newest_first,
        after,
        limit,
    };
    events::list_page(db, query)
        .await?
        .into_iter()
        .map(to_event)
        .collect()
}

pub(super) fn to_event(row: event::Model) -> Result<Event, ServiceError> {
    let object = |field: &str, text: &str| {
        serde_json::from_str(text)
            .map_err(|e| ServiceError::Internal(format!("stored event {}: {field}: {e}", row.id)))
    };
    let metadata = object("metadata", &row.metadata)?;
    let attributes = row
        .attributes
        .as_deref()
        .map(|text| object("attributes", text))
        .transpose()?;
    Ok(Event {
        id: row.id,
        event_type: row.event_type,
        scope: row.scope,
        payload: row.payload,
        metadata,
        attributes,
        create_time: row.create_time,
        expunge_time: row.expunge_time,
    })
}
