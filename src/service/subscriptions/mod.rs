//! Subscriptions: where a tenant's events go and how they are sent. The rules
//! that need the database live here (registered event types, unique names,
//! quotas, scope isolation); per-field rules live in the domain types, the
//! queries and the stored form in `store::subscriptions`.

mod checks;
mod health;
pub mod preview;
pub mod profile;
mod secrets;

pub use secrets::{rotate_secret, signing_secrets};

use super::{Caller, ServiceError, require_id_shape};
use crate::domain::{
    Capability, CustomHeaders, DeliveryTimeout, EndpointUrl, EventTypePattern, IdKind,
    PayloadFilter, ProfileSpec, RateLimit, ResourceName, RetryPolicy, Scope, SecretCipher,
    SignatureProfile, SubscriptionHealth, WebhookSecret,
};
use crate::store::subscriptions::{self as rows, ListFilter};
use crate::store::{self, Connection, DbError, TransactionSession, Transactional, subscription};
use checks::{check_cross_field_rules, check_event_types_registered, check_quotas};
use std::collections::BTreeMap;
use std::time::Duration;

/// Everything a subscription is, validated field by field.
pub use crate::domain::SubscriptionSpec;
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

#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub spec: SubscriptionSpec,
    pub disabled_reason: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
    /// How deliveries have gone; `None` where it was not read.
    pub health: Option<SubscriptionHealth>,
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
    pub profile: Option<ProfileSpec>,
    /// `Some(None)` clears the filter.
    pub filter: Option<Option<PayloadFilter>>,
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

pub async fn create<C: Connection + Transactional>(
    db: &C,
    cipher: &SecretCipher,
    quotas: Quotas,
    caller: &Caller,
    mut spec: SubscriptionSpec,
    secret: Option<&str>,
) -> Result<(Subscription, Option<WebhookSecret>), ServiceError> {
    caller.require(Capability::Manage)?;
    spec.scope = caller.effective_scope(spec.scope)?;
    check_cross_field_rules(&spec)?;
    profile::attach_saved(db, &caller.tenant_id, &mut spec.profile).await?;
    let delivery_profile = profile::resolve_for_request(&spec.profile)?;
    profile::check_headers(&spec, &delivery_profile)?;
    // A caller's secret is theirs already: it is stored, never echoed. A
    // generated one is returned this once.
    let (sealed, generated) = match (secret, spec.unsigned) {
        (Some(_), true) => {
            return Err(ServiceError::invalid(
                "secret",
                "an unsigned subscription has no secret; drop `secret` or `subscription.unsigned`",
            ));
        }
        (None, true) => (String::new(), None),
        (Some(text), false) => {
            let secret = profile::parse_secret("secret", &delivery_profile, text)?;
            (cipher.encrypt(secret.expose()), None)
        }
        (None, false) => {
            let secret = WebhookSecret::generate();
            (cipher.encrypt(secret.expose()), Some(secret))
        }
    };

    let txn = db.begin().await?;
    check_event_types_registered(&txn, &caller.tenant_id, &spec.event_types).await?;
    check_quotas(&txn, caller, spec.scope.as_ref(), quotas).await?;
    let model = rows::insert(&txn, &caller.tenant_id, &spec, sealed)
        .await
        .map_err(|err| name_conflict(err, &spec))?;
    txn.commit().await?;
    let mut created = to_subscription(model)?;
    // Nothing was sent to it yet.
    created.health = Some(SubscriptionHealth::default());
    Ok((created, generated))
}

pub async fn get<C: Connection + Transactional>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Subscription, ServiceError> {
    caller.require_read()?;
    // The row's counters and the attempts counted for it agree.
    let snapshot = store::begin_snapshot(db).await?;
    let row = find_visible(&snapshot, caller, id).await?;
    let subscription = health::one_with_health(&snapshot, &caller.tenant_id, row).await?;
    snapshot.commit().await?;
    Ok(subscription)
}

pub async fn list<C: Connection + Transactional>(
    db: &C,
    caller: &Caller,
    filter: SubscriptionFilter,
    after_id: Option<&str>,
    limit: u64,
) -> Result<Vec<Subscription>, ServiceError> {
    caller.require_read()?;
    let scope = caller.effective_scope(filter.scope)?;
    let filter = ListFilter {
        scope: scope.as_ref().map(Scope::as_str),
        enabled: filter.enabled,
    };
    // The rows' counters and the attempts counted for them agree.
    let snapshot = store::begin_snapshot(db).await?;
    let rows = rows::list_page(&snapshot, &caller.tenant_id, filter, after_id, limit).await?;
    let subscriptions = health::with_health(&snapshot, &caller.tenant_id, rows).await?;
    snapshot.commit().await?;
    Ok(subscriptions)
}

pub async fn update<C: Connection + Transactional>(
    db: &C,
    cipher: &SecretCipher,
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
    let profile_changed = patch.profile.is_some();
    apply_simple_fields(&mut spec, patch);
    check_cross_field_rules(&spec)?;
    if profile_changed {
        profile::attach_saved(&txn, &caller.tenant_id, &mut spec.profile).await?;
    }
    let delivery_profile = profile::resolve_for_request(&spec.profile)?;
    profile::check_headers(&spec, &delivery_profile)?;
    if profile_changed {
        secrets::check_fits(cipher, &model, &delivery_profile)?;
    }

    let model = rows::update(&txn, model, &spec, disabled_reason)
        .await
        .map_err(|err| name_conflict(err, &spec))?;
    txn.commit().await?;
    health::one_with_health(db, &caller.tenant_id, model).await
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
    if let Some(profile) = patch.profile {
        spec.profile = profile;
    }
    if let Some(filter) = patch.filter {
        spec.filter = filter;
    }
}

pub async fn delete<C: Connection>(db: &C, caller: &Caller, id: &str) -> Result<(), ServiceError> {
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    rows::delete(db, &model.id).await?;
    Ok(())
}

/// Rows of another tenant, or outside a scoped key's scope, do not exist as
/// far as the caller can tell.
pub(crate) async fn find_visible<C: Connection>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<subscription::Model, ServiceError> {
    require_id_shape(IdKind::Subscription, "subscription", id)?;
    rows::find(db, &caller.tenant_id, id)
        .await?
        .filter(|model| caller.can_see(model.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("subscription", id))
}

fn name_conflict(err: DbError, spec: &SubscriptionSpec) -> ServiceError {
    ServiceError::from_insert(err, "subscription named", spec.name.as_str())
}

/// Rebuilds the domain value from a row. Rows were validated on the way in,
/// so a failure here means the database was edited by hand: Internal.
pub fn to_subscription(model: subscription::Model) -> Result<Subscription, ServiceError> {
    let spec = rows::decode_spec(&model).map_err(|err| ServiceError::Internal(err.to_string()))?;
    Ok(Subscription {
        id: model.id,
        spec,
        disabled_reason: model.disabled_reason,
        create_time: model.create_time,
        update_time: model.update_time,
        health: None,
    })
}
