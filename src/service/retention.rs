//! Retention: a background task on every replica deletes finished
//! deliveries (with their attempts) and then events once their periods
//! have passed, tenant by tenant, in bounded batches, and sets a tenant's
//! own periods (`hookrelay tenants set-retention`).
//!
//! Why it is shaped so:
//! - Each batch is one short transaction of at most `batch_size` rows (plus
//!   those deliveries' attempts), followed by a pause: on SQLite publishing
//!   shares the one connection and waits for a batch at most; on Postgres
//!   autovacuum gets small, steady amounts of dead rows to clean, never a
//!   table-sized transaction.
//! - Deliveries go before events, and an event goes only once no delivery
//!   refers to it: an unfinished delivery keeps its event (the dispatcher
//!   still needs the payload), and so does a finished one still kept (the
//!   history stays whole).
//! - Replicas running this at once split the rows between them (see
//!   `store::retention`): nothing waits, errors, or is counted twice.
//! - SQLite gives the freed pages back to the file system after each batch
//!   (`auto_vacuum = INCREMENTAL`); a file created before that was set
//!   reuses them instead, and `serve` says how to convert it.

use super::ServiceError;
use crate::domain::{RetentionPeriod, RetentionPolicy};
use crate::metrics;
use crate::store::retention::{self, Deleted};
use crate::store::{self, Connection, Db, now_micros, tenant};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The task's settings (from `[retention]`).
#[derive(Clone, Copy, Debug)]
pub struct RetentionSettings {
    /// The server's periods, for tenants without their own.
    pub policy: RetentionPolicy,
    pub batch_size: u64,
    pub batch_pause: Duration,
    pub interval: Duration,
}

/// Deletes what is due, round after round, until `shutdown`. A failed
/// round (the database down) is logged and tried again a round later.
pub async fn run(db: Db, settings: RetentionSettings, shutdown: CancellationToken) {
    if let Ok(Some(false)) = retention::incremental_vacuum_on(&db).await {
        tracing::warn!(
            "this SQLite file was created without auto_vacuum = INCREMENTAL: retention's \
             deletions free space that new rows reuse, but the file will not shrink; to \
             convert it, stop the server and run: sqlite3 FILE 'PRAGMA auto_vacuum = \
             INCREMENTAL; VACUUM;'"
        );
    }
    loop {
        match purge(&db, &settings, &shutdown).await {
            Ok(deleted) if deleted != Deleted::default() => {
                tracing::info!(
                    events = deleted.events,
                    deliveries = deleted.deliveries,
                    attempts = deleted.attempts,
                    "retention deleted old rows"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "retention failed; retrying next round"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(settings.interval) => {}
        }
    }
}

/// One round: every tenant's due rows, batch by batch. Returns what it
/// deleted; stops early (with what it did so far) on `shutdown`.
pub async fn purge(
    db: &Db,
    settings: &RetentionSettings,
    shutdown: &CancellationToken,
) -> Result<Deleted, ServiceError> {
    let now = now_micros();
    let mut total = Deleted::default();
    let (mut oldest_delivery, mut oldest_event) = (None::<i64>, None::<i64>);
    for tenant in retention::tenants(db).await? {
        let cutoffs = tenant_policy(&settings.policy, &tenant).cutoffs(now);
        loop {
            let deleted = retention::delete_finished_deliveries(
                db,
                &tenant.id,
                cutoffs.deliveries,
                settings.batch_size,
            )
            .await?;
            total += after_batch(db, deleted).await?;
            if deleted.deliveries < settings.batch_size || pause(settings, shutdown).await {
                break;
            }
        }
        let mut cursor = None;
        loop {
            let (deleted, next) = retention::delete_events(
                db,
                &tenant.id,
                cutoffs.events,
                cursor.as_ref(),
                settings.batch_size,
            )
            .await?;
            total += after_batch(db, deleted).await?;
            if next.is_none() || pause(settings, shutdown).await {
                break;
            }
            cursor = next;
        }
        if shutdown.is_cancelled() {
            return Ok(total);
        }
        let (delivery, event) = retention::oldest_kept(db, &tenant.id).await?;
        oldest_delivery = earliest(oldest_delivery, delivery);
        oldest_event = earliest(oldest_event, event);
    }
    let age = |time: Option<i64>| time.map_or(0.0, |t| (now - t).max(0) as f64 / 1e6);
    metrics::oldest_kept("deliveries", age(oldest_delivery));
    metrics::oldest_kept("events", age(oldest_event));
    Ok(total)
}

/// Counts a batch and, if it freed anything, gives the space back.
async fn after_batch(db: &Db, deleted: Deleted) -> Result<Deleted, ServiceError> {
    metrics::rows_deleted("events", deleted.events);
    metrics::rows_deleted("deliveries", deleted.deliveries);
    metrics::rows_deleted("delivery_attempts", deleted.attempts);
    if deleted != Deleted::default() {
        retention::reclaim_space(db).await?;
    }
    Ok(deleted)
}

/// The pause between batches; true when shutdown cut it short.
async fn pause(settings: &RetentionSettings, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(settings.batch_pause) => false,
    }
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The tenant's own periods where it set them. A stored value out of range
/// (written by hand) falls back to the server's, with a warning.
fn tenant_policy(server: &RetentionPolicy, tenant: &tenant::Model) -> RetentionPolicy {
    let period = |secs: Option<i64>, what: &str| {
        let secs = secs?;
        match RetentionPeriod::from_secs(secs.max(0) as u64) {
            Ok(period) => Some(period),
            Err(err) => {
                tracing::warn!(tenant = %tenant.name, secs, %err, "ignoring the tenant's stored {what} retention");
                None
            }
        }
    };
    server.for_tenant(
        period(tenant.delivery_retention_secs, "delivery"),
        period(tenant.event_retention_secs, "event"),
    )
}

/// A change to one of a tenant's periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodChange {
    Keep,
    /// Back to the server's setting.
    Default,
    Set(RetentionPeriod),
}

/// A tenant's own periods after a change: `None` where it follows the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantRetention {
    pub deliveries: Option<RetentionPeriod>,
    pub events: Option<RetentionPeriod>,
}

/// Sets or resets a tenant's own retention periods (the CLI's
/// `tenants set-retention`).
pub async fn set_tenant_retention<C: Connection>(
    db: &C,
    tenant_name: &str,
    deliveries: PeriodChange,
    events: PeriodChange,
) -> Result<TenantRetention, ServiceError> {
    let tenant = store::tenants::find_by_name(db, tenant_name)
        .await?
        .ok_or_else(|| ServiceError::not_found("tenant", tenant_name))?;
    let apply = |change, current: Option<i64>| match change {
        PeriodChange::Keep => current,
        PeriodChange::Default => None,
        PeriodChange::Set(period) => Some(period.as_secs() as i64),
    };
    let deliveries = apply(deliveries, tenant.delivery_retention_secs);
    let events = apply(events, tenant.event_retention_secs);
    store::tenants::set_retention(db, &tenant.id, deliveries, events).await?;
    let period = |secs: Option<i64>| secs.and_then(|s| RetentionPeriod::from_secs(s as u64).ok());
    Ok(TenantRetention {
        deliveries: period(deliveries),
        events: period(events),
    })
}
