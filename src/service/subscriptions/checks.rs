//! The rules a subscription must meet beyond its single fields: a signature
//! profile's headers, the tenant's event-type catalog and its quotas.

use super::{OPERATIONAL_EVENT_TYPES, Quotas, SubscriptionSpec};
use crate::domain::{EventTypePattern, Scope};
use crate::service::{Caller, FieldViolation, ServiceError, event_types};
use crate::store::Connection;
use crate::store::subscriptions as rows;

pub(super) fn check_cross_field_rules(spec: &SubscriptionSpec) -> Result<(), ServiceError> {
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
pub(super) async fn check_event_types_registered<C: Connection>(
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

/// Run inside the creating transaction: the count and the insert must see
/// the same rows.
pub(super) async fn check_quotas<C: Connection>(
    db: &C,
    caller: &Caller,
    scope: Option<&Scope>,
    quotas: Quotas,
) -> Result<(), ServiceError> {
    rows::lock_tenant_for_create(db, &caller.tenant_id).await?;
    let tenant_total = rows::count(db, &caller.tenant_id, None).await?;
    if tenant_total >= quotas.per_tenant {
        return Err(ServiceError::QuotaExceeded(format!(
            "the tenant already has {tenant_total} subscriptions (limit {})",
            quotas.per_tenant
        )));
    }
    if let Some(scope) = scope {
        let in_scope = rows::count(db, &caller.tenant_id, Some(scope.as_str())).await?;
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
