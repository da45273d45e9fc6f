//! The `hookrelay` binary as an operator uses it: bootstrap a tenant and key,
//! serve, stop on SIGTERM, refuse bad configuration, keep secrets out of logs.

mod common;

use common::process::free_port;

use base64::Engine;
use common::{Backend, TestDatabase, authed, connect, register_event_type};
use hookrelay::domain::SecretCipher;
use hookrelay::proto::{
    CreateSubscriptionRequest, ListSubscriptionsRequest, Subscription,
    subscription_service_client::SubscriptionServiceClient,
};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");

fn hookrelay(args: &[&str], database_url: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HOOKRELAY_DATABASE_URL", database_url)
        .env_remove("HOOKRELAY_TEST_DATABASE_URL")
        .output()
        .expect("run hookrelay")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates tenant `acme` and a full key with the CLI; returns the token.
fn bootstrap(database_url: &str) -> String {
    let tenant = hookrelay(&["tenants", "create", "acme"], database_url);
    assert!(
        tenant.status.success(),
        "tenants create: {}",
        stderr(&tenant)
    );
    let key = hookrelay(
        &[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--capabilities",
            "manage,publish,read",
        ],
        database_url,
    );
    assert!(key.status.success(), "keys create: {}", stderr(&key));
    let out = stdout(&key);
    let token = out.lines().last().expect("a last line").trim().to_owned();
    assert!(
        token.starts_with("hr_"),
        "last line is not a token: {out:?}"
    );
    token
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(database_url: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
        let child = Command::new(BIN)
            .args(["serve", "--dev", "--listen", &listen])
            .args(extra)
            .env("HOOKRELAY_DATABASE_URL", database_url)
            .env("HOOKRELAY_SECRET_KEY", key)
            .env("HOOKRELAY_LOG_FILTER", "hookrelay=debug,info")
            // The test keeps its connection open: shutdown must not wait for it forever.
            .env("HOOKRELAY_SHUTDOWN_GRACE_MS", "1000")
            .env_remove("HOOKRELAY_TEST_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends SIGTERM and waits for the process, as a container runtime would.
    fn terminate(mut self) -> Output {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                self.child.kill().ok();
                panic!("server did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.wait_with_output().unwrap()
    }
}

async fn bootstrap_serve_and_stop_gracefully(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let token = bootstrap(&database.url);
    let server = Server::start(&database.url, &["--log-format", "json"]);

    let channel = connect(server.url()).await;
    register_event_type(channel.clone(), &token, "invoice.paid").await;
    let mut subscriptions = SubscriptionServiceClient::new(channel);
    let created = subscriptions
        .create_subscription(authed(
            &token,
            CreateSubscriptionRequest {
                subscription: Some(Subscription {
                    name: "billing".to_owned(),
                    url: "http://127.0.0.1:9/hooks".to_owned(),
                    event_types: vec!["invoice.paid".to_owned()],
                    ..Subscription::default()
                }),
                secret: String::new(),
            },
        ))
        .await
        .expect("create subscription")
        .into_inner();
    let listed = subscriptions
        .list_subscriptions(authed(&token, ListSubscriptionsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.subscriptions.len(), 1);

    let output = server.terminate();
    assert!(output.status.success(), "exit status {:?}", output.status);
    let logs = stderr(&output);
    assert!(
        logs.contains("hookrelay stopped"),
        "no shutdown log: {logs}"
    );
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|err| panic!("not a JSON log line ({err}): {line}"));
    }
    assert!(!logs.contains(&token), "the API token leaked into the logs");
    assert!(
        !logs.contains(&created.secret),
        "the subscription secret leaked into the logs"
    );
}

async fn bootstrap_errors_are_clear(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let missing = hookrelay(
        &[
            "keys",
            "create",
            "--tenant",
            "nobody",
            "--capabilities",
            "read",
        ],
        &database.url,
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("tenant \"nobody\" not found"),
        "{}",
        stderr(&missing)
    );

    let created = hookrelay(&["tenants", "create", "acme"], &database.url);
    assert!(created.status.success(), "{}", stderr(&created));
    let duplicate = hookrelay(&["tenants", "create", "acme"], &database.url);
    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("already exists"),
        "{}",
        stderr(&duplicate)
    );

    let bad_capability = hookrelay(
        &[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--capabilities",
            "read,fly",
        ],
        &database.url,
    );
    assert!(!bad_capability.status.success());
    assert!(
        stderr(&bad_capability).contains("fly"),
        "{}",
        stderr(&bad_capability)
    );

    let migrated = hookrelay(&["migrate"], &database.url);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
}

on_both_databases!(
    bootstrap_serve_and_stop_gracefully,
    bootstrap_errors_are_clear
);

#[test]
fn invalid_configuration_fails_at_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("h.db").display());

    let missing = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/hookrelay.toml"])
        .env("HOOKRELAY_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );

    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "lissten = \"127.0.0.1:1\"\n").unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--config", typo.to_str().unwrap()])
        .env("HOOKRELAY_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("lissten"), "{}", stderr(&output));

    let env = Command::new(BIN)
        .args(["serve"])
        .env("HOOKRELAY_DATABASE_URL", &url)
        .env("HOOKRELAY_QUOTAS__MAX_PAYLOAD_BYTES", "1")
        .output()
        .unwrap();
    assert!(!env.status.success());
    assert!(
        stderr(&env).contains("max_payload_bytes"),
        "{}",
        stderr(&env)
    );

    let flag = Command::new(BIN)
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!flag.status.success());
    assert!(stderr(&flag).contains("--listen"), "{}", stderr(&flag));

    let dev = Command::new(BIN)
        .args(["serve"])
        .env("HOOKRELAY_DEV", "maybe")
        .output()
        .unwrap();
    assert!(!dev.status.success());
    assert!(stderr(&dev).contains("--dev"), "{}", stderr(&dev));

    let database = Command::new(BIN)
        .args(["migrate", "--database-url", "mysql://localhost/x"])
        .output()
        .unwrap();
    assert!(!database.status.success());
    assert!(
        stderr(&database).contains("database_url"),
        "{}",
        stderr(&database)
    );
}

/// The embedded default: a key file beside the database, private to its owner.
#[test]
fn embedded_default_creates_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hookrelay.db");
    let url = format!("sqlite://{}", db.display());
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("HOOKRELAY_DATABASE_URL", &url)
        .env_remove("HOOKRELAY_SECRET_KEY")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().ok();
    child.wait().ok();
    let key = dir.path().join("hookrelay.db.key");
    let metadata = std::fs::metadata(&key).expect("key file beside the database");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
}

/// `hookrelay listen` prints each webhook and says whether it verifies.
#[tokio::test]
async fn listen_prints_and_verifies_webhooks() {
    use hookrelay::domain::standard_signature;
    use std::io::{BufRead, BufReader};

    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "listen",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--secret",
            secret,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "listen did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = r#"{"id":"evt_1","type":"invoice.paid","data":{"amount":42}}"#;
    let now = chrono::Utc::now().timestamp();
    let key = hookrelay::webhook::signing_key(secret).unwrap();
    let good = standard_signature(&key, "evt_1", now, body.as_bytes());
    let post = |signature: String| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "POST /hooks HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nwebhook-id: evt_1\r\nwebhook-timestamp: {now}\r\nwebhook-signature: {signature}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    assert!(post(good).starts_with("HTTP/1.1 204"));
    assert!(post("v1,AAAA".to_owned()).starts_with("HTTP/1.1 401"));
    child.kill().ok();
    let output = child.wait_with_output().unwrap();
    let lines: Vec<String> = BufReader::new(&output.stdout[..])
        .lines()
        .map_while(Result::ok)
        .collect();
    let text = lines.join("\n");
    assert!(
        text.contains("--> invoice.paid evt_1 on /hooks (signature verified)"),
        "{text}"
    );
    assert!(text.contains("signature INVALID"), "{text}");
    assert!(
        text.contains("\"amount\": 42"),
        "pretty JSON expected: {text}"
    );
}

/// `tenants set-retention`: periods in human units, `default` back to the
/// server's, each flag on its own; bad periods are usage errors, an unknown
/// tenant a clear failure.
#[test]
fn tenants_set_retention_sets_a_tenants_own_periods() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hookrelay.db").display());
    assert!(
        hookrelay(&["tenants", "create", "acme"], &url)
            .status
            .success()
    );
    let set = |args: &[&str]| {
        let mut all = vec!["tenants", "set-retention", "acme"];
        all.extend_from_slice(args);
        hookrelay(&all, &url)
    };
    let output = set(&["--deliveries", "7d", "--events", "2160h"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        "tenant acme keeps finished deliveries for 7d and events for 90d"
    );
    let output = set(&["--deliveries", "default"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        "tenant acme keeps finished deliveries for 30d (the server's setting) and events for 90d"
    );
    for bad in ["0d", "30w", "forever"] {
        let output = set(&["--events", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}: {}", stderr(&output));
        assert!(stderr(&output).contains("--events"), "{}", stderr(&output));
    }
    let output = hookrelay(
        &["tenants", "set-retention", "globex", "--events", "1d"],
        &url,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("globex"), "{}", stderr(&output));
}
