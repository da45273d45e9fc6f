//! Helpers of the delivery tests: subscriptions to a receiver with fast
//! retries, publishing, and waiting on a delivery's state.

use super::builders::*;
use super::receiver::Received;
use super::{Backend, TestApp, authed, register_event_type, spawn_app};
use hmac::Mac;
use hookrelay::proto::{
    Backoff, CreateSubscriptionRequest, Delivery, DeliveryAttempt, DeliveryStatus, Event,
    ListDeliveriesRequest, ListDeliveryAttemptsRequest, PublishEventRequest, PublishEventResponse,
    RetryPolicy, Subscription, delivery_service_client::DeliveryServiceClient, event::Payload,
    event_service_client::EventServiceClient,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

pub const EVENT_TYPE: &str = "invoice.paid";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

pub fn deliveries(channel: Channel) -> DeliveryServiceClient<Channel> {
    DeliveryServiceClient::new(channel)
}

pub fn events(channel: Channel) -> EventServiceClient<Channel> {
    EventServiceClient::new(channel)
}

/// `max_attempts` attempts, 1 s apart (the smallest delay a policy allows).
pub fn fast_retries(max_attempts: u32) -> Option<RetryPolicy> {
    Some(RetryPolicy {
        max_attempts,
        initial_delay: Some(secs(1)),
        max_delay: Some(secs(60)),
        backoff: Backoff::Fixed as i32,
        jitter: None,
    })
}

/// A subscription of `invoice.paid` to `url`, named after its path.
pub fn subscription_to(url: String) -> Subscription {
    let name = url
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("receiver")
        .to_owned();
    Subscription {
        name,
        url,
        event_types: vec![EVENT_TYPE.to_owned()],
        retry_policy: fast_retries(3),
        ..Default::default()
    }
}

pub fn event(data: serde_json::Value) -> Event {
    Event {
        r#type: EVENT_TYPE.to_owned(),
        payload: Some(Payload::DataJson(data.to_string())),
        ..Default::default()
    }
}

/// Creates a subscription; returns it with its signing secret.
pub async fn create_subscription(
    channel: Channel,
    token: &str,
    subscription: Subscription,
) -> (Subscription, String) {
    let response =
        hookrelay::proto::subscription_service_client::SubscriptionServiceClient::new(channel)
            .create_subscription(authed(
                token,
                CreateSubscriptionRequest {
                    subscription: Some(subscription),
                    secret: String::new(),
                },
            ))
            .await
            .expect("create the subscription")
            .into_inner();
    (
        response.subscription.expect("subscription in response"),
        response.secret,
    )
}

/// A started app with the event type registered.
pub async fn app_with_type(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    app
}

pub async fn subscribe(app: &TestApp, subscription: Subscription) -> (Subscription, String) {
    create_subscription(app.channel(), &app.tenant.token, subscription).await
}

pub async fn publish(app: &TestApp, data: serde_json::Value) -> PublishEventResponse {
    events(app.channel())
        .publish_event(app.req(PublishEventRequest {
            event: Some(event(data)),
        }))
        .await
        .expect("publish")
        .into_inner()
}

/// Publishes and returns the event id, checking it fanned out to `fanout`.
pub async fn publish_to(app: &TestApp, data: serde_json::Value, fanout: u32) -> String {
    let published = publish(app, data).await;
    assert_eq!(
        published.subscription_count, fanout,
        "fan-out of {published:?}"
    );
    published.event.expect("event in response").id
}

pub async fn list_deliveries(
    channel: Channel,
    token: &str,
    request: ListDeliveriesRequest,
) -> Vec<Delivery> {
    deliveries(channel)
        .list_deliveries(authed(
            token,
            ListDeliveriesRequest {
                page_size: 1000,
                ..request
            },
        ))
        .await
        .expect("list deliveries")
        .into_inner()
        .deliveries
}

/// The deliveries of one event.
pub async fn deliveries_of_event(app: &TestApp, event_id: &str) -> Vec<Delivery> {
    list_deliveries(
        app.channel(),
        &app.tenant.token,
        ListDeliveriesRequest {
            event_id: event_id.to_owned(),
            ..Default::default()
        },
    )
    .await
}

/// Waits until `check` holds for the single delivery of `event_id` (read
/// with `channel`), or panics with the last state seen.
pub async fn wait_for_delivery(
    channel: Channel,
    token: &str,
    event_id: &str,
    deadline: Duration,
    check: impl Fn(&Delivery) -> bool,
) -> Delivery {
    let started = Instant::now();
    loop {
        let found = list_deliveries(
            channel.clone(),
            token,
            ListDeliveriesRequest {
                event_id: event_id.to_owned(),
                ..Default::default()
            },
        )
        .await;
        assert!(found.len() <= 1, "one delivery per event here: {found:?}");
        let last = found.into_iter().next();
        match last {
            Some(delivery) if check(&delivery) => return delivery,
            last => assert!(
                started.elapsed() < deadline,
                "delivery of {event_id} did not reach the expected state within {deadline:?}; last seen: {last:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn status_is(status: DeliveryStatus) -> impl Fn(&Delivery) -> bool {
    move |d| d.status == status as i32
}

pub async fn wait_for_status(
    app: &TestApp,
    event_id: &str,
    status: DeliveryStatus,
    deadline: Duration,
) -> Delivery {
    wait_for_delivery(
        app.channel(),
        &app.tenant.token,
        event_id,
        deadline,
        status_is(status),
    )
    .await
}

pub async fn attempts_of(app: &TestApp, delivery_id: &str) -> Vec<DeliveryAttempt> {
    deliveries(app.channel())
        .list_delivery_attempts(app.req(ListDeliveryAttemptsRequest {
            delivery_id: delivery_id.to_owned(),
            page_size: 100,
            ..Default::default()
        }))
        .await
        .expect("list attempts")
        .into_inner()
        .attempts
}

pub fn hmac_hex<M: Mac + hmac::digest::KeyInit>(key: &[u8], body: &[u8]) -> String {
    let mut mac = <M as Mac>::new_from_slice(key).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn webhook_id(received: &Received) -> String {
    received
        .header("webhook-id")
        .expect("webhook-id header")
        .to_owned()
}

/// Case-insensitive lookup in a recorded header map.
pub fn recorded<'a>(headers: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub fn duration_of(attempt: &DeliveryAttempt) -> Duration {
    let d = attempt.duration.expect("attempt duration");
    Duration::new(d.seconds.max(0) as u64, d.nanos.max(0) as u32)
}
