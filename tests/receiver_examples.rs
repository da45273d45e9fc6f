//! The receiver examples in `examples/` against real deliveries: each one
//! (Rust with `hookrelay::webhook::verify`, Python and TypeScript with the
//! `standardwebhooks` packages) runs as a subprocess while the real server
//! delivers to it. A subscription with the receiver's secret must be
//! verified and recorded as succeeded; a second subscription to the same
//! URL with another secret must be rejected with 401 and recorded as failed.
//!
//! The Python and TypeScript examples need the packages that
//! `scripts/test --setup` installs into the project (see `common::tools`);
//! they fail, never skip, when those are missing.

mod common;

use common::process::free_port;
use common::script_receiver::CapturedOutput;
use common::tools;

use common::{Backend, TestApp, authed, register_event_type, spawn_app, wait_until};
use hookrelay::proto::{
    Backoff, CreateSubscriptionRequest, Delivery, DeliveryStatus, Event, ListDeliveriesRequest,
    PublishEventRequest, RetryPolicy, Subscription, delivery_service_client::DeliveryServiceClient,
    event::Payload, event_service_client::EventServiceClient,
};
use prost_types::Duration as PbDuration;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const EVENT_TYPE: &str = "invoice.paid";
const EVENTS: usize = 3;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------
// The examples, ready to run
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Example {
    Rust,
    Python,
    TypeScript,
}

/// How to start one example: a program, its arguments and working directory.
struct Launch {
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    /// What to install when it does not start.
    needs: &'static str,
}

impl Example {
    /// Builds or installs what the example needs (once per test process)
    /// and says how to run it.
    fn prepare(self) -> Launch {
        let examples = Path::new(MANIFEST_DIR).join("examples");
        match self {
            Example::Rust => Launch {
                program: rust_example_binary().clone(),
                args: Vec::new(),
                dir: PathBuf::from(MANIFEST_DIR),
                needs: "a build of `cargo build --example verify_receiver`",
            },
            Example::Python => {
                tools::require_python_module("standardwebhooks", "standardwebhooks");
                Launch {
                    program: tools::program("python3"),
                    args: vec!["receiver.py".to_owned()],
                    dir: examples.join("python"),
                    needs: "python3 with the standardwebhooks package (scripts/test --setup)",
                }
            }
            Example::TypeScript => {
                let dir = tools::require_node_modules("examples/typescript");
                // `node --import tsx` runs the TypeScript in this one process,
                // so killing it leaves no child behind (the tsx CLI would
                // spawn a second node).
                Launch {
                    program: PathBuf::from("node"),
                    args: vec!["--import".into(), "tsx".into(), "receiver.ts".into()],
                    dir,
                    needs: "Node.js 20+ and examples/typescript's packages (scripts/test --setup)",
                }
            }
        }
    }
}

/// The example's executable, built by `cargo build --example` with the
/// profile and target directory of this test binary (cargo builds examples
/// for a plain `cargo test`, but not for `cargo test --test receiver_examples`,
/// and a stale one would test old code). Cargo reports the path it built.
fn rust_example_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(&cargo);
        // Cargo gives this test its package's variables (CARGO_MANIFEST_DIR,
        // CARGO_PKG_*, ...). Some build scripts (ring's) track them, so a
        // nested cargo seeing them would rebuild half the dependency tree.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_ref())
            {
                command.env_remove(name.as_ref());
            }
        }
        command
            .current_dir(MANIFEST_DIR)
            .args(["build", "--example", "verify_receiver"])
            .args(["--message-format", "json-render-diagnostics"])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        // This binary is <target-dir>/<profile>/deps/receiver_examples-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let deps = exe.parent().filter(|d| d.ends_with("deps"));
        if let Some(profile_dir) = deps.and_then(Path::parent) {
            let profile = profile_dir.file_name().and_then(|n| n.to_str());
            let profile = match profile {
                Some("debug") => Some("dev"),
                other => other,
            };
            if let (Some(profile), Some(target_dir)) = (profile, profile_dir.parent()) {
                command
                    .args(["--profile", profile])
                    .arg("--target-dir")
                    .arg(target_dir);
            }
        }
        let output = command
            .output()
            .unwrap_or_else(|err| panic!("cannot run {cargo:?} to build the example: {err}"));
        assert!(
            output.status.success(),
            "`cargo build --example verify_receiver` failed ({})",
            output.status
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact"
                    && message["target"]["name"] == "verify_receiver"
            })
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no executable for the verify_receiver example")
    })
}

// ---------------------------------------------------------------------------
// A running example
// ---------------------------------------------------------------------------

struct RunningExample {
    example: Example,
    child: tokio::process::Child,
    output: CapturedOutput,
}

impl RunningExample {
    /// Starts the example on `port` with `secret` and waits until it listens.
    async fn start(example: Example, launch: &Launch, port: u16, secret: &str) -> Self {
        let mut child = tokio::process::Command::new(&launch.program)
            .args(&launch.args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(&launch.dir)
            .env("WEBHOOK_SECRET", secret)
            .env_remove("LISTEN_ADDR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start the {example:?} example ({}: {err}); it needs {}",
                    launch.program.display(),
                    launch.needs
                )
            });
        let output = CapturedOutput::of(&mut child);
        let mut running = Self {
            example,
            child,
            output,
        };
        // Every example says so on stderr once its socket is bound.
        let started = Instant::now();
        loop {
            if running.stderr().contains("listening for webhooks on") {
                return running;
            }
            if let Some(status) = running.child.try_wait().expect("poll the example") {
                // Let the stderr reader catch up before reporting.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "the {example:?} example exited ({status}) before listening; it needs {}. stderr:\n{}",
                    launch.needs,
                    running.stderr()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the {example:?} example did not listen within 30 s; stderr:\n{}",
                running.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lines(&self) -> Vec<String> {
        self.output.lines()
    }

    fn stderr(&self) -> String {
        self.output.stderr()
    }

    /// The webhook ids of the lines `verified <id> <type>`, with their type.
    fn verified(&self) -> Vec<(String, String)> {
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix("verified "))
            .map(|rest| {
                let (id, event_type) = rest.split_once(' ').unwrap_or((rest, ""));
                (id.to_owned(), event_type.to_owned())
            })
            .collect()
    }

    /// The webhook ids of the lines `rejected <id>: <reason>`, with the reason.
    fn rejected(&self) -> Vec<(String, String)> {
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix("rejected "))
            .map(|rest| {
                let (id, reason) = rest.split_once(": ").unwrap_or((rest, ""));
                (id.to_owned(), reason.to_owned())
            })
            .collect()
    }

    /// Everything it printed, for failure messages.
    fn output(&self) -> String {
        format!(
            "{:?} example stdout: {:#?}\nstderr:\n{}",
            self.example,
            self.lines(),
            self.stderr()
        )
    }
}

// ---------------------------------------------------------------------------
// The server side
// ---------------------------------------------------------------------------

/// Subscribes `url` to the event type, with two attempts one second apart;
/// returns the subscription id and its secret.
async fn subscribe(app: &TestApp, name: &str, url: &str) -> (String, String) {
    let response = app
        .subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest {
            subscription: Some(Subscription {
                name: name.to_owned(),
                url: url.to_owned(),
                event_types: vec![EVENT_TYPE.to_owned()],
                retry_policy: Some(RetryPolicy {
                    max_attempts: 2,
                    initial_delay: Some(PbDuration {
                        seconds: 1,
                        nanos: 0,
                    }),
                    max_delay: Some(PbDuration {
                        seconds: 1,
                        nanos: 0,
                    }),
                    backoff: Backoff::Fixed as i32,
                    jitter: None,
                }),
                ..Default::default()
            }),
            secret: String::new(),
        }))
        .await
        .expect("create the subscription")
        .into_inner();
    let subscription = response.subscription.expect("subscription in response");
    assert!(response.secret.starts_with("whsec_"), "{}", response.secret);
    (subscription.id, response.secret)
}

/// Publishes one event that both subscriptions receive; returns its id.
async fn publish(app: &TestApp, n: usize) -> String {
    let published = EventServiceClient::new(app.channel())
        .publish_event(app.req(PublishEventRequest {
            event: Some(Event {
                r#type: EVENT_TYPE.to_owned(),
                // Spacing and key order a re-serializing receiver would lose.
                payload: Some(Payload::DataJson(format!(
                    r#"{{ "n": {n},  "amount": 4200.50, "currency": "EUR", "note": "caf\u00e9 ☕" }}"#
                ))),
                ..Default::default()
            }),
        }))
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(published.subscription_count, 2, "fan-out of {published:?}");
    published.event.expect("event in response").id
}

async fn deliveries_of(app: &TestApp, subscription_id: &str) -> Vec<Delivery> {
    DeliveryServiceClient::new(app.channel())
        .list_deliveries(authed(
            &app.tenant.token,
            ListDeliveriesRequest {
                page_size: 1000,
                subscription_id: subscription_id.to_owned(),
                ..Default::default()
            },
        ))
        .await
        .expect("list deliveries")
        .into_inner()
        .deliveries
}

/// Waits until every delivery to `subscription_id` has `status`.
async fn wait_for_deliveries(
    app: &TestApp,
    subscription_id: &str,
    status: DeliveryStatus,
    running: &RunningExample,
) -> Vec<Delivery> {
    let started = Instant::now();
    loop {
        let found = deliveries_of(app, subscription_id).await;
        if found.len() == EVENTS && found.iter().all(|d| d.status == status as i32) {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the deliveries to {subscription_id} did not all become {status:?}: {found:#?}\n{}",
            running.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn attempt_statuses(app: &TestApp, delivery_id: &str) -> Vec<u32> {
    common::delivering::attempts_of(app, delivery_id)
        .await
        .iter()
        .map(|a| a.response_status_code)
        .collect()
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

async fn verifies_real_deliveries(backend: Backend, example: Example) {
    let launch = example.prepare();
    let app = spawn_app(backend).await;
    register_event_type(app.channel(), &app.tenant.token, EVENT_TYPE).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhooks");
    let (good, secret) = subscribe(&app, "receiver", &url).await;
    // The same endpoint under a second subscription, whose own secret the
    // receiver does not know: every request of it must be rejected.
    let (wrong, other_secret) = subscribe(&app, "wrong-secret", &url).await;
    assert_ne!(secret, other_secret);

    let running = RunningExample::start(example, &launch, port, &secret).await;
    let mut published = BTreeSet::new();
    for n in 0..EVENTS {
        published.insert(publish(&app, n).await);
    }

    // The webhook-id is the event id, the same for both subscriptions.
    let printed = wait_until(Duration::from_secs(30), || async {
        let verified: BTreeSet<_> = running.verified().into_iter().map(|(id, _)| id).collect();
        let rejected: BTreeSet<_> = running.rejected().into_iter().map(|(id, _)| id).collect();
        verified == published && rejected == published
    })
    .await;
    assert!(
        printed,
        "expected `verified` and `rejected` lines for each of {published:?}\n{}",
        running.output()
    );

    // What the server recorded: the right secret succeeded at once with the
    // receiver's 204; the wrong one got 401 on every attempt, then failed.
    for delivery in wait_for_deliveries(&app, &good, DeliveryStatus::Succeeded, &running).await {
        assert!(published.contains(&delivery.event_id), "{delivery:?}");
        assert_eq!(delivery.last_status_code, 204, "{delivery:?}");
        assert_eq!(delivery.attempts, 1, "{delivery:?}");
    }
    for delivery in wait_for_deliveries(&app, &wrong, DeliveryStatus::Failed, &running).await {
        assert!(published.contains(&delivery.event_id), "{delivery:?}");
        assert_eq!(delivery.last_status_code, 401, "{delivery:?}");
        assert_eq!(delivery.attempts, 2, "{delivery:?}");
        assert_eq!(attempt_statuses(&app, &delivery.id).await, vec![401, 401]);
    }

    // Every line has the documented shape, and nothing else was printed.
    let lines = running.lines();
    for line in &lines {
        assert!(
            line.starts_with("verified ") || line.starts_with("rejected "),
            "unexpected output line {line:?}\n{}",
            running.output()
        );
    }
    for (id, event_type) in running.verified() {
        assert_eq!(event_type, EVENT_TYPE, "type printed for {id}");
    }
    for (id, reason) in running.rejected() {
        assert!(!reason.trim().is_empty(), "no reason printed for {id}");
    }
    // Each wrong-secret delivery made two attempts; each right one, one.
    assert_eq!(running.verified().len(), EVENTS, "{}", running.output());
    assert_eq!(running.rejected().len(), 2 * EVENTS, "{}", running.output());
    println!("{}", running.output());
}

async fn rust_example(backend: Backend) {
    verifies_real_deliveries(backend, Example::Rust).await;
}

async fn python_example(backend: Backend) {
    verifies_real_deliveries(backend, Example::Python).await;
}

async fn typescript_example(backend: Backend) {
    verifies_real_deliveries(backend, Example::TypeScript).await;
}

on_both_databases!(rust_example, python_example, typescript_example);
