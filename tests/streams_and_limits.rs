//! Live streams and delivery limits from the outside: WatchEvents and
//! WatchDeliveries (filtering, tenancy, capabilities, client hang-ups),
//! SendTestEvent, per-subscription rate limits, redirects that must not be
//! followed, and auto-disabling a subscription after a failing streak.

mod common;

use common::builders::*;

use common::receiver::{Reply, TestReceiver, verify_standard};
use common::{Backend, TestApp, authed, spawn_app, spawn_app_with};
use hookrelay::proto::{
    Backoff, BatchPublishEventsRequest, CreateEventTypeRequest, CreateSubscriptionRequest,
    Delivery, DeliveryStatus, Event, EventType, GetSubscriptionRequest, ListDeliveriesRequest,
    ListDeliveryAttemptsRequest, PublishEventRequest, ReplayEventsRequest, RetryPolicy,
    SendTestEventRequest, Subscription, WatchDeliveriesRequest, WatchEventsRequest,
    delivery_service_client::DeliveryServiceClient, event::Payload,
    event_service_client::EventServiceClient,
};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Code, Streaming};

const INVOICE_PAID: &str = "invoice.paid";
const INVOICE_SENT: &str = "invoice.sent";
const ORDER_CREATED: &str = "order.created";
const DISABLED_EVENT: &str = "hookrelay.subscription.disabled";

/// How long a stream read may take before the test gives up.
const READ_DEADLINE: Duration = Duration::from_secs(10);
/// How long a stream must stay quiet to count as "nothing arrives".
const QUIET_WINDOW: Duration = Duration::from_millis(700);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn events(channel: Channel) -> EventServiceClient<Channel> {
    EventServiceClient::new(channel)
}

fn deliveries(channel: Channel) -> DeliveryServiceClient<Channel> {
    DeliveryServiceClient::new(channel)
}

/// `max_attempts` attempts, 1 s apart.
fn fixed_retries(max_attempts: u32) -> Option<RetryPolicy> {
    Some(RetryPolicy {
        max_attempts,
        initial_delay: Some(secs(1)),
        max_delay: Some(secs(60)),
        backoff: Backoff::Fixed as i32,
        jitter: None,
    })
}

fn subscription(url: String, event_types: &[&str], max_attempts: u32) -> Subscription {
    // Named after the URL's last path segment (unique within each test).
    let name = url.rsplit('/').next().unwrap_or("hook").to_owned();
    Subscription {
        name,
        url,
        event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
        retry_policy: fixed_retries(max_attempts),
        ..Default::default()
    }
}

fn event(event_type: &str, scope: &str, data: serde_json::Value) -> Event {
    Event {
        r#type: event_type.to_owned(),
        scope: scope.to_owned(),
        payload: Some(Payload::DataJson(data.to_string())),
        ..Default::default()
    }
}

/// A started app with the event types of these tests registered.
async fn app_with_types(app: TestApp) -> TestApp {
    for name in [INVOICE_PAID, INVOICE_SENT, ORDER_CREATED] {
        app.event_types()
            .create_event_type(app.req(CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: name.to_owned(),
                    ..Default::default()
                }),
            }))
            .await
            .expect("create the event type");
    }
    app
}

async fn subscribe(app: &TestApp, subscription: Subscription) -> (Subscription, String) {
    let response = app
        .subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest {
            subscription: Some(subscription),
            secret: String::new(),
        }))
        .await
        .expect("create the subscription")
        .into_inner();
    (
        response.subscription.expect("subscription in response"),
        response.secret,
    )
}

/// Publishes with the default key; returns the stored event's id.
async fn publish(app: &TestApp, event: Event) -> String {
    events(app.channel())
        .publish_event(app.req(PublishEventRequest { event: Some(event) }))
        .await
        .expect("publish")
        .into_inner()
        .event
        .expect("event in response")
        .id
}

/// The next stream message, or a panic after `READ_DEADLINE`.
async fn next<T>(stream: &mut Streaming<T>) -> T {
    tokio::time::timeout(READ_DEADLINE, stream.message())
        .await
        .expect("a stream message within the deadline")
        .expect("the stream is healthy")
        .expect("the stream is still open")
}

/// Asserts no message arrives on `stream` within `QUIET_WINDOW`.
async fn assert_quiet<T: std::fmt::Debug>(stream: &mut Streaming<T>, who: &str) {
    if let Ok(message) = tokio::time::timeout(QUIET_WINDOW, stream.message()).await {
        panic!("{who} should get nothing, got {message:?}");
    }
}

async fn watch_events(
    app: &TestApp,
    token: &str,
    event_types: &[&str],
) -> Result<Streaming<hookrelay::proto::WatchEventsResponse>, tonic::Status> {
    events(app.channel())
        .watch_events(authed(
            token,
            WatchEventsRequest {
                event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
                scope: String::new(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn watch_deliveries(
    app: &TestApp,
    subscription_id: &str,
) -> Streaming<hookrelay::proto::WatchDeliveriesResponse> {
    deliveries(app.channel())
        .watch_deliveries(app.req(WatchDeliveriesRequest {
            subscription_id: subscription_id.to_owned(),
            event_id: String::new(),
        }))
        .await
        .expect("watch deliveries")
        .into_inner()
}

/// Reads delivery updates until `done` holds for one; returns all read.
async fn read_deliveries_until(
    stream: &mut Streaming<hookrelay::proto::WatchDeliveriesResponse>,
    done: impl Fn(&Delivery) -> bool,
) -> Vec<Delivery> {
    let mut seen = Vec::new();
    loop {
        let delivery = next(stream).await.delivery.expect("delivery in message");
        let finished = done(&delivery);
        seen.push(delivery);
        if finished {
            return seen;
        }
        assert!(seen.len() < 50, "no matching update among {seen:?}");
    }
}

async fn deliveries_of_subscription(app: &TestApp, subscription_id: &str) -> Vec<Delivery> {
    deliveries(app.channel())
        .list_deliveries(app.req(ListDeliveriesRequest {
            page_size: 1000,
            subscription_id: subscription_id.to_owned(),
            ..Default::default()
        }))
        .await
        .expect("list deliveries")
        .into_inner()
        .deliveries
}

fn status_of(delivery: &Delivery) -> DeliveryStatus {
    DeliveryStatus::try_from(delivery.status).expect("a known status")
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

on_both_databases!(
    watch_events_filters_by_type_tenant_capability_and_scope,
    watch_deliveries_streams_attempts_and_survives_hang_ups,
    send_test_event_makes_one_signed_unrecorded_attempt,
    rate_limit_spaces_out_deliveries,
    redirects_are_not_followed,
    failing_streak_disables_the_subscription_and_announces_it,
);

async fn watch_events_filters_by_type_tenant_capability_and_scope(backend: Backend) {
    let app = app_with_types(spawn_app(backend).await).await;
    let token = app.tenant.token.clone();

    // Capabilities are checked before the stream opens.
    let publish_only = app.new_key(&app.tenant.id, "publish", None).await;
    let denied = watch_events(&app, &publish_only, &["invoice.*"])
        .await
        .expect_err("a key without read cannot watch");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    let mut invoices = watch_events(&app, &token, &["invoice.*"])
        .await
        .expect("watch invoices");
    let other = app.new_tenant("other").await;
    let mut other_tenant = watch_events(&app, &other.token, &[])
        .await
        .expect("watch as another tenant");
    let scoped_key = app.new_key(&app.tenant.id, "read", Some("s1")).await;
    let mut scoped = watch_events(&app, &scoped_key, &[])
        .await
        .expect("watch with a scoped key");

    let paid = publish(&app, event(INVOICE_PAID, "", serde_json::json!({"n": 1}))).await;
    let order = publish(&app, event(ORDER_CREATED, "", serde_json::json!({"n": 2}))).await;
    let sent = publish(&app, event(INVOICE_SENT, "", serde_json::json!({"n": 3}))).await;
    assert_ne!(paid, order);

    let first = next(&mut invoices).await.event.expect("event");
    let second = next(&mut invoices).await.event.expect("event");
    assert_eq!(
        (first.id.as_str(), first.r#type.as_str()),
        (paid.as_str(), INVOICE_PAID)
    );
    assert_eq!(
        (second.id.as_str(), second.r#type.as_str()),
        (sent.as_str(), INVOICE_SENT)
    );
    assert!(first.create_time.is_some(), "{first:?}");
    assert_quiet(&mut invoices, "the invoice.* watcher after two invoices").await;
    // Everything above was broadcast already; the other tenant saw none of it.
    assert_quiet(&mut other_tenant, "another tenant's watcher").await;
    // Unscoped events are outside scope s1.
    assert_quiet(&mut scoped, "the s1 watcher (unscoped events)").await;

    let in_s2 = publish(&app, event(INVOICE_PAID, "s2", serde_json::json!({"n": 4}))).await;
    let in_s1 = publish(&app, event(INVOICE_PAID, "s1", serde_json::json!({"n": 5}))).await;
    let seen = next(&mut scoped).await.event.expect("event");
    assert_eq!(seen.id, in_s1, "the s1 watcher got {seen:?}");
    assert_eq!(seen.scope, "s1");
    // The unscoped invoice watcher sees both scopes, in publish order.
    assert_eq!(next(&mut invoices).await.event.expect("event").id, in_s2);
    assert_eq!(next(&mut invoices).await.event.expect("event").id, in_s1);
    assert_quiet(&mut scoped, "the s1 watcher after its one event").await;
    assert_quiet(&mut other_tenant, "another tenant's watcher").await;
}

async fn watch_deliveries_streams_attempts_and_survives_hang_ups(backend: Backend) {
    let app = app_with_types(spawn_app(backend).await).await;
    let ok = TestReceiver::start().await;
    let flaky = TestReceiver::start().await;
    flaky.script([Reply::status(500)]);
    let (good_sub, _) = subscribe(&app, subscription(ok.url("/ok"), &[INVOICE_PAID], 3)).await;
    let (flaky_sub, _) =
        subscribe(&app, subscription(flaky.url("/flaky"), &[INVOICE_PAID], 2)).await;

    let mut good_stream = watch_deliveries(&app, &good_sub.id).await;
    let mut flaky_stream = watch_deliveries(&app, &flaky_sub.id).await;
    let event_id = publish(&app, event(INVOICE_PAID, "", serde_json::json!({"n": 1}))).await;

    let seen = read_deliveries_until(&mut good_stream, |d| {
        status_of(d) == DeliveryStatus::Succeeded
    })
    .await;
    for delivery in &seen {
        assert_eq!(delivery.subscription_id, good_sub.id, "{seen:?}");
        assert_eq!(delivery.event_id, event_id, "{seen:?}");
    }
    let done = seen.last().unwrap();
    assert_eq!(done.attempts, 1, "{done:?}");
    assert_eq!(done.event_type, INVOICE_PAID);
    assert_eq!(done.last_status_code, 204, "{done:?}");
    // A replay is a new delivery: the stream reports its own creation
    // time, as reads do, not the event's publish time.
    let mut deliveries = DeliveryServiceClient::new(app.channel());
    deliveries
        .replay_events(app.req(ReplayEventsRequest {
            subscription_id: good_sub.id.clone(),
            ..ReplayEventsRequest::default()
        }))
        .await
        .unwrap();
    let replayed = read_deliveries_until(&mut good_stream, |d| {
        d.id != done.id && status_of(d) == DeliveryStatus::Succeeded
    })
    .await;
    let replayed = replayed.last().unwrap();
    let stored = deliveries
        .list_deliveries(app.req(ListDeliveriesRequest {
            subscription_id: good_sub.id.clone(),
            ..ListDeliveriesRequest::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    let stored = stored.iter().find(|d| d.id == replayed.id).expect("listed");
    assert_eq!(replayed.create_time, stored.create_time, "{replayed:?}");
    assert_ne!(replayed.create_time, done.create_time, "{replayed:?}");
    ok.wait_for(2, READ_DEADLINE).await;

    let seen = read_deliveries_until(&mut flaky_stream, |d| {
        status_of(d) == DeliveryStatus::Succeeded
    })
    .await;
    assert!(
        seen.iter()
            .all(|d| d.subscription_id == flaky_sub.id && d.event_id == event_id),
        "{seen:?}"
    );
    let pending = seen
        .iter()
        .find(|d| status_of(d) == DeliveryStatus::Pending)
        .unwrap_or_else(|| panic!("no PENDING update before success: {seen:?}"));
    assert_eq!(pending.attempts, 1, "{pending:?}");
    assert_eq!(pending.last_status_code, 500, "{pending:?}");
    assert!(pending.next_attempt_time.is_some(), "{pending:?}");
    let done = seen.last().unwrap();
    assert_eq!(done.attempts, 2, "{done:?}");
    assert_eq!(done.last_status_code, 204, "{done:?}");
    assert_eq!(flaky.wait_for(2, READ_DEADLINE).await.len(), 2);

    // Clients hang up; the server keeps delivering and serving new watchers.
    drop(good_stream);
    drop(flaky_stream);
    let mut again = watch_deliveries(&app, &good_sub.id).await;
    let second = publish(&app, event(INVOICE_PAID, "", serde_json::json!({"n": 2}))).await;
    ok.wait_for(3, READ_DEADLINE).await;
    flaky.wait_for(3, READ_DEADLINE).await;
    let seen = read_deliveries_until(&mut again, |d| {
        d.event_id == second && status_of(d) == DeliveryStatus::Succeeded
    })
    .await;
    assert!(
        seen.iter().all(|d| d.subscription_id == good_sub.id),
        "{seen:?}"
    );
}

async fn send_test_event_makes_one_signed_unrecorded_attempt(backend: Backend) {
    let app = app_with_types(spawn_app(backend).await).await;
    let receiver = TestReceiver::start().await;
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(500));
    let (sub, secret) = subscribe(
        &app,
        subscription(receiver.url("/test"), &[INVOICE_PAID], 3),
    )
    .await;
    let (failing_sub, _) =
        subscribe(&app, subscription(failing.url("/fail"), &[INVOICE_PAID], 3)).await;

    let attempt = app
        .subscriptions()
        .send_test_event(app.req(SendTestEventRequest {
            id: sub.id.clone(),
            data: None,
            attributes: None,
        }))
        .await
        .expect("send a test event")
        .into_inner()
        .attempt
        .expect("attempt in response");
    assert_eq!(attempt.response_status_code, 204, "{attempt:?}");
    assert!(attempt.error.is_empty(), "{attempt:?}");

    let received = receiver.wait_for(1, READ_DEADLINE).await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.json()["type"], "hookrelay.test", "{request:?}");
    assert_eq!(verify_standard(&secret, request), 1, "signature verifies");
    let real_signature = request.header("webhook-signature").expect("signature");
    assert_eq!(
        attempt
            .request_headers
            .get("webhook-id")
            .map(String::as_str),
        request.header("webhook-id"),
        "{attempt:?}"
    );
    let recorded = attempt
        .request_headers
        .get("webhook-signature")
        .expect("the signature header is listed (redacted)");
    assert!(
        !recorded.contains("v1,") && !real_signature.contains(recorded.as_str()),
        "the signature must be redacted, got {recorded:?}"
    );

    // A failing endpoint is still a successful call, reporting the status.
    let attempt = app
        .subscriptions()
        .send_test_event(app.req(SendTestEventRequest {
            id: failing_sub.id.clone(),
            data: None,
            attributes: None,
        }))
        .await
        .expect("a failing endpoint still answers OK")
        .into_inner()
        .attempt
        .expect("attempt in response");
    assert_eq!(attempt.response_status_code, 500, "{attempt:?}");
    assert_eq!(failing.wait_for(1, READ_DEADLINE).await.len(), 1);

    let unknown = app
        .subscriptions()
        .send_test_event(app.req(SendTestEventRequest {
            id: "sub_01J00000000000000000000000".to_owned(),
            data: None,
            attributes: None,
        }))
        .await
        .expect_err("unknown subscription");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    let read_only = app.new_key(&app.tenant.id, "read", None).await;
    let denied = app
        .subscriptions()
        .send_test_event(authed(
            &read_only,
            SendTestEventRequest {
                id: sub.id.clone(),
                data: None,
                attributes: None,
            },
        ))
        .await
        .expect_err("a read-only key cannot send test events");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // Test events are neither stored as deliveries nor retried.
    assert!(deliveries_of_subscription(&app, &sub.id).await.is_empty());
    assert!(
        deliveries_of_subscription(&app, &failing_sub.id)
            .await
            .is_empty()
    );
    receiver.assert_stays_at(1, QUIET_WINDOW).await;
    failing
        .assert_stays_at(1, Duration::from_millis(1500))
        .await;
}

async fn rate_limit_spaces_out_deliveries(backend: Backend) {
    let app = app_with_types(spawn_app(backend).await).await;
    let limited = TestReceiver::start().await;
    let control = TestReceiver::start().await;
    subscribe(
        &app,
        Subscription {
            rate_limit: 5,
            ..subscription(limited.url("/limited"), &[INVOICE_PAID], 3)
        },
    )
    .await;
    subscribe(
        &app,
        subscription(control.url("/control"), &[INVOICE_PAID], 3),
    )
    .await;

    let batch: Vec<Event> = (0..20)
        .map(|n| event(INVOICE_PAID, "", serde_json::json!({"n": n})))
        .collect();
    let results = events(app.channel())
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: batch }))
        .await
        .expect("batch publish")
        .into_inner()
        .results;
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r.subscription_count == 2));

    let span = |received: &[common::receiver::Received]| {
        let first = received.iter().map(|r| r.started).min().unwrap();
        let last = received.iter().map(|r| r.started).max().unwrap();
        last - first
    };
    let control_received = control.wait_for(20, Duration::from_secs(15)).await;
    let limited_received = limited.wait_for(20, Duration::from_secs(30)).await;
    let limited_span = span(&limited_received);
    let control_span = span(&control_received);
    assert!(
        limited_span >= Duration::from_millis(2500),
        "20 events at 5/s arrived within {limited_span:?}"
    );
    assert!(
        control_span <= Duration::from_millis(1500),
        "20 unlimited events took {control_span:?}"
    );
    limited.assert_stays_at(20, QUIET_WINDOW).await;
    assert_eq!(control.received().len(), 20);
}

async fn redirects_are_not_followed(backend: Backend) {
    let app = app_with_types(spawn_app(backend).await).await;
    let redirecting = TestReceiver::start().await;
    let target = TestReceiver::start().await;
    redirecting.set_default(Reply::status(307).with_header("location", &target.url("/moved-here")));
    let (sub, _) = subscribe(
        &app,
        subscription(redirecting.url("/old"), &[INVOICE_PAID], 1),
    )
    .await;
    publish(&app, event(INVOICE_PAID, "", serde_json::json!({"n": 1}))).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let last = loop {
        let found = deliveries_of_subscription(&app, &sub.id).await;
        if found.len() == 1 && status_of(&found[0]) == DeliveryStatus::Failed {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the delivery should end FAILED: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivery = &last[0];
    assert_eq!(delivery.attempts, 1, "{delivery:?}");
    assert_eq!(delivery.last_status_code, 307, "{delivery:?}");

    let attempts = deliveries(app.channel())
        .list_delivery_attempts(app.req(ListDeliveryAttemptsRequest {
            delivery_id: delivery.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("list attempts")
        .into_inner()
        .attempts;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].response_status_code, 307, "{attempts:?}");
    assert!(!attempts[0].error.is_empty(), "{attempts:?}");

    assert_eq!(redirecting.received().len(), 1);
    target.assert_stays_at(0, Duration::from_secs(1)).await;
    assert_eq!(target.arrivals(), 0);
}

async fn failing_streak_disables_the_subscription_and_announces_it(backend: Backend) {
    let app =
        app_with_types(spawn_app_with(backend, |s| s.dispatch.disable_after_secs = 1).await).await;
    let failing = TestReceiver::start().await;
    failing.set_default(Reply::status(500));
    let watcher = TestReceiver::start().await;
    let (sub, _) = subscribe(
        &app,
        subscription(failing.url("/down"), &[INVOICE_PAID], 10),
    )
    .await;
    let (announcements, _) = subscribe(
        &app,
        subscription(watcher.url("/ops"), &[DISABLED_EVENT], 3),
    )
    .await;

    publish(&app, event(INVOICE_PAID, "", serde_json::json!({"n": 1}))).await;

    let started = Instant::now();
    let current = loop {
        let current = app
            .subscriptions()
            .get_subscription(app.req(GetSubscriptionRequest { id: sub.id.clone() }))
            .await
            .expect("get subscription")
            .into_inner()
            .subscription
            .expect("subscription");
        if current.enabled == Some(false) {
            break current;
        }
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "not disabled after {:?}: {current:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        current.disabled_reason.contains("failed continuously"),
        "reason: {:?}",
        current.disabled_reason
    );
    assert!(failing.received().len() >= 2, "it failed more than once");

    let announced = watcher.wait_for(1, Duration::from_secs(10)).await;
    let body = announced[0].json();
    assert_eq!(body["type"], DISABLED_EVENT, "{body}");
    assert_eq!(body["data"]["subscription_id"], sub.id.as_str(), "{body}");
    assert_ne!(announcements.id, sub.id);
    // Disabled means no further attempts.
    let attempts_so_far = failing.received().len();
    failing
        .assert_stays_at(attempts_so_far, Duration::from_millis(1500))
        .await;
}
