//! The Prometheus endpoint of a real `hookrelay serve` process (metrics are
//! process-wide, so the server runs alone in its own process): publishes,
//! delivery outcomes, attempt latency, in-flight, queue depth, endpoints'
//! health and gRPC requests by status code are all counted.

mod common;

use common::process::{BIN, ServeProcess, bootstrap_tenant, free_port, wait_for_port};
use common::receiver::{Reply, TestReceiver};
use common::{Backend, TestDatabase, authed, connect, register_event_type};
use hookrelay::proto::event::Payload;
use hookrelay::proto::{
    CreateSubscriptionRequest, Event, PublishEventRequest, Subscription,
    event_service_client::EventServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use std::process::Command;
use std::time::{Duration, Instant};

/// `GET /metrics` over plain HTTP/1.1, as Prometheus scrapes it.
async fn scrape(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

/// The value of the sample whose name and labels start as `series` says
/// (`name{a="1",b="2"}` matches those labels in that order).
fn sample(text: &str, series: &str) -> Option<f64> {
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, labels.trim_end_matches('}')),
        None => (series, ""),
    };
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let (key_name, key_labels) = match key.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (key, ""),
            };
            let wanted: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
            let have: Vec<&str> = key_labels.split(',').collect();
            (key_name == name && wanted.iter().all(|w| have.contains(w)))
                .then(|| value.parse().ok())?
        })
}

async fn metrics_count_what_happened(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let token = bootstrap_tenant(&database.url);
    let metrics_port = free_port();
    let server = ServeProcess::start(
        &database.url,
        &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")],
        // One failed attempt makes the endpoint "failing": the 503 below
        // is announced, and so is the success that follows it.
        &[("HOOKRELAY_DISPATCH__FAILING_AFTER_ATTEMPTS", "1".to_owned())],
    );
    wait_for_port(metrics_port);

    // Before any traffic: the gauges exist and the queue is empty.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = scrape(metrics_port).await;
        // The sampler sets its gauges one after another: wait for both.
        let depth = sample(&before, "hookrelay_queue_depth{status=\"pending\"}");
        let failing = sample(&before, "hookrelay_subscriptions_failing");
        if let (Some(depth), Some(failing)) = (depth, failing) {
            assert_eq!(depth, 0.0, "{before}");
            assert_eq!(failing, 0.0, "{before}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no queue depth sampled:\n{before}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let channel = connect(server.url()).await;
    register_event_type(channel.clone(), &token, "invoice.paid").await;
    let receiver = TestReceiver::start().await;
    // The first attempt fails with a 503, the retry succeeds.
    receiver.script([Reply::status(503).with_header("retry-after", "1")]);
    SubscriptionServiceClient::new(channel.clone())
        .create_subscription(authed(
            &token,
            CreateSubscriptionRequest {
                subscription: Some(Subscription {
                    name: "billing".to_owned(),
                    url: receiver.url("/hooks"),
                    event_types: vec!["invoice.*".to_owned()],
                    ..Subscription::default()
                }),
                secret: String::new(),
            },
        ))
        .await
        .unwrap();
    let mut events = EventServiceClient::new(channel.clone());
    for n in 0..2 {
        events
            .publish_event(authed(
                &token,
                PublishEventRequest {
                    event: Some(Event {
                        r#type: "invoice.paid".to_owned(),
                        payload: Some(Payload::DataJson(format!("{{\"n\": {n}}}"))),
                        ..Event::default()
                    }),
                },
            ))
            .await
            .unwrap();
        if n == 0 {
            // The 503 alone in its group of results makes the endpoint
            // failing (with both in one group, the success would end the
            // run before it was recorded).
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let text = scrape(metrics_port).await;
                let failing = sample(
                    &text,
                    "hookrelay_subscription_health_events_total{type=\"failing\"}",
                );
                if failing == Some(1.0) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the 503 was never announced:\n{text}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let refused = events
        .publish_event(authed(
            &token,
            PublishEventRequest {
                event: Some(Event {
                    r#type: "never.registered".to_owned(),
                    payload: Some(Payload::DataJson("{}".to_owned())),
                    ..Event::default()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let unauthenticated = events
        .publish_event(PublishEventRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.code(), tonic::Code::Unauthenticated);

    // Two events, three attempts: one 503 then two successes.
    receiver.wait_for(3, Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = scrape(metrics_port).await;
        let succeeded = sample(
            &text,
            "hookrelay_delivery_attempts_total{outcome=\"succeeded\"}",
        );
        let depth = sample(&text, "hookrelay_queue_depth{status=\"pending\"}");
        let recovered = sample(
            &text,
            "hookrelay_subscription_health_events_total{type=\"recovered\"}",
        );
        let failing = sample(&text, "hookrelay_subscriptions_failing");
        if succeeded == Some(2.0)
            && depth == Some(0.0)
            && recovered == Some(1.0)
            && failing == Some(0.0)
        {
            break text;
        }
        assert!(Instant::now() < deadline, "metrics never settled:\n{text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    };
    expect("hookrelay_events_published_total", 2.0);
    expect(
        "hookrelay_delivery_attempts_total{outcome=\"retrying\"}",
        1.0,
    );
    expect(
        "hookrelay_delivery_attempt_duration_seconds_count{result=\"2xx\"}",
        2.0,
    );
    expect(
        "hookrelay_delivery_attempt_duration_seconds_count{result=\"5xx\"}",
        1.0,
    );
    expect("hookrelay_deliveries_in_flight", 0.0);
    // The 503 made the endpoint failing (announced once); the retry's
    // success ended the run (announced once); nothing fails now.
    expect(
        "hookrelay_subscription_health_events_total{type=\"failing\"}",
        1.0,
    );
    expect(
        "hookrelay_subscription_health_events_total{type=\"recovered\"}",
        1.0,
    );
    expect("hookrelay_subscriptions_failing", 0.0);
    expect("hookrelay_queue_depth{status=\"in_flight\"}", 0.0);
    let publish = "service=\"hookrelay.v1.EventService\",method=\"PublishEvent\"";
    expect(
        &format!("hookrelay_grpc_requests_total{{{publish},code=\"OK\"}}"),
        2.0,
    );
    expect(
        &format!("hookrelay_grpc_requests_total{{{publish},code=\"INVALID_ARGUMENT\"}}"),
        1.0,
    );
    expect(
        &format!("hookrelay_grpc_requests_total{{{publish},code=\"UNAUTHENTICATED\"}}"),
        1.0,
    );
    assert!(
        text.contains("hookrelay_grpc_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("# HELP hookrelay_delivery_attempts_total"),
        "{text}"
    );
}

on_both_databases!(metrics_count_what_happened);

#[test]
fn a_taken_metrics_address_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", &addr])
        .env(
            "HOOKRELAY_DATABASE_URL",
            format!("sqlite://{}/hr.db", dir.path().display()),
        )
        .env_remove("HOOKRELAY_TEST_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen for metrics on {addr}")),
        "{stderr}"
    );
}
