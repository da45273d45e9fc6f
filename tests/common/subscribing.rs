//! Helpers of the SubscriptionService tests: a minimal valid subscription,
//! thin wrappers over the RPCs, and time assertions.

use super::{TestApp, assert_status, authed, violated_fields};
use hookrelay::proto::{
    CreateSubscriptionRequest, CreateSubscriptionResponse, GetSubscriptionRequest,
    ListSubscriptionsRequest, ListSubscriptionsResponse, Subscription, UpdateSubscriptionRequest,
};
use hookrelay::store::subscription;
use prost_types::{FieldMask, Timestamp};
use sea_orm::EntityTrait;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::{Code, Status};

// ---------------------------------------------------------------------------
// Helpers: a minimal valid subscription, and thin wrappers over the RPCs.
// ---------------------------------------------------------------------------

/// A subscription that is valid on any server: a public https URL and `*`.
pub fn subscription(name: &str) -> Subscription {
    Subscription {
        name: name.to_owned(),
        url: "https://example.com/webhooks".to_owned(),
        event_types: vec!["*".to_owned()],
        ..Default::default()
    }
}

pub fn in_scope(name: &str, scope: &str) -> Subscription {
    Subscription {
        scope: scope.to_owned(),
        ..subscription(name)
    }
}

pub fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

pub fn create_request(subscription: Subscription) -> CreateSubscriptionRequest {
    CreateSubscriptionRequest {
        subscription: Some(subscription),
        secret: String::new(),
    }
}

pub async fn try_create(
    app: &TestApp,
    subscription: Subscription,
) -> Result<CreateSubscriptionResponse, Status> {
    app.subscriptions()
        .create_subscription(app.req(create_request(subscription)))
        .await
        .map(|r| r.into_inner())
}

pub async fn create(app: &TestApp, subscription: Subscription) -> CreateSubscriptionResponse {
    let name = subscription.name.clone();
    try_create(app, subscription)
        .await
        .unwrap_or_else(|status| panic!("creating {name:?} failed: {status:?}"))
}

/// Creates and returns only the stored subscription.
pub async fn create_sub(app: &TestApp, subscription: Subscription) -> Subscription {
    create(app, subscription)
        .await
        .subscription
        .expect("subscription in response")
}

pub async fn get(app: &TestApp, id: &str) -> Result<Subscription, Status> {
    app.subscriptions()
        .get_subscription(app.req(GetSubscriptionRequest { id: id.to_owned() }))
        .await
        .map(|r| {
            r.into_inner()
                .subscription
                .expect("subscription in response")
        })
}

pub async fn list_with(
    app: &TestApp,
    token: &str,
    request: ListSubscriptionsRequest,
) -> Result<ListSubscriptionsResponse, Status> {
    app.subscriptions()
        .list_subscriptions(authed(token, request))
        .await
        .map(|r| r.into_inner())
}

/// Ids of the first page of an unfiltered list, as the default tenant.
pub async fn list_ids(app: &TestApp, request: ListSubscriptionsRequest) -> Vec<String> {
    let response = list_with(app, &app.tenant.token, request)
        .await
        .expect("list succeeds");
    response.subscriptions.into_iter().map(|s| s.id).collect()
}

pub async fn update(
    app: &TestApp,
    subscription: Subscription,
    paths: &[&str],
) -> Result<Subscription, Status> {
    app.subscriptions()
        .update_subscription(app.req(UpdateSubscriptionRequest {
            subscription: Some(subscription),
            update_mask: mask(paths),
        }))
        .await
        .map(|r| {
            r.into_inner()
                .subscription
                .expect("subscription in response")
        })
}

pub async fn stored_row(app: &TestApp, id: &str) -> Option<subscription::Model> {
    subscription::Entity::find_by_id(id.to_owned())
        .one(&app.db)
        .await
        .expect("query the subscriptions table")
}

/// Asserts INVALID_ARGUMENT whose field violations include every one of `fields`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, fields: &[&str]) -> Status {
    let status = assert_status(result, Code::InvalidArgument, "");
    let violated = violated_fields(&status);
    for field in fields {
        assert!(
            violated.iter().any(|v| v == field),
            "expected a violation of {field:?}, got {violated:?} ({})",
            status.message()
        );
    }
    status
}

pub fn to_system_time(ts: &Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::new(ts.seconds as u64, ts.nanos as u32)
}

/// Asserts that `ts` lies between `before + offset` and `after + offset`, give or
/// take a second of clock granularity.
#[track_caller]
pub fn assert_time_between(
    ts: &Timestamp,
    before: SystemTime,
    after: SystemTime,
    offset: Duration,
) {
    let t = to_system_time(ts);
    let slack = Duration::from_secs(1);
    assert!(
        t + slack >= before + offset && t <= after + offset + slack,
        "{t:?} is not within [{:?}, {:?}]",
        before + offset,
        after + offset
    );
}
