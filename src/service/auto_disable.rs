//! Auto-disable: turning off a subscription whose endpoint is gone (410) or
//! has failed for too long, and telling its tenant. The dispatcher decides
//! when; this is the one place that does it, so the flag, the cancelled
//! deliveries and the `hookrelay.subscription.disabled` event never part.

use super::ServiceError;
use super::changes::{Change, ChangeFeed};
use super::events::{SUBSCRIPTION_DISABLED, publish_operational};
use crate::store::{self, Connection, TransactionSession, Transactional};

/// A subscription as an announcement about it names it.
#[derive(Clone, Copy, Debug)]
pub struct AnnouncedSubscription<'a> {
    pub tenant_id: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub url: &'a str,
}

/// Which step of disabling failed.
#[derive(Debug, thiserror::Error)]
pub enum AutoDisableError {
    /// Nothing was announced; the subscription may still be enabled.
    #[error("disabling the subscription failed: {0}")]
    Disable(ServiceError),
    /// The subscription is disabled, but its tenant was not told.
    #[error("publishing hookrelay.subscription.disabled failed: {0}")]
    Announce(ServiceError),
}

/// Disables `subscription` with `reason`, cancels what it still owes, and
/// publishes `hookrelay.subscription.disabled` to its tenant (watchers see
/// it like any other event). Returns whether the announcement queued
/// deliveries, for the caller to wake a dispatcher.
pub async fn disable_and_announce<C: Connection + Transactional>(
    db: &C,
    changes: &ChangeFeed,
    subscription: AnnouncedSubscription<'_>,
    reason: &str,
    now: i64,
) -> Result<bool, AutoDisableError> {
    disable(db, subscription.id, reason, now)
        .await
        .map_err(AutoDisableError::Disable)?;
    tracing::warn!(
        subscription_id = subscription.id,
        reason,
        "subscription disabled"
    );
    let payload = serde_json::json!({
        "subscription_id": subscription.id,
        "name": subscription.name,
        "url": subscription.url,
        "reason": reason,
    });
    let published =
        publish_operational(db, subscription.tenant_id, SUBSCRIPTION_DISABLED, &payload)
            .await
            .map_err(AutoDisableError::Announce)?;
    crate::metrics::health_event("disabled");
    let queued = published.subscription_count > 0;
    changes.send(Change::EventPublished {
        tenant_id: subscription.tenant_id.to_owned(),
        event: published.event,
    });
    Ok(queued)
}

/// Disables a subscription with a reason and cancels what it still owes,
/// in one transaction: a disabled subscription never keeps pending work.
async fn disable<C: Connection + Transactional>(
    db: &C,
    subscription_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), ServiceError> {
    let txn = db.begin().await?;
    store::targets::disable(&txn, subscription_id, reason, now).await?;
    store::deliveries::cancel_pending(&txn, subscription_id, now).await?;
    txn.commit().await?;
    Ok(())
}
