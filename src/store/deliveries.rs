//! The queries of the DeliveryService and of cancelling: a page of a
//! tenant's deliveries and of a delivery's attempts, one delivery,
//! re-queueing one, what a replay selects and inserts, and cancelling what
//! will not be sent.

use super::delivery::Status;
use super::{DbError, delivery, delivery_attempt, event, now_micros, subscription};
use crate::domain::{DeliveryStatus, IdKind, new_id};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use std::collections::HashSet;

impl From<DeliveryStatus> for Status {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Pending => Status::Pending,
            DeliveryStatus::InFlight => Status::InFlight,
            DeliveryStatus::Succeeded => Status::Succeeded,
            DeliveryStatus::Failed => Status::Failed,
            DeliveryStatus::Cancelled => Status::Cancelled,
        }
    }
}

impl From<Status> for DeliveryStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => DeliveryStatus::Pending,
            Status::InFlight => DeliveryStatus::InFlight,
            Status::Succeeded => DeliveryStatus::Succeeded,
            Status::Failed => DeliveryStatus::Failed,
            Status::Cancelled => DeliveryStatus::Cancelled,
        }
    }
}

/// A stored status as the domain knows it; `None` for a value this version
/// does not know.
pub fn status_of(row: &delivery::Model) -> Option<DeliveryStatus> {
    Status::from_i16(row.status).map(DeliveryStatus::from)
}

/// Which of a tenant's deliveries a page lists.
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    pub tenant_id: String,
    /// Only deliveries to these subscriptions (a scoped key's view).
    pub visible: Option<Vec<String>>,
    pub subscription_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// Created at or after (unix micros).
    pub start_time: Option<i64>,
    /// Created before (unix micros).
    pub end_time: Option<i64>,
    /// Newest first: descending ids, the page continuing below `after_id`.
    pub newest_first: bool,
}

/// The ids of a tenant's subscriptions in `scope`.
pub async fn subscription_ids_in_scope<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    scope: &str,
) -> Result<Vec<String>, DbError> {
    subscription::Entity::find()
        .select_only()
        .column(subscription::Column::Id)
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .filter(subscription::Column::Scope.eq(scope))
        .into_tuple::<String>()
        .all(db)
        .await
}

/// A page of deliveries in id order (creation order: ids are ULIDs), or
/// its reverse, after `after_id`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    query: DeliveryQuery,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<delivery::Model>, DbError> {
    let mut select = delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(&query.tenant_id))
        .limit(limit);
    select = if query.newest_first {
        select.order_by_desc(delivery::Column::Id)
    } else {
        select.order_by_asc(delivery::Column::Id)
    };
    if let Some(start) = query.start_time {
        select = select.filter(delivery::Column::CreateTime.gte(start));
    }
    if let Some(end) = query.end_time {
        select = select.filter(delivery::Column::CreateTime.lt(end));
    }
    if let Some(ids) = query.visible {
        select = select.filter(delivery::Column::SubscriptionId.is_in(ids));
    }
    if let Some(subscription_id) = query.subscription_id {
        select = select.filter(delivery::Column::SubscriptionId.eq(subscription_id));
    }
    if let Some(event_id) = query.event_id {
        select = select.filter(delivery::Column::EventId.eq(event_id));
    }
    if let Some(status) = query.status {
        select = select.filter(delivery::Column::Status.eq(Status::from(status) as i16));
    }
    if let Some(after) = after_id {
        select = select.filter(if query.newest_first {
            delivery::Column::Id.lt(after)
        } else {
            delivery::Column::Id.gt(after)
        });
    }
    select.all(db).await
}

/// One of a tenant's deliveries.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<Option<delivery::Model>, DbError> {
    delivery::Entity::find_by_id(id.to_owned())
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .one(db)
        .await
}

/// A page of a delivery's attempts in id order, after `after_id`.
pub async fn list_attempts<C: ConnectionTrait>(
    db: &C,
    delivery_id: &str,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<delivery_attempt::Model>, DbError> {
    let mut query = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DeliveryId.eq(delivery_id))
        .order_by_asc(delivery_attempt::Column::Id)
        .limit(limit);
    if let Some(after) = after_id {
        query = query.filter(delivery_attempt::Column::Id.gt(after));
    }
    query.all(db).await
}

/// Puts a delivery back in the queue, due `now`, with a fresh attempt budget.
pub async fn requeue<C: ConnectionTrait>(
    db: &C,
    row: delivery::Model,
    now: i64,
) -> Result<delivery::Model, DbError> {
    let mut active: delivery::ActiveModel = row.into();
    active.status = Set(Status::Pending as i16);
    active.attempts = Set(0);
    active.next_attempt_time = Set(now);
    active.update_time = Set(now);
    active.update(db).await
}

/// One of a tenant's subscriptions, for a replay.
pub async fn replay_subscription<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    subscription_id: &str,
) -> Result<Option<subscription::Model>, DbError> {
    subscription::Entity::find_by_id(subscription_id.to_owned())
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .one(db)
        .await
}

/// Every delivery to a subscription, oldest first.
pub async fn of_subscription<C: ConnectionTrait>(
    db: &C,
    subscription_id: &str,
) -> Result<Vec<delivery::Model>, DbError> {
    delivery::Entity::find()
        .filter(delivery::Column::SubscriptionId.eq(subscription_id))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await
}

/// Which of these events the tenant published in `[start, end)` (expunged
/// ones excepted: they have nothing left to send).
pub async fn events_published_in<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    event_ids: impl Iterator<Item = String>,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<HashSet<String>, DbError> {
    let mut in_range = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::TenantId.eq(tenant_id))
        .filter(event::Column::Id.is_in(event_ids))
        .filter(event::Column::ExpungeTime.is_null());
    if let Some(start) = start {
        in_range = in_range.filter(event::Column::CreateTime.gte(start));
    }
    if let Some(end) = end {
        in_range = in_range.filter(event::Column::CreateTime.lt(end));
    }
    Ok(in_range
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Inserts a new pending delivery, due `now`, for each original's event
/// and subscription. Returns how many.
pub async fn insert_replays<C: ConnectionTrait>(
    db: &C,
    originals: &[delivery::Model],
    ordered: bool,
    now: i64,
) -> Result<u32, DbError> {
    let replays: Vec<delivery::ActiveModel> = originals
        .iter()
        .map(|original| delivery::ActiveModel {
            id: Set(new_id(IdKind::Delivery)),
            tenant_id: Set(original.tenant_id.clone()),
            event_id: Set(original.event_id.clone()),
            subscription_id: Set(original.subscription_id.clone()),
            event_type: Set(original.event_type.clone()),
            ordered: Set(ordered),
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
    for chunk in replays.chunks(500) {
        delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(replays.len() as u32)
}

/// Cancels the pending deliveries of a subscription that will not be sent
/// (it was disabled or deleted).
pub async fn cancel_pending<C: ConnectionTrait>(
    db: &C,
    subscription_id: &str,
    now: i64,
) -> Result<(), DbError> {
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

/// Cancels an event's pending deliveries, saying why (its data was
/// expunged: there is nothing left to send). Returns how many.
pub async fn cancel_pending_of_event<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    event_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64, DbError> {
    let result = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Cancelled as i16),
        )
        .col_expr(delivery::Column::LastError, Expr::value(reason))
        .col_expr(delivery::Column::UpdateTime, Expr::value(now))
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .filter(delivery::Column::EventId.eq(event_id))
        .filter(delivery::Column::Status.eq(Status::Pending as i16))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Marks one claimed delivery cancelled (its subscription is gone or off).
pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    delivery_id: &str,
    reason: &str,
) -> Result<(), DbError> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Cancelled as i16),
        )
        .col_expr(delivery::Column::LastError, Expr::value(reason))
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
