//! What a batch needs before it is sent: each subscription prepared (parsed
//! settings, the secrets that sign now) and each event loaded once. A
//! prepared subscription is kept and reused while its row is unchanged and
//! the secrets that sign are the same, so a steady stream of deliveries
//! decrypts and parses nothing.

use super::Dispatcher;
use crate::domain::{DeliveryProfile, WebhookSecret};
use crate::service::ServiceError;
use crate::service::subscriptions::{SubscriptionSpec, profile, signing_secrets, to_subscription};
use crate::store::queue::Claimed;
use crate::store::{event, subscription, targets};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Prepared subscriptions kept at most; past this the cache starts over.
const MAX_PREPARED: usize = 10_000;

/// A subscription prepared for sending: parsed settings and the secrets
/// that sign right now.
pub(super) struct Target {
    pub tenant_id: String,
    pub spec: SubscriptionSpec,
    pub profile: Arc<DeliveryProfile>,
    pub secrets: Vec<WebhookSecret>,
}

impl Dispatcher {
    /// The batch's enabled subscriptions, prepared; a deleted or disabled
    /// one is absent.
    pub(super) async fn load_targets(
        &self,
        claimed: &[Claimed],
        now: i64,
    ) -> Result<HashMap<String, Arc<Target>>, ServiceError> {
        let ids: HashSet<&str> = claimed.iter().map(|c| c.subscription_id.as_str()).collect();
        let rows = targets::load_targets(&self.db, ids).await?;
        let mut targets = HashMap::new();
        for row in rows {
            let target = self.target(&row, now)?;
            targets.insert(row.id, target);
        }
        Ok(targets)
    }

    /// The prepared form of `row` at `now`: the kept one if it was prepared
    /// from the same row and its secrets still sign, else a new one.
    pub(super) fn target(
        &self,
        row: &subscription::Model,
        now: i64,
    ) -> Result<Arc<Target>, ServiceError> {
        let mut prepared = self.prepared.lock().expect("prepared targets lock");
        if let Some(kept) = prepared.get(&row.id)
            && kept.row.same_settings(row)
            && now < kept.until
        {
            return Ok(Arc::clone(&kept.target));
        }
        let target = Arc::new(self.prepare_target(row, now)?);
        if row.consecutive_failures > 0 || row.failing_since.is_some() {
            // Its next success may end a run its tenant was told of.
            self.health.may_be_failing(&row.id);
        }
        if prepared.len() >= MAX_PREPARED {
            prepared.clear();
        }
        prepared.insert(
            row.id.clone(),
            Prepared {
                row: row.clone(),
                target: Arc::clone(&target),
                until: signing_changes_at(row, now),
            },
        );
        Ok(target)
    }

    /// A subscription's parsed settings and the secrets that sign at `now`.
    fn prepare_target(&self, row: &subscription::Model, now: i64) -> Result<Target, ServiceError> {
        let spec = to_subscription(row.clone())?.spec;
        let profile = profile::resolve(&spec.profile).map_err(|violations| {
            ServiceError::Internal(format!(
                "the stored profile of {} is invalid: {violations:?}",
                row.id
            ))
        })?;
        Ok(Target {
            tenant_id: row.tenant_id.clone(),
            secrets: signing_secrets(&self.cipher, row, now)?,
            profile,
            spec,
        })
    }

    /// The batch's events by (tenant, id).
    pub(super) async fn load_events(
        &self,
        claimed: &[Claimed],
    ) -> Result<HashMap<(String, String), Arc<event::Model>>, ServiceError> {
        // One query per tenant, naming the tenant: the primary key is
        // (tenant_id, id), and ids alone would walk the whole index.
        let mut by_tenant: HashMap<&str, HashSet<&str>> = HashMap::new();
        for delivery in claimed {
            by_tenant
                .entry(delivery.tenant_id.as_str())
                .or_default()
                .insert(delivery.event_id.as_str());
        }
        let mut events = HashMap::new();
        for (tenant_id, ids) in by_tenant {
            let rows = targets::load_events(&self.db, tenant_id, ids).await?;
            for row in rows {
                events.insert((row.tenant_id.clone(), row.id.clone()), Arc::new(row));
            }
        }
        Ok(events)
    }
}

/// A prepared subscription and the row it was prepared from.
pub(super) struct Prepared {
    row: subscription::Model,
    target: Arc<Target>,
    /// When its set of signing secrets changes (a previous secret expires).
    until: i64,
}

/// The prepared subscriptions, by id.
pub(super) type PreparedTargets = HashMap<String, Prepared>;

/// When the secrets that sign `row` next change after `now`: the previous
/// secret's expiry during a rotation's overlap, else never.
fn signing_changes_at(row: &subscription::Model, now: i64) -> i64 {
    match row.previous_secret_expire_time {
        Some(expiry) if expiry > now => expiry,
        _ => i64::MAX,
    }
}
