//! Helpers of the EventService tests: events, subscriptions to a receiver,
//! thin wrappers over the publish/list RPCs, and assertions.

use super::builders::*;
use super::receiver::{Received, TestReceiver};
use super::{TestApp, assert_status, authed, violated_fields, wait_until};
use hookrelay::proto::DeliveryStatus;
use hookrelay::proto::delivery_service_client::DeliveryServiceClient;
use hookrelay::proto::event::Payload;
use hookrelay::proto::event_service_client::EventServiceClient;
use hookrelay::proto::{
    BatchPublishEventsRequest, BatchPublishEventsResponse, CreateEventTypeRequest,
    CreateSubscriptionRequest, Event, EventType, GetEventRequest, ListDeliveriesRequest,
    ListEventsRequest, PublishEventRequest, PublishEventResponse, Subscription,
};
use prost_types::{Struct, Timestamp};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;
use tonic::{Code, Status};

pub const WEBHOOK_DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- helpers

pub fn events(app: &TestApp) -> EventServiceClient<Channel> {
    EventServiceClient::new(app.channel())
}

pub fn deliveries(app: &TestApp) -> DeliveryServiceClient<Channel> {
    DeliveryServiceClient::new(app.channel())
}

/// An event with a JSON text payload.
pub fn json_event(event_type: &str, data_json: &str) -> Event {
    Event {
        r#type: event_type.to_owned(),
        payload: Some(Payload::DataJson(data_json.to_owned())),
        ..Event::default()
    }
}

/// An event with a Struct payload.
pub fn struct_event(event_type: &str, data: serde_json::Value) -> Event {
    Event {
        r#type: event_type.to_owned(),
        payload: Some(Payload::Data(to_struct(data))),
        ..Event::default()
    }
}

pub fn with_id(mut event: Event, id: &str) -> Event {
    event.id = id.to_owned();
    event
}

pub fn with_scope(mut event: Event, scope: &str) -> Event {
    event.scope = scope.to_owned();
    event
}

pub async fn create_type(app: &TestApp, name: &str, json_schema: Option<Struct>) {
    app.event_types()
        .create_event_type(app.req(CreateEventTypeRequest {
            event_type: Some(EventType {
                name: name.to_owned(),
                json_schema,
                ..EventType::default()
            }),
        }))
        .await
        .unwrap_or_else(|s| panic!("create event type {name}: {s:?}"));
}

pub struct SubSpec<'a> {
    pub name: &'a str,
    pub url: String,
    pub event_types: &'a [&'a str],
    pub scope: &'a str,
    pub enabled: Option<bool>,
}

impl<'a> SubSpec<'a> {
    pub fn new(name: &'a str, url: String, event_types: &'a [&'a str]) -> Self {
        Self {
            name,
            url,
            event_types,
            scope: "",
            enabled: None,
        }
    }
}

pub async fn subscribe(app: &TestApp, spec: SubSpec<'_>) -> Subscription {
    app.subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest {
            subscription: Some(Subscription {
                name: spec.name.to_owned(),
                url: spec.url,
                event_types: spec.event_types.iter().map(|t| (*t).to_owned()).collect(),
                scope: spec.scope.to_owned(),
                enabled: spec.enabled,
                ..Subscription::default()
            }),
            secret: String::new(),
        }))
        .await
        .unwrap_or_else(|s| panic!("create subscription {}: {s:?}", spec.name))
        .into_inner()
        .subscription
        .expect("created subscription")
}

pub async fn publish_as(
    app: &TestApp,
    token: &str,
    event: Event,
) -> Result<PublishEventResponse, Status> {
    events(app)
        .publish_event(authed(token, PublishEventRequest { event: Some(event) }))
        .await
        .map(|r| r.into_inner())
}

pub async fn publish(app: &TestApp, event: Event) -> Result<PublishEventResponse, Status> {
    publish_as(app, &app.tenant.token, event).await
}

pub async fn publish_ok(app: &TestApp, event: Event) -> PublishEventResponse {
    publish(app, event)
        .await
        .unwrap_or_else(|s| panic!("publish failed: {s:?}"))
}

pub async fn batch(
    app: &TestApp,
    events_: Vec<Event>,
) -> Result<BatchPublishEventsResponse, Status> {
    events(app)
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: events_ }))
        .await
        .map(|r| r.into_inner())
}

pub async fn get_event_as(app: &TestApp, token: &str, id: &str) -> Result<Event, Status> {
    events(app)
        .get_event(authed(token, GetEventRequest { id: id.to_owned() }))
        .await
        .map(|r| r.into_inner().event.expect("event"))
}

pub async fn list_events_as(
    app: &TestApp,
    token: &str,
    request: ListEventsRequest,
) -> Result<(Vec<Event>, String), Status> {
    events(app)
        .list_events(authed(token, request))
        .await
        .map(|r| {
            let r = r.into_inner();
            (r.events, r.next_page_token)
        })
}

/// Every event the default tenant can see, following pages.
pub async fn all_events(app: &TestApp) -> Vec<Event> {
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let (page, next) = list_events_as(
            app,
            &app.tenant.token,
            ListEventsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            },
        )
        .await
        .expect("list events");
        found.extend(page);
        if next.is_empty() {
            return found;
        }
        page_token = next;
    }
}

/// Every delivery of the default tenant, optionally of one event.
pub async fn list_deliveries(app: &TestApp, event_id: &str) -> Vec<hookrelay::proto::Delivery> {
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let response = deliveries(app)
            .list_deliveries(app.req(ListDeliveriesRequest {
                page_size: 1000,
                page_token,
                event_id: event_id.to_owned(),
                ..Default::default()
            }))
            .await
            .expect("list deliveries")
            .into_inner();
        found.extend(response.deliveries);
        if response.next_page_token.is_empty() {
            return found;
        }
        page_token = response.next_page_token;
    }
}

pub fn data_json(event: &Event) -> &str {
    match &event.payload {
        Some(Payload::DataJson(text)) => text,
        other => panic!("expected data_json, got {other:?}"),
    }
}

pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// The create time is set and plausible (within a minute of now).
#[track_caller]
pub fn assert_recent(ts: Option<&Timestamp>) -> i64 {
    let ts = ts.expect("create_time is set");
    let at = micros(ts);
    assert!(
        (now_micros() - at).abs() < 60_000_000,
        "create_time {ts:?} is not close to now"
    );
    at
}

#[track_caller]
pub fn assert_invalid(result: Result<impl std::fmt::Debug, Status>, field: &str) {
    let status = assert_status(result, Code::InvalidArgument, "");
    let fields = violated_fields(&status);
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation of {field:?}, got {fields:?} ({status:?})"
    );
}

pub fn paths(received: &[Received]) -> BTreeSet<String> {
    received.iter().map(|r| r.path.clone()).collect()
}

pub fn body_text(received: &Received) -> String {
    String::from_utf8(received.body.to_vec()).expect("the body is UTF-8")
}

/// Asserts that exactly `n` webhooks reached `receiver` and that no more are
/// on their way: every delivery of the default tenant has finished (none is
/// pending or in flight). Deliveries are created with their event, so this
/// state, not a fixed quiet window, proves that nothing else will arrive.
pub async fn assert_settled_at(app: &TestApp, receiver: &TestReceiver, n: usize) {
    let settled = wait_until(WEBHOOK_DEADLINE, || async {
        list_deliveries(app, "").await.iter().all(|delivery| {
            !matches!(
                delivery.status(),
                DeliveryStatus::Pending | DeliveryStatus::InFlight
            )
        })
    })
    .await;
    assert!(
        settled,
        "deliveries still unfinished after {WEBHOOK_DEADLINE:?}"
    );
    let received = receiver.received();
    assert_eq!(
        received.len(),
        n,
        "unexpected webhooks: {:?}",
        paths(&received)
    );
}
