//! Routing with payload filters (issue 12): what 1,000 filtered
//! subscriptions cost one published event. Two figures, release mode:
//!
//! 1. the filters alone: an event's data parsed once, then 1,000 parsed
//!    filters evaluated against it, which is what publishing adds per
//!    event for a tenant with 1,000 filtered subscriptions of its type;
//! 2. through the API, in-process on SQLite: 16 concurrent PublishEvent
//!    callers to a tenant with 1,000 filtered subscriptions, against the same
//!    tenant publishing a type none of them subscribes to.
//!
//! ```sh
//! cargo bench --bench routing                  # both
//! cargo bench --bench routing -- --events 5000
//! ```
//!
//! A measurement, not a test: nothing here asserts a time.

use axum::Router;
use base64::Engine;
use clap::Parser;
use hookrelay::config::{Settings, SqliteSynchronous};
use hookrelay::domain::{Capabilities, PayloadFilter, ResourceName, SecretCipher};
use hookrelay::proto::{
    CreateEventTypeRequest, CreateSubscriptionRequest, Event, EventType, PublishEventRequest,
    Subscription, event::Payload, event_service_client::EventServiceClient,
    event_type_service_client::EventTypeServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use hookrelay::service::tenants::{self, NewApiKey};
use hookrelay::startup::{Application, open_database};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUBSCRIPTIONS: usize = 1_000;
/// Concurrent publishing callers in part 2, as a busy publisher has.
const CONCURRENCY: usize = 16;

#[derive(Parser, Debug)]
struct Args {
    /// Events evaluated (part 1) and published per phase (part 2).
    #[arg(long, default_value_t = 2_000)]
    events: usize,
    /// Skip part 2 (the API).
    #[arg(long)]
    filters_only: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Subscription `i`'s filter: five shapes that real subscribers write.
fn filter(i: usize) -> Value {
    match i % 5 {
        0 => json!({"amount": {"$gte": i * 10}, "currency": "EUR"}),
        1 => {
            json!({"customer.country": {"$in": ["DE", "FR", format!("C{i}")]}, "plan": {"$ne": "free"}})
        }
        2 => json!({"$or": [{"plan": format!("p{i}")}, {"seats": {"$gt": 1_000 + i}}]}),
        3 => json!({"sku": {"$prefix": format!("sku-{i}-")}}),
        _ => json!({"customer.id": format!("cus_{i}"), "coupon": {"$exists": false}}),
    }
}

/// Event `k`'s data: about 1 KiB, matched by at most one filter.
fn data(k: usize) -> String {
    json!({
        "amount": 500 + k % 100,
        "currency": "USD",
        "customer": {"id": format!("cus_{}", k % SUBSCRIPTIONS), "country": "US", "name": "Ada Lovelace"},
        "plan": "free",
        "seats": 3,
        "sku": "sku-x",
        "items": (0..8).map(|n| json!({"sku": format!("item-{n}"), "qty": n, "price": 9.99})).collect::<Vec<_>>(),
        "note": "x".repeat(400),
    })
    .to_string()
}

fn filters_alone(events: usize) {
    let filters: Vec<PayloadFilter> = (0..SUBSCRIPTIONS)
        .map(|i| PayloadFilter::parse(&filter(i)).expect("valid"))
        .collect();
    let payloads: Vec<String> = (0..events).map(data).collect();
    let started = Instant::now();
    let mut matched = 0usize;
    for payload in &payloads {
        let data: Value = serde_json::from_str(payload).expect("json");
        matched += filters.iter().filter(|f| f.matches(&data)).count();
    }
    let per_event = started.elapsed() / events as u32;
    println!(
        "filters alone: {per_event:?} per event with {SUBSCRIPTIONS} filters \
         ({:.0} ns per filter, data parse included; {matched} matches in {events} events)",
        per_event.as_nanos() as f64 / SUBSCRIPTIONS as f64
    );
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}").parse().expect("header");
    request.metadata_mut().insert("authorization", value);
    request
}

async fn through_the_api(events: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, Router::new().fallback(|| async { "ok" }))
            .await
            .ok()
    });
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: format!("sqlite://{}/bench.db", dir.path().display()),
        dev: true,
        secret_key: Some(
            base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key()),
        ),
        log_filter: "warn".to_owned(),
        sqlite_synchronous: SqliteSynchronous::Normal,
        ..Settings::default()
    };
    let app = Application::build(&settings).await.expect("server builds");
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let db = open_database(&settings).await.expect("db");
    let tenant = tenants::create_tenant(&db, &ResourceName::parse("bench").expect("name"))
        .await
        .expect("tenant");
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
    .expect("key");
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    for name in ["bench.order", "bench.other"] {
        EventTypeServiceClient::new(channel.clone())
            .create_event_type(authed(
                &token,
                CreateEventTypeRequest {
                    event_type: Some(EventType {
                        name: name.to_owned(),
                        ..EventType::default()
                    }),
                },
            ))
            .await
            .expect("event type");
    }
    let mut subscriptions = SubscriptionServiceClient::new(channel.clone());
    for i in 0..SUBSCRIPTIONS {
        let Value::Object(object) = filter(i) else {
            unreachable!("filters are objects")
        };
        subscriptions
            .create_subscription(authed(
                &token,
                CreateSubscriptionRequest {
                    subscription: Some(Subscription {
                        name: format!("filtered-{i}"),
                        url: receiver_url.clone(),
                        event_types: vec!["bench.order".to_owned()],
                        filter: Some(to_struct(&Value::Object(object))),
                        ..Subscription::default()
                    }),
                    secret: String::new(),
                },
            ))
            .await
            .expect("subscription");
    }
    let publisher = EventServiceClient::new(channel.clone());
    let baseline = publish_all(&publisher, &token, "bench.other", events).await;
    let (filtered, delivered) = publish_all(&publisher, &token, "bench.order", events).await;
    println!(
        "through the API (SQLite, {CONCURRENCY} concurrent PublishEvent callers): \
         {filtered:?} per event routed through {SUBSCRIPTIONS} filtered subscriptions \
         ({delivered} deliveries in {events} events), {:?} per event of a type none of \
         them subscribes to",
        baseline.0
    );
    shutdown.cancel();
    server.await.ok();
}

/// Publishes `events` events of `event_type` from [`CONCURRENCY`] callers,
/// after one publish that loads the tenant's routing: wall time per event,
/// and the deliveries made.
async fn publish_all(
    publisher: &EventServiceClient<Channel>,
    token: &str,
    event_type: &str,
    events: usize,
) -> (Duration, u32) {
    publish(
        publisher.clone(),
        token.to_owned(),
        event_type.to_owned(),
        0,
    )
    .await;
    let next = Arc::new(AtomicUsize::new(1));
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (next, publisher) = (Arc::clone(&next), publisher.clone());
        let (token, event_type) = (token.to_owned(), event_type.to_owned());
        callers.spawn(async move {
            let mut delivered = 0;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k > events {
                    return delivered;
                }
                delivered += publish(publisher.clone(), token.clone(), event_type.clone(), k).await;
            }
        });
    }
    let delivered = callers.join_all().await.into_iter().sum();
    (started.elapsed() / events as u32, delivered)
}

/// Publishes event `k`; returns how many deliveries it made.
async fn publish(
    mut client: EventServiceClient<Channel>,
    token: String,
    event_type: String,
    k: usize,
) -> u32 {
    let request = authed(
        &token,
        PublishEventRequest {
            event: Some(Event {
                r#type: event_type,
                payload: Some(Payload::DataJson(data(k))),
                ..Event::default()
            }),
        },
    );
    client
        .publish_event(request)
        .await
        .expect("publish")
        .into_inner()
        .subscription_count
}

fn to_struct(value: &Value) -> prost_types::Struct {
    let Value::Object(object) = value else {
        return prost_types::Struct::default();
    };
    prost_types::Struct {
        fields: object
            .iter()
            .map(|(key, value)| (key.clone(), to_value(value)))
            .collect(),
    }
}

fn to_value(value: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(to_struct(value)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    filters_alone(args.events.max(1));
    if !args.filters_only {
        through_the_api(args.events.max(1)).await;
    }
}
