//! The delivery log as an operator (and the web console) reads it: newest
//! first, a page at a time, and cut to a time range.

mod common;

use common::delivering::*;
use common::receiver::TestReceiver;
use common::{Backend, TestApp};
use hookrelay::proto::{ListDeliveriesRequest, ListDeliveriesResponse};
use tonic::Code;

on_both_databases!(
    the_log_pages_newest_first,
    the_log_is_cut_to_a_time_range,
    an_unknown_order_is_refused,
);

async fn page(app: &TestApp, request: ListDeliveriesRequest) -> ListDeliveriesResponse {
    deliveries(app.channel())
        .list_deliveries(app.req(request))
        .await
        .expect("list deliveries")
        .into_inner()
}

/// Five events to one receiver; their deliveries' ids, in publish order.
async fn five_deliveries(app: &TestApp, receiver: &TestReceiver) -> Vec<String> {
    subscribe(app, subscription_to(receiver.url("/log"))).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let event = publish_to(app, serde_json::json!({ "n": n }), 1).await;
        ids.push(deliveries_of_event(app, &event).await[0].id.clone());
    }
    ids
}

fn ids(response: &ListDeliveriesResponse) -> Vec<String> {
    response.deliveries.iter().map(|d| d.id.clone()).collect()
}

async fn the_log_pages_newest_first(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let published = five_deliveries(&app, &receiver).await;
    let newest_first = |page_token: String| ListDeliveriesRequest {
        page_size: 2,
        page_token,
        order_by: "create_time desc".to_owned(),
        ..Default::default()
    };

    let first = page(&app, newest_first(String::new())).await;
    assert_eq!(ids(&first), [published[4].clone(), published[3].clone()]);
    let second = page(&app, newest_first(first.next_page_token)).await;
    assert_eq!(ids(&second), [published[2].clone(), published[1].clone()]);
    let last = page(&app, newest_first(second.next_page_token)).await;
    assert_eq!(ids(&last), [published[0].clone()]);
    assert!(last.next_page_token.is_empty());

    // The default (and `create_time`) is the oldest first.
    for order_by in ["", "create_time", "create_time asc"] {
        let all = page(
            &app,
            ListDeliveriesRequest {
                order_by: order_by.to_owned(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(ids(&all), published, "order_by {order_by:?}");
    }
}

async fn the_log_is_cut_to_a_time_range(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let published = five_deliveries(&app, &receiver).await;
    let all = page(&app, ListDeliveriesRequest::default()).await;
    // The third delivery's creation time splits the log in two.
    let micros = |t: Option<prost_types::Timestamp>| {
        let t = t.expect("a create_time");
        t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000
    };
    let middle = all.deliveries[2].create_time;
    assert!(
        micros(middle) > micros(all.deliveries[1].create_time),
        "distinct times"
    );

    let from_middle = page(
        &app,
        ListDeliveriesRequest {
            start_time: middle,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&from_middle), published[2..]);
    let before_middle = page(
        &app,
        ListDeliveriesRequest {
            end_time: middle,
            order_by: "create_time desc".to_owned(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(&before_middle),
        [published[1].clone(), published[0].clone()]
    );
}

async fn an_unknown_order_is_refused(backend: Backend) {
    let app = app_with_type(backend).await;
    let refused = deliveries(app.channel())
        .list_deliveries(app.req(ListDeliveriesRequest {
            order_by: "name".to_owned(),
            ..Default::default()
        }))
        .await
        .expect_err("an unknown order");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("order_by"), "{refused:?}");
}
