//! Telling a tenant how its endpoints are doing, with operational events it
//! can subscribe to and receive like any other (`hookrelay.*` types):
//!
//! - `hookrelay.subscription.failing` once a run of failed attempts
//!   reaches `dispatch.failing_after_attempts`;
//! - `hookrelay.subscription.disabling`, a warning, when the run is
//!   `dispatch.disable_warning_secs` from being disabled;
//! - `hookrelay.subscription.recovered` when a success ends a run that was
//!   announced as failing.
//!
//! (`hookrelay.subscription.disabled` is [`auto_disable`](super::auto_disable)'s.)
//! The dispatcher decides when, from the results it records; this says it.

use super::ServiceError;
use super::auto_disable::AnnouncedSubscription;
use super::changes::{Change, ChangeFeed};
use super::events::publish_operational;
use crate::domain::Streak;
use crate::store::{self, Connection, Transactional, micros_to_time};
use std::collections::HashMap;

pub const SUBSCRIPTION_FAILING: &str = "hookrelay.subscription.failing";
pub const SUBSCRIPTION_DISABLING: &str = "hookrelay.subscription.disabling";
pub const SUBSCRIPTION_RECOVERED: &str = "hookrelay.subscription.recovered";

/// What there is to tell about one subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthNews {
    /// Its run of failures reached the threshold.
    Failing(Streak),
    /// The run goes on; at `disable_time` the subscription is disabled.
    Disabling { streak: Streak, disable_time: i64 },
    /// A success ended a run that had been announced as failing.
    Recovered { failures: u32 },
}

impl HealthNews {
    /// Its name in metrics.
    fn kind(&self) -> &'static str {
        match self {
            Self::Failing(_) => "failing",
            Self::Disabling { .. } => "disabling",
            Self::Recovered { .. } => "recovered",
        }
    }

    fn event_type(&self) -> &'static str {
        match self {
            Self::Failing(_) => SUBSCRIPTION_FAILING,
            Self::Disabling { .. } => SUBSCRIPTION_DISABLING,
            Self::Recovered { .. } => SUBSCRIPTION_RECOVERED,
        }
    }
}

/// Publishes the news to the subscription's tenant. Returns whether it
/// queued deliveries (someone subscribed to it), for the caller to wake a
/// dispatcher.
pub async fn announce<C: Connection + Transactional>(
    db: &C,
    changes: &ChangeFeed,
    subscription: AnnouncedSubscription<'_>,
    news: HealthNews,
) -> Result<bool, ServiceError> {
    let rfc3339 = |micros: i64| micros_to_time(micros).to_rfc3339();
    let mut payload = serde_json::json!({
        "subscription_id": subscription.id,
        "name": subscription.name,
        "url": subscription.url,
    });
    let fields = payload.as_object_mut().expect("an object");
    match news {
        HealthNews::Failing(streak) => {
            fields.insert("failing_since".into(), rfc3339(streak.since).into());
            fields.insert("consecutive_failures".into(), streak.failures.into());
        }
        HealthNews::Disabling {
            streak,
            disable_time,
        } => {
            fields.insert("failing_since".into(), rfc3339(streak.since).into());
            fields.insert("consecutive_failures".into(), streak.failures.into());
            fields.insert("disable_time".into(), rfc3339(disable_time).into());
        }
        HealthNews::Recovered { failures } => {
            fields.insert("consecutive_failures".into(), failures.into());
        }
    }
    tracing::info!(
        subscription_id = subscription.id,
        event_type = news.event_type(),
        "announcing a subscription's health"
    );
    let published =
        publish_operational(db, subscription.tenant_id, news.event_type(), &payload).await?;
    crate::metrics::health_event(news.kind());
    let queued = published.subscription_count > 0;
    changes.send(Change::EventPublished {
        tenant_id: subscription.tenant_id.to_owned(),
        event: published.event,
    });
    Ok(queued)
}

/// Failed attempts in a row of each subscription, before a group of
/// results is recorded: which successes end an announced run.
pub async fn failure_counts<C: Connection>(
    db: &C,
    subscription_ids: &[String],
) -> Result<HashMap<String, u32>, ServiceError> {
    Ok(store::subscriptions::failure_counts(db, subscription_ids).await?)
}
