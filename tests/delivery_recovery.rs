//! The delivery engine from the outside, when things change under it: 410
//! Gone, ordered subscriptions, secret rotation, a crash mid-send, and two
//! replicas sharing one Postgres queue.

mod common;

use common::builders::*;

use common::process::free_port;

use base64::Engine;
use common::delivering::*;
use common::receiver::{Received, Reply, TestReceiver, verify_standard};
use common::{
    Backend, TestDatabase, authed, register_event_type, spawn_app_with, spawn_replica, wait_until,
};
use hmac::Hmac;
use hookrelay::config::Settings;
use hookrelay::domain::SecretCipher;
use hookrelay::proto::{
    BatchPublishEventsRequest, DeliveryStatus, Event, GetSubscriptionRequest,
    ListDeliveriesRequest, PublishEventRequest, RotateSubscriptionSecretRequest,
    SignatureAlgorithm, SignatureProfile, Subscription,
};
use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

// ---------------------------------------------------------------------------
// 7. 410 Gone disables the subscription.
// ---------------------------------------------------------------------------

async fn gone_disables_subscription(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(410));
    let (subscription, _) = subscribe(&app, subscription_to(receiver.url("/gone"))).await;
    let event_id = publish_to(&app, serde_json::json!({"gone": true}), 1).await;

    let get = || async {
        app.subscriptions()
            .get_subscription(app.req(GetSubscriptionRequest {
                id: subscription.id.clone(),
            }))
            .await
            .expect("get subscription")
            .into_inner()
            .subscription
            .expect("subscription")
    };
    let disabled = wait_until(Duration::from_secs(10), || async {
        get().await.enabled == Some(false)
    })
    .await;
    assert!(disabled, "410 did not disable: {:?}", get().await);
    let current = get().await;
    assert!(
        current.disabled_reason.contains("410"),
        "disabled_reason: {:?}",
        current.disabled_reason
    );

    let delivery = wait_for_status(
        &app,
        &event_id,
        DeliveryStatus::Failed,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(delivery.attempts, 1, "410 is not retried: {delivery:?}");
    assert_eq!(delivery.last_status_code, 410);

    let later = publish(&app, serde_json::json!({"after": "disable"})).await;
    assert_eq!(later.subscription_count, 0);
    receiver
        .assert_stays_at(1, Duration::from_millis(300))
        .await;
}

// ---------------------------------------------------------------------------
// 8. Ordered subscriptions: publish order, one at a time.
// ---------------------------------------------------------------------------

async fn ordered_delivery(backend: Backend) {
    const COUNT: u64 = 20;
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    receiver.script(
        std::iter::once(Reply::status(500)).chain(
            (0..COUNT).map(|_| {
                Reply::status(204).after(Duration::from_millis(rand::random_range(0..30)))
            }),
        ),
    );
    subscribe(
        &app,
        Subscription {
            ordered: true,
            ..subscription_to(receiver.url("/ordered"))
        },
    )
    .await;

    // Half in one batch (ids minted within the same millisecond), half one by one.
    let batch: Vec<Event> = (0..COUNT / 2)
        .map(|seq| event(serde_json::json!({"seq": seq})))
        .collect();
    let results = events(app.channel())
        .batch_publish_events(app.req(BatchPublishEventsRequest { events: batch }))
        .await
        .expect("batch publish")
        .into_inner()
        .results;
    assert!(results.iter().all(|r| r.subscription_count == 1));
    for seq in COUNT / 2..COUNT {
        publish_to(&app, serde_json::json!({"seq": seq}), 1).await;
    }

    let received = receiver
        .wait_for(COUNT as usize + 1, Duration::from_secs(20))
        .await;
    let sequence: Vec<u64> = received
        .iter()
        .map(|r| r.json()["data"]["seq"].as_u64().expect("seq"))
        .collect();
    let expected: Vec<u64> = std::iter::once(0).chain(0..COUNT).collect();
    assert_eq!(
        sequence, expected,
        "an ordered subscription gets events in publish order (the first one twice: it failed once)"
    );
    let mut by_start = received.clone();
    by_start.sort_by_key(|r| r.started);
    for pair in by_start.windows(2) {
        assert!(
            pair[1].started >= pair[0].at,
            "two requests to an ordered subscription overlapped: seq {} began before seq {} was answered",
            pair[1].json()["data"]["seq"],
            pair[0].json()["data"]["seq"]
        );
    }
    receiver
        .assert_stays_at(COUNT as usize + 1, Duration::from_millis(300))
        .await;
}

// ---------------------------------------------------------------------------
// 9. Secret rotation: both secrets sign during the overlap, only the new after.
// ---------------------------------------------------------------------------

async fn rotation_overlap(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let (subscription, original) = subscribe(
        &app,
        Subscription {
            signature: Some(SignatureProfile {
                header: "X-Hub-Signature-256".to_owned(),
                algorithm: SignatureAlgorithm::HmacSha256Hex as i32,
                prefix: "sha256=".to_owned(),
                algorithm_header: String::new(),
            }),
            ..subscription_to(receiver.url("/rotating"))
        },
    )
    .await;
    let rotate = |overlap: i64| {
        let app = &app;
        let id = subscription.id.clone();
        async move {
            app.subscriptions()
                .rotate_subscription_secret(app.req(RotateSubscriptionSecretRequest {
                    id,
                    secret: String::new(),
                    overlap: Some(secs(overlap)),
                }))
                .await
                .expect("rotate")
                .into_inner()
                .secret
        }
    };
    let signatures = |r: &Received| r.header("webhook-signature").unwrap().split(' ').count();

    let second = rotate(3600).await;
    assert_ne!(second, original);
    publish_to(&app, serde_json::json!({"during": "overlap"}), 1).await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let during = &received[0];
    assert_eq!(
        signatures(during),
        2,
        "{:?}",
        during.header("webhook-signature")
    );
    assert_eq!(
        verify_standard(&original, during),
        1,
        "the old secret verifies"
    );
    assert_eq!(
        verify_standard(&second, during),
        1,
        "the new secret verifies"
    );
    let expected = format!(
        "sha256={}",
        hmac_hex::<Hmac<sha2::Sha256>>(second.as_bytes(), &during.body)
    );
    assert_eq!(
        during.header("x-hub-signature-256"),
        Some(expected.as_str()),
        "the profile signs with the current secret"
    );

    let third = rotate(0).await;
    publish_to(&app, serde_json::json!({"after": "overlap"}), 1).await;
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    let after = &received[1];
    assert_eq!(
        signatures(after),
        1,
        "{:?}",
        after.header("webhook-signature")
    );
    assert_eq!(
        verify_standard(&third, after),
        1,
        "the newest secret verifies"
    );
    assert_eq!(
        verify_standard(&second, after),
        0,
        "no overlap: the previous secret is out"
    );
    assert_eq!(verify_standard(&original, after), 0);
}

// ---------------------------------------------------------------------------
// 10. A process killed mid-send: the lease expires, a restart delivers.
// ---------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");

fn cli(args: &[&str], database_url: &str) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("HOOKRELAY_DATABASE_URL", database_url)
        .env_remove("HOOKRELAY_TEST_DATABASE_URL")
        .output()
        .expect("run hookrelay")
}

/// Creates tenant `acme` and a full key with the CLI; returns the token.
fn bootstrap(database_url: &str) -> String {
    let tenant = cli(&["tenants", "create", "acme"], database_url);
    assert!(
        tenant.status.success(),
        "tenants create: {}",
        String::from_utf8_lossy(&tenant.stderr)
    );
    let key = cli(
        &[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--capabilities",
            "manage,publish,read",
        ],
        database_url,
    );
    assert!(
        key.status.success(),
        "keys create: {}",
        String::from_utf8_lossy(&key.stderr)
    );
    let out = String::from_utf8_lossy(&key.stdout).into_owned();
    out.lines().last().expect("a token").trim().to_owned()
}

/// `hookrelay serve --dev` as a child process.
struct ServeProcess {
    child: tokio::process::Child,
    port: u16,
}

impl ServeProcess {
    async fn start(database_url: &str, secret_key: &str) -> Self {
        let port = free_port();
        let mut child = tokio::process::Command::new(BIN)
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .env("HOOKRELAY_DATABASE_URL", database_url)
            .env("HOOKRELAY_SECRET_KEY", secret_key)
            .env("HOOKRELAY_DISPATCH__LEASE_MS", "2000")
            .env("HOOKRELAY_SHUTDOWN_GRACE_MS", "1000")
            .env_remove("HOOKRELAY_TEST_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn hookrelay serve");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("hookrelay serve exited early: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "hookrelay serve did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://127.0.0.1:{}", self.port))
            .unwrap()
            .connect()
            .await
            .expect("connect to hookrelay serve")
    }

    /// SIGKILL: no shutdown, no release, nothing flushed.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill -9");
    }
}

async fn crash_mid_flight(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let token = bootstrap(&database.url);
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
    let receiver = TestReceiver::start().await;
    // The first request hangs far longer than the lease; the rest are quick.
    receiver.script([Reply::status(204).after(Duration::from_secs(30))]);

    let first = ServeProcess::start(&database.url, &secret_key).await;
    let channel = first.channel().await;
    register_event_type(channel.clone(), &token, EVENT_TYPE).await;
    let (_, secret) = create_subscription(
        channel.clone(),
        &token,
        subscription_to(receiver.url("/slow")),
    )
    .await;
    let event_id = events(channel.clone())
        .publish_event(authed(
            &token,
            PublishEventRequest {
                event: Some(event(serde_json::json!({"crash": "test"}))),
            },
        ))
        .await
        .expect("publish")
        .into_inner()
        .event
        .expect("event")
        .id;

    receiver.wait_for_arrivals(1, Duration::from_secs(10)).await;
    let in_flight = wait_for_delivery(
        channel.clone(),
        &token,
        &event_id,
        Duration::from_secs(5),
        status_is(DeliveryStatus::InFlight),
    )
    .await;
    first.kill().await;
    drop(channel);

    let restarted = Instant::now();
    let second = ServeProcess::start(&database.url, &secret_key).await;
    let received = receiver.wait_for(1, Duration::from_secs(15)).await;
    let elapsed = restarted.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "the crashed delivery came back only after {elapsed:?}"
    );
    let redelivered = &received[0];
    assert_eq!(webhook_id(redelivered), event_id);
    assert_eq!(
        verify_standard(&secret, redelivered),
        1,
        "the restarted server signs with the same secret"
    );
    let channel = second.channel().await;
    let delivery = wait_for_delivery(
        channel,
        &token,
        &event_id,
        Duration::from_secs(10),
        status_is(DeliveryStatus::Succeeded),
    )
    .await;
    assert_eq!(delivery.id, in_flight.id);
    assert_eq!(delivery.last_status_code, 204);
    second.kill().await;
}

// ---------------------------------------------------------------------------
// 11. Two replicas on one Postgres database: no duplicates, nothing lost.
// ---------------------------------------------------------------------------

// Each replica hands its own publishes to its dispatcher...
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn two_replicas_deliver_each_event_exactly_once() {
    two_replicas_deliver_each_event_once(true).await;
}

// ...or, with the hand-off off, both claim from the one shared queue.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn two_replicas_claiming_from_one_queue_deliver_each_event_exactly_once() {
    two_replicas_deliver_each_event_once(false).await;
}

async fn two_replicas_deliver_each_event_once(hand_off: bool) {
    const TOTAL: usize = 300;
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
    let configure = |settings: &mut Settings| {
        settings.secret_key = Some(secret_key.clone());
        // Small claims and a quick poll, so both replicas take part.
        settings.dispatch.batch_size = 10;
        settings.dispatch.poll_interval_ms = 50;
        settings.dispatch.hand_off = hand_off;
    };
    let app = spawn_app_with(Backend::Postgres, configure).await;
    let mut replica = spawn_replica(&app, configure).await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    let receiver = TestReceiver::start().await;
    receiver.set_default(Reply::status(204).after(Duration::from_millis(2)));
    let (subscription, _) = subscribe(&app, subscription_to(receiver.url("/replicas"))).await;

    // Publish through both replicas at once, so both dispatchers are woken.
    let publish_batch = |channel: Channel, from: usize| {
        let token = app.tenant.token.clone();
        async move {
            let batch = (from..from + 50)
                .map(|n| event(serde_json::json!({"n": n})))
                .collect();
            events(channel)
                .batch_publish_events(authed(&token, BatchPublishEventsRequest { events: batch }))
                .await
                .expect("batch publish")
                .into_inner()
                .results
                .into_iter()
                .map(|r| r.event.expect("event").id)
                .collect::<Vec<String>>()
        }
    };
    let mut published = HashSet::new();
    for round in 0..TOTAL / 100 {
        let (a, b) = tokio::join!(
            publish_batch(app.channel(), round * 100),
            publish_batch(replica.channel(), round * 100 + 50)
        );
        published.extend(a);
        published.extend(b);
    }
    assert_eq!(published.len(), TOTAL);

    receiver.wait_for(TOTAL, Duration::from_secs(60)).await;
    let all_succeeded = wait_until(Duration::from_secs(20), || async {
        list_deliveries(
            app.channel(),
            &app.tenant.token,
            ListDeliveriesRequest {
                subscription_id: subscription.id.clone(),
                status: DeliveryStatus::Succeeded as i32,
                ..Default::default()
            },
        )
        .await
        .len()
            == TOTAL
    })
    .await;
    assert!(all_succeeded, "not every delivery succeeded");
    receiver
        .assert_stays_at(TOTAL, Duration::from_millis(500))
        .await;

    let received = receiver.received();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in &received {
        *counts.entry(webhook_id(request)).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "delivered twice: {duplicated:?}");
    let delivered: HashSet<String> = counts.into_keys().collect();
    assert_eq!(delivered, published);
    assert_eq!(received.len(), TOTAL);
    let deliveries = list_deliveries(
        app.channel(),
        &app.tenant.token,
        ListDeliveriesRequest {
            subscription_id: subscription.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(deliveries.len(), TOTAL);
    assert!(deliveries.iter().all(|d| d.attempts == 1));
    replica.stop().await;
}

on_both_databases!(
    gone_disables_subscription,
    ordered_delivery,
    rotation_overlap,
    crash_mid_flight,
);
