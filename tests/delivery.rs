//! The delivery engine from the outside: what a receiver gets (signed
//! Standard Webhooks requests, extra signature profiles, custom headers),
//! retries and Retry-After, dead letters and RetryDelivery, ReplayEvents.

mod common;

use common::process::free_port;

use base64::Engine;
use common::delivering::*;
use common::receiver::{Received, Reply, TestReceiver, verify_standard};
use common::script_receiver::ScriptReceiver;
use common::{Backend, assert_status, wait_until};
use hmac::Hmac;
use hookrelay::proto::{
    DeliveryStatus, GetDeliveryRequest, ListDeliveriesRequest, ReplayEventsRequest,
    RetryDeliveryRequest, SignatureAlgorithm, SignatureProfile, Subscription,
};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

// ---------------------------------------------------------------------------
// 1. What arrives: signed, with profiles and custom headers; what is recorded.
// ---------------------------------------------------------------------------

async fn signed_delivery(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let (hub, hub_secret) = subscribe(
        &app,
        Subscription {
            headers: BTreeMap::from([
                ("X-Custom-Header".to_owned(), "custom value".to_owned()),
                ("x-tenant-tag".to_owned(), "blue".to_owned()),
            ]),
            signature: Some(SignatureProfile {
                header: "X-Hub-Signature-256".to_owned(),
                algorithm: SignatureAlgorithm::HmacSha256Hex as i32,
                prefix: "sha256=".to_owned(),
                algorithm_header: String::new(),
            }),
            ..subscription_to(receiver.url("/hub"))
        },
    )
    .await;
    let (sha512, sha512_secret) = subscribe(
        &app,
        Subscription {
            signature: Some(SignatureProfile {
                header: "X-Webhook-Hmac".to_owned(),
                algorithm: SignatureAlgorithm::HmacSha512Hex as i32,
                prefix: String::new(),
                algorithm_header: "X-Webhook-Hmac-Algorithm".to_owned(),
            }),
            ..subscription_to(receiver.url("/sha512"))
        },
    )
    .await;
    assert!(hub_secret.starts_with("whsec_"), "{hub_secret}");

    let data = serde_json::json!({"amount": 42, "currency": "EUR"});
    let event_id = publish_to(&app, data.clone(), 2).await;
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 2, "{received:?}");
    let by_path = |path: &str| -> &Received {
        received
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("nothing arrived at {path}"))
    };
    let (at_hub, at_sha512) = (by_path("/hub"), by_path("/sha512"));

    for (request, secret) in [(at_hub, &hub_secret), (at_sha512, &sha512_secret)] {
        assert_eq!(request.header("webhook-id"), Some(event_id.as_str()));
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .expect("webhook-timestamp")
            .parse()
            .expect("webhook-timestamp is unix seconds");
        assert!(
            (unix_now() - timestamp).abs() <= 30,
            "webhook-timestamp {timestamp} is not close to now"
        );
        assert_eq!(
            verify_standard(secret, request),
            1,
            "webhook-signature {:?} does not verify with the subscription's secret",
            request.header("webhook-signature")
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body = request.json();
        assert_eq!(body["id"], event_id.as_str());
        assert_eq!(body["type"], EVENT_TYPE);
        assert_eq!(body["data"], data);
        let timestamp = body["timestamp"].as_str().expect("timestamp in the body");
        chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339 timestamp");
    }

    // The GitHub-style profile: hex HMAC-SHA256 of the body, keyed with the
    // secret string as the user holds it.
    let expected = format!(
        "sha256={}",
        hmac_hex::<Hmac<sha2::Sha256>>(hub_secret.as_bytes(), &at_hub.body)
    );
    assert_eq!(
        at_hub.header("x-hub-signature-256"),
        Some(expected.as_str())
    );
    assert_eq!(at_hub.header("x-custom-header"), Some("custom value"));
    assert_eq!(at_hub.header("x-tenant-tag"), Some("blue"));
    assert_eq!(at_hub.header("x-webhook-hmac"), None);

    let expected = hmac_hex::<Hmac<sha2::Sha512>>(sha512_secret.as_bytes(), &at_sha512.body);
    assert_eq!(at_sha512.header("x-webhook-hmac"), Some(expected.as_str()));
    assert_eq!(at_sha512.header("x-webhook-hmac-algorithm"), Some("sha512"));
    assert_eq!(at_sha512.header("x-hub-signature-256"), None);
    assert_eq!(at_sha512.header("x-custom-header"), None);

    // Both deliveries succeed on the first attempt.
    let ok = wait_until(Duration::from_secs(10), || async {
        deliveries_of_event(&app, &event_id)
            .await
            .iter()
            .filter(|d| d.status == DeliveryStatus::Succeeded as i32)
            .count()
            == 2
    })
    .await;
    assert!(
        ok,
        "deliveries did not succeed: {:?}",
        deliveries_of_event(&app, &event_id).await
    );
    let found = deliveries_of_event(&app, &event_id).await;
    let hub_delivery = found
        .iter()
        .find(|d| d.subscription_id == hub.id)
        .expect("a delivery to the hub subscription");
    assert!(found.iter().any(|d| d.subscription_id == sha512.id));
    for delivery in &found {
        assert_eq!(delivery.attempts, 1, "{delivery:?}");
        assert_eq!(delivery.last_status_code, 204, "{delivery:?}");
        assert_eq!(delivery.last_error, "", "{delivery:?}");
        assert_eq!(delivery.event_type, EVENT_TYPE);
        assert!(delivery.next_attempt_time.is_none(), "{delivery:?}");
    }
    let got = deliveries(app.channel())
        .get_delivery(app.req(GetDeliveryRequest {
            id: hub_delivery.id.clone(),
        }))
        .await
        .expect("get delivery")
        .into_inner()
        .delivery
        .expect("delivery");
    assert_eq!(&got, hub_delivery);

    // The attempt is recorded with its headers, the signatures redacted.
    let attempts = attempts_of(&app, &hub_delivery.id).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let attempt = &attempts[0];
    assert_eq!(attempt.attempt_number, 1);
    assert_eq!(attempt.delivery_id, hub_delivery.id);
    assert_eq!(attempt.response_status_code, 204);
    assert_eq!(attempt.error, "");
    let took = duration_of(attempt);
    assert!(
        took > Duration::ZERO && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(attempt.create_time.is_some());
    let headers = &attempt.request_headers;
    assert_eq!(recorded(headers, "webhook-id"), Some(event_id.as_str()));
    assert_eq!(
        recorded(headers, "webhook-timestamp"),
        at_hub.header("webhook-timestamp")
    );
    assert_eq!(recorded(headers, "content-type"), Some("application/json"));
    assert_eq!(recorded(headers, "x-custom-header"), Some("custom value"));
    let real_signature = at_hub.header("webhook-signature").unwrap();
    let real_hub_signature = at_hub.header("x-hub-signature-256").unwrap();
    let stored_signature = recorded(headers, "webhook-signature").expect("signature recorded");
    let stored_hub = recorded(headers, "x-hub-signature-256").expect("profile header recorded");
    assert_ne!(stored_signature, real_signature);
    assert_ne!(stored_hub, real_hub_signature);
    let signature_part = real_signature.trim_start_matches("v1,");
    let hex_part = real_hub_signature.trim_start_matches("sha256=");
    for (name, value) in headers {
        assert!(
            !value.contains(signature_part) && !value.contains(hex_part),
            "recorded header {name} leaks a signature: {value}"
        );
    }
}

// ---------------------------------------------------------------------------
// 2. The official Standard Webhooks library (Python) accepts what we send.
// ---------------------------------------------------------------------------

/// A bare HTTP/1.1 POST; returns the status code.
async fn raw_post(port: u16, headers: &[(&str, String)], body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut request = format!(
        "POST /webhooks HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

async fn standard_webhooks_library_verifies(backend: Backend) {
    let app = app_with_type(backend).await;
    let port = free_port();
    let (_, secret) = subscribe(
        &app,
        subscription_to(format!("http://127.0.0.1:{port}/webhooks")),
    )
    .await;
    common::tools::require_python_module("standardwebhooks", "standardwebhooks");
    let verifier = ScriptReceiver::start(
        "python3",
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/receivers/standardwebhooks_receiver.py"
        )),
        port,
        Some(&secret),
    )
    .await;

    // The verifier does reject: a request signed with another key fails.
    let forged = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let status = raw_post(
        port,
        &[
            ("webhook-id", "msg_forged".to_owned()),
            ("webhook-timestamp", unix_now().to_string()),
            ("webhook-signature", format!("v1,{forged}")),
        ],
        "{}",
    )
    .await;
    assert_eq!(
        status, 500,
        "the Python verifier accepted a forged signature"
    );
    let rejected = wait_until(Duration::from_secs(5), || async {
        verifier.with_prefix("INVALID ").len() == 1
    })
    .await;
    assert!(rejected, "no INVALID line: {:?}", verifier.lines());

    let mut published = Vec::new();
    for n in 0..3 {
        published.push(publish_to(&app, serde_json::json!({"n": n}), 1).await);
    }
    let ok = wait_until(Duration::from_secs(20), || async {
        verifier.with_prefix("VERIFIED ").len() >= 3
    })
    .await;
    assert!(
        ok,
        "the Standard Webhooks library did not verify 3 webhooks; its output: {:?}; stderr: {}",
        verifier.lines(),
        verifier.stderr()
    );
    let verified: HashSet<String> = verifier.with_prefix("VERIFIED ").into_iter().collect();
    let expected: HashSet<String> = published.iter().cloned().collect();
    assert_eq!(verified, expected);
    assert_eq!(
        verifier.with_prefix("INVALID ").len(),
        1,
        "only the forged request may fail: {:?}",
        verifier.lines()
    );
    for event_id in &published {
        wait_for_status(
            &app,
            event_id,
            DeliveryStatus::Succeeded,
            Duration::from_secs(10),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// 3. and 4. Retries on the policy, and Retry-After.
// ---------------------------------------------------------------------------

async fn retries_until_success(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    receiver.script([Reply::status(500), Reply::status(500)]);
    let (_, secret) = subscribe(&app, subscription_to(receiver.url("/flaky"))).await;
    let event_id = publish_to(&app, serde_json::json!({"retry": true}), 1).await;

    let received = receiver.wait_for(3, Duration::from_secs(15)).await;
    let delivery = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Succeeded,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(delivery.attempts, 3, "{delivery:?}");
    assert_eq!(delivery.last_status_code, 204);
    assert_eq!(delivery.last_error, "");

    for request in &received {
        assert_eq!(webhook_id(request), event_id, "webhook-id is stable");
        assert_eq!(verify_standard(&secret, request), 1);
    }
    for pair in received.windows(2) {
        let gap = pair[1].started.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(750),
            "retry came after {gap:?}, the policy waits 1 s (±20 %)"
        );
    }

    let attempts = attempts_of(&app, &delivery.id).await;
    let numbers: Vec<u32> = attempts.iter().map(|a| a.attempt_number).collect();
    let statuses: Vec<u32> = attempts.iter().map(|a| a.response_status_code).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(statuses, [500, 500, 204]);
    for attempt in &attempts {
        assert_eq!(
            recorded(&attempt.request_headers, "webhook-id"),
            Some(event_id.as_str())
        );
    }
    for failed in &attempts[..2] {
        assert!(
            failed.error.contains("500"),
            "a non-2xx attempt's error describes it: {failed:?}"
        );
    }
    assert_eq!(attempts[2].error, "");
    receiver
        .assert_stays_at(3, Duration::from_millis(300))
        .await;
}

async fn retry_after_is_honoured(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    receiver.script([Reply::status(429).with_header("retry-after", "3")]);
    subscribe(&app, subscription_to(receiver.url("/limited"))).await;
    let event_id = publish_to(&app, serde_json::json!({"limited": true}), 1).await;

    let received = receiver.wait_for(2, Duration::from_secs(15)).await;
    // The retry is scheduled after the 429 response was read, which the
    // receiver timestamps just before sending it.
    let gap = received[1].started.duration_since(received[0].at);
    assert!(
        gap >= Duration::from_millis(2900),
        "Retry-After: 3 asked for 3 s, the retry came after {gap:?}"
    );
    assert!(gap < Duration::from_secs(8), "retry took {gap:?}");
    let delivery = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Succeeded,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(delivery.attempts, 2);
    let statuses: Vec<u32> = attempts_of(&app, &delivery.id)
        .await
        .iter()
        .map(|a| a.response_status_code)
        .collect();
    assert_eq!(statuses, [429, 204]);
}

// ---------------------------------------------------------------------------
// 5. Dead letter, then RetryDelivery.
// ---------------------------------------------------------------------------

/// A retry that comes due after its subscription was disabled is not sent:
/// the delivery is cancelled and says why.
async fn disabled_subscription_cancels_its_retry(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(503));
    let (sub, _) = subscribe(
        &app,
        Subscription {
            retry_policy: fast_retries(5),
            ..subscription_to(receiver.url("/flaky"))
        },
    )
    .await;
    let event_id = publish_to(&app, serde_json::json!({"n": 1}), 1).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Pending,
        Duration::from_secs(10),
    )
    .await;
    app.subscriptions()
        .update_subscription(app.req(hookrelay::proto::UpdateSubscriptionRequest {
            subscription: Some(Subscription {
                id: sub.id,
                enabled: Some(false),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["enabled".to_owned()],
            }),
        }))
        .await
        .expect("disable");
    let cancelled = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Cancelled,
        Duration::from_secs(10),
    )
    .await;
    assert!(
        cancelled.last_error.contains("disabled or deleted"),
        "{cancelled:?}"
    );
    receiver
        .assert_stays_at(1, Duration::from_millis(300))
        .await;
}

async fn dead_letter_then_retry(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(500));
    subscribe(
        &app,
        Subscription {
            retry_policy: fast_retries(2),
            ..subscription_to(receiver.url("/down"))
        },
    )
    .await;
    let event_id = publish_to(&app, serde_json::json!({"dead": "letter"}), 1).await;

    let failed = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Failed,
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(failed.attempts, 2, "{failed:?}");
    assert_eq!(failed.last_status_code, 500);
    assert!(failed.last_error.contains("500"), "{failed:?}");
    assert!(failed.next_attempt_time.is_none(), "{failed:?}");
    // Exhausted: FAILED with no next attempt time is the state that rules
    // out a third attempt; a short window still catches an immediate one.
    receiver.wait_for(2, Duration::from_secs(5)).await;
    receiver
        .assert_stays_at(2, Duration::from_millis(300))
        .await;

    receiver.set_default(Reply::status(204));
    let retried = deliveries(app.channel())
        .retry_delivery(app.req(RetryDeliveryRequest {
            id: failed.id.clone(),
        }))
        .await
        .expect("retry a failed delivery")
        .into_inner()
        .delivery
        .expect("delivery");
    assert_eq!(retried.id, failed.id);
    // PENDING, unless the woken dispatcher already claimed it.
    assert!(
        [
            DeliveryStatus::Pending as i32,
            DeliveryStatus::InFlight as i32
        ]
        .contains(&retried.status),
        "{retried:?}"
    );
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(webhook_id(&received[2]), event_id);
    let succeeded = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Succeeded,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(succeeded.id, failed.id);
    assert_eq!(succeeded.last_status_code, 204);
    assert_eq!(attempts_of(&app, &failed.id).await.len(), 3);

    assert_status(
        deliveries(app.channel())
            .retry_delivery(app.req(RetryDeliveryRequest {
                id: failed.id.clone(),
            }))
            .await,
        Code::FailedPrecondition,
        &failed.id,
    );
    let unknown = format!("dlv_{}", ulid::Ulid::new());
    assert_status(
        deliveries(app.channel())
            .retry_delivery(app.req(RetryDeliveryRequest {
                id: unknown.clone(),
            }))
            .await,
        Code::NotFound,
        &unknown,
    );
    receiver
        .assert_stays_at(3, Duration::from_millis(300))
        .await;
}

// ---------------------------------------------------------------------------
// 6. ReplayEvents.
// ---------------------------------------------------------------------------

async fn replay_events(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let (subscription, _) = subscribe(&app, subscription_to(receiver.url("/replay"))).await;
    let first = publish_to(&app, serde_json::json!({"n": 1}), 1).await;
    let second = publish_to(&app, serde_json::json!({"n": 2}), 1).await;
    for event_id in [&first, &second] {
        wait_for_status(
            &app,
            event_id,
            DeliveryStatus::Succeeded,
            Duration::from_secs(10),
        )
        .await;
    }
    assert_eq!(receiver.received().len(), 2);

    let replay = |only_failed: bool| {
        let app = &app;
        let id = subscription.id.clone();
        async move {
            deliveries(app.channel())
                .replay_events(app.req(ReplayEventsRequest {
                    subscription_id: id,
                    only_failed,
                    ..Default::default()
                }))
                .await
                .expect("replay")
                .into_inner()
                .delivery_count
        }
    };
    assert_eq!(replay(false).await, 2);
    let received = receiver.wait_for(4, Duration::from_secs(10)).await;
    let replayed: HashSet<String> = received[2..].iter().map(webhook_id).collect();
    assert_eq!(replayed, HashSet::from([first.clone(), second.clone()]));

    let all_succeeded = wait_until(Duration::from_secs(10), || async {
        let found = list_deliveries(
            app.channel(),
            &app.tenant.token,
            ListDeliveriesRequest {
                subscription_id: subscription.id.clone(),
                status: DeliveryStatus::Succeeded as i32,
                ..Default::default()
            },
        )
        .await;
        found.len() == 4
    })
    .await;
    assert!(all_succeeded, "the replayed deliveries did not succeed");

    assert_eq!(replay(true).await, 0, "nothing failed, nothing to replay");
    receiver
        .assert_stays_at(4, Duration::from_millis(300))
        .await;
}

on_both_databases!(
    signed_delivery,
    standard_webhooks_library_verifies,
    retries_until_success,
    retry_after_is_honoured,
    dead_letter_then_retry,
    disabled_subscription_cancels_its_retry,
    replay_events,
);
