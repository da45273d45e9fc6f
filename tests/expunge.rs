//! ExpungeEvent: one event's data removed at once for a data-protection
//! request, its delivery history kept, nothing more sent; the usual
//! tenant, scope and capability rules.

mod common;

use common::delivering::*;
use common::receiver::{Reply, TestReceiver};
use common::{Backend, assert_status, authed, spawn_app};
use hookrelay::proto::{
    DeliveryStatus, Event, ExpungeEventRequest, ExpungeEventResponse, GetEventRequest,
    ListEventsRequest, ReplayEventsRequest, RetryDeliveryRequest,
};
use std::time::Duration;
use tonic::{Code, Status};

async fn expunge_as(
    app: &common::TestApp,
    token: &str,
    id: &str,
) -> Result<ExpungeEventResponse, Status> {
    events(app.channel())
        .expunge_event(authed(token, ExpungeEventRequest { id: id.to_owned() }))
        .await
        .map(|r| r.into_inner())
}

async fn get_event(app: &common::TestApp, id: &str) -> Event {
    events(app.channel())
        .get_event(app.req(GetEventRequest { id: id.to_owned() }))
        .await
        .expect("get the event")
        .into_inner()
        .event
        .expect("an event")
}

fn assert_expunged(event: &Event) {
    assert!(event.expunge_time.is_some(), "{event:?}");
    assert_eq!(event.payload, None, "{event:?}");
    assert!(event.metadata.is_empty(), "{event:?}");
    assert_eq!(event.attributes, None, "{event:?}");
    assert_eq!(event.r#type, EVENT_TYPE);
}

async fn expunging_removes_the_data_and_keeps_the_history(backend: Backend) {
    let app = app_with_type(backend).await;
    let ok = TestReceiver::start().await;
    let down = TestReceiver::start().await;
    down.set_default(Reply::status(503));
    let (healthy, _) = subscribe(&app, subscription_to(ok.url("/ok"))).await;
    subscribe(
        &app,
        hookrelay::proto::Subscription {
            retry_policy: fast_retries(50),
            ..subscription_to(down.url("/down"))
        },
    )
    .await;
    let published = events(app.channel())
        .publish_event(app.req(hookrelay::proto::PublishEventRequest {
            event: Some(Event {
                metadata: [("customer".to_owned(), "jane@example.com".to_owned())].into(),
                ..event(serde_json::json!({"email": "jane@example.com"}))
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let id = published.event.unwrap().id;
    ok.wait_for(1, Duration::from_secs(10)).await;
    down.wait_for(1, Duration::from_secs(10)).await;
    let succeeded = common::wait_until(Duration::from_secs(10), || async {
        deliveries_of_event(&app, &id)
            .await
            .iter()
            .any(|d| d.status == DeliveryStatus::Succeeded as i32)
    })
    .await;
    assert!(succeeded, "the healthy endpoint's delivery did not succeed");
    let before = deliveries_of_event(&app, &id).await;
    assert_eq!(before.len(), 2, "{before:?}");

    let expunged = expunge_as(&app, &app.tenant.token, &id)
        .await
        .expect("expunge")
        .event
        .expect("the event");
    assert_expunged(&expunged);
    assert_eq!(expunged.id, id);
    let read = get_event(&app, &id).await;
    assert_expunged(&read);
    assert_eq!(read.expunge_time, expunged.expunge_time);
    let listed = events(app.channel())
        .list_events(app.req(ListEventsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_expunged(listed.iter().find(|e| e.id == id).expect("listed"));

    // The history stays: the success with its attempt; the retrying one
    // cancelled, saying why, and never sent again.
    let after = deliveries_of_event(&app, &id).await;
    assert_eq!(after.len(), 2, "{after:?}");
    let delivered = after
        .iter()
        .find(|d| d.status == DeliveryStatus::Succeeded as i32)
        .expect("the success is kept");
    assert_eq!(attempts_of(&app, &delivered.id).await.len(), 1);
    let cancelled = after
        .iter()
        .find(|d| d.status != DeliveryStatus::Succeeded as i32)
        .unwrap();
    if cancelled.status != DeliveryStatus::Cancelled as i32 {
        // It was in flight when the event was expunged: its retry is
        // cancelled when it comes due.
        wait_until_cancelled(&app, &id).await;
    }
    let cancelled = deliveries_of_event(&app, &id)
        .await
        .into_iter()
        .find(|d| d.status == DeliveryStatus::Cancelled as i32)
        .expect("the retrying delivery is cancelled");
    assert!(!attempts_of(&app, &cancelled.id).await.is_empty());
    let sent = down.arrivals();
    down.assert_stays_at(sent, Duration::from_millis(2_500))
        .await;
    assert_status(
        deliveries(app.channel())
            .retry_delivery(app.req(RetryDeliveryRequest {
                id: cancelled.id.clone(),
            }))
            .await,
        Code::FailedPrecondition,
        "expunged",
    );

    // A replay has nothing of it to send.
    let replayed = deliveries(app.channel())
        .replay_events(app.req(ReplayEventsRequest {
            subscription_id: healthy.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.delivery_count, 0);

    // Again: nothing changes.
    let again = expunge_as(&app, &app.tenant.token, &id)
        .await
        .unwrap()
        .event
        .unwrap();
    assert_eq!(again.expunge_time, expunged.expunge_time);
}

async fn wait_until_cancelled(app: &common::TestApp, id: &str) {
    let cancelled = common::wait_until(Duration::from_secs(10), || async {
        deliveries_of_event(app, id)
            .await
            .iter()
            .any(|d| d.status == DeliveryStatus::Cancelled as i32)
    })
    .await;
    assert!(cancelled, "the retrying delivery of {id} was not cancelled");
}

async fn expunging_follows_the_tenant_scope_and_capability_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    common::register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    let id = publish_to(&app, serde_json::json!({"secret": 1}), 0).await;

    let read_only = app.new_key(&app.tenant.id, "read,publish", None).await;
    assert_status(
        expunge_as(&app, &read_only, &id).await,
        Code::PermissionDenied,
        "manage",
    );
    let other = app.new_tenant("globex").await;
    assert_status(
        expunge_as(&app, &other.token, &id).await,
        Code::NotFound,
        &id,
    );
    let scoped = app
        .new_key(&app.tenant.id, "manage,read", Some("session-1"))
        .await;
    assert_status(expunge_as(&app, &scoped, &id).await, Code::NotFound, &id);
    assert_status(
        expunge_as(&app, &app.tenant.token, "evt_01JDNOSUCHEVENT0000000000").await,
        Code::NotFound,
        "evt_01JDNOSUCHEVENT0000000000",
    );
    // None of those touched it.
    let event = get_event(&app, &id).await;
    assert_eq!(event.expunge_time, None);
    assert!(event.payload.is_some());
}

/// A delivery in flight while its event is expunged is not cancelled with
/// the pending ones; when its attempt fails, its retry finds the data gone
/// and is cancelled, saying so (not blaming its subscription).
async fn a_delivery_in_flight_when_its_event_is_expunged_stops_at_its_retry(backend: Backend) {
    let app = app_with_type(backend).await;
    let slow = TestReceiver::start().await;
    // The first attempt fails after a second; any retry would succeed.
    slow.script([Reply::status(503).after(Duration::from_secs(1))]);
    subscribe(
        &app,
        hookrelay::proto::Subscription {
            retry_policy: fast_retries(5),
            ..subscription_to(slow.url("/slow"))
        },
    )
    .await;
    let id = publish_to(&app, serde_json::json!({"secret": 1}), 1).await;
    slow.wait_for_arrivals(1, Duration::from_secs(10)).await;
    expunge_as(&app, &app.tenant.token, &id)
        .await
        .expect("expunge while the attempt is in flight");
    wait_until_cancelled(&app, &id).await;
    let delivery = deliveries_of_event(&app, &id).await.remove(0);
    assert_eq!(
        delivery.last_error, "cancelled: the event's data was expunged",
        "{delivery:?}"
    );
    assert_eq!(slow.arrivals(), 1, "nothing was sent after the expunge");
}

on_both_databases!(
    expunging_removes_the_data_and_keeps_the_history,
    expunging_follows_the_tenant_scope_and_capability_rules,
    a_delivery_in_flight_when_its_event_is_expunged_stops_at_its_retry,
);
