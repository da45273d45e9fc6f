//! Helpers of the statistics and health tests: GetDeliveryStats as a
//! given key, waiting until the recorder's writes show, and a
//! subscription's health.

use super::builders::micros;
use super::delivering::{attempts_of, deliveries, list_deliveries};
use super::{TestApp, authed};
use hookrelay::proto::{
    DeliveryStatsBucket, GetDeliveryStatsRequest, GetDeliveryStatsResponse, GetSubscriptionRequest,
    ListDeliveriesRequest, SubscriptionHealth,
};
use prost_types::Duration as PbDuration;
use std::time::{Duration, Instant};
use tonic::Status;

/// A window and bucket of whole seconds; `None` leaves one unset.
pub fn stats_request(
    subscription_id: &str,
    window_secs: Option<i64>,
    bucket_secs: Option<i64>,
) -> GetDeliveryStatsRequest {
    let secs = |seconds| PbDuration { seconds, nanos: 0 };
    GetDeliveryStatsRequest {
        subscription_id: subscription_id.to_owned(),
        window: window_secs.map(secs),
        bucket: bucket_secs.map(secs),
    }
}

pub async fn try_stats(
    app: &TestApp,
    token: &str,
    request: GetDeliveryStatsRequest,
) -> Result<GetDeliveryStatsResponse, Status> {
    deliveries(app.channel())
        .get_delivery_stats(authed(token, request))
        .await
        .map(|r| r.into_inner())
}

pub async fn stats(
    app: &TestApp,
    token: &str,
    request: GetDeliveryStatsRequest,
) -> GetDeliveryStatsResponse {
    try_stats(app, token, request)
        .await
        .unwrap_or_else(|status| panic!("GetDeliveryStats failed: {status:?}"))
}

pub fn total(response: &GetDeliveryStatsResponse) -> &DeliveryStatsBucket {
    response.total.as_ref().expect("a total")
}

/// Polls GetDeliveryStats until its total counts `attempts` (results are
/// written a few milliseconds after the receiver answers), or panics.
pub async fn wait_for_stats(
    app: &TestApp,
    token: &str,
    request: GetDeliveryStatsRequest,
    attempts: u64,
) -> GetDeliveryStatsResponse {
    let started = Instant::now();
    loop {
        let response = stats(app, token, request.clone()).await;
        if total(&response).attempts == attempts {
            return response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "expected {attempts} attempts in the stats, last seen {:?}",
            total(&response)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn health(app: &TestApp, subscription_id: &str) -> SubscriptionHealth {
    app.subscriptions()
        .get_subscription(app.req(GetSubscriptionRequest {
            id: subscription_id.to_owned(),
        }))
        .await
        .expect("get the subscription")
        .into_inner()
        .subscription
        .expect("a subscription")
        .health
        .expect("Get sets health")
}

/// Polls the subscription's health until `check` holds, or panics.
pub async fn wait_for_health(
    app: &TestApp,
    subscription_id: &str,
    check: impl Fn(&SubscriptionHealth) -> bool,
) -> SubscriptionHealth {
    let started = Instant::now();
    loop {
        let health = health(app, subscription_id).await;
        if check(&health) {
            return health;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the health never got there; last seen {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every attempt's duration and start (µs) made for the default tenant's
/// deliveries, read back through ListDeliveryAttempts.
pub async fn attempt_durations(app: &TestApp) -> Vec<(Duration, i64)> {
    let mut found = Vec::new();
    let all = list_deliveries(
        app.channel(),
        &app.tenant.token,
        ListDeliveriesRequest::default(),
    );
    for delivery in all.await {
        for attempt in attempts_of(app, &delivery.id).await {
            let d = attempt.duration.expect("a duration");
            let duration = Duration::new(d.seconds as u64, d.nanos as u32);
            found.push((duration, micros(&attempt.create_time.expect("a time"))));
        }
    }
    found
}

pub fn to_duration(d: Option<&PbDuration>) -> Option<Duration> {
    d.map(|d| Duration::new(d.seconds as u64, d.nanos as u32))
}
