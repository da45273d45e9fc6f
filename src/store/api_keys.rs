//! Queries on the `api_keys` table: storing, listing and revoking a tenant's
//! keys, and finding the live key behind a token hash.

use super::api_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Which of a tenant's keys a listing shows.
#[derive(Clone, Copy, Debug)]
pub struct KeyFilter<'a> {
    pub tenant_id: &'a str,
    /// Only keys restricted to this scope, for a scoped caller.
    pub scope: Option<&'a str>,
    pub show_revoked: bool,
}

/// Stores `new` and returns the row as written.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: api_key::Model,
) -> Result<api_key::Model, DbErr> {
    api_key::ActiveModel {
        id: Set(new.id),
        tenant_id: Set(new.tenant_id),
        name: Set(new.name),
        token_hash: Set(new.token_hash),
        capabilities: Set(new.capabilities),
        scope: Set(new.scope),
        create_time: Set(new.create_time),
        revoke_time: Set(new.revoke_time),
    }
    .insert(db)
    .await
}

/// Up to `limit` keys matching `filter`, by id, after `after_id`: ids sort
/// by creation time, so this pages by keyset.
pub async fn list_page<C: ConnectionTrait>(
    db: &C,
    filter: KeyFilter<'_>,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<api_key::Model>, DbErr> {
    let mut query = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(filter.tenant_id))
        .order_by_asc(api_key::Column::Id)
        .limit(limit);
    if let Some(after) = after_id {
        query = query.filter(api_key::Column::Id.gt(after));
    }
    if let Some(scope) = filter.scope {
        query = query.filter(api_key::Column::Scope.eq(scope));
    }
    if !filter.show_revoked {
        query = query.filter(api_key::Column::RevokeTime.is_null());
    }
    query.all(db).await
}

/// The tenant's key `id`, revoked or not.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::TenantId.eq(tenant_id))
        .one(db)
        .await
}

/// Marks `key` revoked at `revoke_time` and returns the updated row.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    key: api_key::Model,
    revoke_time: i64,
) -> Result<api_key::Model, DbErr> {
    let mut active: api_key::ActiveModel = key.into();
    active.revoke_time = Set(Some(revoke_time));
    active.update(db).await
}

/// The unrevoked key whose token hashes to `token_hash`, if any.
pub async fn find_active_by_hash<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::TokenHash.eq(token_hash))
        .filter(api_key::Column::RevokeTime.is_null())
        .one(db)
        .await
}
