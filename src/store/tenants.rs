//! Queries on the `tenants` table: creating one and finding it by name.

use super::tenant;
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
