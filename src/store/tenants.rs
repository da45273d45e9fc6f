//! Queries on the `tenants` table: creating one, finding it by name, and
//! setting its own retention periods.

use super::tenant;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

/// Stores `new` and returns the row as written. A taken name fails with a
/// unique violation (see [`super::is_unique_violation`]).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: tenant::Model,
) -> Result<tenant::Model, DbErr> {
    tenant::ActiveModel {
        id: Set(new.id),
        name: Set(new.name),
        create_time: Set(new.create_time),
        delivery_retention_secs: Set(new.delivery_retention_secs),
        event_retention_secs: Set(new.event_retention_secs),
    }
    .insert(db)
    .await
}

pub async fn find_by_name<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::Name.eq(name))
        .one(db)
        .await
}

/// Sets a tenant's own retention periods in seconds (`None`: the server's).
pub async fn set_retention<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    deliveries_secs: Option<i64>,
    events_secs: Option<i64>,
) -> Result<(), DbErr> {
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::DeliveryRetentionSecs,
            Expr::value(deliveries_secs),
        )
        .col_expr(tenant::Column::EventRetentionSecs, Expr::value(events_secs))
        .filter(tenant::Column::Id.eq(tenant_id))
        .exec(db)
        .await?;
    Ok(())
}
