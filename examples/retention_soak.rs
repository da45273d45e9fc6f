//! Retention's soak run: a server in this process, a receiver that answers
//! 204, and events published at a fixed rate for a few minutes, printing
//! the stored rows and the database's size as it goes, so that the sizes
//! with retention (they level off) and without (they grow) can be compared.
//!
//! ```sh
//! cargo run --release --example retention_soak -- \
//!     [--database-url sqlite:///tmp/soak.db | postgres://...] \
//!     [--minutes 3] [--rate 50] [--retention-secs 30 | --retention-secs 0]
//! ```
//!
//! `--retention-secs 0` turns retention off. `--vacuum-secs N` (Postgres)
//! runs a plain `VACUUM` of the three tables every N seconds, standing in
//! for autovacuum on a server where it is off (as on the development
//! machine; check with `SHOW autovacuum`). On SQLite the size is the
//! database file plus its WAL; on Postgres it is the three tables with
//! their indexes and TOAST (`pg_total_relation_size`). A Postgres URL names
//! a database that is emptied first (its tables dropped), so give it one of
//! its own. Not a test: `tests/retention.rs` has the short version.

use hookrelay::config::Settings;
use hookrelay::domain::{Capabilities, ResourceName};
use hookrelay::proto::{
    CreateEventTypeRequest, CreateSubscriptionRequest, Event, EventType, PublishEventRequest,
    Subscription, event::Payload, event_service_client::EventServiceClient,
    event_type_service_client::EventTypeServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use hookrelay::service::tenants::{self, NewApiKey};
use hookrelay::startup::{Application, open_database};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

struct Args {
    database_url: String,
    minutes: u64,
    rate: u64,
    retention_secs: u64,
    vacuum_secs: u64,
}

fn args() -> Args {
    let mut args = Args {
        database_url: "sqlite:///tmp/hookrelay-soak.db".to_owned(),
        minutes: 3,
        rate: 50,
        retention_secs: 30,
        vacuum_secs: 0,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{flag}: {value}"))
        };
        match flag.as_str() {
            "--database-url" => args.database_url = value.clone(),
            "--minutes" => args.minutes = number(),
            "--rate" => args.rate = number(),
            "--retention-secs" => args.retention_secs = number(),
            "--vacuum-secs" => args.vacuum_secs = number(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

#[tokio::main]
async fn main() {
    let args = args();
    let sqlite_file = args
        .database_url
        .strip_prefix("sqlite://")
        .map(str::to_owned);
    if let Some(file) = &sqlite_file {
        for suffix in ["", "-wal", "-shm", ".key"] {
            let _ = std::fs::remove_file(format!("{file}{suffix}"));
        }
    } else {
        let db = sea_orm::Database::connect(&args.database_url)
            .await
            .unwrap();
        db.execute_unprepared("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            .await
            .unwrap();
    }
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: args.database_url.clone(),
        dev: true,
        log_filter: "warn".to_owned(),
        secret_key: Some(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            hookrelay::domain::SecretCipher::generate_key(),
        )),
        ..Settings::default()
    };
    settings.retention.enabled = args.retention_secs > 0;
    if args.retention_secs > 0 {
        settings.retention.deliveries_secs = args.retention_secs;
        settings.retention.events_secs = args.retention_secs;
        settings.retention.interval_ms = 5_000;
    }
    hookrelay::telemetry::init(settings.log_format, &settings.log_filter);
    let app = Application::build(&settings)
        .await
        .expect("the server builds");
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let receiver = start_receiver().await;

    let db = open_database(&settings).await.unwrap();
    let tenant = tenants::create_tenant(&db, &ResourceName::parse("soak").unwrap())
        .await
        .unwrap();
    let (_, token) = tenants::insert_api_key(
        &db,
        &tenant.id,
        NewApiKey {
            name: "soak".to_owned(),
            capabilities: Capabilities::parse_list("manage,publish,read").unwrap(),
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
                    name: "order.created".to_owned(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    SubscriptionServiceClient::new(channel.clone())
        .create_subscription(authed(
            &token,
            CreateSubscriptionRequest {
                subscription: Some(Subscription {
                    name: "soak".to_owned(),
                    url: format!("http://{receiver}/hook"),
                    event_types: vec!["order.created".to_owned()],
                    ..Default::default()
                }),
                secret: String::new(),
            },
        ))
        .await
        .unwrap();

    println!(
        "# {} at {} events/s for {} min, retention {}{}",
        if sqlite_file.is_some() {
            "SQLite"
        } else {
            "Postgres"
        },
        args.rate,
        args.minutes,
        if args.retention_secs > 0 {
            format!("{} s", args.retention_secs)
        } else {
            "off".to_owned()
        },
        if args.vacuum_secs > 0 {
            format!(", VACUUM every {} s", args.vacuum_secs)
        } else {
            String::new()
        }
    );
    println!("elapsed_s\tpublished\tevents\tdeliveries\tattempts\tsize_kib");
    let events = EventServiceClient::new(channel);
    let payload = format!(r#"{{"order":"{}"}}"#, "x".repeat(400));
    let started = Instant::now();
    let run_for = Duration::from_secs(args.minutes * 60);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut published = 0u64;
    let mut next_report = Duration::ZERO;
    let vacuum_every = Duration::from_secs(args.vacuum_secs);
    let mut next_vacuum = vacuum_every;
    while started.elapsed() < run_for {
        tick.tick().await;
        // Each publish on its own task, so a slow commit (an fsync) does
        // not lower the rate.
        let mut events = events.clone();
        let request = authed(
            &token,
            PublishEventRequest {
                event: Some(Event {
                    r#type: "order.created".to_owned(),
                    payload: Some(Payload::DataJson(payload.clone())),
                    ..Default::default()
                }),
            },
        );
        tokio::spawn(async move { events.publish_event(request).await.unwrap() });
        published += 1;
        if args.vacuum_secs > 0 && sqlite_file.is_none() && started.elapsed() >= next_vacuum {
            db.execute_unprepared("VACUUM events, deliveries, delivery_attempts")
                .await
                .unwrap();
            next_vacuum += vacuum_every;
        }
        if started.elapsed() >= next_report {
            report(&db, sqlite_file.as_deref(), started.elapsed(), published).await;
            next_report += Duration::from_secs(15);
        }
    }
    report(&db, sqlite_file.as_deref(), started.elapsed(), published).await;
    shutdown.cancel();
    let _ = server.await;
}

async fn report(
    db: &sea_orm::DatabaseConnection,
    file: Option<&str>,
    at: Duration,
    published: u64,
) {
    let count = |table: &str| {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    let size_kib = match file {
        Some(file) => {
            ["", "-wal"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(format!("{file}{suffix}")).ok())
                .map(|m| m.len())
                .sum::<u64>()
                / 1024
        }
        None => {
            let row = db
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::Postgres,
                    "SELECT (pg_total_relation_size('events') + pg_total_relation_size('deliveries') \
                     + pg_total_relation_size('delivery_attempts'))::bigint",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap() as u64 / 1024
        }
    };
    println!(
        "{:.0}\t{published}\t{}\t{}\t{}\t{size_kib}",
        at.as_secs_f64(),
        count("events").await,
        count("deliveries").await,
        count("delivery_attempts").await,
    );
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Answers every webhook 204, on a port of its own.
async fn start_receiver() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::NO_CONTENT });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
