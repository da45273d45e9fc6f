//! Queries on the `event_types` table: each tenant's catalog, read by name
//! and paged by name, updated field by field, and checked in bulk by
//! publishing and subscribing.

use super::event_type;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// The columns an update writes; `None` leaves a column as it is.
#[derive(Clone, Debug)]
pub struct Changes {
    pub description: Option<String>,
    /// `Some(None)` removes the schema.
    pub json_schema: Option<Option<String>>,
    pub archived: Option<bool>,
    pub update_time: i64,
}

/// Stores `new` and returns the row as written. A name the tenant already
/// has fails with a unique violation (see [`super::is_unique_violation`]).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: event_type::Model,
) -> Result<event_type::Model, DbErr> {
    event_type::ActiveModel {
        tenant_id: Set(new.tenant_id),
        name: Set(new.name),
        description: Set(new.description),
        json_schema: Set(new.json_schema),
        archived: Set(new.archived),
        create_time: Set(new.create_time),
        update_time: Set(new.update_time),
    }
    .insert(db)
    .await
}

/// The tenant's event type `name`, archived or not.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    name: &str,
) -> Result<Option<event_type::Model>, DbErr> {
    event_type::Entity::find_by_id((tenant_id.to_owned(), name.to_owned()))
        .one(db)
        .await
}

/// Up to `limit` of the tenant's event types by name, after `after_name`.
pub async fn list_page<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    after_name: Option<&str>,
    limit: u64,
    show_archived: bool,
) -> Result<Vec<event_type::Model>, DbErr> {
    let mut query = event_type::Entity::find()
        .filter(event_type::Column::TenantId.eq(tenant_id))
        .order_by_asc(event_type::Column::Name)
        .limit(limit);
    if let Some(after) = after_name {
        query = query.filter(event_type::Column::Name.gt(after));
    }
    if !show_archived {
        query = query.filter(event_type::Column::Archived.eq(false));
    }
    query.all(db).await
}

/// Writes `changes` to the row `current` was read from and returns it as
/// updated. Only the named columns are written.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: event_type::Model,
    changes: Changes,
) -> Result<event_type::Model, DbErr> {
    let mut active: event_type::ActiveModel = current.into();
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(schema) = changes.json_schema {
        active.json_schema = Set(schema);
    }
    if let Some(archived) = changes.archived {
        active.archived = Set(archived);
    }
    active.update_time = Set(changes.update_time);
    active.update(db).await
}

/// Of `names`, those registered for the tenant and not archived.
pub async fn active_names<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    names: &[String],
) -> Result<Vec<String>, DbErr> {
    // Nothing to look up: spare the round trip.
    if names.is_empty() {
        return Ok(Vec::new());
    }
    event_type::Entity::find()
        .select_only()
        .column(event_type::Column::Name)
        .filter(event_type::Column::TenantId.eq(tenant_id))
        .filter(event_type::Column::Name.is_in(names.iter().cloned()))
        .filter(event_type::Column::Archived.eq(false))
        .into_tuple::<String>()
        .all(db)
        .await
}
