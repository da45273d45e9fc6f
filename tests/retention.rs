//! Retention from the outside: finished deliveries, their attempts and
//! events go once their period has passed (time passing is simulated by
//! moving chosen rows' timestamps back), while unfinished and young ones,
//! events still referred to, and other tenants' rows stay; replicas purge
//! side by side; a steady load keeps the tables bounded.

mod common;

use common::delivering::*;
use common::receiver::{Reply, TestReceiver};
use common::retention::*;
use common::{Backend, assert_status, authed, register_event_type, spawn_app_with, wait_until};
use hookrelay::domain::{RetentionPeriod, RetentionPolicy};
use hookrelay::proto::{
    BatchPublishEventsRequest, DeliveryStatus, GetDeliveryRequest, GetEventRequest, Subscription,
};
use hookrelay::service::retention::{PeriodChange, RetentionSettings, purge, set_tenant_retention};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::Code;

const OVERDUE: &str = "invoice.overdue";
const VOID: &str = "invoice.void";

/// Rounds the task gets to act (or not) before a "stays" check.
const FIVE_ROUNDS: Duration = Duration::from_millis(500);

/// A subscription of `invoice.overdue` to an endpoint that answers 503 for
/// a long while: its deliveries stay unfinished, retrying.
fn always_retrying(url: String) -> Subscription {
    Subscription {
        event_types: vec![OVERDUE.to_owned()],
        retry_policy: fast_retries(50),
        ..subscription_to(url)
    }
}

async fn event_exists(app: &common::TestApp, token: &str, id: &str) -> Result<(), tonic::Status> {
    events(app.channel())
        .get_event(authed(token, GetEventRequest { id: id.to_owned() }))
        .await
        .map(|_| ())
}

async fn old_finished_rows_go_and_unfinished_or_young_ones_stay(backend: Backend) {
    // Batches of 2: the three old events take several batches.
    let metrics_port = common::process::free_port();
    let app = spawn_app_with(backend, |settings| {
        retention_every_100ms(2)(settings);
        settings.metrics_listen = Some(([127, 0, 0, 1], metrics_port).into());
    })
    .await;
    for name in [EVENT_TYPE, OVERDUE, VOID] {
        register_event_type(app.channel(), &app.tenant.token, name).await;
    }
    let ok = TestReceiver::start().await;
    let down = TestReceiver::start().await;
    down.set_default(Reply::status(503));
    subscribe(&app, subscription_to(ok.url("/ok"))).await;
    subscribe(&app, always_retrying(down.url("/down"))).await;

    let mut old = Vec::new();
    for n in 0..3 {
        old.push(publish_to(&app, serde_json::json!({"n": n}), 1).await);
    }
    let young = publish_to(&app, serde_json::json!({"young": true}), 1).await;
    let kept_by_its_delivery = publish_to(&app, serde_json::json!({"kept": true}), 1).await;
    let unfinished = events(app.channel())
        .publish_event(app.req(hookrelay::proto::PublishEventRequest {
            event: Some(hookrelay::proto::Event {
                r#type: OVERDUE.to_owned(),
                ..event(serde_json::json!({"due": 1}))
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap()
        .id;
    let unrouted = events(app.channel())
        .publish_event(app.req(hookrelay::proto::PublishEventRequest {
            event: Some(hookrelay::proto::Event {
                r#type: VOID.to_owned(),
                ..event(serde_json::json!({"void": 1}))
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap()
        .id;
    for id in old.iter().chain([&young, &kept_by_its_delivery]) {
        wait_for_status(&app, id, DeliveryStatus::Succeeded, Duration::from_secs(10)).await;
    }
    down.wait_for(1, Duration::from_secs(10)).await;
    let old_deliveries: Vec<String> = {
        let mut ids = Vec::new();
        for id in &old {
            ids.extend(
                deliveries_of_event(&app, id)
                    .await
                    .into_iter()
                    .map(|d| d.id),
            );
        }
        ids
    };
    assert_eq!(old_deliveries.len(), 3);

    // A month and a day pass for some of them.
    let month = 31 * DAY;
    for id in &old {
        age_all_of(&app, id, month).await;
    }
    age_event(&app, &kept_by_its_delivery, month).await;
    age_deliveries_of(&app, &kept_by_its_delivery, 10 * DAY).await;
    age_all_of(&app, &unfinished, month).await;
    age_event(&app, &unrouted, month).await;

    let gone = wait_until(Duration::from_secs(15), || async {
        let mut all_gone = stored(&app, &unrouted).await == (0, 0, 0);
        for id in &old {
            all_gone &= stored(&app, id).await == (0, 0, 0);
        }
        all_gone
    })
    .await;
    assert!(
        gone,
        "old finished rows and the unrouted event were not deleted"
    );
    for id in &old_deliveries {
        assert_eq!(attempts_left(&app, id).await, 0, "attempts of {id}");
        assert_status(
            deliveries(app.channel())
                .get_delivery(app.req(GetDeliveryRequest { id: id.clone() }))
                .await,
            Code::NotFound,
            id,
        );
    }
    assert_status(
        event_exists(&app, &app.tenant.token, &old[0]).await,
        Code::NotFound,
        &old[0],
    );

    tokio::time::sleep(FIVE_ROUNDS).await;
    assert_eq!(stored(&app, &young).await, (1, 1, 1), "a young event stays");
    assert_eq!(
        stored(&app, &kept_by_its_delivery).await,
        (1, 1, 1),
        "an old event stays while its delivery is kept"
    );
    let (events_left, deliveries_left, _) = stored(&app, &unfinished).await;
    assert_eq!(
        (events_left, deliveries_left),
        (1, 1),
        "an unfinished delivery stays, and keeps its event"
    );
    let delivery = deliveries_of_event(&app, &unfinished).await.remove(0);
    assert!(
        [
            DeliveryStatus::Pending as i32,
            DeliveryStatus::InFlight as i32
        ]
        .contains(&delivery.status),
        "{delivery:?}"
    );
    event_exists(&app, &app.tenant.token, &young).await.unwrap();

    // What went is counted by table (metrics are per process, and other
    // tests of this binary count too: at least this test's rows), and the
    // age of what is kept is reported.
    let metrics = scrape_metrics(metrics_port).await;
    let deleted = |table: &str| {
        sample(
            &metrics,
            &format!("hookrelay_retention_deleted_rows_total{{table=\"{table}\"}}"),
        )
        .unwrap_or_else(|| panic!("no count of deleted {table} in\n{metrics}"))
    };
    assert!(deleted("deliveries") >= 3.0, "{metrics}");
    assert!(deleted("delivery_attempts") >= 3.0, "{metrics}");
    assert!(deleted("events") >= 4.0, "{metrics}");
    for table in ["deliveries", "events"] {
        let series = format!("hookrelay_retention_oldest_kept_seconds{{table=\"{table}\"}}");
        assert!(
            sample(&metrics, &series).is_some(),
            "no {series} in\n{metrics}"
        );
    }
}

async fn a_tenants_own_period_applies_to_it_alone(backend: Backend) {
    let app = spawn_app_with(backend, retention_every_100ms(100)).await;
    let globex = app.new_tenant("globex").await;
    let ok = TestReceiver::start().await;
    for (token, path) in [(&app.tenant.token, "/acme"), (&globex.token, "/globex")] {
        register_event_type(app.channel(), token, EVENT_TYPE).await;
        create_subscription(app.channel(), token, subscription_to(ok.url(path))).await;
    }
    let acme_event = publish_to(&app, serde_json::json!({"tenant": "acme"}), 1).await;
    let globex_event = events(app.channel())
        .publish_event(authed(
            &globex.token,
            hookrelay::proto::PublishEventRequest {
                event: Some(event(serde_json::json!({"tenant": "globex"}))),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap()
        .id;
    for (token, id) in [
        (&app.tenant.token, &acme_event),
        (&globex.token, &globex_event),
    ] {
        wait_for_delivery(
            app.channel(),
            token,
            id,
            Duration::from_secs(10),
            status_is(DeliveryStatus::Succeeded),
        )
        .await;
    }

    // acme keeps a day of history (as `hookrelay tenants set-retention acme
    // --deliveries 1d --events 1d` sets it); globex keeps the default month.
    let day = PeriodChange::Set(RetentionPeriod::parse("1d").unwrap());
    let set = set_tenant_retention(&app.db, "acme", day, day)
        .await
        .unwrap();
    assert_eq!(set.deliveries.map(|p| p.to_string()).as_deref(), Some("1d"));
    for id in [&acme_event, &globex_event] {
        age_all_of(&app, id, 2 * DAY).await;
    }
    let gone = wait_until(Duration::from_secs(10), || async {
        stored(&app, &acme_event).await == (0, 0, 0)
    })
    .await;
    assert!(gone, "acme's two-day-old rows were not deleted");
    tokio::time::sleep(FIVE_ROUNDS).await;
    assert_eq!(stored(&app, &globex_event).await, (1, 1, 1));
    event_exists(&app, &globex.token, &globex_event)
        .await
        .unwrap();

    // Back to the server's period: a two-day-old event of acme's stays.
    let reset = set_tenant_retention(&app.db, "acme", PeriodChange::Default, PeriodChange::Keep)
        .await
        .unwrap();
    assert_eq!(reset.deliveries, None);
    assert_eq!(reset.events.map(|p| p.as_secs()), Some(86_400));
}

/// Replicas each run the task: two rounds at once over the same rows
/// (separate pools on Postgres; on SQLite one process owns the file, so
/// two tasks share its connection) delete every due row once between
/// them, without an error, and their counts add up to exactly what went.
async fn concurrent_purges_split_the_rows(backend: Backend) {
    let app = spawn_app_with(backend, |settings| settings.retention.enabled = false).await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    let ok = TestReceiver::start().await;
    subscribe(&app, subscription_to(ok.url("/ok"))).await;
    let published = events(app.channel())
        .batch_publish_events(
            app.req(BatchPublishEventsRequest {
                events: (0..40)
                    .map(|n| event(serde_json::json!({"n": n})))
                    .collect(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .results;
    let ids: Vec<String> = published.into_iter().map(|p| p.event.unwrap().id).collect();
    ok.wait_for(40, Duration::from_secs(20)).await;
    for id in &ids {
        wait_for_status(&app, id, DeliveryStatus::Succeeded, Duration::from_secs(10)).await;
        age_all_of(&app, id, 31 * DAY).await;
    }

    let second = match backend {
        Backend::Postgres => hookrelay::store::connect(&app.database.url, 4, true)
            .await
            .unwrap(),
        Backend::Sqlite => app.db.clone(),
    };
    let month = RetentionPeriod::parse("30d").unwrap();
    let settings = RetentionSettings {
        policy: RetentionPolicy {
            deliveries: month,
            events: month,
        },
        batch_size: 3,
        batch_pause: Duration::ZERO,
        interval: Duration::from_millis(100),
    };
    let shutdown = CancellationToken::new();
    let (one, two) = tokio::join!(
        purge(&app.db, &settings, &shutdown),
        purge(&second, &settings, &shutdown)
    );
    let (one, two) = (one.expect("first purge"), two.expect("second purge"));
    assert_eq!(one.deliveries + two.deliveries, 40, "{one:?} {two:?}");
    assert_eq!(one.attempts + two.attempts, 40, "{one:?} {two:?}");
    assert_eq!(one.events + two.events, 40, "{one:?} {two:?}");
    for id in &ids {
        assert_eq!(stored(&app, id).await, (0, 0, 0), "{id}");
    }
}

/// Two servers on one Postgres database, both running retention every
/// 100 ms: together they delete everything due, and keep serving.
async fn two_servers_run_retention_at_once(backend: Backend) {
    let key = hookrelay::domain::SecretCipher::generate_key();
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key);
    let configure = |settings: &mut hookrelay::config::Settings| {
        retention_every_100ms(5)(settings);
        settings.secret_key = Some(key.clone());
    };
    let app = spawn_app_with(backend, configure).await;
    let replica = common::spawn_replica(&app, configure).await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    let ok = TestReceiver::start().await;
    subscribe(&app, subscription_to(ok.url("/ok"))).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(publish_to(&app, serde_json::json!({"n": n}), 1).await);
    }
    for id in &ids {
        wait_for_status(&app, id, DeliveryStatus::Succeeded, Duration::from_secs(10)).await;
        age_all_of(&app, id, 31 * DAY).await;
    }
    let gone = wait_until(Duration::from_secs(15), || async {
        let mut all = true;
        for id in &ids {
            all &= stored(&app, id).await == (0, 0, 0);
        }
        all
    })
    .await;
    assert!(gone, "the old rows were not all deleted");
    let young = publish_to(&app, serde_json::json!({"young": true}), 1).await;
    wait_for_delivery(
        replica.channel(),
        &app.tenant.token,
        &young,
        Duration::from_secs(10),
        status_is(DeliveryStatus::Succeeded),
    )
    .await;
}

/// The short soak: events published at a fixed 50 a second for 12 s,
/// delivered at once, with every period 2 s. The stored rows stop
/// growing at about rate x period, and so does the database (SQLite: the
/// file and its WAL; Postgres: the three tables with their indexes).
/// `examples/retention_soak.rs` is the long version, for the figures.
async fn a_steady_load_keeps_the_tables_bounded(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        retention_every_100ms(500)(settings);
        settings.retention.interval_ms = 250;
        settings.retention.deliveries_secs = 2;
        settings.retention.events_secs = 2;
    })
    .await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    let ok = TestReceiver::start().await;
    subscribe(&app, subscription_to(ok.url("/ok"))).await;
    let data = serde_json::json!({"order": "x".repeat(400)});
    let client = events(app.channel());
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut next_sample = Duration::from_secs(1);
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        tick.tick().await;
        // Each publish on its own task: a slow commit does not lower the rate.
        let mut client = client.clone();
        let request = app.req(hookrelay::proto::PublishEventRequest {
            event: Some(event(data.clone())),
        });
        tokio::spawn(async move { client.publish_event(request).await.expect("publish") });
        if started.elapsed() >= next_sample {
            samples.push((table_rows(&app).await, database_size(&app).await));
            next_sample += Duration::from_secs(1);
        }
    }
    println!("{backend:?}: (events, deliveries, attempts), bytes each second: {samples:?}");
    assert!(samples.len() >= 10, "{samples:?}");
    // Past the first seconds, never more than about 4 s worth of rows (of
    // the 600 published).
    for ((events, deliveries, attempts), _) in &samples[4..] {
        assert!(*events <= 200, "{events} events kept: {samples:?}");
        assert!(*deliveries <= 200 && *attempts <= 200, "{samples:?}");
    }
    // SQLite reuses and returns the freed pages at once. (Postgres reuses
    // them once autovacuum has visited, a minute or so later: the soak
    // example shows its tables levelling off.)
    if backend == Backend::Sqlite {
        let (middle, last) = (samples[4].1, samples[samples.len() - 1].1);
        assert!(
            last <= middle + middle / 4,
            "the database grew from {middle} to {last} bytes after the 5th second: {samples:?}"
        );
    }
}

on_both_databases!(
    old_finished_rows_go_and_unfinished_or_young_ones_stay,
    a_tenants_own_period_applies_to_it_alone,
    concurrent_purges_split_the_rows,
    a_steady_load_keeps_the_tables_bounded,
);

mod replicas {
    use super::*;

    #[tokio::test]
    #[cfg_attr(
        not(hookrelay_postgres_tests),
        ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run the Postgres variant"
    )]
    async fn two_servers_on_postgres_run_retention_at_once() {
        two_servers_run_retention_at_once(Backend::Postgres).await;
    }
}
