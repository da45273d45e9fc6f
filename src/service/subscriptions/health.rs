//! Subscription health, on every subscription the service returns: the
//! counters the recorder keeps on each row, and the last 24 hours counted
//! for a whole List page at once.

use super::Subscription;
use crate::domain::SubscriptionHealth;
use crate::service::ServiceError;
use crate::store::{self, Connection, now_micros, subscription};

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// `rows` as subscriptions with their health: one grouped query for the
/// page's last 24 hours, however many rows.
pub(super) async fn with_health<C: Connection>(
    db: &C,
    tenant_id: &str,
    rows: Vec<subscription::Model>,
) -> Result<Vec<Subscription>, ServiceError> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let mut counts =
        store::stats::attempts_since(db, tenant_id, &ids, now_micros() - DAY_MICROS).await?;
    rows.into_iter()
        .map(|row| {
            let (attempts_24h, succeeded_24h) = counts.remove(&row.id).unwrap_or_default();
            let health = SubscriptionHealth {
                last_success_time: row.last_success_time,
                failing_since: row.failing_since,
                consecutive_failures: row.consecutive_failures.max(0) as u32,
                attempts_24h,
                succeeded_24h,
            };
            let mut subscription = super::to_subscription(row)?;
            subscription.health = Some(health);
            Ok(subscription)
        })
        .collect()
}

/// One row as a subscription with its health.
pub(super) async fn one_with_health<C: Connection>(
    db: &C,
    tenant_id: &str,
    row: subscription::Model,
) -> Result<Subscription, ServiceError> {
    with_health(db, tenant_id, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ServiceError::Internal("health for no subscription".to_owned()))
}
