//! A subscription's delivery profile, resolved and checked against the
//! rest of the subscription: its secret's rules and its custom headers.

use super::SubscriptionSpec;
use crate::domain::{DeliveryProfile, ProfileSpec, ProfileViolation, WebhookSecret};
use crate::service::{FieldViolation, ServiceError};
use crate::store::{Connection, delivery_profiles};
use std::sync::Arc;

/// The ready-to-render profile `spec` declares. The default costs nothing;
/// a saved profile comes from the copy the spec keeps.
pub fn resolve(spec: &ProfileSpec) -> Result<Arc<DeliveryProfile>, Vec<ProfileViolation>> {
    if spec.is_default() {
        return Ok(DeliveryProfile::standard());
    }
    DeliveryProfile::resolve(spec, |_| spec.saved_base.as_deref().cloned()).map(Arc::new)
}

/// [`resolve`] for a request: violations name `subscription.profile.*`.
pub fn resolve_for_request(spec: &ProfileSpec) -> Result<Arc<DeliveryProfile>, ServiceError> {
    resolve(spec).map_err(|violations| violations_under("subscription.profile", violations))
}

/// Profile violations as field violations under `prefix`.
pub fn violations_under(prefix: &str, violations: Vec<ProfileViolation>) -> ServiceError {
    ServiceError::InvalidArgument(
        violations
            .into_iter()
            .map(|v| FieldViolation {
                field: format!("{prefix}.{}", v.field),
                description: v.reason,
            })
            .collect(),
    )
}

/// Copies the saved profile `spec` names (if it names one) into it, so the
/// subscription sends by it without looking it up; an unknown name is left
/// for [`resolve`] to report.
pub async fn attach_saved<C: Connection>(
    db: &C,
    tenant_id: &str,
    spec: &mut ProfileSpec,
) -> Result<(), ServiceError> {
    spec.saved_base = None;
    let Some(name) = spec.saved_name() else {
        return Ok(());
    };
    if let Some(row) = delivery_profiles::find(db, tenant_id, name).await? {
        let saved: ProfileSpec = serde_json::from_str(&row.spec).map_err(|e| {
            ServiceError::Internal(format!("stored delivery profile {}: {e}", row.name))
        })?;
        spec.saved_base = Some(Box::new(saved));
    }
    Ok(())
}

/// A caller's secret under the profile's rules: Standard Webhooks keys
/// need the `whsec_` rules, raw-keyed recipes take any 16 bytes.
pub fn parse_secret(
    field: &str,
    profile: &DeliveryProfile,
    text: &str,
) -> Result<WebhookSecret, ServiceError> {
    WebhookSecret::parse_for(text, profile.uses_standard_keys())
        .map_err(|e| ServiceError::invalid(field, e))
}

/// Custom headers override every default except a signature's headers:
/// setting one of those would forge or break the signature.
pub fn check_headers(
    spec: &SubscriptionSpec,
    profile: &DeliveryProfile,
) -> Result<(), ServiceError> {
    let owned: Vec<_> = profile.signature_headers().collect();
    if let Some((name, _)) = spec.headers.iter().find(|(name, _)| owned.contains(name)) {
        return Err(ServiceError::invalid(
            format!("subscription.headers[{:?}]", name.as_str()),
            format!(
                "is a signature header of the delivery profile and cannot be set; {name} is computed for every request"
            ),
        ));
    }
    Ok(())
}
