//! A subscription's signing secrets: rotating them, and opening the ones
//! that sign right now.

use super::find_visible;
use crate::domain::{Capability, DeliveryProfile, SecretCipher, WebhookSecret};
use crate::service::{Caller, ServiceError};
use crate::store::subscriptions as rows;
use crate::store::{Connection, now_micros, subscription};
use std::time::Duration;

/// Replaces the secret; the previous one keeps signing until `overlap` ends,
/// so receivers can roll their configuration without dropping a webhook.
pub async fn rotate_secret<C: Connection>(
    db: &C,
    cipher: &SecretCipher,
    caller: &Caller,
    id: &str,
    secret: Option<&str>,
    overlap: Duration,
) -> Result<(Option<WebhookSecret>, Option<i64>), ServiceError> {
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    let (secret, generated) = match secret {
        Some(text) => {
            let spec =
                rows::decode_spec(&model).map_err(|err| ServiceError::Internal(err.to_string()))?;
            let profile = super::profile::resolve_for_request(&spec.profile)?;
            (
                super::profile::parse_secret("secret", &profile, text)?,
                false,
            )
        }
        None => (WebhookSecret::generate(), true),
    };
    let now = now_micros();
    // An unsigned subscription has no previous secret to keep.
    let previous_expiry = (!overlap.is_zero() && !model.secret_ciphertext.is_empty())
        .then(|| now.saturating_add(i64::try_from(overlap.as_micros()).unwrap_or(i64::MAX)));
    rows::set_secret(
        db,
        model,
        cipher.encrypt(secret.expose()),
        previous_expiry,
        now,
    )
    .await?;
    Ok((generated.then_some(secret), previous_expiry))
}

/// A new profile keeps the secret it has: one that uses Standard Webhooks
/// keys needs a secret under their rules (a raw-keyed profile may have
/// been given a shorter one), else the secret must be rotated first.
pub(super) fn check_fits(
    cipher: &SecretCipher,
    model: &subscription::Model,
    profile: &DeliveryProfile,
) -> Result<(), ServiceError> {
    if model.secret_ciphertext.is_empty() || !profile.uses_standard_keys() {
        return Ok(());
    }
    let plain = cipher.decrypt(&model.secret_ciphertext).map_err(|err| {
        ServiceError::Internal(format!("cannot decrypt the secret of {}: {err}", model.id))
    })?;
    WebhookSecret::parse_for(&plain, true).map(drop).map_err(|err| {
        ServiceError::FailedPrecondition(format!(
            "the new profile signs with Standard Webhooks keys, which the current secret does              not suit ({err}); rotate the secret (RotateSubscriptionSecret) first"
        ))
    })
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
        // Validated under its profile's rules when stored; read back leniently.
        WebhookSecret::parse_for(&plain, false)
            .map_err(|err| ServiceError::Internal(format!("stored secret of {}: {err}", model.id)))
    };
    if model.secret_ciphertext.is_empty() {
        // Unsigned: no secret, so no signature.
        return Ok(Vec::new());
    }
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
