//! GetDeliveryStats: how a tenant's delivery attempts went over a recent
//! window, per time bucket. The database counts (see `store::stats`); the
//! domain turns the counts into rates and percentiles. A caller sees
//! exactly the attempts ListDeliveries would show it the deliveries of.

use super::deliveries::visible_subscription_ids;
use super::{Caller, ServiceError, subscriptions};
use crate::domain::delivery_stats::summarise;
use crate::domain::{DeliveryStats, StatsWindow};
use crate::store::stats::AttemptFilter;
use crate::store::{self, Connection, now_micros};

/// The statistics of the attempts made in `window` (as of now), of one
/// subscription or of every one the caller may read.
#[tracing::instrument(skip(db, caller), fields(tenant_id = %caller.tenant_id))]
pub async fn delivery_stats<C: Connection>(
    db: &C,
    caller: &Caller,
    subscription_id: Option<&str>,
    window: StatsWindow,
) -> Result<DeliveryStats, ServiceError> {
    // Requires read, and for a scoped key lists its scope's subscriptions,
    // as ListDeliveries does.
    let visible = visible_subscription_ids(db, caller).await?;
    if let Some(id) = subscription_id {
        // Another tenant's, or outside the key's scope: NOT_FOUND.
        subscriptions::find_visible(db, caller, id).await?;
    }
    let buckets = window.buckets_at(now_micros());
    let filter = AttemptFilter {
        subscription_id,
        visible: visible.as_deref(),
    };
    let cells = store::stats::delivery_stats(db, &caller.tenant_id, filter, buckets).await?;
    Ok(summarise(buckets, cells))
}
