//! End-to-end benchmark: starts hookrelay in-process (release build), a fast
//! local receiver and a load generator, then reports publish rate, delivery
//! rate, publish-to-delivery latency and peak memory.
//!
//! ```sh
//! cargo bench --bench delivery -- --database sqlite --subscriptions 1 --events 20000
//! cargo bench --bench delivery -- --database postgres --subscriptions 10 --events 2000
//! cargo bench --bench delivery -- --database sqlite --rate 1000 --events 10000   # steady load
//! ```
//!
//! Postgres uses `HOOKRELAY_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) to create a scratch database.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use clap::Parser;
use hookrelay::config::{Settings, SqliteSynchronous};
use hookrelay::domain::{Capabilities, ResourceName, SecretCipher};
use hookrelay::proto::{
    BatchPublishEventsRequest, BodyField, BodyFormat, CreateEventTypeRequest,
    CreateSubscriptionRequest, DeliveryProfile, Event, EventType, PublishEventRequest,
    Subscription, event::Payload, event_service_client::EventServiceClient,
    event_type_service_client::EventTypeServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use hookrelay::service::tenants::{self, NewApiKey};
use hookrelay::startup::{Application, open_database};
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

/// The allocator the server binary uses (see src/main.rs), so the figures
/// are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
struct Args {
    /// sqlite or postgres.
    #[arg(long, default_value = "sqlite")]
    database: String,
    #[arg(long, default_value_t = 1)]
    subscriptions: usize,
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent publishing clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Events per publish call (1 = PublishEvent, more = BatchPublishEvents).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Publish at this steady rate (events/s) instead of as fast as possible.
    #[arg(long)]
    rate: Option<u64>,
    /// SQLite durability: full (default) or normal.
    #[arg(long, default_value = "full")]
    sqlite_synchronous: String,
    /// Delivery profile: standard (the default Standard Webhooks envelope)
    /// or fields (a declared body shape, to measure its cost).
    #[arg(long, default_value = "standard")]
    profile: String,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    // `cargo bench` passes --bench; accept and ignore it.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Arrival times by event id, shared with the receiver.
#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    times: Mutex<HashMap<String, Vec<Instant>>>,
}

async fn receive(State(arrivals): State<Arc<Arrivals>>, headers: HeaderMap) -> &'static str {
    let now = Instant::now();
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        arrivals
            .times
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .push(now);
    }
    arrivals.count.fetch_add(1, Ordering::Relaxed);
    ""
}

/// The subscriptions' delivery profile. `fields` declares a body shape
/// (and keeps the webhook-id header the receiver counts by).
fn profile(name: &str) -> Option<DeliveryProfile> {
    let field = |name: &str, source: &str| BodyField {
        name: name.to_owned(),
        source: source.to_owned(),
    };
    match name {
        "standard" => None,
        "fields" => Some(DeliveryProfile {
            body: BodyFormat::Fields as i32,
            body_fields: vec![
                field("id", "id"),
                field("event", "type"),
                field("created", "timestamp_unix"),
                field("data", "data"),
                field("metadata", "metadata"),
            ],
            ..DeliveryProfile::default()
        }),
        other => panic!("unknown --profile {other:?}: use standard or fields"),
    }
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Publish-to-arrival latencies (sorted), distinct events seen, and
/// arrivals beyond one per subscription (duplicates).
fn latencies(
    published_at: &HashMap<String, Instant>,
    times: &HashMap<String, Vec<Instant>>,
    subscriptions: usize,
) -> (Vec<Duration>, usize, usize) {
    let mut latencies: Vec<Duration> = times
        .iter()
        .flat_map(|(id, arrivals)| {
            let sent = published_at.get(id).copied();
            arrivals
                .iter()
                .filter_map(move |at| sent.map(|sent| at.saturating_duration_since(sent)))
        })
        .collect();
    latencies.sort();
    let duplicates = times
        .values()
        .map(|v| v.len().saturating_sub(subscriptions))
        .sum();
    (latencies, times.len(), duplicates)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn database_url(kind: &str, dir: &std::path::Path) -> (String, Option<(String, String)>) {
    if kind == "postgres" {
        let admin = std::env::var("HOOKRELAY_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("hookrelay_bench_{}", std::process::id());
        let db = sea_orm::Database::connect(&admin).await.expect("postgres");
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .ok();
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create db");
        let prefix = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(p, _)| p)
            .to_owned();
        (format!("{prefix}/{name}"), Some((admin, name)))
    } else {
        (format!("sqlite://{}", dir.join("bench.db").display()), None)
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap();
    let (url, cleanup) = database_url(&args.database, dir.path()).await;

    // The receiver.
    let arrivals = Arc::new(Arrivals::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new()
        .fallback(receive)
        .with_state(Arc::clone(&arrivals));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });

    // The server.
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: url.clone(),
        dev: true,
        secret_key: Some(
            base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key()),
        ),
        log_filter: "warn".to_owned(),
        sqlite_synchronous: if args.sqlite_synchronous == "normal" {
            SqliteSynchronous::Normal
        } else {
            SqliteSynchronous::Full
        },
        ..Settings::default()
    };
    hookrelay::telemetry::init(settings.log_format, &settings.log_filter);
    let started = Instant::now();
    let app = Application::build(&settings).await.expect("server builds");
    let startup = started.elapsed();
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    let db = open_database(&settings).await.unwrap();
    let tenant = tenants::create_tenant(&db, &ResourceName::parse("bench").unwrap())
        .await
        .unwrap();
    let (_, token) = tenants::insert_api_key(
        &db,
        &tenant.id,
        NewApiKey {
            name: "bench".to_owned(),
            capabilities: Capabilities::all(),
            scope: None,
        },
    )
    .await
    .unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    EventTypeServiceClient::new(channel.clone())
        .create_event_type(authed(
            &token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: "bench.ping".to_owned(),
                    ..EventType::default()
                }),
            },
        ))
        .await
        .unwrap();
    for index in 0..args.subscriptions {
        SubscriptionServiceClient::new(channel.clone())
            .create_subscription(authed(
                &token,
                CreateSubscriptionRequest {
                    subscription: Some(Subscription {
                        name: format!("bench-{index}"),
                        url: receiver_url.clone(),
                        event_types: vec!["bench.ping".to_owned()],
                        profile: profile(&args.profile),
                        ..Subscription::default()
                    }),
                    secret: String::new(),
                },
            ))
            .await
            .unwrap();
    }

    // The load: events are numbered; each client takes the next batch.
    let published_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let publish_start = Instant::now();
    let pace = args
        .rate
        .map(|rate| Duration::from_secs_f64(args.batch as f64 / rate as f64));
    let mut clients = Vec::new();
    for _ in 0..args.concurrency {
        let (channel, token, next, published_at) = (
            channel.clone(),
            token.clone(),
            Arc::clone(&next),
            Arc::clone(&published_at),
        );
        let (events, batch) = (args.events, args.batch);
        clients.push(tokio::spawn(async move {
            let mut client = EventServiceClient::new(channel);
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= events {
                    break;
                }
                if let Some(pace) = pace {
                    // Steady load: batch k goes out at k * pace.
                    let due = publish_start + pace.mul_f64((first / batch) as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let ids: Vec<String> = (first..(first + batch).min(events))
                    .map(|n| format!("bench-{n}"))
                    .collect();
                let make = |id: &String| Event {
                    id: id.clone(),
                    r#type: "bench.ping".to_owned(),
                    payload: Some(Payload::DataJson(format!(
                        r#"{{"n":"{id}","padding":"0123456789abcdef"}}"#
                    ))),
                    ..Event::default()
                };
                let now = Instant::now();
                {
                    let mut map = published_at.lock().unwrap();
                    for id in &ids {
                        map.insert(id.clone(), now);
                    }
                }
                let result = if ids.len() == 1 {
                    client
                        .publish_event(authed(
                            &token,
                            PublishEventRequest {
                                event: Some(make(&ids[0])),
                            },
                        ))
                        .await
                        .map(|_| ())
                } else {
                    client
                        .batch_publish_events(authed(
                            &token,
                            BatchPublishEventsRequest {
                                events: ids.iter().map(make).collect(),
                            },
                        ))
                        .await
                        .map(|_| ())
                };
                if let Err(status) = result {
                    eprintln!("publish failed: {status}");
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let publish_elapsed = publish_start.elapsed();

    let expected = args.events * args.subscriptions;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    while arrivals.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered_elapsed = publish_start.elapsed();
    let delivered = arrivals.count.load(Ordering::Relaxed);

    let (latencies, distinct, duplicates) = latencies(
        &published_at.lock().unwrap(),
        &arrivals.times.lock().unwrap(),
        args.subscriptions,
    );

    println!("hookrelay bench ({})", args.database);
    println!(
        "  workload: {} subscription(s), {} events, {} clients, batch {}{}",
        args.subscriptions,
        args.events,
        args.concurrency,
        args.batch,
        args.rate
            .map(|r| format!(", steady {r} events/s"))
            .unwrap_or_default()
    );
    println!(
        "  server start-up (migrations included): {:.1} ms",
        startup.as_secs_f64() * 1000.0
    );
    println!(
        "  publish: {} events in {:.2} s = {:.0} events/s",
        args.events,
        publish_elapsed.as_secs_f64(),
        args.events as f64 / publish_elapsed.as_secs_f64()
    );
    println!(
        "  delivered: {delivered}/{expected} ({distinct} distinct events, {duplicates} duplicates) in {:.2} s = {:.0} deliveries/s end to end",
        delivered_elapsed.as_secs_f64(),
        delivered as f64 / delivered_elapsed.as_secs_f64()
    );
    println!(
        "  publish-to-delivery latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    println!(
        "  peak RSS of the bench process (server + receiver + load): {:.1} MiB",
        peak_rss_mib()
    );

    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    drop(db);
    if let Some((admin, name)) = cleanup
        && let Ok(db) = sea_orm::Database::connect(&admin).await
    {
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .ok();
    }
    if delivered < expected {
        eprintln!("incomplete: {delivered} of {expected} deliveries arrived");
        std::process::exit(1);
    }
}
