//! Operational events about an endpoint's health, received like any other
//! event by a subscription to `hookrelay.*`: `.failing` once a run of
//! failures reaches the threshold, `.disabling` before auto-disable,
//! `.disabled`, and `.recovered` when a success ends an announced run.

mod common;

use common::delivering::{self, EVENT_TYPE, fast_retries};
use common::receiver::{Reply, TestReceiver};
use common::{Backend, TestApp, register_event_type, spawn_app_with, wait_until};
use hookrelay::proto::Subscription;
use std::time::Duration;

const FAILING_AFTER: u32 = 3;

/// An app whose tenant watches `hookrelay.*` at `ops`, and an endpoint
/// at `endpoint` subscribed to the test events, retried a second apart.
async fn watched(backend: Backend, ops: &TestReceiver, endpoint: &TestReceiver) -> TestApp {
    let app = spawn_app_with(backend, |s| {
        s.dispatch.failing_after_attempts = FAILING_AFTER;
        s.dispatch.disable_after_secs = 3;
        s.dispatch.disable_warning_secs = 2;
    })
    .await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    delivering::subscribe(
        &app,
        Subscription {
            name: "ops".to_owned(),
            url: ops.url("/ops"),
            event_types: vec!["hookrelay.*".to_owned()],
            ..Default::default()
        },
    )
    .await;
    delivering::subscribe(
        &app,
        Subscription {
            name: "endpoint".to_owned(),
            url: endpoint.url("/endpoint"),
            event_types: vec![EVENT_TYPE.to_owned()],
            retry_policy: fast_retries(10),
            ..Default::default()
        },
    )
    .await;
    app
}

/// The operational events `ops` received, by type, in arrival order.
fn announced(ops: &TestReceiver) -> Vec<(String, serde_json::Value)> {
    ops.received()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["type"].as_str().unwrap_or_default().to_owned(),
                body["data"].clone(),
            )
        })
        .collect()
}

async fn wait_for_type(ops: &TestReceiver, event_type: &str) -> bool {
    wait_until(Duration::from_secs(20), || async {
        announced(ops).iter().any(|(t, _)| t == event_type)
    })
    .await
}

/// Three failures in a row: `.failing`, once; the endpoint then answers
/// 200, the retries succeed: `.recovered`, once.
async fn a_failing_endpoint_is_announced_and_so_is_its_recovery(backend: Backend) {
    let ops = TestReceiver::start().await;
    let endpoint = TestReceiver::start().await;
    endpoint.set_default(Reply::status(500));
    let app = watched(backend, &ops, &endpoint).await;
    for seq in 0..FAILING_AFTER {
        delivering::publish(&app, serde_json::json!({"seq": seq})).await;
    }
    assert!(
        wait_for_type(&ops, "hookrelay.subscription.failing").await,
        "no failing announcement: {:?}",
        announced(&ops)
    );
    endpoint.set_default(Reply::status(200));
    assert!(
        wait_for_type(&ops, "hookrelay.subscription.recovered").await,
        "no recovery announcement: {:?}",
        announced(&ops)
    );
    // Nothing more to say: the endpoint is fine now.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let events = announced(&ops);
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "hookrelay.subscription.failing",
            "hookrelay.subscription.recovered"
        ],
        "{events:?}"
    );
    let failing = &events[0].1;
    assert_eq!(failing["name"], "endpoint");
    assert!(failing["consecutive_failures"].as_u64() >= Some(u64::from(FAILING_AFTER)));
    assert!(failing["failing_since"].is_string(), "{failing}");
    let recovered = &events[1].1;
    assert_eq!(recovered["subscription_id"], failing["subscription_id"]);
    assert!(recovered["consecutive_failures"].as_u64() >= Some(u64::from(FAILING_AFTER)));
}

/// An endpoint that keeps failing: `.failing`, then the warning
/// `.disabling` (disable_after 3 s, warned 2 s before), then `.disabled`,
/// each once, in that order.
async fn a_failing_endpoint_is_warned_before_it_is_disabled(backend: Backend) {
    let ops = TestReceiver::start().await;
    let endpoint = TestReceiver::start().await;
    endpoint.set_default(Reply::status(503));
    let app = watched(backend, &ops, &endpoint).await;
    for seq in 0..12 {
        delivering::publish(&app, serde_json::json!({"seq": seq})).await;
        if announced(&ops)
            .iter()
            .any(|(t, _)| t == "hookrelay.subscription.disabled")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(
        wait_for_type(&ops, "hookrelay.subscription.disabled").await,
        "never disabled: {:?}",
        announced(&ops)
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let events = announced(&ops);
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "hookrelay.subscription.failing",
            "hookrelay.subscription.disabling",
            "hookrelay.subscription.disabled"
        ],
        "{events:?}"
    );
    let warning = &events[1].1;
    assert!(warning["disable_time"].is_string(), "{warning}");
    assert_eq!(warning["failing_since"], events[0].1["failing_since"]);
}

on_both_databases!(
    a_failing_endpoint_is_announced_and_so_is_its_recovery,
    a_failing_endpoint_is_warned_before_it_is_disabled
);
