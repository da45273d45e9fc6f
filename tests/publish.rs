//! EventService end to end, publishing: Struct and JSON text payloads,
//! validation, idempotency, batches and routing to subscriptions, with
//! webhooks received by a local test receiver, on both databases.

mod common;

use common::builders::*;

use common::publishing::*;
use common::receiver::{Reply, TestReceiver};
use common::{Backend, assert_status, authed, spawn_app, spawn_app_with, violated_fields};
use hookrelay::proto::{
    CreateEventTypeRequest, DeleteEventTypeRequest, Event, EventType, GetSubscriptionRequest,
    PublishEventRequest,
};
use std::collections::{BTreeMap, BTreeSet};
use tonic::Code;

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
    assert_settled_at(&app, &receiver, 2).await;
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
        // (Only the field itself: the timestamp may well hold "42.0".)
        assert!(!text.contains(r#""amount":42.0"#), "body {text}");
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
    assert_settled_at(&app, &receiver, 0).await;

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
    assert_settled_at(&app, &receiver, 0).await;

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
    assert_settled_at(&app, &receiver, 0).await;

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
    assert_settled_at(&app, &receiver, 2).await;
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
    assert_settled_at(&app, &receiver, 2).await;
}

// ---------------------------------------------------------------- batches

/// Many publishes of one caller id at the same moment, among others, so
/// that they land in one group and in several: one event is stored and
/// delivered once, and every caller gets it back.
async fn simultaneous_publishes_of_one_id_store_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    subscribe(&app, SubSpec::new("a", receiver.url("/a"), &["*"])).await;

    let mut calls = tokio::task::JoinSet::new();
    for n in 0..96 {
        let client = events(&app);
        let token = app.tenant.token.clone();
        calls.spawn(async move {
            let event = if n % 3 == 0 {
                with_id(json_event("invoice.paid", r#"{"v":"same"}"#), "same-id")
            } else {
                json_event("invoice.paid", &format!(r#"{{"n":{n}}}"#))
            };
            let mut client = client;
            client
                .publish_event(authed(&token, PublishEventRequest { event: Some(event) }))
                .await
                .map(|r| r.into_inner())
        });
    }
    let mut same = Vec::new();
    while let Some(call) = calls.join_next().await {
        let response = call.expect("task").expect("every publish succeeds");
        let event = response.event.clone().expect("event");
        if event.id == "same-id" {
            same.push(response);
        }
    }
    assert_eq!(same.len(), 32);
    assert_eq!(
        same.iter().filter(|r| !r.duplicate).count(),
        1,
        "exactly one publish stored it"
    );
    assert!(same.iter().all(|r| r.subscription_count == 1));
    let received = receiver.wait_for(65, WEBHOOK_DEADLINE).await;
    assert_settled_at(&app, &receiver, 65).await;
    let same_deliveries = received
        .iter()
        .filter(|r| r.header("webhook-id") == Some("same-id"))
        .count();
    assert_eq!(same_deliveries, 1, "delivered once");
    assert_eq!(all_events(&app).await.len(), 65);
}

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
    assert_settled_at(&app, &receiver, 5).await;
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
    assert_settled_at(&app, &receiver, 0).await;

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
    assert_settled_at(&app, &receiver, 1).await;
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
    assert_settled_at(&app, &receiver, 3).await;
    assert_eq!(
        paths(&received),
        BTreeSet::from(["/exact", "/wild", "/star"].map(String::from))
    );

    let in_s1 = publish_ok(&app, with_scope(json_event("invoice.paid", "{}"), "s1")).await;
    assert_eq!(in_s1.subscription_count, 4);
    let received = receiver.wait_for(7, WEBHOOK_DEADLINE).await;
    assert_settled_at(&app, &receiver, 7).await;
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
    assert_settled_at(&app, &receiver, 11).await;
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
    assert_settled_at(&app, &receiver, 2).await;
    let star: Vec<String> = receiver
        .received()
        .iter()
        .filter(|r| r.path == "/star")
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(star, vec!["shipment.lost".to_owned()]);
}

on_both_databases!(
    struct_payload_is_stored_and_delivered_as_envelope,
    json_text_payload_is_kept_byte_for_byte,
    invalid_events_are_rejected_and_nothing_is_stored,
    payloads_are_validated_against_the_json_schema,
    oversized_payloads_are_resource_exhausted,
    republishing_an_id_returns_the_original,
    simultaneous_publishes_of_one_id_store_it_once,
    batch_publish_returns_results_in_order,
    batch_limits_and_atomicity,
    duplicate_ids_within_a_batch,
    events_route_to_matching_enabled_subscriptions,
    star_does_not_receive_operational_events,
);
