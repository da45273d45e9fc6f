//! EventService end to end: publishing (Struct and JSON text payloads),
//! validation, idempotency, batches, routing to subscriptions, listing, and
//! tenancy/auth, with webhooks received by a local test receiver, on both
//! databases.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::receiver::{Received, Reply, TestReceiver};
use common::{Backend, TestApp, assert_status, authed, spawn_app, spawn_app_with, violated_fields};
use hookrelay::proto::delivery_service_client::DeliveryServiceClient;
use hookrelay::proto::event::Payload;
use hookrelay::proto::event_service_client::EventServiceClient;
use hookrelay::proto::{
    BatchPublishEventsRequest, BatchPublishEventsResponse, CreateEventTypeRequest,
    CreateSubscriptionRequest, DeleteEventTypeRequest, Event, EventType, GetEventRequest,
    GetSubscriptionRequest, ListDeliveriesRequest, ListEventsRequest, PublishEventRequest,
    PublishEventResponse, Subscription,
};
use prost_types::{Struct, Timestamp, value::Kind};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;
use tonic::{Code, Status};

const WEBHOOK_DEADLINE: Duration = Duration::from_secs(10);
const QUIET_WINDOW: Duration = Duration::from_millis(700);

// ---------------------------------------------------------------- helpers

/// A JSON object as a `google.protobuf.Struct`, built by hand so the test
/// does not share the server's conversion code.
fn to_struct(json: serde_json::Value) -> Struct {
    let serde_json::Value::Object(object) = json else {
        panic!("not an object: {json}");
    };
    Struct {
        fields: object.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
    }
}

fn to_value(json: serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
        J::String(s) => Kind::StringValue(s),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        object @ J::Object(_) => Kind::StructValue(to_struct(object)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn events(app: &TestApp) -> EventServiceClient<Channel> {
    EventServiceClient::new(app.channel())
}

fn deliveries(app: &TestApp) -> DeliveryServiceClient<Channel> {
    DeliveryServiceClient::new(app.channel())
}

/// An event with a JSON text payload.
fn json_event(event_type: &str, data_json: &str) -> Event {
    Event {
        r#type: event_type.to_owned(),
        payload: Some(Payload::DataJson(data_json.to_owned())),
        ..Event::default()
    }
}

/// An event with a Struct payload.
fn struct_event(event_type: &str, data: serde_json::Value) -> Event {
    Event {
        r#type: event_type.to_owned(),
        payload: Some(Payload::Data(to_struct(data))),
        ..Event::default()
    }
}

fn with_id(mut event: Event, id: &str) -> Event {
    event.id = id.to_owned();
    event
}

fn with_scope(mut event: Event, scope: &str) -> Event {
    event.scope = scope.to_owned();
    event
}

async fn create_type(app: &TestApp, name: &str, json_schema: Option<Struct>) {
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

struct SubSpec<'a> {
    name: &'a str,
    url: String,
    event_types: &'a [&'a str],
    scope: &'a str,
    enabled: Option<bool>,
}

impl<'a> SubSpec<'a> {
    fn new(name: &'a str, url: String, event_types: &'a [&'a str]) -> Self {
        Self {
            name,
            url,
            event_types,
            scope: "",
            enabled: None,
        }
    }
}

async fn subscribe(app: &TestApp, spec: SubSpec<'_>) -> Subscription {
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

async fn publish_as(
    app: &TestApp,
    token: &str,
    event: Event,
) -> Result<PublishEventResponse, Status> {
    events(app)
        .publish_event(authed(token, PublishEventRequest { event: Some(event) }))
        .await
        .map(|r| r.into_inner())
}

async fn publish(app: &TestApp, event: Event) -> Result<PublishEventResponse, Status> {
    publish_as(app, &app.tenant.token, event).await
}

async fn publish_ok(app: &TestApp, event: Event) -> PublishEventResponse {
    publish(app, event)
        .await
        .unwrap_or_else(|s| panic!("publish failed: {s:?}"))
}

async fn batch(app: &TestApp, events_: Vec<Event>) -> Result<BatchPublishEventsResponse, Status> {
    events(app)
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: events_ }))
        .await
        .map(|r| r.into_inner())
}

async fn get_event_as(app: &TestApp, token: &str, id: &str) -> Result<Event, Status> {
    events(app)
        .get_event(authed(token, GetEventRequest { id: id.to_owned() }))
        .await
        .map(|r| r.into_inner().event.expect("event"))
}

async fn list_events_as(
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
async fn all_events(app: &TestApp) -> Vec<Event> {
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
async fn list_deliveries(app: &TestApp, event_id: &str) -> Vec<hookrelay::proto::Delivery> {
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

fn data_json(event: &Event) -> &str {
    match &event.payload {
        Some(Payload::DataJson(text)) => text,
        other => panic!("expected data_json, got {other:?}"),
    }
}

fn micros(ts: &Timestamp) -> i64 {
    ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1_000
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// The create time is set and plausible (within a minute of now).
#[track_caller]
fn assert_recent(ts: Option<&Timestamp>) -> i64 {
    let ts = ts.expect("create_time is set");
    let at = micros(ts);
    assert!(
        (now_micros() - at).abs() < 60_000_000,
        "create_time {ts:?} is not close to now"
    );
    at
}

#[track_caller]
fn assert_invalid(result: Result<impl std::fmt::Debug, Status>, field: &str) {
    let status = assert_status(result, Code::InvalidArgument, "");
    let fields = violated_fields(&status);
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation of {field:?}, got {fields:?} ({status:?})"
    );
}

fn paths(received: &[Received]) -> BTreeSet<String> {
    received.iter().map(|r| r.path.clone()).collect()
}

fn body_text(received: &Received) -> String {
    String::from_utf8(received.body.to_vec()).expect("the body is UTF-8")
}

// ---------------------------------------------------------------- publishing

async fn struct_payload_is_stored_and_delivered_as_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "invoice.sent", None).await;
    subscribe(
        &app,
        SubSpec::new("exact", receiver.url("/exact"), &["invoice.paid"]),
    )
    .await;
    subscribe(
        &app,
        SubSpec::new("wild", receiver.url("/wild"), &["invoice.*"]),
    )
    .await;
    subscribe(
        &app,
        SubSpec::new("other", receiver.url("/other"), &["invoice.sent"]),
    )
    .await;

    let mut event = struct_event(
        "invoice.paid",
        serde_json::json!({
            "amount": 42,
            "ratio": 0.5,
            "negative": -3,
            "paid": true,
            "note": null,
            "customer": {"id": "cus_1", "orders": 7},
            "items": [1, 2.25, "x"]
        }),
    );
    event.metadata = BTreeMap::from([("source".to_owned(), "billing".to_owned())]);
    let published = publish_ok(&app, event).await;
    assert!(!published.duplicate);
    assert_eq!(published.subscription_count, 2, "exact + wildcard match");
    let stored = published.event.expect("the published event");
    assert!(stored.id.starts_with("evt_"), "server id {:?}", stored.id);
    assert!(
        stored.id.len() > "evt_".len() + 20,
        "a ULID follows: {:?}",
        stored.id
    );
    assert_eq!(stored.r#type, "invoice.paid");
    assert_eq!(stored.scope, "");
    let created = assert_recent(stored.create_time.as_ref());

    let fetched = get_event_as(&app, &app.tenant.token, &stored.id)
        .await
        .expect("get the event");
    assert_eq!(fetched.id, stored.id);
    assert_eq!(fetched.r#type, "invoice.paid");
    assert_eq!(fetched.create_time, stored.create_time);
    assert_eq!(
        fetched.metadata.get("source").map(String::as_str),
        Some("billing")
    );
    let data: serde_json::Value = serde_json::from_str(data_json(&fetched)).expect("JSON text");
    assert_eq!(
        data,
        serde_json::json!({
            "amount": 42,
            "ratio": 0.5,
            "negative": -3,
            "paid": true,
            "note": null,
            "customer": {"id": "cus_1", "orders": 7},
            "items": [1, 2.25, "x"]
        })
    );
    assert!(
        data["amount"].is_i64(),
        "whole numbers are integers: {data}"
    );

    let received = receiver.wait_for(2, WEBHOOK_DEADLINE).await;
    receiver.assert_stays_at(2, QUIET_WINDOW).await;
    assert_eq!(
        paths(&received),
        BTreeSet::from(["/exact".to_owned(), "/wild".to_owned()])
    );
    for webhook in &received {
        assert_eq!(webhook.header("webhook-id"), Some(stored.id.as_str()));
        assert!(
            webhook
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "content-type {:?}",
            webhook.header("content-type")
        );
        let body = webhook.json();
        let keys: BTreeSet<&str> = body
            .as_object()
            .expect("envelope object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "type", "timestamp", "scope", "data", "metadata"]),
            "envelope {body}"
        );
        assert_eq!(body["id"], stored.id.as_str());
        assert_eq!(body["type"], "invoice.paid");
        assert_eq!(body["scope"], serde_json::Value::Null);
        assert_eq!(body["data"], data);
        assert_eq!(body["metadata"], serde_json::json!({"source": "billing"}));
        let timestamp = body["timestamp"].as_str().expect("timestamp is a string");
        let parsed = chrono::DateTime::parse_from_rfc3339(timestamp)
            .unwrap_or_else(|e| panic!("timestamp {timestamp:?} is not RFC 3339: {e}"));
        assert_eq!(
            parsed.timestamp_micros(),
            created,
            "timestamp is the create time"
        );
        // Whole numbers from the Struct go out as integers, not 42.0.
        let text = body_text(webhook);
        assert!(text.contains(r#""amount":42"#), "body {text}");
        assert!(!text.contains("42.0"), "body {text}");
        assert!(text.contains(r#""orders":7"#), "body {text}");
        assert!(!text.contains("\n"), "compact JSON: {text}");
    }
}

async fn json_text_payload_is_kept_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    subscribe(&app, SubSpec::new("all", receiver.url("/hooks"), &["*"])).await;

    let text = "{ \"amount\" : 1.50 ,\"big\":12345678901234567890,  \"note\":\"caf\u{e9} \\u00e9\", \"list\" : [ 1,2 ] }";
    let event = with_scope(
        with_id(json_event("invoice.paid", text), "order-123:paid"),
        "tenant-42",
    );
    let published = publish_ok(&app, event).await;
    assert!(!published.duplicate);
    assert_eq!(published.subscription_count, 1);
    let stored = published.event.expect("event");
    assert_eq!(stored.id, "order-123:paid", "the caller's id is kept");
    assert_eq!(stored.scope, "tenant-42");
    assert_eq!(data_json(&stored), text);
    assert_recent(stored.create_time.as_ref());

    let fetched = get_event_as(&app, &app.tenant.token, "order-123:paid")
        .await
        .expect("get the event");
    assert_eq!(data_json(&fetched), text, "GetEvent returns the exact text");
    assert_eq!(fetched.scope, "tenant-42");

    let received = receiver.wait_for(1, WEBHOOK_DEADLINE).await;
    let body = body_text(&received[0]);
    assert!(
        body.contains(&format!("\"data\":{text},")),
        "the body carries the exact text: {body}"
    );
    let envelope = received[0].json();
    assert_eq!(envelope["id"], "order-123:paid");
    assert_eq!(envelope["scope"], "tenant-42");
    assert_eq!(envelope["metadata"], serde_json::json!({}));
    assert_eq!(received[0].header("webhook-id"), Some("order-123:paid"));
}

// ---------------------------------------------------------------- validation

async fn invalid_events_are_rejected_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "invoice.old", None).await;
    app.event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "invoice.old".to_owned(),
        }))
        .await
        .expect("archive invoice.old");
    subscribe(&app, SubSpec::new("all", receiver.url("/hooks"), &["*"])).await;
    let ok = "{\"a\":1}";

    // Types: unregistered, archived, malformed, missing, reserved.
    let status = assert_status(
        publish(&app, json_event("invoice.unknown", ok)).await,
        Code::InvalidArgument,
        "invoice.unknown",
    );
    assert_eq!(violated_fields(&status), vec!["event.type".to_owned()]);
    let status = assert_status(
        publish(&app, json_event("invoice.old", ok)).await,
        Code::InvalidArgument,
        "archived",
    );
    assert_eq!(violated_fields(&status), vec!["event.type".to_owned()]);
    for bad in [
        "Invoice.Paid",
        "invoice..paid",
        "invoice paid",
        ".invoice",
        "1invoice",
        "",
    ] {
        assert_invalid(publish(&app, json_event(bad, ok)).await, "event.type");
    }
    assert_invalid(
        publish(&app, json_event("hookrelay.subscription.disabled", ok)).await,
        "event.type",
    );

    // Payloads.
    let mut no_data = json_event("invoice.paid", ok);
    no_data.payload = None;
    assert_invalid(publish(&app, no_data).await, "event.data");
    for bad in ["not json", "{\"a\":", "[1]", "\"x\"", "42", "null", ""] {
        assert_invalid(
            publish(&app, json_event("invoice.paid", bad)).await,
            "event.data_json",
        );
    }

    // Caller ids.
    for bad in [
        "has space".to_owned(),
        "\u{e9}v\u{e9}nement".to_owned(),
        "x".repeat(200),
        "line\nbreak".to_owned(),
    ] {
        assert_invalid(
            publish(&app, with_id(json_event("invoice.paid", ok), &bad)).await,
            "event.id",
        );
    }

    // Several problems are reported together.
    let mut many = with_id(json_event("Bad Type", "[1]"), "bad id");
    many.scope = "has space".to_owned();
    let status = assert_status(publish(&app, many).await, Code::InvalidArgument, "");
    let fields: BTreeSet<String> = violated_fields(&status).into_iter().collect();
    for field in ["event.id", "event.type", "event.scope", "event.data_json"] {
        assert!(fields.contains(field), "{field} missing from {fields:?}");
    }

    // No event at all.
    let missing = events(&app)
        .publish_event(app.req(PublishEventRequest { event: None }))
        .await;
    assert_status(missing, Code::InvalidArgument, "");

    assert!(all_events(&app).await.is_empty(), "nothing was stored");
    assert!(list_deliveries(&app, "").await.is_empty(), "no deliveries");
    receiver.assert_stays_at(0, QUIET_WINDOW).await;

    // The same setup accepts a valid event, so the rejections above were real.
    let accepted = publish_ok(&app, json_event("invoice.paid", ok)).await;
    assert_eq!(accepted.subscription_count, 1);
    receiver.wait_for(1, WEBHOOK_DEADLINE).await;
}

async fn payloads_are_validated_against_the_json_schema(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    let schema = to_struct(serde_json::json!({
        "type": "object",
        "properties": {"amount": {"type": "number"}},
        "required": ["amount"]
    }));
    create_type(&app, "invoice.paid", Some(schema)).await;
    subscribe(
        &app,
        SubSpec::new("paid", receiver.url("/hooks"), &["invoice.paid"]),
    )
    .await;

    let status = assert_status(
        publish(&app, json_event("invoice.paid", r#"{"amount":"ten"}"#)).await,
        Code::InvalidArgument,
        "",
    );
    assert_eq!(violated_fields(&status), vec!["event.data".to_owned()]);
    assert_invalid(
        publish(&app, json_event("invoice.paid", "{}")).await,
        "event.data",
    );
    assert_invalid(
        publish(
            &app,
            struct_event("invoice.paid", serde_json::json!({"amount": "ten"})),
        )
        .await,
        "event.data",
    );
    assert!(
        all_events(&app).await.is_empty(),
        "rejected events are not stored"
    );
    receiver.assert_stays_at(0, QUIET_WINDOW).await;

    let a = publish_ok(
        &app,
        struct_event("invoice.paid", serde_json::json!({"amount": 10})),
    )
    .await;
    let b = publish_ok(
        &app,
        json_event("invoice.paid", r#"{"amount": 1.5, "extra": true}"#),
    )
    .await;
    assert_eq!(a.subscription_count, 1);
    assert_eq!(b.subscription_count, 1);
    receiver.wait_for(2, WEBHOOK_DEADLINE).await;
    assert_eq!(all_events(&app).await.len(), 2);
}

async fn oversized_payloads_are_resource_exhausted(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.quotas.max_payload_bytes = 1024).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    subscribe(&app, SubSpec::new("all", receiver.url("/hooks"), &["*"])).await;

    let big_text = format!("{{\"blob\":\"{}\"}}", "x".repeat(2000));
    assert_status(
        publish(&app, json_event("invoice.paid", &big_text)).await,
        Code::ResourceExhausted,
        "",
    );
    assert_status(
        publish(
            &app,
            struct_event(
                "invoice.paid",
                serde_json::json!({"blob": "y".repeat(2000)}),
            ),
        )
        .await,
        Code::ResourceExhausted,
        "",
    );
    // One oversized event sinks its whole batch.
    assert_status(
        batch(
            &app,
            vec![
                json_event("invoice.paid", "{\"small\":1}"),
                json_event("invoice.paid", &big_text),
            ],
        )
        .await,
        Code::ResourceExhausted,
        "",
    );
    assert!(all_events(&app).await.is_empty(), "nothing was stored");
    receiver.assert_stays_at(0, QUIET_WINDOW).await;

    // Just under the limit is fine.
    let fits = format!("{{\"blob\":\"{}\"}}", "z".repeat(1000));
    assert!(fits.len() <= 1024);
    let published = publish_ok(&app, json_event("invoice.paid", &fits)).await;
    assert_eq!(published.subscription_count, 1);
    let received = receiver.wait_for(1, WEBHOOK_DEADLINE).await;
    assert!(body_text(&received[0]).contains(&fits));
    assert_eq!(all_events(&app).await.len(), 1);
}

// ---------------------------------------------------------------- idempotency

async fn republishing_an_id_returns_the_original(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    let sub_a = subscribe(
        &app,
        SubSpec::new("a", receiver.url("/a"), &["invoice.paid"]),
    )
    .await;
    let sub_b = subscribe(&app, SubSpec::new("b", receiver.url("/b"), &["*"])).await;

    let first = publish_ok(
        &app,
        with_id(json_event("invoice.paid", r#"{"v": 1}"#), "order-1"),
    )
    .await;
    assert!(!first.duplicate);
    assert_eq!(first.subscription_count, 2);
    let original = first.event.expect("event");
    receiver.wait_for(2, WEBHOOK_DEADLINE).await;

    let second = publish_ok(
        &app,
        with_scope(
            with_id(
                struct_event("invoice.paid", serde_json::json!({"v": 2})),
                "order-1",
            ),
            "elsewhere",
        ),
    )
    .await;
    assert!(second.duplicate, "the second publish is a duplicate");
    assert_eq!(second.subscription_count, 2, "the original's fan-out");
    let returned = second.event.expect("event");
    assert_eq!(returned.id, "order-1");
    assert_eq!(data_json(&returned), r#"{"v": 1}"#, "the original data");
    assert_eq!(
        returned.create_time, original.create_time,
        "the original time"
    );
    assert_eq!(returned.scope, "", "the original scope");

    // And again through a batch.
    let again = batch(
        &app,
        vec![with_id(
            json_event("invoice.paid", r#"{"v": 3}"#),
            "order-1",
        )],
    )
    .await
    .expect("batch");
    assert!(again.results[0].duplicate);
    assert_eq!(
        data_json(again.results[0].event.as_ref().unwrap()),
        r#"{"v": 1}"#
    );

    let found = list_deliveries(&app, "order-1").await;
    assert_eq!(found.len(), 2, "one delivery per subscription: {found:?}");
    let subscriptions: BTreeSet<&str> = found.iter().map(|d| d.subscription_id.as_str()).collect();
    assert_eq!(
        subscriptions,
        BTreeSet::from([sub_a.id.as_str(), sub_b.id.as_str()])
    );
    receiver.assert_stays_at(2, QUIET_WINDOW).await;
    for webhook in receiver.received() {
        assert_eq!(webhook.json()["data"], serde_json::json!({"v": 1}));
    }
    let stored = get_event_as(&app, &app.tenant.token, "order-1")
        .await
        .unwrap();
    assert_eq!(data_json(&stored), r#"{"v": 1}"#);
    assert_eq!(all_events(&app).await.len(), 1);

    // Another tenant's "order-1" is its own event.
    let other = app.new_tenant("globex").await;
    let other_published = publish_as(
        &app,
        &other.token,
        with_id(json_event("invoice.paid", r#"{"v": "globex"}"#), "order-1"),
    )
    .await;
    // Globex has no invoice.paid type yet: its catalog is its own.
    assert_invalid(other_published, "event.type");
    app.event_types()
        .create_event_type(authed(
            &other.token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: "invoice.paid".to_owned(),
                    ..EventType::default()
                }),
            },
        ))
        .await
        .expect("globex registers invoice.paid");
    let other_published = publish_as(
        &app,
        &other.token,
        with_id(json_event("invoice.paid", r#"{"v": "globex"}"#), "order-1"),
    )
    .await
    .expect("globex publishes");
    assert!(!other_published.duplicate, "ids are per tenant");
    assert_eq!(other_published.subscription_count, 0);
    let theirs = get_event_as(&app, &other.token, "order-1").await.unwrap();
    assert_eq!(data_json(&theirs), r#"{"v": "globex"}"#);
    let ours = get_event_as(&app, &app.tenant.token, "order-1")
        .await
        .unwrap();
    assert_eq!(data_json(&ours), r#"{"v": 1}"#);
    receiver.assert_stays_at(2, QUIET_WINDOW).await;
}

// ---------------------------------------------------------------- batches

async fn batch_publish_returns_results_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "invoice.sent", None).await;
    create_type(&app, "user.created", None).await;
    subscribe(
        &app,
        SubSpec::new("invoices", receiver.url("/inv"), &["invoice.*"]),
    )
    .await;
    subscribe(&app, SubSpec::new("all", receiver.url("/all"), &["*"])).await;

    let response = batch(
        &app,
        vec![
            json_event("invoice.paid", r#"{"n":0}"#),
            with_id(json_event("user.created", r#"{"n":1}"#), "user-1"),
            struct_event("invoice.sent", serde_json::json!({"n": 2})),
        ],
    )
    .await
    .expect("batch publish");
    assert_eq!(response.results.len(), 3);
    let expected = [
        ("invoice.paid", 2),
        ("user.created", 1),
        ("invoice.sent", 2),
    ];
    for (index, (result, (event_type, count))) in response.results.iter().zip(expected).enumerate()
    {
        let event = result.event.as_ref().expect("event");
        assert_eq!(event.r#type, event_type, "result {index}");
        assert_eq!(result.subscription_count, count, "result {index}");
        assert!(!result.duplicate);
        let data: serde_json::Value = serde_json::from_str(data_json(event)).unwrap();
        assert_eq!(data, serde_json::json!({"n": index}), "result {index}");
        assert_recent(event.create_time.as_ref());
    }
    assert_eq!(response.results[1].event.as_ref().unwrap().id, "user-1");
    assert!(
        response.results[0]
            .event
            .as_ref()
            .unwrap()
            .id
            .starts_with("evt_")
    );
    assert!(
        response.results[2]
            .event
            .as_ref()
            .unwrap()
            .id
            .starts_with("evt_")
    );
    receiver.wait_for(5, WEBHOOK_DEADLINE).await;
    receiver.assert_stays_at(5, QUIET_WINDOW).await;
    assert_eq!(all_events(&app).await.len(), 3);
}

async fn batch_limits_and_atomicity(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    subscribe(&app, SubSpec::new("all", receiver.url("/all"), &["*"])).await;

    let too_many: Vec<Event> = (0..1001)
        .map(|_| json_event("invoice.paid", "{}"))
        .collect();
    assert_invalid(batch(&app, too_many).await, "events");
    assert_invalid(batch(&app, Vec::new()).await, "events");

    // One bad event rejects the whole batch, and says which.
    let status = assert_status(
        batch(
            &app,
            vec![
                json_event("invoice.paid", "{}"),
                json_event("invoice.paid", "[1]"),
                json_event("invoice.paid", "{}"),
            ],
        )
        .await,
        Code::InvalidArgument,
        "",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["events[1].data_json".to_owned()]
    );
    let status = assert_status(
        batch(
            &app,
            vec![
                json_event("invoice.paid", "{}"),
                json_event("invoice.paid", "{}"),
                json_event("invoice.unknown", "{}"),
            ],
        )
        .await,
        Code::InvalidArgument,
        "",
    );
    assert_eq!(violated_fields(&status), vec!["events[2].type".to_owned()]);
    let status = assert_status(
        batch(
            &app,
            vec![with_id(json_event("invoice.paid", "{}"), "bad id")],
        )
        .await,
        Code::InvalidArgument,
        "",
    );
    assert_eq!(violated_fields(&status), vec!["events[0].id".to_owned()]);
    // A batch of one is still a batch: its paths name `events[0]`.
    let status = assert_status(
        batch(&app, vec![json_event("invoice.unknown", "{}")]).await,
        Code::InvalidArgument,
        "",
    );
    assert_eq!(violated_fields(&status), vec!["events[0].type".to_owned()]);
    assert!(all_events(&app).await.is_empty(), "nothing was stored");
    assert!(list_deliveries(&app, "").await.is_empty());
    receiver.assert_stays_at(0, QUIET_WINDOW).await;

    // The maximum size is accepted.
    let full: Vec<Event> = (0..1000)
        .map(|i| json_event("invoice.paid", &format!("{{\"i\":{i}}}")))
        .collect();
    let response = batch(&app, full).await.expect("1,000 events are allowed");
    assert_eq!(response.results.len(), 1000);
    assert_eq!(all_events(&app).await.len(), 1000);
}

async fn duplicate_ids_within_a_batch(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    subscribe(&app, SubSpec::new("all", receiver.url("/all"), &["*"])).await;

    let response = batch(
        &app,
        vec![
            with_id(json_event("invoice.paid", r#"{"first":true}"#), "dup"),
            with_id(json_event("invoice.paid", r#"{"second":true}"#), "dup"),
        ],
    )
    .await
    .expect("batch publish");
    assert_eq!(response.results.len(), 2);
    assert!(!response.results[0].duplicate);
    assert!(response.results[1].duplicate);
    let first = response.results[0].event.as_ref().unwrap();
    let second = response.results[1].event.as_ref().unwrap();
    assert_eq!(second.id, "dup");
    assert_eq!(data_json(second), r#"{"first":true}"#);
    assert_eq!(second.create_time, first.create_time);
    assert_eq!(list_deliveries(&app, "dup").await.len(), 1);
    let received = receiver.wait_for(1, WEBHOOK_DEADLINE).await;
    receiver.assert_stays_at(1, QUIET_WINDOW).await;
    assert_eq!(
        received[0].json()["data"],
        serde_json::json!({"first": true})
    );
    assert_eq!(all_events(&app).await.len(), 1);
}

// ---------------------------------------------------------------- routing

async fn events_route_to_matching_enabled_subscriptions(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "invoice.sent", None).await;
    create_type(&app, "user.created", None).await;
    subscribe(
        &app,
        SubSpec::new("exact", receiver.url("/exact"), &["invoice.paid"]),
    )
    .await;
    subscribe(
        &app,
        SubSpec::new("wild", receiver.url("/wild"), &["invoice.*"]),
    )
    .await;
    subscribe(&app, SubSpec::new("star", receiver.url("/star"), &["*"])).await;
    let mut disabled = SubSpec::new("disabled", receiver.url("/disabled"), &["invoice.paid"]);
    disabled.enabled = Some(false);
    subscribe(&app, disabled).await;
    let mut scoped = SubSpec::new("scoped", receiver.url("/scoped"), &["invoice.paid"]);
    scoped.scope = "s1";
    subscribe(&app, scoped).await;
    let mut scoped_other = SubSpec::new("scoped2", receiver.url("/scoped2"), &["*"]);
    scoped_other.scope = "s2";
    subscribe(&app, scoped_other).await;
    subscribe(
        &app,
        SubSpec::new("users", receiver.url("/users"), &["user.*"]),
    )
    .await;

    let unscoped = publish_ok(&app, json_event("invoice.paid", "{}")).await;
    assert_eq!(unscoped.subscription_count, 3);
    let received = receiver.wait_for(3, WEBHOOK_DEADLINE).await;
    receiver.assert_stays_at(3, QUIET_WINDOW).await;
    assert_eq!(
        paths(&received),
        BTreeSet::from(["/exact", "/wild", "/star"].map(String::from))
    );

    let in_s1 = publish_ok(&app, with_scope(json_event("invoice.paid", "{}"), "s1")).await;
    assert_eq!(in_s1.subscription_count, 4);
    let received = receiver.wait_for(7, WEBHOOK_DEADLINE).await;
    receiver.assert_stays_at(7, QUIET_WINDOW).await;
    let s1_id = in_s1.event.unwrap().id;
    let s1_paths: BTreeSet<String> = received
        .iter()
        .filter(|r| r.header("webhook-id") == Some(s1_id.as_str()))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        s1_paths,
        BTreeSet::from(["/exact", "/wild", "/star", "/scoped"].map(String::from))
    );
    for webhook in &received {
        if webhook.path == "/scoped" {
            assert_eq!(webhook.json()["scope"], "s1");
        }
    }

    let sent = publish_ok(&app, json_event("invoice.sent", "{}")).await;
    assert_eq!(sent.subscription_count, 2, "wildcard + star");
    let user = publish_ok(&app, json_event("user.created", "{}")).await;
    assert_eq!(user.subscription_count, 2, "star + user.*");
    let received = receiver.wait_for(11, WEBHOOK_DEADLINE).await;
    receiver.assert_stays_at(11, QUIET_WINDOW).await;
    let count = |path: &str| received.iter().filter(|r| r.path == path).count();
    assert_eq!(
        count("/disabled"),
        0,
        "a disabled subscription gets nothing"
    );
    assert_eq!(count("/scoped2"), 0, "no s2 events were published");
    assert_eq!(count("/star"), 4);
    assert_eq!(count("/users"), 1);
}

/// A `*` subscription does not receive hookrelay's own operational events;
/// a `hookrelay.*` one does. A 410 Gone disables a subscription, which
/// publishes `hookrelay.subscription.disabled`.
async fn star_does_not_receive_operational_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    let gone = TestReceiver::start().await;
    gone.set_default(Reply::status(410));
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "shipment.lost", None).await;
    subscribe(&app, SubSpec::new("star", receiver.url("/star"), &["*"])).await;
    subscribe(
        &app,
        SubSpec::new("ops", receiver.url("/ops"), &["hookrelay.*"]),
    )
    .await;
    let doomed = subscribe(
        &app,
        SubSpec::new("doomed", gone.url("/gone"), &["shipment.lost"]),
    )
    .await;

    let published = publish_ok(&app, json_event("shipment.lost", "{}")).await;
    assert_eq!(published.subscription_count, 2, "star + doomed, not ops");
    gone.wait_for(1, WEBHOOK_DEADLINE).await;

    let deadline = tokio::time::Instant::now() + WEBHOOK_DEADLINE;
    let ops = loop {
        let got = receiver.received();
        if let Some(ops) = got.iter().find(|r| r.path == "/ops") {
            break ops.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no operational event arrived; got {:?}",
            paths(&got)
        );
        receiver.wait_for(got.len() + 1, WEBHOOK_DEADLINE).await;
    };
    let envelope = ops.json();
    assert_eq!(envelope["type"], "hookrelay.subscription.disabled");
    assert_eq!(envelope["data"]["subscription_id"], doomed.id.as_str());

    let now_doomed = app
        .subscriptions()
        .get_subscription(app.req(GetSubscriptionRequest {
            id: doomed.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(now_doomed.enabled, Some(false));

    // The star receives the shipment event only.
    receiver.assert_stays_at(2, QUIET_WINDOW).await;
    let star: Vec<String> = receiver
        .received()
        .iter()
        .filter(|r| r.path == "/star")
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(star, vec!["shipment.lost".to_owned()]);
}

// ---------------------------------------------------------------- listing

async fn list_events_pages_and_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "user.created", None).await;

    let specs = [
        ("invoice.paid", ""),
        ("user.created", "s1"),
        ("invoice.paid", "s1"),
        ("user.created", ""),
        ("invoice.paid", "s2"),
    ];
    let mut published = Vec::new();
    for (index, (event_type, scope)) in specs.iter().enumerate() {
        let mut event = json_event(event_type, &format!("{{\"i\":{index}}}"));
        event.scope = (*scope).to_owned();
        published.push(publish_ok(&app, event).await.event.unwrap());
    }
    let ids: Vec<String> = published.iter().map(|e| e.id.clone()).collect();

    // Pages of two, oldest first, each event once.
    let token = app.tenant.token.clone();
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let (page, next) = list_events_as(
            &app,
            &token,
            ListEventsRequest {
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("list page");
        pages += 1;
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|e| e.id.clone()));
        if next.is_empty() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
        page_token = next;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "each event once, in publish order");

    let list = |request: ListEventsRequest| {
        let app = &app;
        let token = token.clone();
        async move {
            list_events_as(app, &token, request)
                .await
                .expect("list")
                .0
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    let by_type = list(ListEventsRequest {
        r#type: "invoice.paid".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(
        by_type,
        vec![ids[0].clone(), ids[2].clone(), ids[4].clone()]
    );
    let by_scope = list(ListEventsRequest {
        scope: "s1".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_scope, vec![ids[1].clone(), ids[2].clone()]);
    let both = list(ListEventsRequest {
        r#type: "invoice.paid".to_owned(),
        scope: "s1".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(both, vec![ids[2].clone()]);
    let none = list(ListEventsRequest {
        r#type: "no.such".to_owned(),
        ..Default::default()
    })
    .await;
    assert!(none.is_empty());

    // Time window: start is inclusive, end exclusive.
    let t2 = published[2].create_time;
    let t4 = published[4].create_time;
    assert!(
        micros(published[1].create_time.as_ref().unwrap()) < micros(t2.as_ref().unwrap()),
        "distinct publish times"
    );
    let from_2 = list(ListEventsRequest {
        start_time: t2,
        ..Default::default()
    })
    .await;
    assert_eq!(from_2, ids[2..].to_vec());
    let before_2 = list(ListEventsRequest {
        end_time: t2,
        ..Default::default()
    })
    .await;
    assert_eq!(before_2, ids[..2].to_vec());
    let window = list(ListEventsRequest {
        start_time: t2,
        end_time: t4,
        ..Default::default()
    })
    .await;
    assert_eq!(window, ids[2..4].to_vec());
    // A window with a filter pages too.
    let (first, next) = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: 1,
            start_time: t2,
            r#type: "invoice.paid".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        first.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone()]
    );
    let (second, last) = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: 1,
            page_token: next,
            start_time: t2,
            r#type: "invoice.paid".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        second.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone()]
    );
    assert!(last.is_empty());

    // Bad page tokens and sizes.
    for bad in ["not a token", "!!!", "AAAA"] {
        let result = list_events_as(
            &app,
            &token,
            ListEventsRequest {
                page_token: bad.to_owned(),
                ..Default::default()
            },
        )
        .await;
        assert_invalid(result, "page_token");
    }
    // A token of the right shape whose key is not an event position.
    let (_, real) = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&real).expect("base64 token")).unwrap();
    // The token wraps the first event's position; keep the wrapper, swap the key.
    let position = format!(
        "{}:{}",
        micros(published[0].create_time.as_ref().unwrap()),
        ids[0]
    );
    let wrapper = decoded
        .strip_suffix(&position)
        .unwrap_or_else(|| panic!("token {decoded:?} does not end with {position:?}"));
    let forged = URL_SAFE_NO_PAD.encode(format!("{wrapper}garbage"));
    let result = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_token: forged,
            ..Default::default()
        },
    )
    .await;
    assert_invalid(result, "page_token");
    let result = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: -1,
            ..Default::default()
        },
    )
    .await;
    assert_invalid(result, "page_size");
}

// ---------------------------------------------------------------- tenancy and auth

async fn tenants_and_capabilities_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "invoice.paid", None).await;
    let event = publish_ok(&app, json_event("invoice.paid", r#"{"secret":1}"#))
        .await
        .event
        .unwrap();

    // Another tenant sees nothing of ours.
    let other = app.new_tenant("globex").await;
    assert_status(
        get_event_as(&app, &other.token, &event.id).await,
        Code::NotFound,
        "",
    );
    let (theirs, next) = list_events_as(&app, &other.token, ListEventsRequest::default())
        .await
        .expect("list");
    assert!(theirs.is_empty() && next.is_empty());

    // Capabilities.
    let read_only = app.new_key(&app.tenant.id, "read", None).await;
    let publish_only = app.new_key(&app.tenant.id, "publish", None).await;
    let manage_only = app.new_key(&app.tenant.id, "manage", None).await;
    for token in [&read_only, &manage_only] {
        assert_status(
            publish_as(&app, token, json_event("invoice.paid", "{}")).await,
            Code::PermissionDenied,
            "",
        );
        let batch_result = events(&app)
            .batch_publish_events(authed(
                token,
                BatchPublishEventsRequest {
                    events: vec![json_event("invoice.paid", "{}")],
                },
            ))
            .await;
        assert_status(batch_result, Code::PermissionDenied, "");
    }
    get_event_as(&app, &read_only, &event.id)
        .await
        .expect("a read key reads");
    assert_status(
        get_event_as(&app, &publish_only, &event.id).await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        list_events_as(&app, &publish_only, ListEventsRequest::default()).await,
        Code::PermissionDenied,
        "",
    );
    publish_as(&app, &publish_only, json_event("invoice.paid", "{}"))
        .await
        .expect("a publish key publishes");

    // No or bad token.
    let anonymous = events(&app)
        .get_event(GetEventRequest {
            id: event.id.clone(),
        })
        .await;
    assert_status(anonymous, Code::Unauthenticated, "");
    assert_status(
        publish_as(
            &app,
            "hr_not_a_real_token",
            json_event("invoice.paid", "{}"),
        )
        .await,
        Code::Unauthenticated,
        "",
    );
    assert_eq!(
        all_events(&app).await.len(),
        2,
        "only the two allowed publishes"
    );
}

async fn scoped_keys_stay_in_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    let mut s1 = SubSpec::new("s1", receiver.url("/s1"), &["*"]);
    s1.scope = "s1";
    subscribe(&app, s1).await;
    let scoped = app
        .new_key(&app.tenant.id, "publish,read", Some("s1"))
        .await;

    let mine = publish_as(&app, &scoped, json_event("invoice.paid", "{}"))
        .await
        .expect("a scoped key publishes");
    let mine = {
        assert_eq!(mine.subscription_count, 1);
        mine.event.unwrap()
    };
    assert_eq!(mine.scope, "s1", "the key's scope applies when omitted");
    let explicit = publish_as(
        &app,
        &scoped,
        with_scope(json_event("invoice.paid", "{}"), "s1"),
    )
    .await
    .expect("its own scope explicitly");
    assert_eq!(explicit.event.unwrap().scope, "s1");
    let received = receiver.wait_for(2, WEBHOOK_DEADLINE).await;
    assert_eq!(received[0].json()["scope"], "s1");

    assert_status(
        publish_as(
            &app,
            &scoped,
            with_scope(json_event("invoice.paid", "{}"), "s2"),
        )
        .await,
        Code::PermissionDenied,
        "",
    );
    let batch_result = events(&app)
        .batch_publish_events(authed(
            &scoped,
            BatchPublishEventsRequest {
                events: vec![
                    json_event("invoice.paid", "{}"),
                    with_scope(json_event("invoice.paid", "{}"), "s2"),
                ],
            },
        ))
        .await;
    assert_status(batch_result, Code::PermissionDenied, "");

    // Events outside the key's scope are invisible.
    let s2 = publish_ok(&app, with_scope(json_event("invoice.paid", "{}"), "s2"))
        .await
        .event
        .unwrap();
    let unscoped = publish_ok(&app, json_event("invoice.paid", "{}"))
        .await
        .event
        .unwrap();
    assert_status(
        get_event_as(&app, &scoped, &s2.id).await,
        Code::NotFound,
        "",
    );
    assert_status(
        get_event_as(&app, &scoped, &unscoped.id).await,
        Code::NotFound,
        "",
    );
    get_event_as(&app, &scoped, &mine.id)
        .await
        .expect("its own scope is visible");
    let (visible, _) = list_events_as(&app, &scoped, ListEventsRequest::default())
        .await
        .expect("list");
    assert_eq!(visible.len(), 2);
    assert!(visible.iter().all(|e| e.scope == "s1"), "{visible:?}");
    assert_status(
        list_events_as(
            &app,
            &scoped,
            ListEventsRequest {
                scope: "s2".to_owned(),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "",
    );
    // The full key sees all four, and the rejected ones were never stored.
    let all = all_events(&app).await;
    assert_eq!(all.len(), 4);
    let by_scope: BTreeMap<String, usize> = all.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e.scope.clone()).or_default() += 1;
        m
    });
    assert_eq!(
        by_scope,
        BTreeMap::from([
            ("".to_owned(), 1),
            ("s1".to_owned(), 2),
            ("s2".to_owned(), 1)
        ])
    );
    receiver.assert_stays_at(2, QUIET_WINDOW).await;
}

on_both_databases!(
    struct_payload_is_stored_and_delivered_as_envelope,
    json_text_payload_is_kept_byte_for_byte,
    invalid_events_are_rejected_and_nothing_is_stored,
    payloads_are_validated_against_the_json_schema,
    oversized_payloads_are_resource_exhausted,
    republishing_an_id_returns_the_original,
    batch_publish_returns_results_in_order,
    batch_limits_and_atomicity,
    duplicate_ids_within_a_batch,
    events_route_to_matching_enabled_subscriptions,
    star_does_not_receive_operational_events,
    list_events_pages_and_filters,
    tenants_and_capabilities_are_enforced,
    scoped_keys_stay_in_their_scope,
);
