//! Payload filters (issue 12): a subscription receives only the events
//! whose data its filter accepts. Filtered-out events create no delivery
//! and are not counted in `subscription_count`; bad filters are refused
//! with the place in the filter named; UpdateSubscription sets and clears
//! a filter and the very next publish obeys it; PreviewDelivery says
//! whether a sample event matches. On both databases.

mod common;

use common::builders::to_struct;
use common::publishing::*;
use common::receiver::TestReceiver;
use common::subscribing::{create_sub, get, stored_row, try_create, update};
use common::{Backend, spawn_app, violations};
use hookrelay::proto::{PreviewDeliveryRequest, Subscription};
use hookrelay::store::subscription;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;

const DEADLINE: Duration = Duration::from_secs(10);
const TYPE: &str = "order.created";

fn filtered(receiver: &TestReceiver, name: &str, filter: Value) -> Subscription {
    Subscription {
        name: name.to_owned(),
        url: receiver.url(&format!("/{name}")),
        event_types: vec![TYPE.to_owned()],
        filter: Some(to_struct(filter)),
        ..Default::default()
    }
}

/// The sample order every operator is tried on.
const ORDER: &str = r#"{"amount":1500,"plan":"pro","sku":"pro-annual","seats":12,
  "customer":{"country":"DE","vat":"DE123"},"items":[{"sku":"a"},{"sku":"b"}],
  "coupon":null,"version":"2","a.b":true}"#;

/// (name, filter, whether ORDER matches it).
fn cases() -> Vec<(&'static str, Value, bool)> {
    vec![
        ("bare-eq", json!({"plan": "pro"}), true),
        ("bare-eq-no", json!({"plan": "free"}), false),
        ("eq", json!({"amount": {"$eq": 1500}}), true),
        ("eq-no", json!({"amount": {"$eq": 1501}}), false),
        ("ne", json!({"plan": {"$ne": "free"}}), true),
        ("ne-no", json!({"plan": {"$ne": "pro"}}), false),
        ("ne-missing", json!({"missing": {"$ne": 1}}), true),
        (
            "in",
            json!({"customer.country": {"$in": ["DE", "FR"]}}),
            true,
        ),
        (
            "in-no",
            json!({"customer.country": {"$in": ["US", "GB"]}}),
            false,
        ),
        ("nin", json!({"customer.country": {"$nin": ["US"]}}), true),
        (
            "nin-no",
            json!({"customer.country": {"$nin": ["DE"]}}),
            false,
        ),
        ("gt", json!({"amount": {"$gt": 1000}}), true),
        ("gt-no", json!({"amount": {"$gt": 1500}}), false),
        ("gte", json!({"amount": {"$gte": 1500}}), true),
        ("gte-no", json!({"amount": {"$gte": 1500.5}}), false),
        ("lt", json!({"seats": {"$lt": 13}}), true),
        ("lt-no", json!({"seats": {"$lt": 12}}), false),
        ("lte", json!({"seats": {"$lte": 12}}), true),
        ("lte-no", json!({"seats": {"$lte": 11.9}}), false),
        (
            "range",
            json!({"amount": {"$gte": 1000, "$lt": 2000}}),
            true,
        ),
        ("exists", json!({"customer.vat": {"$exists": true}}), true),
        (
            "exists-no",
            json!({"customer.vat": {"$exists": false}}),
            false,
        ),
        ("exists-null", json!({"coupon": {"$exists": true}}), true),
        ("not-exists", json!({"discount": {"$exists": false}}), true),
        ("prefix", json!({"sku": {"$prefix": "pro-"}}), true),
        ("prefix-no", json!({"sku": {"$prefix": "basic-"}}), false),
        ("nested", json!({"customer.vat": "DE123"}), true),
        ("index", json!({"items.1.sku": "b"}), true),
        ("index-no", json!({"items.2.sku": "b"}), false),
        ("escaped-dot", json!({"a\\.b": true}), true),
        ("missing", json!({"customer.city": "Berlin"}), false),
        ("missing-compared", json!({"discount": {"$lt": 10}}), false),
        ("string-vs-number", json!({"version": {"$gt": 1}}), false),
        ("number-vs-string", json!({"amount": "1500"}), false),
        (
            "prefix-on-number",
            json!({"amount": {"$prefix": "15"}}),
            false,
        ),
        ("null", json!({"coupon": null}), true),
        (
            "and",
            json!({"$and": [{"plan": "pro"}, {"seats": {"$gt": 10}}]}),
            true,
        ),
        (
            "and-no",
            json!({"$and": [{"plan": "pro"}, {"seats": {"$gt": 20}}]}),
            false,
        ),
        (
            "or",
            json!({"$or": [{"plan": "free"}, {"seats": {"$gt": 10}}]}),
            true,
        ),
        (
            "or-no",
            json!({"$or": [{"plan": "free"}, {"seats": {"$gt": 20}}]}),
            false,
        ),
        ("not", json!({"$not": {"plan": "free"}}), true),
        ("not-no", json!({"$not": {"plan": "pro"}}), false),
        ("empty", json!({}), true),
    ]
}

async fn each_operator_routes_only_matching_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, TYPE, None).await;
    let mut expected = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (name, filter, matches) in cases() {
        let created = create_sub(&app, filtered(&receiver, name, filter)).await;
        if matches {
            expected.insert(format!("/{name}"));
            ids.insert(created.id);
        }
    }
    let published = publish_ok(&app, json_event(TYPE, ORDER)).await;
    assert_eq!(
        published.subscription_count as usize,
        expected.len(),
        "counts only the subscriptions whose filter matched"
    );
    let event_id = published.event.expect("event").id;
    let delivered_to: BTreeSet<String> = list_deliveries(&app, &event_id)
        .await
        .into_iter()
        .map(|d| d.subscription_id)
        .collect();
    assert_eq!(
        delivered_to, ids,
        "a delivery row for each match, none else"
    );
    let received = receiver.wait_for(expected.len(), DEADLINE).await;
    assert_eq!(paths(&received), expected);

    // Data that matches none of the data-dependent filters: only the
    // filters a missing field satisfies let it through.
    let other = publish_ok(&app, json_event(TYPE, r#"{"plan":[1]}"#)).await;
    let through: BTreeSet<String> = cases()
        .into_iter()
        .filter(|(name, _, _)| {
            [
                "ne",
                "ne-no",
                "ne-missing",
                "nin",
                "nin-no",
                "not-exists",
                "exists-no",
                "not",
                "not-no",
                "empty",
            ]
            .contains(name)
        })
        .map(|(name, _, _)| name.to_owned())
        .collect();
    assert_eq!(
        other.subscription_count as usize,
        through.len(),
        "{through:?}"
    );
}

/// (filter, the violated field, the start of its description).
fn bad_filters() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (
            json!({"amount": {"$gte": "1000"}}),
            "subscription.filter.amount.$gte",
            "expects a number",
        ),
        (
            json!({"amount": {"$lt": true}}),
            "subscription.filter.amount.$lt",
            "expects a number",
        ),
        (
            json!({"amount": {"$gt": null}}),
            "subscription.filter.amount.$gt",
            "expects a number",
        ),
        (
            json!({"amount": {"$lte": [1]}}),
            "subscription.filter.amount.$lte",
            "expects a number",
        ),
        (
            json!({"sku": {"$prefix": 1}}),
            "subscription.filter.sku.$prefix",
            "expects a string",
        ),
        (
            json!({"vat": {"$exists": "yes"}}),
            "subscription.filter.vat.$exists",
            "expects true or false",
        ),
        (
            json!({"c": {"$in": "DE"}}),
            "subscription.filter.c.$in",
            "expects an array",
        ),
        (
            json!({"c": {"$nin": 3}}),
            "subscription.filter.c.$nin",
            "expects an array",
        ),
        (
            json!({"c": {"$in": (0..300).collect::<Vec<_>>()}}),
            "subscription.filter.c.$in",
            "lists 300 values",
        ),
        (
            json!({"c": {"$regex": "x"}}),
            "subscription.filter.c.$regex",
            "unknown operator",
        ),
        (
            json!({"$gte": 1}),
            "subscription.filter.$gte",
            "applies to a field",
        ),
        (
            json!({"$or": []}),
            "subscription.filter.$or",
            "expects a non-empty array",
        ),
        (
            json!({"$and": [{"a": 1}, "b"]}),
            "subscription.filter.$and[1]",
            "expects a filter",
        ),
        (
            json!({"$or": [{"a": {"$eq": 1, "b": 2}}]}),
            "subscription.filter.$or[0].a",
            "mixes operators",
        ),
        (
            json!({"$not": 1}),
            "subscription.filter.$not",
            "expects a filter",
        ),
        (
            json!({"a": {}}),
            "subscription.filter.a",
            "expects at least one operator",
        ),
        (
            json!({"a..b": 1}),
            "subscription.filter.a..b",
            "a field path has an empty segment",
        ),
        (
            json!({"a": {"$not": {"$eq": 1}}}),
            "subscription.filter.a.$not",
            "combines filters",
        ),
        (
            json!({"a": "x".repeat(17_000)}),
            "subscription.filter",
            "is 17008 bytes",
        ),
        (
            json!({"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"$not": {"a": 1}}}}}}}}}}),
            "subscription.filter.$not.$not.$not.$not.$not.$not.$not.$not.$not",
            "$and, $or and $not nest at most 8",
        ),
        (
            Value::Object((0..300).map(|i| (format!("f{i}"), json!(i))).collect()),
            "subscription.filter",
            "has more than 256 conditions",
        ),
    ]
}

async fn bad_filters_are_refused_naming_the_place(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, TYPE, None).await;
    let saved = create_sub(&app, filtered(&receiver, "ok", json!({"plan": "pro"}))).await;
    for (filter, field, description) in bad_filters() {
        let on_create = try_create(&app, filtered(&receiver, "bad", filter.clone())).await;
        let change = Subscription {
            id: saved.id.clone(),
            filter: Some(to_struct(filter.clone())),
            ..Default::default()
        };
        let on_update = update(&app, change, &["filter"]).await;
        for (call, result) in [
            ("create", on_create.map(drop)),
            ("update", on_update.map(drop)),
        ] {
            let status = result.expect_err(&format!("{call} {field}"));
            assert_eq!(status.code(), Code::InvalidArgument, "{call} {field}");
            let found = violations(&status);
            assert!(
                found
                    .iter()
                    .any(|(f, d)| f == field && d.starts_with(description)),
                "{call}: expected {field}: {description}, got {found:?}"
            );
        }
    }
    // Nothing was changed by the refused updates.
    let kept = get(&app, &saved.id).await.expect("get");
    assert_eq!(kept.filter, Some(to_struct(json!({"plan": "pro"}))));
}

async fn a_filter_is_set_changed_and_cleared_and_the_next_publish_obeys(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, TYPE, None).await;
    let sub = create_sub(
        &app,
        Subscription {
            filter: None,
            ..filtered(&receiver, "s", json!({}))
        },
    )
    .await;
    assert_eq!(sub.filter, None, "no filter");
    let fan_out = |data: &'static str| {
        let app = &app;
        async move {
            publish_ok(app, json_event(TYPE, data))
                .await
                .subscription_count
        }
    };
    let free = r#"{"plan":"free","amount":5}"#;
    let pro = r#"{"plan":"pro","amount":5000}"#;
    assert_eq!(fan_out(free).await, 1);

    // Set: the routing kept in memory follows at once.
    let with = |filter: Option<Value>| Subscription {
        id: sub.id.clone(),
        filter: filter.map(to_struct),
        ..Default::default()
    };
    let set = update(&app, with(Some(json!({"plan": "pro"}))), &["filter"])
        .await
        .expect("set");
    assert_eq!(set.filter, Some(to_struct(json!({"plan": "pro"}))));
    assert_eq!(fan_out(free).await, 0);
    assert_eq!(fan_out(pro).await, 1);

    // Changed.
    let changed = json!({"amount": {"$lt": 100}});
    update(&app, with(Some(changed.clone())), &["filter"])
        .await
        .expect("change");
    assert_eq!(fan_out(free).await, 1);
    assert_eq!(fan_out(pro).await, 0);

    // Another field's update keeps the filter.
    let renamed = Subscription {
        name: "renamed".to_owned(),
        ..with(None)
    };
    let kept = update(&app, renamed, &["name"]).await.expect("rename");
    assert_eq!(kept.filter, Some(to_struct(changed)));
    assert_eq!(fan_out(pro).await, 0);

    // Cleared, by the mask with no value, and by `{}`.
    for clear in [None, Some(json!({}))] {
        update(&app, with(Some(json!({"plan": "none"}))), &["filter"])
            .await
            .expect("set again");
        assert_eq!(fan_out(pro).await, 0);
        let cleared = update(&app, with(clear), &["filter"]).await.expect("clear");
        assert_eq!(cleared.filter, None);
        assert_eq!(get(&app, &sub.id).await.expect("get").filter, None);
        assert_eq!(fan_out(pro).await, 1);
    }
    // A write to the column alone moves the routing stamp too (the
    // trigger watches it), whichever code path makes it.
    let mut row: subscription::ActiveModel = stored_row(&app, &sub.id).await.expect("row").into();
    row.payload_filter = Set(Some(r#"{"plan":"none"}"#.to_owned()));
    row.update(&app.db).await.expect("write the column");
    assert_eq!(fan_out(pro).await, 0);

    // Before any filter, pro through {"plan": "pro"}, free through
    // {"amount": {"$lt": 100}}, and pro after each clearing.
    receiver.wait_for(5, DEADLINE).await;
}

async fn preview_says_whether_a_sample_event_matches(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, TYPE, None).await;
    let saved = create_sub(
        &app,
        filtered(&receiver, "p", json!({"amount": {"$gte": 1000}})),
    )
    .await;
    let unfiltered = create_sub(
        &app,
        Subscription {
            filter: None,
            ..filtered(&receiver, "u", json!({}))
        },
    )
    .await;
    let preview = |id: &str, subscription: Option<Subscription>, data: Value| {
        let request = PreviewDeliveryRequest {
            id: id.to_owned(),
            subscription,
            event: Some(struct_event(TYPE, data)),
            test_secret: String::new(),
        };
        let app = &app;
        async move {
            app.subscriptions()
                .preview_delivery(app.req(request))
                .await
                .expect("preview")
                .into_inner()
                .filter_matches
        }
    };
    assert!(preview(&saved.id, None, json!({"amount": 1000})).await);
    assert!(!preview(&saved.id, None, json!({"amount": 999})).await);
    assert!(!preview(&saved.id, None, json!({})).await);
    assert!(preview(&unfiltered.id, None, json!({"amount": 1})).await);
    // An unsaved subscription tries a filter before creating it.
    let unsaved = filtered(&receiver, "x", json!({"tags": {"$in": ["a", "b"]}}));
    assert!(preview("", Some(unsaved.clone()), json!({"tags": "b"})).await);
    assert!(!preview("", Some(unsaved), json!({"tags": "c"})).await);
}

on_both_databases!(
    each_operator_routes_only_matching_events,
    bad_filters_are_refused_naming_the_place,
    a_filter_is_set_changed_and_cleared_and_the_next_publish_obeys,
    preview_says_whether_a_sample_event_matches,
);
