//! Subscriptions: where a tenant's events go and how they are sent. The rules
//! that need the database live here (registered event types, unique names,
//! quotas, scope isolation); per-field rules live in the domain types.

use super::{Caller, FieldViolation, ServiceError, event_types};
use crate::domain::{
    Backoff, Capability, CustomHeaders, DeliveryTimeout, EndpointUrl, EventTypePattern,
    HexAlgorithm, IdKind, RateLimit, ResourceName, RetryPolicy, Scope, SecretCipher,
    SignatureProfile, WebhookSecret, new_id,
};
use crate::store::codec::{StoredRetryPolicy, StoredSignature};
use crate::store::is_unique_violation;
use crate::store::{now_micros, subscription};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use std::collections::BTreeMap;
use std::time::Duration;

// The field limits are checked by the domain types that own them; these
// names stay for callers that knew them here.
pub use crate::domain::MAX_EVENT_TYPE_PATTERNS;
pub const DEFAULT_TIMEOUT: Duration = DeliveryTimeout::DEFAULT.get();
pub const MIN_TIMEOUT: Duration = DeliveryTimeout::MIN;
pub const MAX_TIMEOUT: Duration = DeliveryTimeout::MAX;
pub const MAX_RATE_LIMIT: u32 = RateLimit::MAX;
/// Events hookrelay publishes itself; subscribable by exact name without
/// being in the tenant's catalog.
pub const OPERATIONAL_EVENT_TYPES: &[&str] = &[super::events::SUBSCRIPTION_DISABLED];

/// Everything a subscription is, validated field by field.
#[derive(Clone, Debug)]
pub struct SubscriptionSpec {
    pub name: ResourceName,
    pub description: String,
    pub url: EndpointUrl,
    pub event_types: Vec<EventTypePattern>,
    pub scope: Option<Scope>,
    pub enabled: bool,
    pub headers: CustomHeaders,
    pub retry_policy: RetryPolicy,
    pub signature: Option<SignatureProfile>,
    pub timeout: Duration,
    pub rate_limit: u32,
    pub ordered: bool,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub spec: SubscriptionSpec,
    pub disabled_reason: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

/// The fields an update mask named, each already validated. `scope` is
/// absent on purpose: moving a subscription between scopes would let a
/// scoped key hand it to someone else.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionPatch {
    pub name: Option<ResourceName>,
    pub description: Option<String>,
    pub url: Option<EndpointUrl>,
    pub event_types: Option<Vec<EventTypePattern>>,
    pub enabled: Option<bool>,
    pub headers: Option<CustomHeaders>,
    pub retry_policy: Option<RetryPolicy>,
    pub signature: Option<Option<SignatureProfile>>,
    pub timeout: Option<Duration>,
    pub rate_limit: Option<u32>,
    pub ordered: Option<bool>,
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug)]
pub struct SubscriptionFilter {
    pub scope: Option<Scope>,
    pub enabled: Option<bool>,
}

#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    pub per_scope: u64,
    pub per_tenant: u64,
}

pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    cipher: &SecretCipher,
    quotas: Quotas,
    caller: &Caller,
    mut spec: SubscriptionSpec,
    secret: Option<WebhookSecret>,
) -> Result<(Subscription, WebhookSecret), ServiceError> {
    caller.require(Capability::Manage)?;
    spec.scope = caller.effective_scope(spec.scope)?;
    check_cross_field_rules(&spec)?;
    let secret = secret.unwrap_or_else(WebhookSecret::generate);

    let txn = db.begin().await?;
    check_event_types_registered(&txn, &caller.tenant_id, &spec.event_types).await?;
    check_quotas(&txn, caller, spec.scope.as_ref(), quotas).await?;
    let now = now_micros();
    let model = subscription::ActiveModel {
        id: Set(new_id(IdKind::Subscription)),
        tenant_id: Set(caller.tenant_id.clone()),
        secret_ciphertext: Set(cipher.encrypt(secret.expose())),
        previous_secret_ciphertext: Set(None),
        previous_secret_expire_time: Set(None),
        disabled_reason: Set(None),
        create_time: Set(now),
        update_time: Set(now),
        ..spec_to_active(&spec)
    };
    let model = model
        .insert(&txn)
        .await
        .map_err(|err| name_conflict(err, &spec))?;
    txn.commit().await?;
    Ok((to_subscription(model)?, secret))
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Subscription, ServiceError> {
    caller.require_read()?;
    to_subscription(find_visible(db, caller, id).await?)
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: SubscriptionFilter,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<Subscription>, ServiceError> {
    caller.require_read()?;
    let scope = caller.effective_scope(filter.scope)?;
    let mut query = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(&caller.tenant_id))
        .order_by_asc(subscription::Column::Id)
        .limit(limit);
    if let Some(scope) = scope {
        query = query.filter(subscription::Column::Scope.eq(scope.as_str()));
    }
    if let Some(enabled) = filter.enabled {
        query = query.filter(subscription::Column::Enabled.eq(enabled));
    }
    if let Some(after) = after_id {
        query = query.filter(subscription::Column::Id.gt(after));
    }
    query
        .all(db)
        .await?
        .into_iter()
        .map(to_subscription)
        .collect()
}

pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
    mut patch: SubscriptionPatch,
) -> Result<Subscription, ServiceError> {
    caller.require(Capability::Manage)?;
    let txn = db.begin().await?;
    let model = find_visible(&txn, caller, id).await?;
    let current = to_subscription(model.clone())?;
    let mut spec = current.spec;
    let mut disabled_reason = current.disabled_reason;
    if let Some(patterns) = patch.event_types.take() {
        check_event_types_registered(&txn, &caller.tenant_id, &patterns).await?;
        spec.event_types = patterns;
    }
    if let Some(enabled) = patch.enabled {
        spec.enabled = enabled;
        // Re-enabling (or disabling by hand) supersedes the server's reason.
        disabled_reason = None;
    }
    apply_simple_fields(&mut spec, patch);
    check_cross_field_rules(&spec)?;

    let mut active: subscription::ActiveModel = model.into();
    let fields = spec_to_active(&spec);
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
    active.disabled_reason = Set(disabled_reason);
    active.update_time = Set(now_micros());
    let model = active
        .update(&txn)
        .await
        .map_err(|err| name_conflict(err, &spec))?;
    txn.commit().await?;
    to_subscription(model)
}

fn apply_simple_fields(spec: &mut SubscriptionSpec, patch: SubscriptionPatch) {
    if let Some(name) = patch.name {
        spec.name = name;
    }
    if let Some(description) = patch.description {
        spec.description = description;
    }
    if let Some(url) = patch.url {
        spec.url = url;
    }
    if let Some(headers) = patch.headers {
        spec.headers = headers;
    }
    if let Some(retry_policy) = patch.retry_policy {
        spec.retry_policy = retry_policy;
    }
    if let Some(signature) = patch.signature {
        spec.signature = signature;
    }
    if let Some(timeout) = patch.timeout {
        spec.timeout = timeout;
    }
    if let Some(rate_limit) = patch.rate_limit {
        spec.rate_limit = rate_limit;
    }
    if let Some(ordered) = patch.ordered {
        spec.ordered = ordered;
    }
    if let Some(metadata) = patch.metadata {
        spec.metadata = metadata;
    }
}

pub async fn delete<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<(), ServiceError> {
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    subscription::Entity::delete_by_id(model.id)
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces the secret; the previous one keeps signing until `overlap` ends,
/// so receivers can roll their configuration without dropping a webhook.
pub async fn rotate_secret<C: ConnectionTrait>(
    db: &C,
    cipher: &SecretCipher,
    caller: &Caller,
    id: &str,
    secret: Option<WebhookSecret>,
    overlap: Duration,
) -> Result<(WebhookSecret, Option<i64>), ServiceError> {
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    let secret = secret.unwrap_or_else(WebhookSecret::generate);
    let now = now_micros();
    let previous_expiry = (!overlap.is_zero())
        .then(|| now.saturating_add(i64::try_from(overlap.as_micros()).unwrap_or(i64::MAX)));
    let mut active: subscription::ActiveModel = model.clone().into();
    active.previous_secret_ciphertext =
        Set(previous_expiry.map(|_| model.secret_ciphertext.clone()));
    active.previous_secret_expire_time = Set(previous_expiry);
    active.secret_ciphertext = Set(cipher.encrypt(secret.expose()));
    active.update_time = Set(now);
    active.update(db).await?;
    Ok((secret, previous_expiry))
}

/// The secrets a delivery is signed with right now: the current one and, during
/// a rotation overlap, the previous one.
pub fn signing_secrets(
    cipher: &SecretCipher,
    model: &subscription::Model,
    now: i64,
) -> Result<Vec<WebhookSecret>, ServiceError> {
    let open = |sealed: &str| -> Result<WebhookSecret, ServiceError> {
        let plain = cipher.decrypt(sealed).map_err(|err| {
            ServiceError::Internal(format!(
                "cannot decrypt the secret of {}: {err} (was the secret key changed?)",
                model.id
            ))
        })?;
        WebhookSecret::parse(&plain)
            .map_err(|err| ServiceError::Internal(format!("stored secret of {}: {err}", model.id)))
    };
    let mut secrets = vec![open(&model.secret_ciphertext)?];
    if let (Some(previous), Some(expiry)) = (
        &model.previous_secret_ciphertext,
        model.previous_secret_expire_time,
    ) && expiry > now
    {
        secrets.push(open(previous)?);
    }
    Ok(secrets)
}

/// What SendTestEvent needs: the subscription and the secrets that sign now.
pub async fn test_target<C: ConnectionTrait>(
    db: &C,
    cipher: &SecretCipher,
    caller: &Caller,
    id: &str,
) -> Result<(Subscription, Vec<WebhookSecret>), ServiceError> {
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    let secrets = signing_secrets(cipher, &model, now_micros())?;
    Ok((to_subscription(model)?, secrets))
}

/// Rows of another tenant, or outside a scoped key's scope, do not exist as
/// far as the caller can tell.
async fn find_visible<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<subscription::Model, ServiceError> {
    subscription::Entity::find_by_id(id.to_owned())
        .filter(subscription::Column::TenantId.eq(&caller.tenant_id))
        .one(db)
        .await?
        .filter(|model| caller.can_see(model.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("subscription", id))
}

fn check_cross_field_rules(spec: &SubscriptionSpec) -> Result<(), ServiceError> {
    if let Some(signature) = &spec.signature {
        let clashes = spec.headers.iter().any(|(name, _)| {
            *name == signature.header || Some(name) == signature.algorithm_header.as_ref()
        });
        if clashes {
            return Err(ServiceError::invalid(
                "subscription.headers",
                format!(
                    "may not set {}: the signature profile owns that header",
                    signature.header
                ),
            ));
        }
    }
    Ok(())
}

/// Exact names must be registered, active event types: the catalog is how
/// subscribers discover what exists, and a typo should fail now, not never match.
async fn check_event_types_registered<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    patterns: &[EventTypePattern],
) -> Result<(), ServiceError> {
    // hookrelay's own operational events exist without being registered.
    let exact: Vec<String> = patterns
        .iter()
        .filter_map(|p| p.exact().map(|name| name.as_str().to_owned()))
        .filter(|name| !OPERATIONAL_EVENT_TYPES.contains(&name.as_str()))
        .collect();
    let active = event_types::active_names(db, tenant_id, &exact).await?;
    let violations: Vec<FieldViolation> = patterns
        .iter()
        .enumerate()
        .filter_map(|(index, pattern)| {
            let name = pattern.exact()?.as_str();
            let known = OPERATIONAL_EVENT_TYPES.contains(&name) || active.iter().any(|a| a == name);
            (!known).then(|| FieldViolation {
                field: format!("subscription.event_types[{index}]"),
                description: format!(
                    "{name:?} is not a registered, active event type; create it with CreateEventType or use a wildcard"
                ),
            })
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(violations))
    }
}

async fn check_quotas<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    scope: Option<&Scope>,
    quotas: Quotas,
) -> Result<(), ServiceError> {
    // On Postgres, lock the tenant row so concurrent creates cannot both pass
    // the count; SQLite already serialises writers.
    if db.get_database_backend() == DatabaseBackend::Postgres {
        crate::store::tenant::Entity::find_by_id(caller.tenant_id.clone())
            .lock_exclusive()
            .one(db)
            .await?;
    }
    let tenant_total = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(&caller.tenant_id))
        .count(db)
        .await?;
    if tenant_total >= quotas.per_tenant {
        return Err(ServiceError::QuotaExceeded(format!(
            "the tenant already has {tenant_total} subscriptions (limit {})",
            quotas.per_tenant
        )));
    }
    if let Some(scope) = scope {
        let in_scope = subscription::Entity::find()
            .filter(subscription::Column::TenantId.eq(&caller.tenant_id))
            .filter(subscription::Column::Scope.eq(scope.as_str()))
            .count(db)
            .await?;
        if in_scope >= quotas.per_scope {
            return Err(ServiceError::QuotaExceeded(format!(
                "scope {:?} already has {in_scope} subscriptions (limit {})",
                scope.as_str(),
                quotas.per_scope
            )));
        }
    }
    Ok(())
}

fn name_conflict(err: crate::store::DbError, spec: &SubscriptionSpec) -> ServiceError {
    if is_unique_violation(&err) {
        ServiceError::AlreadyExists {
            kind: "subscription named",
            id: spec.name.as_str().to_owned(),
        }
    } else {
        err.into()
    }
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

fn spec_to_active(spec: &SubscriptionSpec) -> subscription::ActiveModel {
    let patterns: Vec<String> = spec.event_types.iter().map(|p| p.as_string()).collect();
    let policy = &spec.retry_policy;
    let retry = StoredRetryPolicy {
        max_attempts: policy.max_attempts,
        initial_delay_ms: policy.initial_delay.as_millis() as u64,
        max_delay_ms: policy.max_delay.as_millis() as u64,
        backoff: backoff_name(policy.backoff).to_owned(),
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
        ..Default::default()
    }
}

/// Rebuilds the domain value from a row. Rows were validated on the way in,
/// so a failure here means the database was edited by hand: Internal.
pub fn to_subscription(model: subscription::Model) -> Result<Subscription, ServiceError> {
    let corrupt = |what: &str, err: String| {
        ServiceError::Internal(format!("stored subscription {}: {what}: {err}", model.id))
    };
    let patterns: Vec<String> = serde_json::from_str(&model.event_types)
        .map_err(|e| corrupt("event_types", e.to_string()))?;
    let event_types = patterns
        .iter()
        .map(|p| EventTypePattern::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt("event_types", e.to_string()))?;
    let headers: BTreeMap<String, String> =
        serde_json::from_str(&model.headers).map_err(|e| corrupt("headers", e.to_string()))?;
    let headers = CustomHeaders::parse(&headers)
        .map_err(|_| corrupt("headers", "invalid header".to_owned()))?;
    let retry: StoredRetryPolicy = serde_json::from_str(&model.retry_policy)
        .map_err(|e| corrupt("retry_policy", e.to_string()))?;
    let backoff = match retry.backoff.as_str() {
        "linear" => Backoff::Linear,
        "fixed" => Backoff::Fixed,
        _ => Backoff::Exponential,
    };
    let retry_policy = RetryPolicy::new(
        retry.max_attempts,
        Duration::from_millis(retry.initial_delay_ms),
        Duration::from_millis(retry.max_delay_ms),
        backoff,
    )
    .map_err(|e| corrupt("retry_policy", e.to_string()))?;
    let signature = match &model.signature {
        None => None,
        Some(text) => {
            let stored: StoredSignature =
                serde_json::from_str(text).map_err(|e| corrupt("signature", e.to_string()))?;
            let algorithm = HexAlgorithm::from_name(&stored.algorithm).ok_or_else(|| {
                corrupt(
                    "signature",
                    format!("unknown algorithm {:?}", stored.algorithm),
                )
            })?;
            Some(
                SignatureProfile::parse(
                    &stored.header,
                    algorithm,
                    &stored.prefix,
                    stored.algorithm_header.as_deref().unwrap_or(""),
                )
                .map_err(|e| corrupt("signature", e.to_string()))?,
            )
        }
    };
    let metadata: BTreeMap<String, String> =
        serde_json::from_str(&model.metadata).map_err(|e| corrupt("metadata", e.to_string()))?;
    let spec = SubscriptionSpec {
        name: ResourceName::parse(&model.name).map_err(|e| corrupt("name", e.to_string()))?,
        description: model.description.clone(),
        // Validated against the server's URL policy when written; read back as is.
        url: EndpointUrl::parse(&model.url, true).map_err(|e| corrupt("url", e.to_string()))?,
        event_types,
        scope: model
            .scope
            .as_deref()
            .map(Scope::parse)
            .transpose()
            .map_err(|e| corrupt("scope", e.to_string()))?,
        enabled: model.enabled,
        headers,
        retry_policy,
        signature,
        timeout: Duration::from_millis(model.timeout_ms.max(0) as u64),
        rate_limit: model.rate_limit.max(0) as u32,
        ordered: model.ordered,
        metadata,
    };
    Ok(Subscription {
        id: model.id,
        spec,
        disabled_reason: model.disabled_reason,
        create_time: model.create_time,
        update_time: model.update_time,
    })
}
