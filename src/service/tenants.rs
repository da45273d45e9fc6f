//! Tenants and API keys: bootstrap from the CLI, management over gRPC, and
//! turning a bearer token into a [`Caller`].

use super::{Caller, ServiceError};
use crate::domain::{
    Capabilities, Capability, IdKind, ResourceName, Scope, generate_token, hash_token, new_id,
};
use crate::store::is_unique_violation;
use crate::store::{api_key, now_micros, tenant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// A stored API key, without its token.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub capabilities: Capabilities,
    pub scope: Option<Scope>,
    pub create_time: i64,
    pub revoke_time: Option<i64>,
}

/// What a new key looks like before it is stored.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub name: String,
    pub capabilities: Capabilities,
    pub scope: Option<Scope>,
}

pub async fn create_tenant<C: ConnectionTrait>(
    db: &C,
    name: &ResourceName,
) -> Result<tenant::Model, ServiceError> {
    let model = tenant::ActiveModel {
        id: Set(new_id(IdKind::Tenant)),
        name: Set(name.as_str().to_owned()),
        create_time: Set(now_micros()),
    };
    model.insert(db).await.map_err(|err| {
        if is_unique_violation(&err) {
            ServiceError::AlreadyExists {
                kind: "tenant",
                id: name.as_str().to_owned(),
            }
        } else {
            err.into()
        }
    })
}

pub async fn find_tenant_by_name<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<tenant::Model, ServiceError> {
    tenant::Entity::find()
        .filter(tenant::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("tenant", name))
}

/// Stores a key for `tenant_id` and returns it with its token, which exists
/// only in this return value: the table keeps its SHA-256.
pub async fn insert_api_key<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    new: NewApiKey,
) -> Result<(ApiKey, String), ServiceError> {
    let token = generate_token();
    let model = api_key::ActiveModel {
        id: Set(new_id(IdKind::ApiKey)),
        tenant_id: Set(tenant_id.to_owned()),
        name: Set(new.name),
        token_hash: Set(hash_token(&token)),
        capabilities: Set(new.capabilities.to_list_string()),
        scope: Set(new.scope.map(|s| s.as_str().to_owned())),
        create_time: Set(now_micros()),
        revoke_time: Set(None),
    }
    .insert(db)
    .await?;
    Ok((to_api_key(model)?, token))
}

/// CreateApiKey over gRPC: a key can mint keys only within its own powers,
/// so a scoped or read-only key cannot escalate.
pub async fn create_api_key<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    mut new: NewApiKey,
) -> Result<(ApiKey, String), ServiceError> {
    caller.require(Capability::Manage)?;
    new.scope = caller.effective_scope(new.scope)?;
    for capability in new.capabilities.iter() {
        if !caller.capabilities.contains(capability) {
            return Err(ServiceError::PermissionDenied(format!(
                "cannot grant `{capability}`: the calling key does not have it"
            )));
        }
    }
    insert_api_key(db, &caller.tenant_id, new).await
}

pub async fn list_api_keys<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    after_id: Option<&str>,
    limit: u64,
    show_revoked: bool,
) -> Result<Vec<ApiKey>, ServiceError> {
    caller.require(Capability::Manage)?;
    let mut query = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(&caller.tenant_id))
        .order_by_asc(api_key::Column::Id)
        .limit(limit);
    if let Some(after) = after_id {
        query = query.filter(api_key::Column::Id.gt(after));
    }
    if let Some(scope) = &caller.scope {
        query = query.filter(api_key::Column::Scope.eq(scope.as_str()));
    }
    if !show_revoked {
        query = query.filter(api_key::Column::RevokeTime.is_null());
    }
    query.all(db).await?.into_iter().map(to_api_key).collect()
}

pub async fn revoke_api_key<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<ApiKey, ServiceError> {
    caller.require(Capability::Manage)?;
    let model = api_key::Entity::find_by_id(id.to_owned())
        .filter(api_key::Column::TenantId.eq(&caller.tenant_id))
        .one(db)
        .await?
        .filter(|key| caller.can_see(key.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("api key", id))?;
    if model.revoke_time.is_some() {
        return to_api_key(model);
    }
    let mut active: api_key::ActiveModel = model.into();
    active.revoke_time = Set(Some(now_micros()));
    to_api_key(active.update(db).await?)
}

/// Resolves a bearer token, given as its SHA-256 hash, to its caller.
/// Unknown and revoked tokens are indistinguishable on purpose.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> Result<Caller, ServiceError> {
    let key = api_key::Entity::find()
        .filter(api_key::Column::TokenHash.eq(token_hash))
        .filter(api_key::Column::RevokeTime.is_null())
        .one(db)
        .await?
        .ok_or(ServiceError::Unauthenticated("invalid or revoked API key"))?;
    let api_key = to_api_key(key.clone())?;
    Ok(Caller {
        tenant_id: key.tenant_id,
        key_id: key.id,
        capabilities: api_key.capabilities,
        scope: api_key.scope,
    })
}

fn to_api_key(model: api_key::Model) -> Result<ApiKey, ServiceError> {
    let capabilities = Capabilities::from_list_string(&model.capabilities)
        .map_err(|err| ServiceError::Internal(format!("stored key {}: {err}", model.id)))?;
    let scope = model
        .scope
        .map(|s| Scope::parse(&s))
        .transpose()
        .map_err(|err| ServiceError::Internal(format!("stored key {}: {err}", model.id)))?;
    Ok(ApiKey {
        id: model.id,
        name: model.name,
        capabilities,
        scope,
        create_time: model.create_time,
        revoke_time: model.revoke_time,
    })
}
