//! Publishing keeps each tenant's routing (its enabled subscriptions and its
//! catalog) in memory between publishes, and the dispatcher keeps each
//! subscription prepared (settings parsed, secrets decrypted). These
//! scenarios change subscriptions and the catalog in every way the API
//! allows and check that the very next publish follows the change: on both
//! databases, and on Postgres when the change is made through another
//! replica.

mod common;

use base64::Engine;
use common::publishing::*;
use common::receiver::{TestReceiver, verify_standard};
use common::subscribing::{create, mask};
use common::{Backend, TestApp, authed, spawn_app_with, spawn_replica, violated_fields};
use hookrelay::config::Settings;
use hookrelay::domain::SecretCipher;
use hookrelay::proto::event_type_service_client::EventTypeServiceClient;
use hookrelay::proto::subscription_service_client::SubscriptionServiceClient;
use hookrelay::proto::{
    CreateEventTypeRequest, DeleteSubscriptionRequest, EventType, RotateSubscriptionSecretRequest,
    Subscription, UpdateEventTypeRequest, UpdateSubscriptionRequest,
};
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;

const DEADLINE: Duration = Duration::from_secs(10);

/// How many subscriptions a publish of `event_type` fanned out to.
async fn fan_out(app: &TestApp, event_type: &str) -> u32 {
    publish_ok(app, json_event(event_type, r#"{"id":1}"#))
        .await
        .subscription_count
}

fn to(receiver: &TestReceiver, path: &str, event_types: &[&str]) -> Subscription {
    Subscription {
        name: path.trim_start_matches('/').to_owned(),
        url: receiver.url(path),
        event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    }
}

/// Updates through `channel` (the app's, or another replica's).
async fn update_subscription(
    channel: Channel,
    token: &str,
    subscription: Subscription,
    paths: &[&str],
) {
    SubscriptionServiceClient::new(channel)
        .update_subscription(authed(
            token,
            UpdateSubscriptionRequest {
                subscription: Some(subscription),
                update_mask: mask(paths),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("update {paths:?}: {s:?}"));
}

async fn update_event_type(channel: Channel, token: &str, event_type: EventType, paths: &[&str]) {
    EventTypeServiceClient::new(channel)
        .update_event_type(authed(
            token,
            UpdateEventTypeRequest {
                event_type: Some(event_type),
                update_mask: mask(paths),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("update event type {paths:?}: {s:?}"));
}

async fn the_next_publish_follows_every_change(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.tenant.token.clone();
    let receiver = TestReceiver::start().await;
    create_type(&app, "order.created", None).await;
    create_type(&app, "order.shipped", None).await;
    let a = create(&app, to(&receiver, "/a", &["order.created"]))
        .await
        .subscription
        .expect("a");
    assert_eq!(fan_out(&app, "order.created").await, 1);

    // Its event types change.
    let retyped = Subscription {
        id: a.id.clone(),
        event_types: vec!["order.shipped".to_owned()],
        ..Default::default()
    };
    update_subscription(app.channel(), &token, retyped, &["event_types"]).await;
    assert_eq!(fan_out(&app, "order.created").await, 0);
    assert_eq!(fan_out(&app, "order.shipped").await, 1);

    // Disabled, then enabled again.
    for (enabled, expected) in [(false, 0), (true, 1)] {
        let toggled = Subscription {
            id: a.id.clone(),
            enabled: Some(enabled),
            ..Default::default()
        };
        update_subscription(app.channel(), &token, toggled, &["enabled"]).await;
        assert_eq!(fan_out(&app, "order.shipped").await, expected, "{enabled}");
    }

    // Another subscription, then the first one deleted.
    let b = create(&app, to(&receiver, "/b", &["order.*"])).await;
    let b_id = b.subscription.as_ref().expect("b").id.clone();
    assert_eq!(fan_out(&app, "order.shipped").await, 2);
    app.subscriptions()
        .delete_subscription(app.req(DeleteSubscriptionRequest { id: a.id.clone() }))
        .await
        .expect("delete a");
    assert_eq!(fan_out(&app, "order.shipped").await, 1);

    // The catalog: a new type is accepted at once, a schema applies at once,
    // and so do archiving and unarchiving.
    assert_invalid(
        publish(&app, json_event("order.paid", "{}")).await,
        "event.type",
    );
    create_type(&app, "order.paid", None).await;
    assert_eq!(fan_out(&app, "order.paid").await, 1);
    let schema = common::builders::to_struct(serde_json::json!({
        "type": "object",
        "required": ["carrier"]
    }));
    let with_schema = EventType {
        name: "order.shipped".to_owned(),
        json_schema: Some(schema),
        ..Default::default()
    };
    update_event_type(app.channel(), &token, with_schema, &["json_schema"]).await;
    assert_invalid(
        publish(&app, json_event("order.shipped", "{}")).await,
        "event.data",
    );
    let shipped = publish_ok(&app, json_event("order.shipped", r#"{"carrier":"ups"}"#)).await;
    assert_eq!(shipped.subscription_count, 1);
    for archived in [true, false] {
        let toggled = EventType {
            name: "order.paid".to_owned(),
            archived,
            ..Default::default()
        };
        update_event_type(app.channel(), &token, toggled, &["archived"]).await;
        let result = publish(&app, json_event("order.paid", "{}")).await;
        if archived {
            let status = result.expect_err("an archived type is refused");
            assert_eq!(status.code(), Code::InvalidArgument);
            assert_eq!(violated_fields(&status), vec!["event.type".to_owned()]);
        } else {
            assert_eq!(result.expect("unarchived").subscription_count, 1);
        }
    }

    // The next delivery after a rotation without overlap is signed with the
    // new secret only: the dispatcher does not keep signing with the old one.
    let rotated = app
        .subscriptions()
        .rotate_subscription_secret(app.req(RotateSubscriptionSecretRequest {
            id: b_id.clone(),
            secret: String::new(),
            overlap: Some(prost_types::Duration {
                seconds: 0,
                nanos: 0,
            }),
        }))
        .await
        .expect("rotate")
        .into_inner()
        .secret;
    let last = publish_ok(&app, json_event("order.created", "{}")).await;
    let last_id = last.event.expect("event").id;
    // a: created, shipped, shipped(enabled), shipped(2); b: shipped(2),
    // shipped, paid, shipped(carrier), paid(unarchived), created.
    let received = receiver.wait_for(10, DEADLINE).await;
    let to_b: Vec<_> = received
        .iter()
        .filter(|r| r.path == "/b" && r.header("webhook-id") == Some(last_id.as_str()))
        .collect();
    assert_eq!(to_b.len(), 1, "the last event reached b once");
    assert_eq!(
        verify_standard(&rotated, to_b[0]),
        1,
        "signed with the new secret"
    );
    assert_eq!(
        verify_standard(&b.secret, to_b[0]),
        0,
        "not with the old one"
    );
    assert_eq!(
        to_b[0]
            .header("webhook-signature")
            .expect("signature")
            .split(' ')
            .count(),
        1,
        "one signature: the old secret's overlap was zero"
    );

    // A group too big to check the stamps in its write statement (already
    // 600 deliveries with the kept routing) follows a change too.
    create(&app, to(&receiver, "/c", &["order.created"])).await;
    assert_eq!(fan_out(&app, "order.created").await, 2, "b and c");
    create(&app, to(&receiver, "/d", &["order.*"])).await;
    let big = batch(
        &app,
        (0..300)
            .map(|n| json_event("order.created", &format!(r#"{{"n":{n}}}"#)))
            .collect(),
    )
    .await
    .expect("batch");
    assert_eq!(big.results.len(), 300);
    assert!(
        big.results.iter().all(|r| r.subscription_count == 3),
        "b, c and the new d"
    );
    receiver.wait_for(912, DEADLINE).await;
}

on_both_databases!(the_next_publish_follows_every_change);

/// Replicas keep their own routing in memory; a change committed through one
/// is followed by the next publish through the other, with no delay.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn a_change_through_another_replica_routes_the_next_publish() {
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
    let configure = |settings: &mut Settings| settings.secret_key = Some(secret_key.clone());
    let app = spawn_app_with(Backend::Postgres, configure).await;
    let replica = spawn_replica(&app, configure).await;
    let token = app.tenant.token.clone();
    let receiver = TestReceiver::start().await;
    create_type(&app, "ticket.opened", None).await;
    create_type(&app, "ticket.closed", None).await;
    let sub = create(&app, to(&receiver, "/t", &["ticket.opened"]))
        .await
        .subscription
        .expect("subscription");
    // Both replicas route once, so both keep the tenant's routing.
    assert_eq!(fan_out(&app, "ticket.opened").await, 1);
    let through_replica = publish_as_on(replica.channel(), &token, "ticket.opened").await;
    assert_eq!(through_replica, 1);

    let retyped = Subscription {
        id: sub.id.clone(),
        event_types: vec!["ticket.closed".to_owned()],
        ..Default::default()
    };
    update_subscription(replica.channel(), &token, retyped, &["event_types"]).await;
    assert_eq!(fan_out(&app, "ticket.opened").await, 0);
    assert_eq!(fan_out(&app, "ticket.closed").await, 1);

    EventTypeServiceClient::new(replica.channel())
        .create_event_type(authed(
            &token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: "ticket.merged".to_owned(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("create through the replica");
    assert_eq!(
        fan_out(&app, "ticket.merged").await,
        0,
        "registered at once"
    );

    let disabled = Subscription {
        id: sub.id.clone(),
        enabled: Some(false),
        ..Default::default()
    };
    update_subscription(replica.channel(), &token, disabled, &["enabled"]).await;
    assert_eq!(fan_out(&app, "ticket.closed").await, 0);
    receiver.wait_for(3, DEADLINE).await;
}

async fn publish_as_on(channel: Channel, token: &str, event_type: &str) -> u32 {
    hookrelay::proto::event_service_client::EventServiceClient::new(channel)
        .publish_event(authed(
            token,
            hookrelay::proto::PublishEventRequest {
                event: Some(json_event(event_type, "{}")),
            },
        ))
        .await
        .expect("publish through the replica")
        .into_inner()
        .subscription_count
}
