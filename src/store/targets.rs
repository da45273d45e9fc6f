//! What the dispatcher reads and writes about subscriptions and events: the
//! enabled subscriptions and the events a claimed batch needs, and turning
//! off a subscription that cannot be delivered to.

use super::{DbError, event, subscription};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// The enabled subscriptions among `ids`; deleted or disabled ones are absent.
pub async fn load_targets<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = &str>,
) -> Result<Vec<subscription::Model>, DbError> {
    subscription::Entity::find()
        .filter(subscription::Column::Id.is_in(ids))
        .filter(subscription::Column::Enabled.eq(true))
        .all(db)
        .await
}

/// One tenant's events among `ids`. Name the tenant: the primary key is
/// (tenant_id, id), and ids alone would walk the whole index. Expunged
/// events are left out: there is nothing to send, so a delivery of one
/// (a retry scheduled while it was in flight) is cancelled, not sent.
pub async fn load_events<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    ids: impl IntoIterator<Item = &str>,
) -> Result<Vec<event::Model>, DbError> {
    event::Entity::find()
        .filter(event::Column::TenantId.eq(tenant_id))
        .filter(event::Column::Id.is_in(ids))
        .filter(event::Column::ExpungeTime.is_null())
        .all(db)
        .await
}

/// Disables a subscription with a reason, ending its failing streak.
pub async fn disable<C: ConnectionTrait>(
    db: &C,
    subscription_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), DbError> {
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
    Ok(())
}
