//! The external benchmark in its short form: the same harness as
//! `cargo bench --bench external`, on the debug build, a few hundred events
//! per workload. It asserts nothing about speed, only that every event is
//! delivered exactly once across the three processes and that the report
//! line is printed.

#[path = "../benches/external/harness.rs"]
mod harness;

mod common;

use harness::{Binaries, Database, Workload};
use std::time::Duration;

fn binaries() -> Binaries {
    Binaries {
        server: env!("CARGO_BIN_EXE_hookrelay").into(),
        receiver: env!("CARGO_BIN_EXE_hookrelay-bench-receiver").into(),
    }
}

fn workload(
    database: Database,
    subscriptions: usize,
    clients: usize,
    rate: Option<f64>,
) -> Workload {
    Workload {
        database,
        subscriptions,
        events: 200,
        clients,
        connections: 2,
        rate,
        timeout: Duration::from_secs(60),
        server_config: None,
        caller_ids: false,
    }
}

async fn run_short(database: Database) {
    // The last run gives each event a caller id, so every publish also
    // looks its id up (the in-process benchmark's shape).
    for (subscriptions, clients, rate, caller_ids) in [
        (1, 1, None, false),
        (1, 8, None, false),
        (4, 8, None, false),
        (1, 2, Some(400.0), false),
        (1, 8, None, true),
    ] {
        let workload = Workload {
            caller_ids,
            ..workload(database.clone(), subscriptions, clients, rate)
        };
        let report = harness::run(&binaries(), workload)
            .await
            .unwrap_or_else(|err| panic!("the external benchmark failed: {err}"));
        let line = report.to_string();
        println!("{line}");
        assert!(report.exactly_once(), "{line}");
        assert!(
            line.contains("events/s") && line.contains("publish->delivery"),
            "{line}"
        );
        assert_eq!(report.published, 200, "{line}");
    }
}

#[tokio::test]
async fn external_benchmark_delivers_exactly_once_on_sqlite() {
    run_short(Database::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run the Postgres variant"
)]
async fn external_benchmark_delivers_exactly_once_on_postgres() {
    let admin_url = common::postgres_url().expect("HOOKRELAY_TEST_DATABASE_URL");
    run_short(Database::Postgres { admin_url }).await;
}
