//! Queries on saved delivery profiles, and on the subscriptions that use
//! one (their stored profile names it as its `preset`).

use super::{delivery_profile, subscription};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Stores `new`; a name the tenant already has is a unique violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: delivery_profile::Model,
) -> Result<delivery_profile::Model, DbErr> {
    delivery_profile::ActiveModel {
        tenant_id: Set(new.tenant_id),
        name: Set(new.name),
        spec: Set(new.spec),
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
) -> Result<Option<delivery_profile::Model>, DbErr> {
    delivery_profile::Entity::find_by_id((tenant_id.to_owned(), name.to_owned()))
        .one(db)
        .await
}

/// One page by name, after `after` when given.
pub async fn list_page<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<delivery_profile::Model>, DbErr> {
    let mut query = delivery_profile::Entity::find()
        .filter(delivery_profile::Column::TenantId.eq(tenant_id))
        .order_by_asc(delivery_profile::Column::Name)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(delivery_profile::Column::Name.gt(after));
    }
    query.all(db).await
}

pub async fn replace<C: ConnectionTrait>(
    db: &C,
    row: delivery_profile::Model,
    spec: String,
    now: i64,
) -> Result<delivery_profile::Model, DbErr> {
    let mut active: delivery_profile::ActiveModel = row.into();
    active.spec = Set(spec);
    active.update_time = Set(now);
    active.update(db).await
}

pub async fn delete<C: ConnectionTrait>(db: &C, tenant_id: &str, name: &str) -> Result<(), DbErr> {
    delivery_profile::Entity::delete_by_id((tenant_id.to_owned(), name.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

/// The tenant's subscriptions whose profile names `name` as its preset. The
/// stored JSON starts `{"preset":"<name>"`, and names hold no LIKE
/// wildcards (only lowercase letters, digits and '-').
pub async fn users<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    name: &str,
) -> Result<Vec<subscription::Model>, DbErr> {
    subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .filter(subscription::Column::Profile.like(format!("{{\"preset\":\"{name}\"%")))
        .all(db)
        .await
}

/// Writes a subscription's stored profile JSON.
pub async fn set_subscription_profile<C: ConnectionTrait>(
    db: &C,
    row: subscription::Model,
    profile: String,
    now: i64,
) -> Result<(), DbErr> {
    let mut active: subscription::ActiveModel = row.into();
    active.profile = Set(Some(profile));
    active.update_time = Set(now);
    active.update(db).await?;
    Ok(())
}
