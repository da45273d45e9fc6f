//! Tenants and API keys: bootstrap from the CLI, management over gRPC, and
//! turning a bearer token into a [`Caller`].

use super::caller_cache::CallerCache;
use super::{Caller, ServiceError, require_id_shape};
use crate::domain::{
    Capabilities, Capability, IdKind, ResourceName, Scope, generate_token, hash_token,
    looks_like_token, new_id,
};
use crate::store::api_keys::KeyFilter;
use crate::store::{Connection, api_key, api_keys, now_micros, tenant, tenants};

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

pub async fn create_tenant<C: Connection>(
    db: &C,
    name: &ResourceName,
) -> Result<tenant::Model, ServiceError> {
    let new = tenant::Model {
        id: new_id(IdKind::Tenant),
        name: name.as_str().to_owned(),
        create_time: now_micros(),
        delivery_retention_secs: None,
        event_retention_secs: None,
    };
    tenants::insert(db, new)
        .await
        .map_err(|err| ServiceError::from_insert(err, "tenant", name.as_str().to_owned()))
}

pub async fn find_tenant_by_name<C: Connection>(
    db: &C,
    name: &str,
) -> Result<tenant::Model, ServiceError> {
    tenants::find_by_name(db, name)
        .await?
        .ok_or_else(|| ServiceError::not_found("tenant", name))
}

/// Stores a key for `tenant_id` and returns it with its token, which exists
/// only in this return value: the table keeps its SHA-256.
pub async fn insert_api_key<C: Connection>(
    db: &C,
    tenant_id: &str,
    new: NewApiKey,
) -> Result<(ApiKey, String), ServiceError> {
    let token = generate_token();
    let key = api_key::Model {
        id: new_id(IdKind::ApiKey),
        tenant_id: tenant_id.to_owned(),
        name: new.name,
        token_hash: hash_token(&token),
        capabilities: new.capabilities.to_list_string(),
        scope: new.scope.map(|s| s.as_str().to_owned()),
        create_time: now_micros(),
        revoke_time: None,
    };
    let model = api_keys::insert(db, key).await?;
    Ok((to_api_key(model)?, token))
}

/// CreateApiKey over gRPC: a key can mint keys only within its own powers,
/// so a scoped or read-only key cannot escalate.
pub async fn create_api_key<C: Connection>(
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

pub async fn list_api_keys<C: Connection>(
    db: &C,
    caller: &Caller,
    after_id: Option<&str>,
    limit: u64,
    show_revoked: bool,
) -> Result<Vec<ApiKey>, ServiceError> {
    caller.require(Capability::Manage)?;
    let filter = KeyFilter {
        tenant_id: &caller.tenant_id,
        scope: caller.scope.as_ref().map(Scope::as_str),
        show_revoked,
    };
    api_keys::list_page(db, filter, after_id, limit)
        .await?
        .into_iter()
        .map(to_api_key)
        .collect()
}

pub async fn revoke_api_key<C: Connection>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<ApiKey, ServiceError> {
    caller.require(Capability::Manage)?;
    require_id_shape(IdKind::ApiKey, "api key", id)?;
    let model = api_keys::find(db, &caller.tenant_id, id)
        .await?
        .filter(|key| caller.can_see(key.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("api key", id))?;
    if model.revoke_time.is_some() {
        return to_api_key(model);
    }
    to_api_key(api_keys::revoke(db, model, now_micros()).await?)
}

/// The key the caller authenticated with. Any key may read itself, so
/// that a client (the web console) can offer only what the key may do.
pub async fn current_api_key<C: Connection>(
    db: &C,
    caller: &Caller,
) -> Result<ApiKey, ServiceError> {
    let model = api_keys::find(db, &caller.tenant_id, &caller.key_id)
        .await?
        // Revoked through another replica, whose cache this one has not heard of.
        .filter(|key| key.revoke_time.is_none())
        .ok_or(ServiceError::Unauthenticated(INVALID_TOKEN))?;
    to_api_key(model)
}

/// What a caller hears for a token that opens nothing. Unknown, revoked and
/// malformed tokens are indistinguishable on purpose.
const INVALID_TOKEN: &str = "invalid or revoked API key";

/// Resolves a bearer token to its caller: from `callers` when it was seen a
/// moment ago, else from the database. A token that is not even shaped like
/// one of ours is refused before any query.
pub async fn authenticate_token<C: Connection>(
    db: &C,
    callers: &CallerCache,
    token: &str,
) -> Result<Caller, ServiceError> {
    if !looks_like_token(token) {
        return Err(ServiceError::Unauthenticated(INVALID_TOKEN));
    }
    let token_hash = hash_token(token);
    if let Some(caller) = callers.get(&token_hash) {
        return Ok(caller);
    }
    let caller = authenticate(db, &token_hash).await?;
    callers.put(token_hash, caller.clone());
    Ok(caller)
}

/// Resolves a bearer token, given as its SHA-256 hash, to its caller.
pub async fn authenticate<C: Connection>(db: &C, token_hash: &str) -> Result<Caller, ServiceError> {
    let key = api_keys::find_active_by_hash(db, token_hash)
        .await?
        .ok_or(ServiceError::Unauthenticated(INVALID_TOKEN))?;
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
