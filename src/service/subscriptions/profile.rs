//! A subscription's delivery profile, resolved and checked against the
//! rest of the subscription: its secret's rules and its custom headers.

use super::SubscriptionSpec;
use crate::domain::{DeliveryProfile, ProfileSpec, ProfileViolation, WebhookSecret};
use crate::service::{FieldViolation, ServiceError};
use std::sync::Arc;

/// The ready-to-render profile `spec` declares. The default costs nothing.
pub fn resolve(spec: &ProfileSpec) -> Result<Arc<DeliveryProfile>, Vec<ProfileViolation>> {
    if spec.is_default() {
        return Ok(DeliveryProfile::standard());
    }
    DeliveryProfile::resolve(spec, |_| None).map(Arc::new)
}

/// [`resolve`] for a request: violations name `subscription.profile.*`.
pub fn resolve_for_request(spec: &ProfileSpec) -> Result<Arc<DeliveryProfile>, ServiceError> {
    resolve(spec).map_err(|violations| {
        ServiceError::InvalidArgument(
            violations
                .into_iter()
                .map(|v| FieldViolation {
                    field: format!("subscription.profile.{}", v.field),
                    description: v.reason,
                })
                .collect(),
        )
    })
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
