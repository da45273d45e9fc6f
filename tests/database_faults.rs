//! Faults from outside, under load: Postgres refusing connections while
//! publishers keep publishing, and receivers that answer a byte at a time,
//! send a gigabyte, or never answer. Each test reports what it lost, and
//! the loss must be zero acknowledged events.

mod common;

use common::builders::secs;
use common::delivering::{self, EVENT_TYPE, attempts_of, duration_of, event, fast_retries};
use common::outage::Outage;
use common::receiver::TestReceiver;
use common::{Backend, TestApp, register_event_type, spawn_app_with, wait_until};
use hookrelay::proto::{
    DeliveryStatus, PublishEventRequest, Subscription, event_service_client::EventServiceClient,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

async fn health(app: &TestApp) -> Option<ServingStatus> {
    let response = HealthClient::new(app.channel())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

/// One publish call as the publishers saw it.
struct Call {
    took: Duration,
    /// The event's id if the call was acknowledged, else the status code.
    outcome: Result<String, tonic::Code>,
}

/// Publishes one event after another until `stop`, recording each call.
async fn publish_until(
    app_channel: tonic::transport::Channel,
    token: String,
    stop: Arc<AtomicBool>,
    seq: Arc<AtomicU64>,
) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut client = EventServiceClient::new(app_channel);
    while !stop.load(Ordering::Acquire) {
        let n = seq.fetch_add(1, Ordering::AcqRel);
        let started = Instant::now();
        let result = client
            .publish_event(common::authed(
                &token,
                PublishEventRequest {
                    event: Some(event(serde_json::json!({"seq": n}))),
                },
            ))
            .await;
        calls.push(Call {
            took: started.elapsed(),
            outcome: result
                .map(|r| r.into_inner().event.expect("event in response").id)
                .map_err(|status| status.code()),
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    calls
}

/// Waits (up to `deadline`) for every acknowledged event to reach the
/// receiver, and returns how many never did.
async fn lost_of(
    receiver: &TestReceiver,
    acknowledged: &HashSet<String>,
    deadline: Duration,
) -> usize {
    let delivered = || {
        receiver
            .received()
            .iter()
            .map(delivering::webhook_id)
            .collect::<HashSet<String>>()
    };
    wait_until(deadline, || async {
        let seen = delivered();
        acknowledged.iter().all(|id| seen.contains(id))
    })
    .await;
    let seen = delivered();
    acknowledged.iter().filter(|id| !seen.contains(*id)).count()
}

/// Postgres stops taking connections (and drops the ones it has) for a few
/// seconds while four publishers keep publishing: publishes fail with
/// UNAVAILABLE, none hangs, health says NOT_SERVING, and when the database
/// is back the dispatcher resumes by itself and every acknowledged event
/// is delivered.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn postgres_going_away_under_load_loses_nothing_acknowledged() {
    const PUBLISHERS: usize = 4;
    let app = spawn_app_with(Backend::Postgres, |s| {
        // A lease short enough that a result lost to the outage would be
        // sent again within the test, so a lost delivery shows as a
        // duplicate rather than as waiting.
        s.dispatch.lease_ms = 5_000;
    })
    .await;
    let receiver = TestReceiver::start().await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    delivering::subscribe(
        &app,
        Subscription {
            name: "steady".to_owned(),
            url: receiver.url("/steady"),
            event_types: vec![EVENT_TYPE.to_owned()],
            retry_policy: fast_retries(10),
            ..Default::default()
        },
    )
    .await;
    let outage = Outage::of(&app.database.url).await;

    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(0));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            tokio::spawn(publish_until(
                app.channel(),
                app.tenant.token.clone(),
                Arc::clone(&stop),
                Arc::clone(&seq),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    outage.begin().await;
    let down = wait_until(Duration::from_secs(15), || async {
        health(&app).await == Some(ServingStatus::NotServing)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    outage.end().await;
    let up = wait_until(Duration::from_secs(15), || async {
        health(&app).await == Some(ServingStatus::Serving)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Release);
    let mut calls = Vec::new();
    for publisher in publishers {
        calls.extend(publisher.await.expect("publisher task"));
    }
    assert!(
        down,
        "health never reported NOT_SERVING while the database was away"
    );
    assert!(up, "health never returned to SERVING");

    let acknowledged: HashSet<String> = calls
        .iter()
        .filter_map(|c| c.outcome.clone().ok())
        .collect();
    let refused: Vec<tonic::Code> = calls
        .iter()
        .filter_map(|c| c.outcome.as_ref().err().copied())
        .collect();
    let slowest = calls.iter().map(|c| c.took).max().unwrap_or_default();
    let other_codes: Vec<_> = refused
        .iter()
        .filter(|code| **code != tonic::Code::Unavailable)
        .collect();
    assert!(
        other_codes.is_empty(),
        "publishes refused with other codes than UNAVAILABLE: {other_codes:?}"
    );
    assert!(
        !refused.is_empty(),
        "no publish failed: the database never went away under the publishers"
    );
    // A hang detector, not a speed target: the pool gives up on a
    // connection after 5 s.
    assert!(
        slowest < Duration::from_secs(15),
        "a publish hung for {slowest:?}"
    );

    // The dispatcher resumes by itself: every acknowledged event arrives.
    let lost = lost_of(&receiver, &acknowledged, Duration::from_secs(60)).await;
    let seen: HashSet<String> = receiver
        .received()
        .iter()
        .map(delivering::webhook_id)
        .collect();
    println!(
        "postgres outage: {} publishes acknowledged, {} refused (UNAVAILABLE), slowest call {:?}, {} acknowledged lost, {} requests for {} events",
        acknowledged.len(),
        refused.len(),
        slowest,
        lost,
        receiver.received().len(),
        seen.len(),
    );
    assert_eq!(lost, 0, "{lost} acknowledged events were never delivered");
}

// ---------------------------------------------------------------------------
// Receivers that misbehave
// ---------------------------------------------------------------------------

/// How a raw receiver misbehaves once it has read a request.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Sends a 200 response one byte every 200 ms.
    Trickles,
    /// Sends a 200 with a 1 GiB body, as fast as it is read.
    SendsAGigabyte,
    /// Reads the request and never answers (nor closes).
    NeverAnswers,
}

/// A receiver on a raw socket; returns its URL and a count of the body
/// bytes it managed to send.
async fn misbehaving_receiver(how: Misbehaviour) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/misbehaving", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                // Read until the end of the headers; the body is small.
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                match how {
                    Misbehaviour::Trickles => {
                        for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" {
                            if socket.write_all(&[*byte]).await.is_err() {
                                return;
                            }
                            counter.fetch_add(1, Ordering::AcqRel);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    Misbehaviour::SendsAGigabyte => {
                        const GIB: u64 = 1 << 30;
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {GIB}\r\n\r\n");
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk = vec![b'x'; 64 * 1024];
                        let mut written = 0;
                        while written < GIB {
                            if socket.write_all(&chunk).await.is_err() {
                                return;
                            }
                            written += chunk.len() as u64;
                            counter.fetch_add(chunk.len() as u64, Ordering::AcqRel);
                        }
                    }
                    Misbehaviour::NeverAnswers => {
                        // Hold the socket open until the client gives up.
                        let _ = socket.read(&mut buffer).await;
                    }
                }
            });
        }
    });
    (url, sent)
}

/// Each misbehaving receiver costs one attempt bounded by the
/// subscription's timeout (1 s here) and the recorded-body cap, and the
/// delivery is not left leased.
async fn misbehaving_receivers_are_bounded(backend: Backend) {
    const TIMEOUT: Duration = Duration::from_secs(1);
    let app = spawn_app_with(backend, |_| {}).await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    for how in [
        Misbehaviour::Trickles,
        Misbehaviour::SendsAGigabyte,
        Misbehaviour::NeverAnswers,
    ] {
        let (url, sent) = misbehaving_receiver(how).await;
        let (subscription, _) = delivering::subscribe(
            &app,
            Subscription {
                name: format!("{how:?}").to_lowercase(),
                url,
                event_types: vec![EVENT_TYPE.to_owned()],
                timeout: Some(secs(TIMEOUT.as_secs() as i64)),
                retry_policy: fast_retries(1),
                ..Default::default()
            },
        )
        .await;
        let event_id = delivering::publish(&app, serde_json::json!({"case": format!("{how:?}")}))
            .await
            .event
            .expect("event")
            .id;
        let finished = |d: &hookrelay::proto::Delivery| {
            d.subscription_id == subscription.id
                && (d.status == DeliveryStatus::Succeeded as i32
                    || d.status == DeliveryStatus::Failed as i32)
        };
        let mut delivery = None;
        let found = wait_until(Duration::from_secs(20), || {
            let app = &app;
            let event_id = event_id.clone();
            let subscription_id = subscription.id.clone();
            async move {
                let all = delivering::deliveries_of_event(app, &event_id).await;
                all.into_iter()
                    .find(|d| d.subscription_id == subscription_id && finished(d))
                    .is_some()
            }
        })
        .await;
        if found {
            delivery = delivering::deliveries_of_event(&app, &event_id)
                .await
                .into_iter()
                .find(|d| d.subscription_id == subscription.id);
        }
        let delivery = delivery.unwrap_or_else(|| panic!("{how:?}: the delivery never finished"));
        let attempts = attempts_of(&app, &delivery.id).await;
        assert_eq!(attempts.len(), 1, "{how:?}: one attempt: {attempts:?}");
        let attempt = &attempts[0];
        let took = duration_of(attempt);
        // The bound under test: the timeout, plus scheduling slack.
        assert!(
            took < TIMEOUT + Duration::from_secs(2),
            "{how:?}: the attempt took {took:?} with a timeout of {TIMEOUT:?}"
        );
        assert!(
            attempt.response_body.len() <= hookrelay::dispatch::MAX_RECORDED_BODY,
            "{how:?}: recorded {} body bytes",
            attempt.response_body.len()
        );
        match how {
            Misbehaviour::SendsAGigabyte => {
                assert_eq!(delivery.status, DeliveryStatus::Succeeded as i32, "{how:?}");
                // hookrelay stopped reading after the cap: the receiver got
                // no further than what the sockets' buffers hold.
                let bytes = sent.load(Ordering::Acquire);
                assert!(
                    bytes < 256 << 20,
                    "{how:?}: the receiver sent {bytes} bytes before hookrelay hung up"
                );
                println!(
                    "{how:?}: the receiver sent {bytes} bytes of its 1 GiB before hookrelay hung up"
                );
            }
            Misbehaviour::Trickles | Misbehaviour::NeverAnswers => {
                assert_eq!(delivery.status, DeliveryStatus::Failed as i32, "{how:?}");
                assert!(
                    attempt.error.contains("timed out"),
                    "{how:?}: the attempt's error says why: {:?}",
                    attempt.error
                );
            }
        }
        println!("{how:?}: one attempt of {took:?}, {:?}", attempt.error);
    }
}

on_both_databases!(misbehaving_receivers_are_bounded);

/// SQLite with no room left (here the file at `sqlite_max_size_mib`, which
/// fails writes exactly as a full disk does, with SQLITE_FULL): publishes
/// are refused with RESOURCE_EXHAUSTED and say why, none hangs, the file
/// stays sound, every acknowledged event is delivered, and once space is
/// freed publishing works again by itself.
#[tokio::test]
async fn sqlite_full_refuses_publishes_and_recovers() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app_with(Backend::Sqlite, |s| s.sqlite_max_size_mib = 1).await;
    let receiver = TestReceiver::start().await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    delivering::subscribe(
        &app,
        Subscription {
            name: "filling".to_owned(),
            url: receiver.url("/filling"),
            event_types: vec![EVENT_TYPE.to_owned()],
            retry_policy: fast_retries(10),
            ..Default::default()
        },
    )
    .await;
    let client = EventServiceClient::new(app.channel());
    let padding = "x".repeat(4_000);
    let publish = |n: usize| {
        let mut client = client.clone();
        let token = app.tenant.token.clone();
        let padding = padding.clone();
        async move {
            let started = Instant::now();
            let result = client
                .publish_event(common::authed(
                    &token,
                    PublishEventRequest {
                        event: Some(event(serde_json::json!({"seq": n, "padding": padding}))),
                    },
                ))
                .await;
            (
                started.elapsed(),
                result.map(|r| r.into_inner().event.expect("event").id),
            )
        }
    };
    let mut acknowledged = HashSet::new();
    let mut refusal = None;
    let mut slowest = Duration::ZERO;
    for n in 0..1_000 {
        let (took, result) = publish(n).await;
        slowest = slowest.max(took);
        match result {
            Ok(id) => {
                acknowledged.insert(id);
            }
            Err(status) => {
                refusal = Some(status);
                break;
            }
        }
    }
    let refusal = refusal.expect("1,000 events of 4 KB never filled a 1 MiB database");
    assert_eq!(
        refusal.code(),
        tonic::Code::ResourceExhausted,
        "{refusal:?}"
    );
    assert!(
        refusal.message().contains("database is full"),
        "the refusal says why: {refusal:?}"
    );
    // Still full: refused again, at once.
    let (took, again) = publish(1_000).await;
    slowest = slowest.max(took);
    assert_eq!(
        again.expect_err("the database is still full").code(),
        tonic::Code::ResourceExhausted
    );
    assert!(
        slowest < Duration::from_secs(15),
        "a publish hung for {slowest:?}"
    );

    let integrity = app
        .db
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .expect("integrity check")
        .expect("a row");
    let verdict: String = integrity.try_get_by_index(0).expect("text");
    assert_eq!(verdict, "ok", "the full database is still sound");

    let lost = lost_of(&receiver, &acknowledged, Duration::from_secs(30)).await;
    println!(
        "sqlite full: {} publishes acknowledged before the cap, refused with {:?}, slowest call {slowest:?}, {lost} acknowledged lost",
        acknowledged.len(),
        refusal.code(),
    );
    assert_eq!(lost, 0, "{lost} acknowledged events were never delivered");

    // The operator frees space (as retention would): the next publishes
    // go through and are delivered, with no restart.
    app.db
        .execute_unprepared(
            "DELETE FROM delivery_attempts; DELETE FROM deliveries; DELETE FROM events;",
        )
        .await
        .expect("free space");
    let resumed = wait_until(Duration::from_secs(10), || async {
        publish(2_000).await.1.is_ok()
    })
    .await;
    assert!(resumed, "publishing never resumed once space was freed");
    let (_, after) = publish(2_001).await;
    let after = after.expect("a publish after space returned");
    let arrived = wait_until(Duration::from_secs(10), || async {
        receiver
            .received()
            .iter()
            .any(|r| delivering::webhook_id(r) == after)
    })
    .await;
    assert!(
        arrived,
        "the event published after the recovery was delivered"
    );
}
