//! A subscription's signing secrets: rotating them, and opening the ones
//! that sign right now.

use super::find_visible;
use crate::domain::{Capability, SecretCipher, WebhookSecret};
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
    secret: Option<WebhookSecret>,
    overlap: Duration,
) -> Result<(WebhookSecret, Option<i64>), ServiceError> {
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    let secret = secret.unwrap_or_else(WebhookSecret::generate);
    let now = now_micros();
    let previous_expiry = (!overlap.is_zero())
        .then(|| now.saturating_add(i64::try_from(overlap.as_micros()).unwrap_or(i64::MAX)));
    rows::set_secret(
        db,
        model,
        cipher.encrypt(secret.expose()),
        previous_expiry,
        now,
    )
    .await?;
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
