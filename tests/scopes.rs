//! Scopes with a lifecycle: a registered scope's quota, and what expiry and
//! deletion do: subscriptions stop, pending deliveries are cancelled with
//! the reason recorded, scoped keys stop working, and calls naming the
//! scope are NOT_FOUND with a reason (SCOPE_EXPIRED, SCOPE_DELETED) a
//! caller can tell apart from a missing resource. Unregistered scopes keep
//! working as before.

#[macro_use]
mod common;

use common::builders::secs;
use common::delivering::wait_for_status;
use common::publishing::{create_type, publish_as, with_scope};
use common::receiver::{Reply, TestReceiver};
use common::{Backend, TestApp, authed, spawn_app, wait_until};
use hookrelay::proto::event::Payload;
use hookrelay::proto::scope_service_client::ScopeServiceClient;
use hookrelay::proto::{
    Backoff, CreateScopeRequest, CreateSubscriptionRequest, DeleteScopeRequest, DeliveryStatus,
    Event, GetScopeRequest, GetSubscriptionRequest, ListSubscriptionsRequest, RetryPolicy, Scope,
    ScopeState, Subscription, UpdateScopeRequest,
};
use std::time::{Duration, SystemTime};
use tonic::{Code, Status};
use tonic_types::StatusExt;

fn scopes(app: &TestApp) -> ScopeServiceClient<tonic::transport::Channel> {
    ScopeServiceClient::new(app.channel())
}

fn in_future(seconds: u64) -> prost_types::Timestamp {
    (SystemTime::now() + Duration::from_secs(seconds)).into()
}

async fn register(
    app: &TestApp,
    name: &str,
    expire_time: Option<prost_types::Timestamp>,
    max: u32,
) {
    scopes(app)
        .create_scope(app.req(CreateScopeRequest {
            scope: Some(Scope {
                name: name.to_owned(),
                expire_time,
                max_subscriptions: max,
                ..Default::default()
            }),
        }))
        .await
        .unwrap_or_else(|s| panic!("register {name}: {s:?}"));
}

async fn subscribe_as(
    app: &TestApp,
    token: &str,
    name: &str,
    url: &str,
    scope: &str,
) -> Result<Subscription, Status> {
    app.subscriptions()
        .create_subscription(authed(
            token,
            CreateSubscriptionRequest {
                subscription: Some(Subscription {
                    name: name.to_owned(),
                    url: url.to_owned(),
                    event_types: vec!["message.complete".to_owned()],
                    scope: scope.to_owned(),
                    // A failed attempt waits long enough to be seen pending.
                    retry_policy: Some(RetryPolicy {
                        max_attempts: 10,
                        initial_delay: Some(secs(30)),
                        max_delay: Some(secs(60)),
                        backoff: Backoff::Fixed as i32,
                        jitter: None,
                    }),
                    ..Default::default()
                }),
                secret: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner().subscription.expect("subscription"))
}

fn message(scope: &str) -> Event {
    with_scope(
        Event {
            r#type: "message.complete".to_owned(),
            payload: Some(Payload::DataJson(r#"{"text":"hi"}"#.to_owned())),
            ..Default::default()
        },
        scope,
    )
}

/// The ErrorInfo reason of a failed call, after checking its code.
#[track_caller]
fn reason<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> String {
    let status = result.expect_err("expected the call to fail");
    assert_eq!(status.code(), code, "{status:?}");
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

async fn deleting_a_scope_stops_everything_in_it(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "message.complete", None).await;
    register(&app, "ses_del", None, 0).await;
    let session = app
        .new_key(&app.tenant.id, "manage,publish,read", Some("ses_del"))
        .await;
    // A receiver that keeps failing, so a delivery waits for its retry.
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    let sub = subscribe_as(&app, &session, "failing", &receiver.url("/hook"), "")
        .await
        .expect("the session's own subscription");
    let published = publish_as(&app, &session, message("ses_del"))
        .await
        .expect("publish");
    let event_id = published.event.unwrap().id;
    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    // Its first attempt failed; it now waits, pending, for its retry.
    wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Pending,
        Duration::from_secs(10),
    )
    .await;

    scopes(&app)
        .delete_scope(app.req(DeleteScopeRequest {
            name: "ses_del".to_owned(),
        }))
        .await
        .expect("delete the scope");
    // The pending delivery is cancelled, with the reason recorded.
    let cancelled = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Cancelled,
        Duration::from_secs(10),
    )
    .await;
    assert!(cancelled.last_error.contains("deleted"), "{cancelled:?}");
    let got = app
        .subscriptions()
        .get_subscription(app.req(GetSubscriptionRequest { id: sub.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(got.enabled, Some(false));
    assert!(got.disabled_reason.contains("ses_del"), "{got:?}");

    // Its key stops working; naming it is NOT_FOUND with a distinct reason.
    let by_key = app
        .subscriptions()
        .list_subscriptions(authed(&session, ListSubscriptionsRequest::default()))
        .await;
    assert_eq!(reason(by_key, Code::NotFound), "SCOPE_DELETED");
    let publish = publish_as(&app, &app.tenant.token, message("ses_del")).await;
    assert_eq!(reason(publish, Code::NotFound), "SCOPE_DELETED");
    let create = subscribe_as(
        &app,
        &app.tenant.token,
        "late",
        &receiver.url("/hook"),
        "ses_del",
    )
    .await;
    assert_eq!(reason(create, Code::NotFound), "SCOPE_DELETED");
    // ...which a caller tells apart from a subscription that does not exist.
    let missing = app
        .subscriptions()
        .get_subscription(app.req(GetSubscriptionRequest {
            id: "sub_01J00000000000000000000000".to_owned(),
        }))
        .await;
    assert_eq!(reason(missing, Code::NotFound), "NOT_FOUND");
    // The name stays taken and the scope shows how it ended.
    let again = scopes(&app)
        .create_scope(app.req(CreateScopeRequest {
            scope: Some(Scope {
                name: "ses_del".to_owned(),
                ..Default::default()
            }),
        }))
        .await;
    assert_eq!(again.unwrap_err().code(), Code::AlreadyExists);
    let shown = scopes(&app)
        .get_scope(app.req(GetScopeRequest {
            name: "ses_del".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .scope
        .unwrap();
    assert_eq!(shown.state, ScopeState::Deleted as i32);
    assert!(shown.end_time.is_some());

    // Unregistered scopes work as before.
    subscribe_as(
        &app,
        &app.tenant.token,
        "free",
        &receiver.url("/free"),
        "ses_free",
    )
    .await
    .expect("an unregistered scope");
    publish_as(&app, &app.tenant.token, message("ses_free"))
        .await
        .expect("publish");
}

async fn an_expiring_scope_has_its_own_quota_and_ends_on_time(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "message.complete", None).await;
    register(&app, "ses_exp", Some(in_future(3)), 2).await;
    let session = app
        .new_key(&app.tenant.id, "manage,publish,read", Some("ses_exp"))
        .await;
    let receiver = TestReceiver::start().await;
    for n in 0..2 {
        subscribe_as(&app, &session, &format!("s{n}"), &receiver.url("/hook"), "")
            .await
            .expect("within the scope's quota");
    }
    let third = subscribe_as(&app, &session, "s2", &receiver.url("/hook"), "").await;
    assert_eq!(reason(third, Code::ResourceExhausted), "QUOTA_EXCEEDED");
    publish_as(&app, &session, message("ses_exp"))
        .await
        .expect("live: publish works");
    receiver.wait_for(2, Duration::from_secs(10)).await;

    // A scoped key cannot manage scopes; an update can extend one.
    let denied = scopes(&app)
        .update_scope(authed(
            &session,
            UpdateScopeRequest {
                scope: Some(Scope {
                    name: "ses_exp".to_owned(),
                    expire_time: Some(in_future(3600)),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["expire_time".to_owned()],
                }),
            },
        ))
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);

    // Past its expiry: refused at once, and the reaper turns its
    // subscriptions off.
    let state = || async {
        scopes(&app)
            .get_scope(app.req(GetScopeRequest {
                name: "ses_exp".to_owned(),
            }))
            .await
            .unwrap()
            .into_inner()
            .scope
            .unwrap()
            .state
    };
    let expired = wait_until(Duration::from_secs(10), || async {
        state().await == ScopeState::Expired as i32
    })
    .await;
    assert!(expired, "the scope never expired");
    let by_key = publish_as(&app, &session, message("ses_exp")).await;
    assert_eq!(reason(by_key, Code::NotFound), "SCOPE_EXPIRED");
    let publish = publish_as(&app, &app.tenant.token, message("ses_exp")).await;
    assert_eq!(reason(publish, Code::NotFound), "SCOPE_EXPIRED");
    let stopped = wait_until(Duration::from_secs(10), || async {
        let listed = app
            .subscriptions()
            .list_subscriptions(app.req(ListSubscriptionsRequest {
                enabled: Some(true),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        listed.subscriptions.is_empty()
    })
    .await;
    assert!(
        stopped,
        "the expired scope's subscriptions are still enabled"
    );
    assert_eq!(
        receiver.received().len(),
        2,
        "nothing was sent after the expiry"
    );
}

on_both_databases!(
    deleting_a_scope_stops_everything_in_it,
    an_expiring_scope_has_its_own_quota_and_ends_on_time,
);
