//! Deliveries: recording what each attempt did and what happens next
//! (success, retry, dead letter), and the DeliveryService reads and
//! re-queues. Disabling a broken endpoint is [`auto_disable`](super::auto_disable).

use super::{Caller, ServiceError, require_id_shape};
use crate::domain::{Capability, IdKind, Streak};
use crate::store::{
    self, Connection, Db, Transactional, delivery, delivery_attempt, now_micros, queue,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub use crate::domain::{AttemptRecord, DeliveryStatus, NextStep};

/// One event owed to one subscription, as the DeliveryService shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub event_type: String,
    /// `None` for a stored status this version does not know.
    pub status: Option<DeliveryStatus>,
    pub attempts: i32,
    pub next_attempt_time: i64,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

impl From<delivery::Model> for Delivery {
    fn from(row: delivery::Model) -> Self {
        Self {
            status: store::deliveries::status_of(&row),
            id: row.id,
            tenant_id: row.tenant_id,
            event_id: row.event_id,
            subscription_id: row.subscription_id,
            event_type: row.event_type,
            attempts: row.attempts,
            next_attempt_time: row.next_attempt_time,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            create_time: row.create_time,
            update_time: row.update_time,
        }
    }
}

/// One HTTP attempt of a delivery, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub attempt_number: i32,
    /// What was sent, signatures redacted.
    pub request_headers: BTreeMap<String, String>,
    pub response_status_code: Option<i32>,
    /// At most 4 KiB of the response body.
    pub response_body: String,
    pub error: Option<String>,
    pub duration: Duration,
    pub create_time: i64,
}

impl From<delivery_attempt::Model> for Attempt {
    fn from(row: delivery_attempt::Model) -> Self {
        Self {
            request_headers: serde_json::from_str(&row.request_headers).unwrap_or_default(),
            duration: Duration::from_micros(row.duration_micros.max(0) as u64),
            id: row.id,
            delivery_id: row.delivery_id,
            attempt_number: row.attempt_number,
            response_status_code: row.response_status_code,
            response_body: row.response_body,
            error: row.error,
            create_time: row.create_time,
        }
    }
}

/// Stores a group of finished attempts and moves their deliveries on, in
/// one transaction: one commit (one fsync on SQLite) for many results.
/// Returns, for each subscription still failing afterwards, its streak.
/// Subscriptions a result disables are the caller's to
/// [disable](super::auto_disable::disable_and_announce) afterwards.
pub async fn record_attempts(
    db: &Db,
    results: Vec<(AttemptRecord, NextStep)>,
) -> Result<HashMap<String, Streak>, ServiceError> {
    Ok(store::attempts::record_attempts(db, results).await?)
}

/// Cancels the pending deliveries of a subscription that will not be sent
/// (it was disabled or deleted).
pub async fn cancel_pending<C: Connection>(
    db: &C,
    subscription_id: &str,
    now: i64,
) -> Result<(), ServiceError> {
    Ok(store::deliveries::cancel_pending(db, subscription_id, now).await?)
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub subscription_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// Created at or after (unix micros).
    pub start_time: Option<i64>,
    /// Created before (unix micros).
    pub end_time: Option<i64>,
    /// Newest first (a log's order) instead of oldest first.
    pub newest_first: bool,
}

/// Scoped keys see only deliveries to subscriptions of their scope: their
/// ids, or `None` for an unscoped key, which sees the whole tenant.
pub async fn visible_subscription_ids<C: Connection>(
    db: &C,
    caller: &Caller,
) -> Result<Option<Vec<String>>, ServiceError> {
    caller.require(Capability::Read)?;
    let Some(scope) = &caller.scope else {
        return Ok(None);
    };
    let ids =
        store::deliveries::subscription_ids_in_scope(db, &caller.tenant_id, scope.as_str()).await?;
    Ok(Some(ids))
}

pub async fn list<C: Connection>(
    db: &C,
    caller: &Caller,
    filter: DeliveryFilter,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<Delivery>, ServiceError> {
    caller.require(Capability::Read)?;
    let query = store::deliveries::DeliveryQuery {
        tenant_id: caller.tenant_id.clone(),
        visible: visible_subscription_ids(db, caller).await?,
        subscription_id: filter.subscription_id,
        event_id: filter.event_id,
        status: filter.status,
        start_time: filter.start_time,
        end_time: filter.end_time,
        newest_first: filter.newest_first,
    };
    let rows = store::deliveries::list(db, query, after_id, limit).await?;
    Ok(rows.into_iter().map(Delivery::from).collect())
}

pub async fn get<C: Connection>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Delivery, ServiceError> {
    Ok(visible_row(db, caller, id).await?.into())
}

/// The caller's delivery `id`, if its key may see it.
async fn visible_row<C: Connection>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<delivery::Model, ServiceError> {
    caller.require(Capability::Read)?;
    require_id_shape(IdKind::Delivery, "delivery", id)?;
    let row = store::deliveries::get(db, &caller.tenant_id, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("delivery", id))?;
    if let Some(visible) = visible_subscription_ids(db, caller).await?
        && !visible.contains(&row.subscription_id)
    {
        return Err(ServiceError::not_found("delivery", id));
    }
    Ok(row)
}

pub async fn list_attempts<C: Connection>(
    db: &C,
    caller: &Caller,
    delivery_id: &str,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<Attempt>, ServiceError> {
    let delivery = visible_row(db, caller, delivery_id).await?;
    let rows = store::deliveries::list_attempts(db, &delivery.id, after_id, limit).await?;
    Ok(rows.into_iter().map(Attempt::from).collect())
}

/// Re-queues a failed or cancelled delivery to be sent now, with a fresh
/// attempt budget, unless its event was expunged.
pub async fn retry<C: Connection>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Delivery, ServiceError> {
    caller.require(Capability::Manage)?;
    let row = visible_row(db, caller, id).await?;
    match store::deliveries::status_of(&row) {
        Some(DeliveryStatus::Failed | DeliveryStatus::Cancelled) => {}
        _ => {
            return Err(ServiceError::FailedPrecondition(format!(
                "delivery {id} is not failed or cancelled; only finished, unsuccessful deliveries can be retried"
            )));
        }
    }
    let expunged = store::events::get(db, &caller.tenant_id, &row.event_id)
        .await?
        .is_some_and(|event| event.expunge_time.is_some());
    if expunged {
        return Err(ServiceError::FailedPrecondition(format!(
            "the data of event {} was expunged; there is nothing left to send",
            row.event_id
        )));
    }
    let updated = store::deliveries::requeue(db, row, now_micros()).await?;
    queue::notify_dispatchers(db).await?;
    Ok(updated.into())
}

/// Re-sends a subscription's events published in `[start, end)` as new
/// deliveries; with `only_failed`, only events whose delivery failed.
pub async fn replay(
    db: &Db,
    caller: &Caller,
    subscription_id: &str,
    start: Option<i64>,
    end: Option<i64>,
    only_failed: bool,
) -> Result<u32, ServiceError> {
    caller.require(Capability::Manage)?;
    let txn = db.begin().await?;
    let sub = store::deliveries::replay_subscription(&txn, &caller.tenant_id, subscription_id)
        .await?
        .filter(|s| caller.can_see(s.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("subscription", subscription_id))?;
    if !sub.enabled {
        return Err(ServiceError::FailedPrecondition(format!(
            "subscription {subscription_id} is disabled; enable it before replaying"
        )));
    }
    // The latest delivery of each event decides: replay only what is
    // finished (never queue an event twice) and, if asked, only failures.
    let mut latest: BTreeMap<String, delivery::Model> = BTreeMap::new();
    for row in store::deliveries::of_subscription(&txn, &sub.id).await? {
        latest.insert(row.event_id.clone(), row);
    }
    latest.retain(|_, row| is_replayable(store::deliveries::status_of(row), only_failed));
    // The range is over the events' publish times.
    let in_range = store::deliveries::events_published_in(
        &txn,
        &caller.tenant_id,
        latest.keys().cloned(),
        start,
        end,
    )
    .await?;
    let originals: Vec<delivery::Model> = latest
        .into_values()
        .filter(|row| in_range.contains(&row.event_id))
        .collect();
    let count =
        store::deliveries::insert_replays(&txn, &originals, sub.ordered, now_micros()).await?;
    if count > 0 {
        queue::notify_dispatchers(&txn).await?;
    }
    txn.commit().await?;
    Ok(count)
}

/// Whether an event whose latest delivery ended so may be replayed.
fn is_replayable(status: Option<DeliveryStatus>, only_failed: bool) -> bool {
    match status {
        Some(DeliveryStatus::Failed) => true,
        Some(DeliveryStatus::Succeeded | DeliveryStatus::Cancelled) => !only_failed,
        _ => false,
    }
}
