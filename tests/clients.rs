//! The generated clients in `clients/` as a user meets them: the committed
//! code matches the protos (`scripts/generate-clients --check`), and each
//! example (`clients/python/example.py`, `clients/typescript/example.ts`)
//! runs against the real `hookrelay` binary and gets its webhook delivered.
//! These need python3 with grpcio and grpcio-tools, and node with the
//! TypeScript client's packages; `scripts/test --setup` installs them into
//! the project (see `common::tools`), and without them the tests fail
//! rather than skip.

mod common;

use common::process::free_port;
use common::tools;

use common::receiver::TestReceiver;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// How long one example may take: it waits up to 15 s for its delivery.
const EXAMPLE_DEADLINE: Duration = Duration::from_secs(90);

#[test]
fn committed_clients_are_fresh() {
    tools::require_python_module("grpc_tools", "grpcio-tools");
    tools::require_node_modules("clients/typescript");
    let output = Command::new(Path::new(ROOT).join("scripts/generate-clients"))
        .arg("--check")
        .current_dir(ROOT)
        // Its python3 and buf: the project-local ones first.
        .env("PATH", tools::search_path())
        .output()
        .expect("run scripts/generate-clients (it needs bash)");
    assert!(
        output.status.success(),
        "scripts/generate-clients --check failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[tokio::test]
async fn python_client_example_runs_against_a_live_server() {
    let server = Server::start();
    let receiver = TestReceiver::start().await;
    tools::require_python_module("grpc", "grpcio");
    let mut example = tools::async_command("python3");
    example
        .arg(Path::new(ROOT).join("clients/python/example.py"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_example("python", example, &server, &receiver).await;
}

#[tokio::test]
async fn typescript_client_example_runs_against_a_live_server() {
    let dir = tools::require_node_modules("clients/typescript");
    // tsx runs the example without checking its types; tsc proves the example
    // compiles against the committed generated code.
    let tsc = Command::new(dir.join("node_modules/.bin/tsc"))
        .args(["--noEmit", "-p", "."])
        .current_dir(&dir)
        .output()
        .expect("run tsc from clients/typescript/node_modules (it needs node)");
    assert!(
        tsc.status.success(),
        "clients/typescript does not type-check:\n{}{}",
        text(&tsc.stdout),
        text(&tsc.stderr)
    );

    let server = Server::start();
    let receiver = TestReceiver::start().await;
    let mut example = tokio::process::Command::new(dir.join("node_modules/.bin/tsx"));
    example.arg("example.ts").current_dir(&dir);
    run_example("typescript", example, &server, &receiver).await;
}

/// The same generated client through Connect's gRPC-Web transport over
/// HTTP/1.1, as a browser (the web console) calls the server.
#[tokio::test]
async fn typescript_client_example_runs_over_grpc_web() {
    let dir = tools::require_node_modules("clients/typescript");
    let server = Server::start();
    let receiver = TestReceiver::start().await;
    let mut example = tokio::process::Command::new(dir.join("node_modules/.bin/tsx"));
    example
        .arg("example.ts")
        .env("HOOKRELAY_TRANSPORT", "grpc-web")
        .current_dir(&dir);
    run_example("typescript (gRPC-Web)", example, &server, &receiver).await;
}

/// Runs one example against `server` with `receiver` as its webhook endpoint,
/// shows what it printed, and checks that the webhook it reported arrived.
async fn run_example(
    language: &str,
    mut example: tokio::process::Command,
    server: &Server,
    receiver: &TestReceiver,
) {
    example
        .env("HOOKRELAY_ADDR", server.addr())
        .env("HOOKRELAY_TOKEN", &server.token)
        .env("HOOKRELAY_WEBHOOK_URL", receiver.url("/webhooks"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let output = tokio::time::timeout(EXAMPLE_DEADLINE, example.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the {language} example did not finish within {EXAMPLE_DEADLINE:?}\n{}",
                server.logs()
            )
        })
        .unwrap_or_else(|err| {
            panic!("could not start the {language} example (is its runtime installed?): {err}")
        });
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    // Written past libtest's capture on purpose, so CI logs show what a user
    // running the example would see.
    std::io::stdout()
        .write_all(
            format!(
                "--- {language} example ({:.1} s, {}) ---\n{stdout}{stderr}---\n",
                started.elapsed().as_secs_f64(),
                output.status
            )
            .as_bytes(),
        )
        .ok();
    assert!(
        output.status.success(),
        "the {language} example failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}\n{}",
        output.status,
        server.logs()
    );
    assert!(
        stdout.contains("status=DELIVERY_STATUS_SUCCEEDED"),
        "the {language} example did not report a succeeded delivery:\n{stdout}"
    );

    let event_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("published event"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `published event <id>` line in:\n{stdout}"))
        .to_owned();
    let received = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1, "one event, one webhook");
    let webhook = &received[0];
    assert_eq!(webhook.path, "/webhooks");
    assert_eq!(webhook.header("webhook-id"), Some(event_id.as_str()));
    let body = webhook.json();
    assert_eq!(body["id"], event_id.as_str());
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("example.order-")),
        "unexpected event type in {body}"
    );
    assert_eq!(body["data"]["order_id"], "ord_1001");
}

/// `hookrelay serve --dev` on a free port with a SQLite database in a
/// temporary folder, bootstrapped with the CLI like an operator would.
struct Server {
    child: Child,
    port: u16,
    token: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("hookrelay.db").display()
        );
        let cli = |args: &[&str]| -> String {
            let output = Command::new(BIN)
                .args(args)
                .args(["--database-url", &database_url])
                .env_remove("HOOKRELAY_TEST_DATABASE_URL")
                .output()
                .expect("run hookrelay");
            assert!(
                output.status.success(),
                "hookrelay {args:?} failed: {}",
                text(&output.stderr)
            );
            text(&output.stdout)
        };
        cli(&["tenants", "create", "acme"]);
        let keys = cli(&[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--capabilities",
            "manage,publish,read",
        ]);
        let token = keys.lines().last().unwrap_or_default().trim().to_owned();
        assert!(
            token.starts_with("hr_"),
            "no token on the last line: {keys}"
        );

        let port = free_port();
        let log = dir.path().join("server.log");
        let log_file = File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &database_url])
            .env_remove("HOOKRELAY_TEST_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("spawn hookrelay serve");
        let mut server = Self {
            child,
            port,
            token,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("hookrelay serve exited ({status})\n{}", server.logs());
            }
            assert!(
                Instant::now() < deadline,
                "hookrelay serve did not listen within 30 s\n{}",
                server.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn logs(&self) -> String {
        let logs = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("server log:\n{logs}")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
