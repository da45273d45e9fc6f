//! The dispatcher's bounds from the outside: one subscription never has more
//! requests in progress than `max_in_flight_per_subscription`, all of them
//! together never more than `max_in_flight`, a shutdown
//! that cannot finish a request within its grace period hands the delivery
//! back (PENDING, lease cleared) for the next server to send, and a request
//! slower than the lease keeps its lease (it is not sent twice). A publish
//! made while the dispatcher is full waits for room (publishing keeps pace
//! with delivery), but slow endpoints cost publishers one wait, not one each.

mod common;

use base64::Engine;
use common::builders::secs;
use common::delivering::{self, EVENT_TYPE, event};
use common::receiver::{Received, Reply, TestReceiver};
use common::{Backend, TestApp, register_event_type, spawn_app_with, spawn_replica, wait_until};
use hookrelay::config::Settings;
use hookrelay::domain::SecretCipher;
use hookrelay::proto::{
    Backoff, BatchPublishEventsRequest, CreateEventTypeRequest, CreateSubscriptionRequest, Event,
    EventType, PublishEventRequest, RetryPolicy, Subscription,
    event_service_client::EventServiceClient,
};
use hookrelay::store::delivery;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const PENDING: i16 = delivery::Status::Pending as i16;
const IN_FLIGHT: i16 = delivery::Status::InFlight as i16;
const SUCCEEDED: i16 = delivery::Status::Succeeded as i16;

on_both_databases!(
    per_subscription_in_flight_bound,
    global_in_flight_bound,
    a_full_dispatcher_keeps_publish_order,
    a_subscription_at_its_bound_keeps_publish_order,
    a_subscription_at_its_bound_holds_up_no_other,
    a_publish_waits_for_room_in_a_full_dispatcher,
    slow_endpoints_cost_publishers_one_wait,
    shutdown_releases_unfinished,
    shutdown_hands_back_what_waits_for_a_place,
    slow_requests_keep_their_lease
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Registers the event type and subscribes `url` to it: retries a second
/// apart, so a released delivery is soon due again.
async fn subscribe(app: &TestApp, url: String) {
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    delivering::subscribe(
        app,
        Subscription {
            name: "bounded".to_owned(),
            url,
            event_types: vec![EVENT_TYPE.to_owned()],
            retry_policy: Some(RetryPolicy {
                max_attempts: 3,
                initial_delay: Some(secs(1)),
                max_delay: Some(secs(60)),
                backoff: Backoff::Fixed as i32,
                jitter: None,
            }),
            ..Default::default()
        },
    )
    .await;
}

async fn delivery_rows(app: &TestApp) -> Vec<delivery::Model> {
    delivery::Entity::find()
        .filter(delivery::Column::EventType.eq(EVENT_TYPE))
        .all(&app.db)
        .await
        .expect("read deliveries")
}

/// The most requests the receiver had in progress at one moment, each
/// request spanning its arrival to the moment its reply was ready.
fn peak_concurrency(received: &[Received]) -> usize {
    let mut edges: Vec<(Instant, i32)> = received
        .iter()
        .flat_map(|r| [(r.started, 1), (r.at, -1)])
        .collect();
    // At equal instants an end counts before a start.
    edges.sort();
    let (mut current, mut peak) = (0i32, 0i32);
    for (_, delta) in edges {
        current += delta;
        peak = peak.max(current);
    }
    peak as usize
}

fn webhook_id(received: &Received) -> String {
    received
        .header("webhook-id")
        .expect("webhook-id header")
        .to_owned()
}

// ---------------------------------------------------------------------------
// 1. One subscription never has more than its bound in progress.
// ---------------------------------------------------------------------------

async fn per_subscription_in_flight_bound(backend: Backend) {
    const COUNT: usize = 6;
    const SERVICE_TIME: Duration = Duration::from_millis(400);
    let app = spawn_app_with(backend, |s| s.dispatch.max_in_flight_per_subscription = 2).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(204).after(SERVICE_TIME));
    subscribe(&app, receiver.url("/bounded")).await;

    let batch: Vec<Event> = (0..COUNT)
        .map(|seq| event(serde_json::json!({"seq": seq})))
        .collect();
    let results = EventServiceClient::new(app.channel())
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: batch }))
        .await
        .expect("batch publish")
        .into_inner()
        .results;
    assert_eq!(results.len(), COUNT);
    assert!(
        results.iter().all(|r| r.subscription_count == 1),
        "{results:?}"
    );
    let published: HashSet<String> = results
        .iter()
        .map(|r| r.event.as_ref().expect("event in result").id.clone())
        .collect();

    let received = receiver.wait_for(COUNT, Duration::from_secs(20)).await;
    assert_eq!(receiver.arrivals(), COUNT, "no request beyond the six");
    for r in &received {
        assert!(
            r.at.duration_since(r.started) >= SERVICE_TIME,
            "the receiver held every request for its service time"
        );
    }
    let peak = peak_concurrency(&received);
    assert!(
        peak <= 2,
        "{peak} requests were in progress at once with a bound of 2"
    );
    assert_eq!(
        peak, 2,
        "the bound is 2, not 1: two requests should overlap"
    );
    let delivered: HashSet<String> = received.iter().map(webhook_id).collect();
    assert_eq!(delivered, published, "each event delivered exactly once");

    let all_succeeded = wait_until(Duration::from_secs(10), || async {
        let rows = delivery_rows(&app).await;
        rows.len() == COUNT && rows.iter().all(|d| d.status == SUCCEEDED)
    })
    .await;
    assert!(all_succeeded, "{:?}", delivery_rows(&app).await);
}

// ---------------------------------------------------------------------------
// 1b. All subscriptions together never have more than the global bound.
// ---------------------------------------------------------------------------

async fn global_in_flight_bound(backend: Backend) {
    const SUBSCRIPTIONS: usize = 3;
    const EVENTS: usize = 2;
    const SERVICE_TIME: Duration = Duration::from_millis(400);
    let app = spawn_app_with(backend, |s| s.dispatch.max_in_flight = 2).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(204).after(SERVICE_TIME));
    app.event_types()
        .create_event_type(app.req(CreateEventTypeRequest {
            event_type: Some(EventType {
                name: EVENT_TYPE.to_owned(),
                ..Default::default()
            }),
        }))
        .await
        .expect("create the event type");
    for n in 0..SUBSCRIPTIONS {
        app.subscriptions()
            .create_subscription(app.req(CreateSubscriptionRequest {
                subscription: Some(Subscription {
                    name: format!("endpoint-{n}"),
                    url: receiver.url(&format!("/endpoint-{n}")),
                    event_types: vec![EVENT_TYPE.to_owned()],
                    ..Default::default()
                }),
                secret: String::new(),
            }))
            .await
            .expect("create a subscription");
    }
    let batch: Vec<Event> = (0..EVENTS)
        .map(|seq| event(serde_json::json!({"seq": seq})))
        .collect();
    EventServiceClient::new(app.channel())
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: batch }))
        .await
        .expect("batch publish");

    let total = SUBSCRIPTIONS * EVENTS;
    let received = receiver.wait_for(total, Duration::from_secs(20)).await;
    let peak = peak_concurrency(&received);
    assert!(
        peak <= 2,
        "{peak} requests were in progress at once with a global bound of 2"
    );
    assert_eq!(peak, 2, "two requests should overlap under a bound of 2");
    // Every (event, endpoint) pair arrived once.
    let pairs: HashSet<(String, String)> = received
        .iter()
        .map(|r| (webhook_id(r), r.path.clone()))
        .collect();
    assert_eq!(pairs.len(), total, "{pairs:?}");
    receiver
        .assert_stays_at(total, Duration::from_millis(500))
        .await;
}

/// When the dispatcher is full, what overflows waits in the queue, and later
/// publishes line up behind it instead of being handed over first as soon
/// as a request finishes (which starved the queue's tail): deliveries
/// arrive in publish order, give or take what was in flight.
async fn a_full_dispatcher_keeps_publish_order(backend: Backend) {
    publish_order_is_kept(backend, |s| s.dispatch.max_in_flight = ORDER_IN_FLIGHT).await;
}

/// The same under one subscription's own bound, with room to spare in the
/// dispatcher and default settings otherwise: what the subscription cannot
/// take waits in its line in memory, later publishes wait behind it, and
/// each freed place goes to the oldest. Before the line, what the
/// subscription could not take went to the queue and each freed place to
/// the newest publish, so the queued ones came last (event 10 arrived
/// 7th: `[0, 1, 2, 4, 3, 6, 7, 10, 11, 5, ...]`).
async fn a_subscription_at_its_bound_keeps_publish_order(backend: Backend) {
    publish_order_is_kept(backend, |s| {
        s.dispatch.max_in_flight_per_subscription = ORDER_IN_FLIGHT;
    })
    .await;
}

const ORDER_IN_FLIGHT: usize = 2;

/// Publishes 24 events, 5 ms apart, to one endpoint that takes 30 ms
/// each under a bound of [`ORDER_IN_FLIGHT`] and checks they arrive in
/// publish order, give or take what was in flight.
async fn publish_order_is_kept(backend: Backend, bound: impl FnOnce(&mut Settings)) {
    const EVENTS: usize = 24;
    let app = spawn_app_with(backend, |s| {
        bound(s);
        // Claims must come from wake-ups, not from a quick poll.
        s.dispatch.poll_interval_ms = 5_000;
        // The queue's order is under test: publishes must not wait for room.
        s.dispatch.publish_wait_ms = 0;
    })
    .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(204).after(Duration::from_millis(30)));
    subscribe(&app, receiver.url("/ordered-by-time")).await;
    for seq in 0..EVENTS {
        EventServiceClient::new(app.channel())
            .publish_event(app.req(PublishEventRequest {
                event: Some(event(serde_json::json!({"seq": seq}))),
            }))
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let received = receiver.wait_for(EVENTS, Duration::from_secs(30)).await;
    let order: Vec<usize> = received
        .iter()
        .map(|r| r.json()["data"]["seq"].as_u64().expect("seq") as usize)
        .collect();
    for (arrived, seq) in order.iter().enumerate() {
        assert!(
            arrived + ORDER_IN_FLIGHT >= *seq,
            "event {seq} arrived as number {arrived}, ahead of older queued ones: {order:?}"
        );
    }
    receiver
        .assert_stays_at(EVENTS, Duration::from_millis(300))
        .await;
}

/// A slow subscription with a line of deliveries behind its bound does not
/// hold up another subscription of the same events: the fast one has every
/// event before the slow one is a third of the way through its line.
async fn a_subscription_at_its_bound_holds_up_no_other(backend: Backend) {
    const EVENTS: usize = 12;
    let app = spawn_app_with(backend, |s| {
        s.dispatch.max_in_flight_per_subscription = 2;
    })
    .await;
    let slow = TestReceiver::start().await;
    slow.set_default(Reply::status(204).after(Duration::from_millis(300)));
    let fast = TestReceiver::start().await;
    subscribe(&app, slow.url("/slow")).await;
    delivering::subscribe(
        &app,
        Subscription {
            name: "fast".to_owned(),
            url: fast.url("/fast"),
            event_types: vec![EVENT_TYPE.to_owned()],
            ..Default::default()
        },
    )
    .await;
    let batch: Vec<Event> = (0..EVENTS)
        .map(|seq| event(serde_json::json!({"seq": seq})))
        .collect();
    EventServiceClient::new(app.channel())
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: batch }))
        .await
        .expect("batch publish");
    let fast_received = fast.wait_for(EVENTS, Duration::from_secs(20)).await;
    let slow_done_by_then = slow.received().len();
    assert!(
        slow_done_by_then <= EVENTS / 3,
        "the fast endpoint had all {EVENTS} only after the slow one answered {slow_done_by_then}"
    );
    let slow_received = slow.wait_for(EVENTS, Duration::from_secs(30)).await;
    let fast_ids: HashSet<String> = fast_received.iter().map(webhook_id).collect();
    let slow_ids: HashSet<String> = slow_received.iter().map(webhook_id).collect();
    assert_eq!(
        fast_ids.len(),
        EVENTS,
        "each event once to the fast endpoint"
    );
    assert_eq!(
        slow_ids.len(),
        EVENTS,
        "each event once to the slow endpoint"
    );
    assert!(
        peak_concurrency(&slow_received) <= 2,
        "the slow endpoint's bound of 2 held"
    );
    slow.assert_stays_at(EVENTS, Duration::from_millis(300))
        .await;
}

// ---------------------------------------------------------------------------
// 1c. Publishing keeps pace with delivery, but not with slow endpoints.
// ---------------------------------------------------------------------------

/// Publishes one event and returns the instant its call answered.
async fn publish_seq(app: &TestApp, seq: usize) -> Instant {
    EventServiceClient::new(app.channel())
        .publish_event(app.req(PublishEventRequest {
            event: Some(event(serde_json::json!({"seq": seq}))),
        }))
        .await
        .expect("publish");
    Instant::now()
}

/// With room for one request, each publish of a sequential publisher waits
/// until the delivery before it has finished, and is then handed over: it
/// answers after that delivery's reply, instead of at once with its own
/// delivery sent to the queue behind a backlog.
async fn a_publish_waits_for_room_in_a_full_dispatcher(backend: Backend) {
    const EVENTS: usize = 5;
    let app = spawn_app_with(backend, |s| {
        s.dispatch.max_in_flight = 1;
        // Long enough that the wait never runs out on a slow machine.
        s.dispatch.publish_wait_ms = 5_000;
    })
    .await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(204).after(Duration::from_millis(50)));
    subscribe(&app, receiver.url("/paced")).await;

    let mut answered = Vec::new();
    for seq in 0..EVENTS {
        answered.push(publish_seq(&app, seq).await);
    }
    let received = receiver.wait_for(EVENTS, Duration::from_secs(20)).await;
    let mut replied = [None; EVENTS];
    for r in &received {
        let seq = r.json()["data"]["seq"].as_u64().expect("seq") as usize;
        assert!(replied[seq].is_none(), "event {seq} arrived twice");
        replied[seq] = Some(r.at);
    }
    for seq in 1..EVENTS {
        let before = replied[seq - 1].expect("every event arrived");
        assert!(
            before <= answered[seq],
            "publish {seq} answered {:?} before delivery {} was answered: it did not wait for room",
            before.duration_since(answered[seq]),
            seq - 1
        );
    }
}

/// When slow requests hold all the room, the first publish waits its
/// `publish_wait_ms` in vain and those after it do not wait at all until
/// there is room again; every delivery still arrives once, through the queue.
async fn slow_endpoints_cost_publishers_one_wait(backend: Backend) {
    const WAIT: Duration = Duration::from_millis(1_000);
    const LATER: usize = 5;
    let app = spawn_app_with(backend, |s| {
        s.dispatch.max_in_flight = 1;
        s.dispatch.publish_wait_ms = WAIT.as_millis() as u64;
    })
    .await;
    let receiver = TestReceiver::start().await;
    // The first request holds the only room for 4 s; the rest answer at once.
    receiver.script([Reply::status(204).after(Duration::from_secs(4))]);
    receiver.set_default(Reply::status(204));
    subscribe(&app, receiver.url("/slow-first")).await;

    publish_seq(&app, 0).await;
    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    let mut calls = Vec::new();
    for seq in 1..=LATER {
        let began = Instant::now();
        calls.push(publish_seq(&app, seq).await.duration_since(began));
    }
    let waited = calls.iter().filter(|call| **call >= WAIT * 9 / 10).count();
    assert_eq!(
        waited, 1,
        "exactly the first publish behind the slow request should wait: {calls:?}"
    );
    assert!(
        calls[0] >= WAIT * 9 / 10,
        "the first publish behind the slow request should have waited: {calls:?}"
    );

    let received = receiver.wait_for(LATER + 1, Duration::from_secs(30)).await;
    let seqs: HashSet<u64> = received
        .iter()
        .map(|r| r.json()["data"]["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs.len(), LATER + 1, "every event arrived: {seqs:?}");
    receiver
        .assert_stays_at(LATER + 1, Duration::from_millis(500))
        .await;
}

// ---------------------------------------------------------------------------
// 2. Shutdown waits its grace period, then releases what it could not finish.
// ---------------------------------------------------------------------------

/// Deliveries waiting in memory for a place under their subscription's
/// bound are leased to this server (in flight) while they wait; a graceful
/// shutdown hands them back to the queue, due at once, so the next server
/// sends them straight away instead of after the lease.
async fn shutdown_hands_back_what_waits_for_a_place(backend: Backend) {
    const EVENTS: usize = 4;
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
    let mut app = spawn_app_with(backend, |s| {
        s.shutdown_grace_ms = 300;
        s.secret_key = Some(secret_key.clone());
        s.dispatch.max_in_flight_per_subscription = 1;
    })
    .await;
    let receiver = TestReceiver::start().await;
    // The first request outlasts the grace period; the others are quick.
    receiver.script([Reply::status(204).after(Duration::from_secs(5))]);
    subscribe(&app, receiver.url("/waiting")).await;
    let batch: Vec<Event> = (0..EVENTS)
        .map(|seq| event(serde_json::json!({"seq": seq})))
        .collect();
    EventServiceClient::new(app.channel())
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: batch }))
        .await
        .expect("batch publish");
    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    let rows = delivery_rows(&app).await;
    assert!(
        rows.len() == EVENTS && rows.iter().all(|d| d.status == IN_FLIGHT),
        "one is sent and three wait for its place, all leased here: {rows:?}"
    );
    assert_eq!(receiver.arrivals(), 1, "only the slow one has started");

    app.stop().await;
    let stopped = hookrelay::store::now_micros();
    let rows = delivery_rows(&app).await;
    assert!(
        rows.iter()
            .all(|d| d.status == PENDING && d.next_attempt_time <= stopped),
        "shutdown handed every one back, due now: {rows:?}"
    );

    let mut replica = spawn_replica(&app, |s| s.secret_key = Some(secret_key.clone())).await;
    let all_succeeded = wait_until(Duration::from_secs(15), || async {
        let rows = delivery_rows(&app).await;
        rows.len() == EVENTS && rows.iter().all(|d| d.status == SUCCEEDED)
    })
    .await;
    assert!(
        all_succeeded,
        "the next server sent them at once: {:?}",
        delivery_rows(&app).await
    );
    replica.stop().await;
}

async fn shutdown_releases_unfinished(backend: Backend) {
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
    let mut app = spawn_app_with(backend, |s| {
        s.shutdown_grace_ms = 300;
        s.secret_key = Some(secret_key.clone());
    })
    .await;
    let receiver = TestReceiver::start().await;
    // The first request outlasts the grace period by far; later ones are quick.
    receiver.script([Reply::status(204).after(Duration::from_secs(5))]);
    subscribe(&app, receiver.url("/slow")).await;

    let event_id = EventServiceClient::new(app.channel())
        .publish_event(app.req(PublishEventRequest {
            event: Some(event(serde_json::json!({"shutdown": "test"}))),
        }))
        .await
        .expect("publish")
        .into_inner()
        .event
        .expect("event in response")
        .id;

    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    let rows = delivery_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let held = rows[0].clone();
    assert_eq!(held.status, IN_FLIGHT, "{held:?}");
    assert!(held.lease_expire_time.is_some(), "{held:?}");

    let stopping = Instant::now();
    app.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "shutdown waited {took:?}, not its 300 ms grace, for the slow request"
    );

    let released = delivery::Entity::find_by_id(held.id.clone())
        .one(&app.db)
        .await
        .expect("read the delivery")
        .expect("the delivery row");
    assert_eq!(
        released.status, PENDING,
        "shutdown released the delivery it could not finish: {released:?}"
    );
    assert_eq!(released.lease_expire_time, None, "{released:?}");
    assert_eq!(receiver.arrivals(), 1, "nothing was sent after shutdown");

    let restarted = Instant::now();
    let mut replica = spawn_replica(&app, |s| s.secret_key = Some(secret_key.clone())).await;
    receiver.wait_for_arrivals(2, Duration::from_secs(10)).await;
    let answered = wait_until(Duration::from_secs(10), || async {
        receiver.received().iter().any(|r| r.started >= restarted)
    })
    .await;
    assert!(answered, "the second server's request was not answered");
    let redelivered = receiver
        .received()
        .into_iter()
        .find(|r| r.started >= restarted)
        .expect("the second server's request");
    assert_eq!(webhook_id(&redelivered), event_id);

    let succeeded = wait_until(Duration::from_secs(10), || async {
        delivery::Entity::find_by_id(held.id.clone())
            .one(&app.db)
            .await
            .ok()
            .flatten()
            .is_some_and(|d| d.status == SUCCEEDED)
    })
    .await;
    let row = delivery::Entity::find_by_id(held.id.clone())
        .one(&app.db)
        .await
        .expect("read the delivery")
        .expect("the delivery row");
    assert!(succeeded, "the second server did not finish it: {row:?}");
    assert_eq!(row.last_status_code, Some(204), "{row:?}");
    assert_eq!(row.lease_expire_time, None, "{row:?}");
    replica.stop().await;
}

// ---------------------------------------------------------------------------
// 3. A request outlasting its lease is renewed, not sent again.
// ---------------------------------------------------------------------------

async fn slow_requests_keep_their_lease(backend: Backend) {
    // The shortest lease there is, and expired leases looked for every 250 ms.
    let app = spawn_app_with(backend, |s| {
        s.dispatch.lease_ms = 1_000;
        s.dispatch.poll_interval_ms = 50;
    })
    .await;
    let receiver = TestReceiver::start().await;
    receiver.script([Reply::status(204).after(Duration::from_millis(3_500))]);
    subscribe(&app, receiver.url("/slow")).await;
    EventServiceClient::new(app.channel())
        .publish_event(app.req(PublishEventRequest {
            event: Some(event(serde_json::json!({"slow": true}))),
        }))
        .await
        .expect("publish");

    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    // Well past two leases, the request is still running and still leased.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let rows = delivery_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, IN_FLIGHT, "{rows:?}");
    let now = hookrelay::store::now_micros();
    assert!(
        rows[0].lease_expire_time.is_some_and(|until| until > now),
        "the lease of a running request was not renewed: {rows:?}"
    );

    let done = wait_until(Duration::from_secs(10), || async {
        delivery_rows(&app).await[0].status == SUCCEEDED
    })
    .await;
    assert!(done, "{:?}", delivery_rows(&app).await);
    assert_eq!(delivery_rows(&app).await[0].attempts, 1);
    receiver
        .assert_stays_at(1, Duration::from_millis(500))
        .await;
    assert_eq!(receiver.arrivals(), 1, "the slow request was sent again");
}
