//! The queries on the `subscriptions` table, and the stored form of a
//! [`SubscriptionSpec`] both ways: spec to columns on write, row back to a
//! spec on read.

use super::codec::{StoredRetryPolicy, StoredSignature};
use super::{DbError, now_micros, subscription, tenant};
use crate::domain::{
    Backoff, CustomHeaders, EndpointUrl, EventTypePattern, HexAlgorithm, IdKind, PayloadFilter,
    ProfileSpec, ResourceName, RetryPolicy, Scope, SignatureProfile, SubscriptionSpec, new_id,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub use subscription::Model;

/// Which rows a list returns, besides the tenant.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListFilter<'a> {
    pub scope: Option<&'a str>,
    pub enabled: Option<bool>,
}

/// A row that does not read back as a valid spec. Rows are validated on the
/// way in, so this means the database was edited by hand.
#[derive(Debug, thiserror::Error)]
#[error("stored subscription {id}: {field}: {reason}")]
pub struct CorruptRow {
    pub id: String,
    pub field: &'static str,
    pub reason: String,
}

/// Stores a new subscription with a fresh id and its sealed secret.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    spec: &SubscriptionSpec,
    secret_ciphertext: String,
) -> Result<Model, DbError> {
    let now = now_micros();
    subscription::ActiveModel {
        id: Set(new_id(IdKind::Subscription)),
        tenant_id: Set(tenant_id.to_owned()),
        secret_ciphertext: Set(secret_ciphertext),
        previous_secret_ciphertext: Set(None),
        previous_secret_expire_time: Set(None),
        disabled_reason: Set(None),
        create_time: Set(now),
        update_time: Set(now),
        ..spec_to_active(spec)
    }
    .insert(db)
    .await
}

/// The tenant's subscription `id`, whatever its scope.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Model>, DbError> {
    subscription::Entity::find_by_id(id.to_owned())
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .one(db)
        .await
}

/// Up to `limit` of the tenant's subscriptions after `after_id`, by id.
pub async fn list_page<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    filter: ListFilter<'_>,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<Model>, DbError> {
    let mut query = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .order_by_asc(subscription::Column::Id)
        .limit(limit);
    if let Some(scope) = filter.scope {
        query = query.filter(subscription::Column::Scope.eq(scope));
    }
    if let Some(enabled) = filter.enabled {
        query = query.filter(subscription::Column::Enabled.eq(enabled));
    }
    if let Some(after) = after_id {
        query = query.filter(subscription::Column::Id.gt(after));
    }
    query.all(db).await
}

/// Writes `spec` over the row, except its scope: moving a subscription
/// between scopes would let a scoped key hand it to someone else.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    row: Model,
    spec: &SubscriptionSpec,
    disabled_reason: Option<String>,
) -> Result<Model, DbError> {
    let mut active: subscription::ActiveModel = row.into();
    let fields = spec_to_active(spec);
    active.name = fields.name;
    active.description = fields.description;
    active.url = fields.url;
    active.event_types = fields.event_types;
    active.enabled = fields.enabled;
    active.headers = fields.headers;
    active.retry_policy = fields.retry_policy;
    active.signature = fields.signature;
    active.timeout_ms = fields.timeout_ms;
    active.rate_limit = fields.rate_limit;
    active.ordered = fields.ordered;
    active.metadata = fields.metadata;
    active.profile = fields.profile;
    active.payload_filter = fields.payload_filter;
    active.disabled_reason = Set(disabled_reason);
    active.update_time = Set(now_micros());
    active.update(db).await
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbError> {
    subscription::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces the sealed secret. With `previous_expire_time`, the old one is
/// kept and signs until then; without, it is dropped.
pub async fn set_secret<C: ConnectionTrait>(
    db: &C,
    row: Model,
    secret_ciphertext: String,
    previous_expire_time: Option<i64>,
    now: i64,
) -> Result<(), DbError> {
    let previous = previous_expire_time.map(|_| row.secret_ciphertext.clone());
    let mut active: subscription::ActiveModel = row.into();
    active.previous_secret_ciphertext = Set(previous);
    active.previous_secret_expire_time = Set(previous_expire_time);
    active.secret_ciphertext = Set(secret_ciphertext);
    active.update_time = Set(now);
    active.update(db).await?;
    Ok(())
}

/// On Postgres, locks the tenant row so concurrent creates cannot both pass
/// the quota count; SQLite already serialises writers. Call it inside the
/// creating transaction, before [`count`].
pub async fn lock_tenant_for_create<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<(), DbError> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        tenant::Entity::find_by_id(tenant_id.to_owned())
            .lock_exclusive()
            .one(db)
            .await?;
    }
    Ok(())
}

/// Failed attempts in a row of each of `ids` (those that exist).
pub async fn failure_counts<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, u32>, DbError> {
    Ok(subscription::Entity::find()
        .select_only()
        .column(subscription::Column::Id)
        .column(subscription::Column::ConsecutiveFailures)
        .filter(subscription::Column::Id.is_in(ids.iter().cloned()))
        .into_tuple::<(String, i32)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, failures)| (id, u32::try_from(failures).unwrap_or_default()))
        .collect())
}

/// How many subscriptions the tenant has, in `scope` when given.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    scope: Option<&str>,
) -> Result<u64, DbError> {
    let mut query =
        subscription::Entity::find().filter(subscription::Column::TenantId.eq(tenant_id));
    if let Some(scope) = scope {
        query = query.filter(subscription::Column::Scope.eq(scope));
    }
    query.count(db).await
}

fn backoff_name(backoff: Backoff) -> &'static str {
    match backoff {
        Backoff::Exponential => "exponential",
        Backoff::Linear => "linear",
        Backoff::Fixed => "fixed",
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// The spec's columns, everything else left unset.
fn spec_to_active(spec: &SubscriptionSpec) -> subscription::ActiveModel {
    let patterns: Vec<String> = spec.event_types.iter().map(|p| p.as_string()).collect();
    let policy = &spec.retry_policy;
    let retry = StoredRetryPolicy {
        max_attempts: policy.max_attempts,
        initial_delay_ms: policy.initial_delay.as_millis() as u64,
        max_delay_ms: policy.max_delay.as_millis() as u64,
        backoff: backoff_name(policy.backoff).to_owned(),
        jitter: policy.jitter,
    };
    let signature = spec.signature.as_ref().map(|s| StoredSignature {
        header: s.header.as_str().to_owned(),
        algorithm: s.algorithm.name().to_owned(),
        prefix: s.prefix.clone(),
        algorithm_header: s.algorithm_header.as_ref().map(|h| h.as_str().to_owned()),
    });
    subscription::ActiveModel {
        name: Set(spec.name.as_str().to_owned()),
        description: Set(spec.description.clone()),
        url: Set(spec.url.as_str().to_owned()),
        event_types: Set(to_json(&patterns)),
        scope: Set(spec.scope.as_ref().map(|s| s.as_str().to_owned())),
        enabled: Set(spec.enabled),
        headers: Set(to_json(&spec.headers.to_map())),
        retry_policy: Set(to_json(&retry)),
        signature: Set(signature.as_ref().map(to_json)),
        timeout_ms: Set(spec.timeout.as_millis() as i64),
        rate_limit: Set(spec.rate_limit as i32),
        ordered: Set(spec.ordered),
        metadata: Set(to_json(&spec.metadata)),
        profile: Set((!spec.profile.is_default()).then(|| to_json(&spec.profile))),
        payload_filter: Set(spec
            .filter
            .as_ref()
            .filter(|f| !f.is_empty())
            .map(PayloadFilter::to_string)),
        ..Default::default()
    }
}

/// Rebuilds the spec from a row.
pub fn decode_spec(row: &Model) -> Result<SubscriptionSpec, CorruptRow> {
    let corrupt = |field: &'static str, reason: String| CorruptRow {
        id: row.id.clone(),
        field,
        reason,
    };
    let patterns: Vec<String> = serde_json::from_str(&row.event_types)
        .map_err(|e| corrupt("event_types", e.to_string()))?;
    let event_types = patterns
        .iter()
        .map(|p| EventTypePattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt("event_types", e.to_string()))?;
    let headers: BTreeMap<String, String> =
        serde_json::from_str(&row.headers).map_err(|e| corrupt("headers", e.to_string()))?;
    let headers = CustomHeaders::parse(&headers)
        .map_err(|_| corrupt("headers", "invalid header".to_owned()))?;
    let retry: StoredRetryPolicy = serde_json::from_str(&row.retry_policy)
        .map_err(|e| corrupt("retry_policy", e.to_string()))?;
    let retry_policy = decode_retry_policy(retry).map_err(|e| corrupt("retry_policy", e))?;
    let signature = row
        .signature
        .as_deref()
        .map(decode_signature)
        .transpose()
        .map_err(|e| corrupt("signature", e))?;
    let metadata: BTreeMap<String, String> =
        serde_json::from_str(&row.metadata).map_err(|e| corrupt("metadata", e.to_string()))?;
    let profile: ProfileSpec = row
        .profile
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt("profile", e.to_string()))?
        .unwrap_or_default();
    let filter = row
        .payload_filter
        .as_deref()
        .map(PayloadFilter::parse_text)
        .transpose()
        .map_err(|e| corrupt("payload_filter", e))?;
    Ok(SubscriptionSpec {
        name: ResourceName::parse(&row.name).map_err(|e| corrupt("name", e.to_string()))?,
        description: row.description.clone(),
        // Validated against the server's URL policy when written; read back as is.
        url: EndpointUrl::parse(&row.url, true).map_err(|e| corrupt("url", e.to_string()))?,
        event_types,
        scope: row
            .scope
            .as_deref()
            .map(Scope::parse)
            .transpose()
            .map_err(|e| corrupt("scope", e.to_string()))?,
        enabled: row.enabled,
        headers,
        retry_policy,
        signature,
        timeout: Duration::from_millis(row.timeout_ms.max(0) as u64),
        rate_limit: row.rate_limit.max(0) as u32,
        ordered: row.ordered,
        metadata,
        profile,
        unsigned: row.secret_ciphertext.is_empty(),
        filter,
    })
}

fn decode_retry_policy(retry: StoredRetryPolicy) -> Result<RetryPolicy, String> {
    let backoff = match retry.backoff.as_str() {
        "linear" => Backoff::Linear,
        "fixed" => Backoff::Fixed,
        _ => Backoff::Exponential,
    };
    RetryPolicy::new(
        retry.max_attempts,
        Duration::from_millis(retry.initial_delay_ms),
        Duration::from_millis(retry.max_delay_ms),
        backoff,
    )
    .map(|policy| policy.with_jitter(retry.jitter))
    .map_err(|e| e.to_string())
}

fn decode_signature(text: &str) -> Result<SignatureProfile, String> {
    let stored: StoredSignature = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let algorithm = HexAlgorithm::from_name(&stored.algorithm)
        .ok_or_else(|| format!("unknown algorithm {:?}", stored.algorithm))?;
    SignatureProfile::parse(
        &stored.header,
        algorithm,
        &stored.prefix,
        stored.algorithm_header.as_deref().unwrap_or(""),
    )
    .map_err(|e| e.to_string())
}
