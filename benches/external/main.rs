//! The external benchmark: `hookrelay serve`, a receiver and this load
//! generator as three processes on one machine, as users run them. One
//! line per run: events/s, deliveries/s, call and publish->delivery
//! p50/p90/p99, CPU seconds of the server and of Postgres, idle and peak RSS.
//!
//! cargo bench --bench external -- --database sqlite --subscriptions 1 --events 20000 --clients 16
//! cargo bench --bench external -- --database postgres --clients 1 --events 2000
//! cargo bench --bench external -- --database sqlite --rate 500 --events 5000

mod harness;

use clap::Parser;
use harness::{Binaries, Database, Workload};
use std::time::Duration;

#[derive(Parser, Debug)]
struct Args {
    /// sqlite or postgres.
    #[arg(long, default_value = "sqlite")]
    database: String,
    #[arg(long, default_value_t = 1)]
    subscriptions: usize,
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Concurrent publishers, each one PublishEvent call at a time.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// HTTP/2 connections the publishers share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Publish at this steady rate (events/s) instead of as fast as possible.
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// A config file for the server, e.g. to try other `[dispatch]` bounds.
    #[arg(long)]
    server_config: Option<std::path::PathBuf>,
    /// Runs of the same workload, each on a fresh database.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Give each event an id of its own, as a publisher using idempotency
    /// keys does (every publish then also looks its id up).
    #[arg(long)]
    ids: bool,
    /// The server binary to run instead of this build's, e.g. an older
    /// build kept aside to compare against.
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    // `cargo bench` passes --bench; accept and ignore it.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let database = match args.database.as_str() {
        "sqlite" => Database::Sqlite,
        "postgres" => Database::Postgres {
            admin_url: std::env::var("HOOKRELAY_BENCH_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        },
        other => panic!("--database {other:?}: use sqlite or postgres"),
    };
    let binaries = Binaries {
        server: args
            .server
            .clone()
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_hookrelay").into()),
        receiver: env!("CARGO_BIN_EXE_hookrelay-bench-receiver").into(),
    };
    let workload = Workload {
        database,
        subscriptions: args.subscriptions,
        events: args.events,
        clients: args.clients,
        connections: args.connections,
        rate: args.rate,
        timeout: Duration::from_secs(args.timeout_secs),
        server_config: args.server_config,
        caller_ids: args.ids,
    };
    let mut failed = false;
    for _ in 0..args.runs {
        match harness::run(&binaries, workload.clone()).await {
            Ok(report) => {
                println!("{report}");
                failed |= !report.exactly_once();
            }
            Err(err) => {
                eprintln!("external benchmark failed: {err}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
