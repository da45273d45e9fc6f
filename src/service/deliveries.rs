//! Deliveries: recording what each attempt did and what happens next
//! (success, retry, dead letter, disabling a broken endpoint), and the
//! DeliveryService reads and re-queues.

use super::{Caller, ServiceError};
use crate::domain::{Capability, IdKind, new_id};
use crate::store::delivery::Status;
use crate::store::{combine, delivery, delivery_attempt, event, now_micros, queue, subscription};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, TransactionSession, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// One finished HTTP attempt, ready to store.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub attempt_number: i32,
    pub request_headers: BTreeMap<String, String>,
    pub status_code: Option<u16>,
    pub response_body: String,
    pub error: Option<String>,
    pub duration: Duration,
    pub time: i64,
}

impl AttemptRecord {
    /// The delivery's `last_error`: the transport error, or the HTTP status
    /// when the endpoint answered with something other than 2xx.
    pub fn last_error(&self) -> Option<String> {
        self.error.clone().or_else(|| {
            self.status_code
                .filter(|code| !(200..300).contains(code))
                .map(|code| format!("HTTP {code}"))
        })
    }
}

/// What the dispatcher decided after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    /// Try again at this time (µs since the epoch).
    RetryAt(i64),
    /// Retries exhausted: keep it as failed, retryable by hand.
    DeadLetter,
    /// The endpoint is gone (410) or was disabled: fail and disable the
    /// subscription with this reason.
    DisableSubscription(String),
}

impl NextStep {
    /// The delivery status this step leaves behind.
    pub fn status(&self) -> Status {
        match self {
            NextStep::Succeeded => Status::Succeeded,
            NextStep::RetryAt(_) => Status::Pending,
            NextStep::DeadLetter | NextStep::DisableSubscription(_) => Status::Failed,
        }
    }
}

/// Stores a group of finished attempts and moves their deliveries on, in
/// one transaction: one commit (one fsync on SQLite) for many results.
/// Returns, for each subscription still failing afterwards, since when.
pub async fn record_attempts<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    results: Vec<(AttemptRecord, NextStep)>,
) -> Result<HashMap<String, i64>, ServiceError> {
    if results.is_empty() {
        return Ok(HashMap::new());
    }
    let attempts: Vec<delivery_attempt::ActiveModel> = results
        .iter()
        .map(|(record, _)| delivery_attempt::ActiveModel {
            id: Set(new_id(IdKind::Attempt)),
            delivery_id: Set(record.delivery_id.clone()),
            tenant_id: Set(record.tenant_id.clone()),
            attempt_number: Set(record.attempt_number),
            request_headers: Set(
                serde_json::to_string(&record.request_headers).expect("string map")
            ),
            response_status_code: Set(record.status_code.map(i32::from)),
            response_body: Set(record.response_body.clone()),
            error: Set(record.last_error()),
            duration_micros: Set(record.duration.as_micros() as i64),
            create_time: Set(record.time),
        })
        .collect();
    if let Some(code) = all_succeeded_with_one_code(&results)
        && db.get_database_backend() == DatabaseBackend::Postgres
        && results.len() <= ONE_STATEMENT_RESULTS
    {
        // The common case under load, as one statement: no BEGIN/COMMIT
        // round trips, and nothing is failing, so nothing to report.
        let backend = DatabaseBackend::Postgres;
        let ids = results.iter().map(|(r, _)| r.delivery_id.clone());
        let subscriptions: HashSet<&str> = results
            .iter()
            .map(|(r, _)| r.subscription_id.as_str())
            .collect();
        let now = results
            .iter()
            .map(|(r, _)| r.time)
            .max()
            .unwrap_or_default();
        let statement = combine::with_clauses(
            vec![
                (
                    "recorded_attempts",
                    delivery_attempt::Entity::insert_many(attempts).build(backend),
                ),
                (
                    "healthy_subscriptions",
                    mark_healthy(subscriptions.into_iter()).build(backend),
                ),
            ],
            mark_succeeded(ids, code, now).build(backend),
        );
        db.execute_raw(statement).await?;
        return Ok(HashMap::new());
    }
    let txn = db.begin().await?;
    for chunk in attempts.chunks(200) {
        delivery_attempt::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }

    // Successes with the same status code share one UPDATE (the common case
    // under load is a single statement for the whole group); anything else
    // is written row by row.
    let mut succeeded: HashMap<u16, Vec<String>> = HashMap::new();
    // The latest result per subscription decides its health.
    let mut latest: HashMap<&str, (&AttemptRecord, &NextStep)> = HashMap::new();
    let now = results
        .iter()
        .map(|(r, _)| r.time)
        .max()
        .unwrap_or_default();
    for (record, next) in &results {
        let slot = latest
            .entry(record.subscription_id.as_str())
            .or_insert((record, next));
        if record.time >= slot.0.time {
            *slot = (record, next);
        }
        if let (NextStep::Succeeded, Some(code)) = (next, record.status_code) {
            succeeded
                .entry(code)
                .or_default()
                .push(record.delivery_id.clone());
            continue;
        }
        let mut update = delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(next.status() as i16))
            .col_expr(
                delivery::Column::Attempts,
                Expr::value(record.attempt_number),
            )
            .col_expr(
                delivery::Column::LeaseExpireTime,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                delivery::Column::LastStatusCode,
                Expr::value(record.status_code.map(i32::from)),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value(record.last_error()),
            )
            .col_expr(delivery::Column::UpdateTime, Expr::value(record.time));
        if let NextStep::RetryAt(at) = next {
            update = update.col_expr(delivery::Column::NextAttemptTime, Expr::value(*at));
        }
        update
            .filter(delivery::Column::Id.eq(&record.delivery_id))
            .exec(&txn)
            .await?;
    }
    for (code, ids) in succeeded {
        mark_succeeded(ids.into_iter(), code, now)
            .exec(&txn)
            .await?;
    }

    let mut healthy = Vec::new();
    let mut failing = Vec::new();
    for (subscription_id, (record, next)) in latest {
        match next {
            NextStep::Succeeded => healthy.push(subscription_id.to_owned()),
            NextStep::DisableSubscription(reason) => {
                disable_subscription(&txn, subscription_id, reason, record.time).await?;
            }
            NextStep::RetryAt(_) | NextStep::DeadLetter => {
                subscription::Entity::update_many()
                    .col_expr(subscription::Column::FailingSince, Expr::value(record.time))
                    .filter(subscription::Column::Id.eq(subscription_id))
                    .filter(subscription::Column::FailingSince.is_null())
                    .exec(&txn)
                    .await?;
                failing.push(subscription_id.to_owned());
            }
        }
    }
    if !healthy.is_empty() {
        mark_healthy(healthy.iter().map(String::as_str))
            .exec(&txn)
            .await?;
    }
    let failing_since: HashMap<String, i64> = if failing.is_empty() {
        HashMap::new()
    } else {
        subscription::Entity::find()
            .select_only()
            .column(subscription::Column::Id)
            .column(subscription::Column::FailingSince)
            .filter(subscription::Column::Id.is_in(failing))
            .into_tuple::<(String, Option<i64>)>()
            .all(&txn)
            .await?
            .into_iter()
            .filter_map(|(id, since)| since.map(|since| (id, since)))
            .collect()
    };
    txn.commit().await?;
    Ok(failing_since)
}

/// Most results written as one statement on Postgres: within the bound-
/// parameter limit with room to spare (10 per attempt, 1 per id).
const ONE_STATEMENT_RESULTS: usize = 1_000;

/// The status code every result succeeded with, if they all did with one.
fn all_succeeded_with_one_code(results: &[(AttemptRecord, NextStep)]) -> Option<u16> {
    let mut codes = results.iter().map(|(record, next)| match next {
        NextStep::Succeeded => record.status_code,
        _ => None,
    });
    let first = codes.next()??;
    codes.all(|code| code == Some(first)).then_some(first)
}

/// Marks deliveries that succeeded with `code` (`attempts + 1`: the row
/// still holds the count from before this attempt).
fn mark_succeeded(
    ids: impl Iterator<Item = String>,
    code: u16,
    now: i64,
) -> sea_orm::UpdateMany<delivery::Entity> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Succeeded as i16),
        )
        .col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(1),
        )
        .col_expr(
            delivery::Column::LeaseExpireTime,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            delivery::Column::LastStatusCode,
            Expr::value(i32::from(code)),
        )
        .col_expr(
            delivery::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(delivery::Column::UpdateTime, Expr::value(now))
        .filter(delivery::Column::Id.is_in(ids))
}

/// Ends the failing streak of subscriptions that just succeeded (a no-op
/// for the healthy ones, which are most).
fn mark_healthy<'a>(
    ids: impl Iterator<Item = &'a str>,
) -> sea_orm::UpdateMany<subscription::Entity> {
    subscription::Entity::update_many()
        .col_expr(
            subscription::Column::FailingSince,
            Expr::value(Option::<i64>::None),
        )
        .filter(subscription::Column::Id.is_in(ids.map(str::to_owned)))
        .filter(subscription::Column::FailingSince.is_not_null())
}

/// Disables a subscription with a reason and cancels what it still owes.
pub async fn disable_subscription<C: ConnectionTrait>(
    db: &C,
    subscription_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), ServiceError> {
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Enabled, Expr::value(false))
        .col_expr(subscription::Column::DisabledReason, Expr::value(reason))
        .col_expr(
            subscription::Column::FailingSince,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(subscription::Column::UpdateTime, Expr::value(now))
        .filter(subscription::Column::Id.eq(subscription_id))
        .exec(db)
        .await?;
    cancel_pending(db, subscription_id, now).await
}

/// Cancels the pending deliveries of a subscription that will not be sent
/// (it was disabled or deleted).
pub async fn cancel_pending<C: ConnectionTrait>(
    db: &C,
    subscription_id: &str,
    now: i64,
) -> Result<(), ServiceError> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Cancelled as i16),
        )
        .col_expr(delivery::Column::UpdateTime, Expr::value(now))
        .filter(delivery::Column::SubscriptionId.eq(subscription_id))
        .filter(delivery::Column::Status.eq(Status::Pending as i16))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks one claimed delivery cancelled (its subscription is gone or off).
pub async fn cancel<C: ConnectionTrait>(db: &C, delivery_id: &str) -> Result<(), ServiceError> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Cancelled as i16),
        )
        .col_expr(
            delivery::Column::LeaseExpireTime,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(delivery::Column::UpdateTime, Expr::value(now_micros()))
        .filter(delivery::Column::Id.eq(delivery_id))
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub subscription_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<Status>,
}

/// Scoped keys see only deliveries to subscriptions of their scope: their
/// ids, or `None` for an unscoped key, which sees the whole tenant.
pub async fn visible_subscription_ids<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> Result<Option<Vec<String>>, ServiceError> {
    caller.require(Capability::Read)?;
    let Some(scope) = &caller.scope else {
        return Ok(None);
    };
    let ids = subscription::Entity::find()
        .select_only()
        .column(subscription::Column::Id)
        .filter(subscription::Column::TenantId.eq(&caller.tenant_id))
        .filter(subscription::Column::Scope.eq(scope.as_str()))
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(Some(ids))
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: DeliveryFilter,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<delivery::Model>, ServiceError> {
    caller.require(Capability::Read)?;
    let mut query = delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(&caller.tenant_id))
        .order_by_asc(delivery::Column::Id)
        .limit(limit);
    if let Some(ids) = visible_subscription_ids(db, caller).await? {
        query = query.filter(delivery::Column::SubscriptionId.is_in(ids));
    }
    if let Some(subscription_id) = filter.subscription_id {
        query = query.filter(delivery::Column::SubscriptionId.eq(subscription_id));
    }
    if let Some(event_id) = filter.event_id {
        query = query.filter(delivery::Column::EventId.eq(event_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(delivery::Column::Status.eq(status as i16));
    }
    if let Some(after) = after_id {
        query = query.filter(delivery::Column::Id.gt(after));
    }
    Ok(query.all(db).await?)
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<delivery::Model, ServiceError> {
    caller.require(Capability::Read)?;
    let row = delivery::Entity::find_by_id(id.to_owned())
        .filter(delivery::Column::TenantId.eq(&caller.tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("delivery", id))?;
    if let Some(visible) = visible_subscription_ids(db, caller).await?
        && !visible.contains(&row.subscription_id)
    {
        return Err(ServiceError::not_found("delivery", id));
    }
    Ok(row)
}

pub async fn list_attempts<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    delivery_id: &str,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<delivery_attempt::Model>, ServiceError> {
    let delivery = get(db, caller, delivery_id).await?;
    let mut query = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DeliveryId.eq(&delivery.id))
        .order_by_asc(delivery_attempt::Column::Id)
        .limit(limit);
    if let Some(after) = after_id {
        query = query.filter(delivery_attempt::Column::Id.gt(after));
    }
    Ok(query.all(db).await?)
}

/// Re-queues a failed or cancelled delivery to be sent now, with a fresh
/// attempt budget.
pub async fn retry<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<delivery::Model, ServiceError> {
    caller.require(Capability::Manage)?;
    let row = get(db, caller, id).await?;
    match Status::from_i16(row.status) {
        Some(Status::Failed | Status::Cancelled) => {}
        _ => {
            return Err(ServiceError::FailedPrecondition(format!(
                "delivery {id} is not failed or cancelled; only finished, unsuccessful deliveries can be retried"
            )));
        }
    }
    let now = now_micros();
    let mut active: delivery::ActiveModel = row.into();
    active.status = Set(Status::Pending as i16);
    active.attempts = Set(0);
    active.next_attempt_time = Set(now);
    active.update_time = Set(now);
    let updated = active.update(db).await?;
    queue::notify_dispatchers(db).await?;
    Ok(updated)
}

/// Re-sends a subscription's events published in `[start, end)` as new
/// deliveries; with `only_failed`, only events whose delivery failed.
pub async fn replay<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Caller,
    subscription_id: &str,
    start: Option<i64>,
    end: Option<i64>,
    only_failed: bool,
) -> Result<u32, ServiceError> {
    caller.require(Capability::Manage)?;
    let txn = db.begin().await?;
    let sub = subscription::Entity::find_by_id(subscription_id.to_owned())
        .filter(subscription::Column::TenantId.eq(&caller.tenant_id))
        .one(&txn)
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
    let deliveries = delivery::Entity::find()
        .filter(delivery::Column::SubscriptionId.eq(&sub.id))
        .order_by_asc(delivery::Column::Id)
        .all(&txn)
        .await?;
    let mut latest: BTreeMap<String, delivery::Model> = BTreeMap::new();
    for row in deliveries {
        latest.insert(row.event_id.clone(), row);
    }
    latest.retain(|_, row| match Status::from_i16(row.status) {
        Some(Status::Failed) => true,
        Some(Status::Succeeded | Status::Cancelled) => !only_failed,
        _ => false,
    });
    // The range is over the events' publish times.
    let mut in_range = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::TenantId.eq(&caller.tenant_id))
        .filter(event::Column::Id.is_in(latest.keys().cloned()));
    if let Some(start) = start {
        in_range = in_range.filter(event::Column::CreateTime.gte(start));
    }
    if let Some(end) = end {
        in_range = in_range.filter(event::Column::CreateTime.lt(end));
    }
    let in_range: std::collections::HashSet<String> = in_range
        .into_tuple::<String>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let originals: Vec<delivery::Model> = latest
        .into_values()
        .filter(|row| in_range.contains(&row.event_id))
        .collect();
    let now = now_micros();
    let replays: Vec<delivery::ActiveModel> = originals
        .iter()
        .map(|original| delivery::ActiveModel {
            id: Set(new_id(IdKind::Delivery)),
            tenant_id: Set(original.tenant_id.clone()),
            event_id: Set(original.event_id.clone()),
            subscription_id: Set(original.subscription_id.clone()),
            event_type: Set(original.event_type.clone()),
            ordered: Set(sub.ordered),
            status: Set(Status::Pending as i16),
            attempts: Set(0),
            next_attempt_time: Set(now),
            lease_expire_time: Set(None),
            last_status_code: Set(None),
            last_error: Set(None),
            create_time: Set(now),
            update_time: Set(now),
        })
        .collect();
    let count = replays.len() as u32;
    for chunk in replays.chunks(500) {
        delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    if count > 0 {
        queue::notify_dispatchers(&txn).await?;
    }
    txn.commit().await?;
    Ok(count)
}
