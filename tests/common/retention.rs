//! Helpers of the retention tests: settings that run the task often, time
//! passing for chosen rows (their timestamps moved back, as if they had
//! been written that long ago), and what is left in the tables.

use super::TestApp;
use hookrelay::config::Settings;
use sea_orm::{ConnectionTrait, Statement, Value};
use std::time::Duration;

pub const DAY: Duration = Duration::from_secs(86_400);

/// Retention on, a round every 100 ms, in batches of `batch_size`, with
/// the default periods (30 days).
pub fn retention_every_100ms(batch_size: u64) -> impl FnOnce(&mut Settings) {
    move |settings| {
        settings.retention.enabled = true;
        settings.retention.interval_ms = 100;
        settings.retention.batch_pause_ms = 0;
        settings.retention.batch_size = batch_size;
    }
}

fn micros(age: Duration) -> i64 {
    age.as_micros() as i64
}

async fn run(app: &TestApp, sql: &str, values: Vec<Value>) -> u64 {
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .rows_affected()
}

/// Moves an event's publish time `age` into the past.
pub async fn age_event(app: &TestApp, event_id: &str, age: Duration) {
    let changed = run(
        app,
        "UPDATE events SET create_time = create_time - $1 WHERE id = $2",
        vec![micros(age).into(), event_id.into()],
    )
    .await;
    assert_eq!(changed, 1, "no event {event_id}");
}

/// Moves the times of an event's deliveries (and their attempts) `age`
/// into the past: for a finished one, as if it had finished that long ago.
pub async fn age_deliveries_of(app: &TestApp, event_id: &str, age: Duration) {
    run(
        app,
        "UPDATE delivery_attempts SET create_time = create_time - $1 \
         WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $2)",
        vec![micros(age).into(), event_id.into()],
    )
    .await;
    run(
        app,
        "UPDATE deliveries SET create_time = create_time - $1, update_time = update_time - $1 \
         WHERE event_id = $2",
        vec![micros(age).into(), event_id.into()],
    )
    .await;
}

/// An event and everything about it, aged together.
pub async fn age_all_of(app: &TestApp, event_id: &str, age: Duration) {
    age_event(app, event_id, age).await;
    age_deliveries_of(app, event_id, age).await;
}

async fn count(app: &TestApp, sql: &str, event_id: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql,
            [Value::from(event_id)],
        ))
        .await
        .unwrap()
        .expect("a count");
    row.try_get_by_index::<i64>(0).unwrap()
}

/// What is stored about an event: (event rows, deliveries, attempts).
pub async fn stored(app: &TestApp, event_id: &str) -> (i64, i64, i64) {
    (
        count(app, "SELECT COUNT(*) FROM events WHERE id = $1", event_id).await,
        count(
            app,
            "SELECT COUNT(*) FROM deliveries WHERE event_id = $1",
            event_id,
        )
        .await,
        count(
            app,
            "SELECT COUNT(*) FROM delivery_attempts \
             WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $1)",
            event_id,
        )
        .await,
    )
}

/// Attempts left of a delivery (after the delivery itself is gone too).
pub async fn attempts_left(app: &TestApp, delivery_id: &str) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM delivery_attempts WHERE delivery_id = $1",
        delivery_id,
    )
    .await
}

/// Rows in (events, deliveries, delivery_attempts), all tenants.
pub async fn table_rows(app: &TestApp) -> (i64, i64, i64) {
    let count = |table: &str| {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        async move {
            app.db
                .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
                .await
                .unwrap()
                .expect("a count")
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    (
        count("events").await,
        count("deliveries").await,
        count("delivery_attempts").await,
    )
}

/// The database's size in bytes: on SQLite the file and its WAL, on
/// Postgres the three tables with their indexes and TOAST.
pub async fn database_size(app: &TestApp) -> u64 {
    if let Some(file) = app.database.url.strip_prefix("sqlite://") {
        return ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{file}{suffix}")).ok())
            .map(|metadata| metadata.len())
            .sum();
    }
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT (pg_total_relation_size('events') + pg_total_relation_size('deliveries') \
             + pg_total_relation_size('delivery_attempts'))::bigint",
        ))
        .await
        .unwrap()
        .expect("a size");
    row.try_get_by_index::<i64>(0).unwrap() as u64
}

/// The Prometheus text a server's `/metrics` serves on `port`.
pub async fn scrape_metrics(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("scrape /metrics")
        .text()
        .await
        .expect("the metrics text")
}

/// The value of the sample line that starts with `series`, if any.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}
