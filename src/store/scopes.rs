//! Queries on registered scopes, and ending one: its subscriptions turned
//! off and their pending deliveries cancelled with the reason recorded.

use super::delivery::{self, Status};
use super::{scope, subscription};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Set,
};

pub async fn insert<C: ConnectionTrait>(db: &C, new: scope::Model) -> Result<scope::Model, DbErr> {
    scope::ActiveModel {
        tenant_id: Set(new.tenant_id),
        name: Set(new.name),
        expire_time: Set(new.expire_time),
        max_subscriptions: Set(new.max_subscriptions),
        end_time: Set(new.end_time),
        end_reason: Set(new.end_reason),
        create_time: Set(new.create_time),
        update_time: Set(new.update_time),
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    name: &str,
) -> Result<Option<scope::Model>, DbErr> {
    scope::Entity::find_by_id((tenant_id.to_owned(), name.to_owned()))
        .one(db)
        .await
}

pub async fn save<C: ConnectionTrait>(
    db: &C,
    row: scope::Model,
    expire_time: Option<i64>,
    max_subscriptions: Option<i32>,
    now: i64,
) -> Result<scope::Model, DbErr> {
    let mut active: scope::ActiveModel = row.into();
    active.expire_time = Set(expire_time);
    active.max_subscriptions = Set(max_subscriptions);
    active.update_time = Set(now);
    active.update(db).await
}

/// Live scopes whose expiry has passed, a bounded batch at a time.
pub async fn expired<C: ConnectionTrait>(
    db: &C,
    now: i64,
    limit: u64,
) -> Result<Vec<scope::Model>, DbErr> {
    scope::Entity::find()
        .filter(scope::Column::ExpireTime.lte(now))
        .filter(scope::Column::EndTime.is_null())
        .limit(limit)
        .all(db)
        .await
}

/// Ends a live scope: marks it, disables its subscriptions with `reason`
/// and cancels their pending deliveries, recording `reason` on each.
/// Returns false if it had already ended (another replica got there first).
pub async fn end<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    name: &str,
    end_reason: &str,
    reason: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let marked = scope::Entity::update_many()
        .col_expr(scope::Column::EndTime, Expr::value(now))
        .col_expr(scope::Column::EndReason, Expr::value(end_reason))
        .col_expr(scope::Column::UpdateTime, Expr::value(now))
        .filter(scope::Column::TenantId.eq(tenant_id))
        .filter(scope::Column::Name.eq(name))
        .filter(scope::Column::EndTime.is_null())
        .exec(db)
        .await?;
    if marked.rows_affected == 0 {
        return Ok(false);
    }
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Enabled, Expr::value(false))
        .col_expr(subscription::Column::DisabledReason, Expr::value(reason))
        .col_expr(subscription::Column::UpdateTime, Expr::value(now))
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .filter(subscription::Column::Scope.eq(name))
        .exec(db)
        .await?;
    let in_scope = Query::select()
        .column(subscription::Column::Id)
        .from(subscription::Entity)
        .and_where(subscription::Column::TenantId.eq(tenant_id))
        .and_where(subscription::Column::Scope.eq(name))
        .to_owned();
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Cancelled as i16),
        )
        .col_expr(delivery::Column::LastError, Expr::value(reason))
        .col_expr(delivery::Column::UpdateTime, Expr::value(now))
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .filter(delivery::Column::Status.eq(Status::Pending as i16))
        .filter(delivery::Column::SubscriptionId.in_subquery(in_scope))
        .exec(db)
        .await?;
    Ok(true)
}
