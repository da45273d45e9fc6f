//! What the container files run, run here without Docker: `hookrelay
//! health-check` against the real binary; the Dockerfile's ENV, ENTRYPOINT,
//! CMD and HEALTHCHECK; and docker-compose.yml's migrate step, bootstrap
//! commands, two replicas on one Postgres and their health checks. The files
//! are read as text, so a change to them is tested as written.

mod common;

use common::process::free_port;

use common::{Backend, TestDatabase, authed};
use hookrelay::proto::{
    CreateEventTypeRequest, EventType, GetEventTypeRequest,
    event_type_service_client::EventTypeServiceClient,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

const SERVICES: &[&str] = &[
    "hookrelay.v1.SubscriptionService",
    "hookrelay.v1.EventTypeService",
    "hookrelay.v1.ApiKeyService",
    "hookrelay.v1.EventService",
    "hookrelay.v1.DeliveryService",
    "hookrelay.v1.DeliveryProfileService",
    "hookrelay.v1.ScopeService",
];

// ---------------------------------------------------------------------------
// `hookrelay health-check`

#[test]
fn health_check_passes_for_the_server_and_each_service() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let env = [
        (
            "HOOKRELAY_DATABASE_URL".to_owned(),
            format!("sqlite://{}", dir.path().join("h.db").display()),
        ),
        ("HOOKRELAY_SHUTDOWN_GRACE_MS".to_owned(), "1000".to_owned()),
    ];
    let server = Running::spawn(&["serve", "--listen", &addr], &env, dir.path());

    let overall = wait_for_health(&["health-check", "--addr", &addr], &server);
    assert_eq!(stdout(&overall), format!("{addr}: SERVING\n"));
    for service in SERVICES {
        let output = wait_for_health(
            &["health-check", "--addr", &addr, "--service", service],
            &server,
        );
        assert_eq!(stdout(&output), format!("{addr} ({service}): SERVING\n"));
    }

    let unknown = health_check(&["--addr", &addr, "--service", "no.such.Service"]);
    assert_failed_with(
        &unknown,
        &format!("{addr} (no.such.Service): the server does not know this service"),
    );

    let status = server.terminate();
    assert!(status.success(), "serve exited with {status:?}");
    let gone = health_check(&["--addr", &addr]);
    assert_failed_with(&gone, &format!("cannot connect to {addr}"));
}

#[test]
fn health_check_fails_clearly_when_nothing_answers() {
    let port = free_port();
    let refused = health_check(&["--addr", &format!("127.0.0.1:{port}")]);
    assert_failed_with(&refused, &format!("cannot connect to 127.0.0.1:{port}"));
    assert!(
        stderr(&refused).contains("refused"),
        "the cause is missing: {}",
        stderr(&refused)
    );

    // Something accepts the connection but never speaks HTTP/2.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let started = Instant::now();
    let hung = health_check(&["--addr", &addr, "--timeout-ms", "300"]);
    assert_failed_with(&hung, &format!("{addr}: no answer within 300 ms"));
    assert!(started.elapsed() < Duration::from_secs(10));

    let bad = health_check(&["--addr", "http://127.0.0.1:50051"]);
    assert_failed_with(
        &bad,
        "--addr \"http://127.0.0.1:50051\": expected HOST:PORT",
    );
}

/// NOT_SERVING (the database is unreachable) exits 1 and says so; the same
/// probe passes again once the database is back.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn health_check_fails_while_the_database_is_unreachable() {
    let admin_url =
        common::postgres_url().expect("Postgres-only tests need HOOKRELAY_TEST_DATABASE_URL");
    use sea_orm::ConnectionTrait;
    let database = TestDatabase::create(Backend::Postgres).await;
    let name = database_name(&database.url);
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let env = [
        ("HOOKRELAY_DATABASE_URL".to_owned(), database.url.clone()),
        ("HOOKRELAY_SECRET_KEY".to_owned(), example_key()),
        (
            "HOOKRELAY_HEALTH_CHECK_INTERVAL_MS".to_owned(),
            "200".to_owned(),
        ),
        ("HOOKRELAY_SHUTDOWN_GRACE_MS".to_owned(), "1000".to_owned()),
    ];
    let server = Running::spawn(&["serve", "--listen", &addr], &env, dir.path());
    let service = "hookrelay.v1.EventService";
    let probe = ["health-check", "--addr", &addr, "--service", service];
    wait_for_health(&probe, &server);

    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .unwrap();
    let expected = format!("{addr} ({service}): NOT_SERVING");
    let down = poll(Duration::from_secs(20), || {
        let output = run_bin(&probe[..]);
        stderr(&output).contains(&expected).then_some(output)
    });
    let down = down.unwrap_or_else(|| panic!("never NOT_SERVING; log:\n{}", server.log()));
    assert_failed_with(&down, &expected);

    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    admin.close().await.ok();
    wait_for_health(&probe, &server);
    server.terminate();
}

// ---------------------------------------------------------------------------
// Dockerfile

/// `docker run IMAGE` and `docker run IMAGE migrate`: the runtime stage's
/// environment and command start a server whose data lands on the volume, and
/// the image's HEALTHCHECK passes against it.
#[test]
fn dockerfile_command_serves_and_its_healthcheck_passes() {
    let image = Dockerfile::read();
    let port = image.exposed_port();
    assert_eq!(
        image.env["HOOKRELAY_LISTEN"],
        format!("0.0.0.0:{port}"),
        "the container must listen on every interface, on the EXPOSEd port"
    );
    let volume = image.volume();
    let database = &image.env["HOOKRELAY_DATABASE_URL"];
    assert!(
        database.starts_with(&format!("sqlite://{volume}/")),
        "the default SQLite database must live on the volume {volume}: {database}"
    );
    assert_eq!(image.json("ENTRYPOINT")[0], image.binary_path());
    assert_eq!(image.json("CMD"), ["serve"]);
    let user = image.instruction("USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert_ne!(uid, 0, "the image must not run as root");
    let healthcheck = image.healthcheck();
    assert_eq!(healthcheck[0], image.binary_path());
    assert_eq!(healthcheck[1], "health-check");
    let copied = image.builder_copy_sources();
    for source in &copied {
        assert!(
            Path::new(ROOT).join(source).exists(),
            "the builder copies {source}, which does not exist"
        );
    }
    for needed in files_the_manifest_needs() {
        let top = needed.split('/').next().unwrap();
        assert!(
            copied
                .iter()
                .any(|source| source == top || source == &needed),
            "Cargo.toml needs {needed}, which the builder does not copy"
        );
    }

    let data = tempfile::tempdir().unwrap();
    let host_port = free_port();
    let container = Container {
        port,
        host_port,
        volume: volume.clone(),
        data: data.path().to_owned(),
        binary: image.binary_path(),
    };
    let env = container.env(&image.env, &BTreeMap::new());

    let migrate = container.run(&image.entrypoint_with(&["migrate"]), &env);
    assert!(migrate.status.success(), "migrate: {}", stderr(&migrate));

    let command = image.entrypoint_with(&image.json("CMD"));
    let server = container.spawn(&command, &env);
    let health = wait_for_health(&container.args(&healthcheck)[1..], &server);
    assert_eq!(stdout(&health), format!("127.0.0.1:{host_port}: SERVING\n"));
    assert!(
        data.path().join("hookrelay.db").exists() && data.path().join("hookrelay.db.key").exists(),
        "the database and its key file must be created on the volume"
    );
    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM must stop the server cleanly: {status:?}"
    );
}

// ---------------------------------------------------------------------------
// docker-compose.yml

/// The compose file's shape: start order, one shared environment, health checks
/// that run the image's binary, distinct host ports, time to shut down.
#[test]
fn compose_file_wires_postgres_migrate_and_replicas() {
    let image = Dockerfile::read();
    let compose = Compose::read();
    let postgres = compose.service("postgres");
    assert!(
        postgres["image"]
            .as_str()
            .unwrap()
            .starts_with("postgres:16")
    );
    assert!(postgres["healthcheck"]["test"].is_array());

    let migrate = compose.service("migrate");
    assert_eq!(migrate["command"], serde_json::json!(["migrate"]));
    assert_eq!(
        migrate["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    let environment = &migrate["environment"];
    let url = environment["HOOKRELAY_DATABASE_URL"].as_str().unwrap();
    assert!(
        url.starts_with("postgres://") && url.contains("@postgres:5432/"),
        "the database URL must name the postgres service: {url}"
    );
    assert!(
        hookrelay::secret_key::decode_key(environment["HOOKRELAY_SECRET_KEY"].as_str().unwrap())
            .is_ok()
    );

    let replicas = compose.replicas();
    assert_eq!(replicas.len(), 2, "two replicas");
    let mut host_ports = Vec::new();
    for (name, replica) in &replicas {
        assert_eq!(
            &replica["environment"], environment,
            "{name} must share the migrate step's environment (database and secret key)"
        );
        assert_eq!(
            replica["depends_on"]["migrate"]["condition"], "service_completed_successfully",
            "{name} must wait for migrations"
        );
        let test = string_list(&replica["healthcheck"]["test"]);
        assert_eq!(
            test[0], "CMD",
            "{name}: exec form, there is no shell in the image"
        );
        assert_eq!(test[1], image.binary_path());
        assert_eq!(test[2], "health-check");
        let (host, container) = replica["ports"][0]
            .as_str()
            .unwrap()
            .split_once(':')
            .unwrap();
        assert_eq!(container.parse::<u16>().unwrap(), image.exposed_port());
        host_ports.push(host.to_owned());
        let grace = replica["stop_grace_period"].as_str().unwrap();
        let grace: u64 = grace.strip_suffix('s').unwrap().parse().unwrap();
        let shutdown_grace = hookrelay::config::Settings::default().shutdown_grace_ms / 1000;
        assert!(
            grace > shutdown_grace,
            "{name}: stop_grace_period {grace}s must exceed shutdown_grace_ms"
        );
    }
    host_ports.dedup();
    assert_eq!(host_ports.len(), 2, "each replica needs its own host port");
}

/// `docker compose up`, minus Docker: the migrate service's command, the
/// bootstrap commands the file documents, then both replicas with the image's
/// environment plus the compose environment (only the database host swapped
/// for a throwaway database) until their health checks pass; one replica sees
/// what the other wrote; both stop cleanly on SIGTERM.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn compose_replicas_on_one_postgres_become_serving() {
    let image = Dockerfile::read();
    let compose = Compose::read();
    let database = TestDatabase::create(Backend::Postgres).await;
    let data = tempfile::tempdir().unwrap();
    let container = |host_port| Container {
        port: image.exposed_port(),
        host_port,
        volume: image.volume(),
        data: data.path().to_owned(),
        binary: image.binary_path(),
    };
    let compose_env = |service: &Value| {
        let mut env: BTreeMap<String, String> = service["environment"]
            .as_object()
            .expect("environment as a mapping")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()))
            .collect();
        env.insert("HOOKRELAY_DATABASE_URL".to_owned(), database.url.clone());
        env
    };

    let migrate = compose.service("migrate");
    let one_shot = container(free_port());
    let migrate_env = one_shot.env(&image.env, &compose_env(migrate));
    let command = image.entrypoint_with(&string_list(&migrate["command"]));
    let migrated = one_shot.run(&command, &migrate_env);
    assert!(migrated.status.success(), "migrate: {}", stderr(&migrated));
    assert_eq!(stdout(&migrated), "migrations applied\n");

    let mut token = String::new();
    for args in compose.documented_runs("migrate") {
        let output = one_shot.run(&image.entrypoint_with(&args), &migrate_env);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        if args[0] == "keys" {
            token = stdout(&output).lines().last().unwrap().to_owned();
        }
    }
    assert!(
        token.starts_with("hr_"),
        "the documented bootstrap creates a key"
    );

    let mut replicas = Vec::new();
    for (name, service) in compose.replicas() {
        let replica = container(free_port());
        let env = replica.env(&image.env, &compose_env(service));
        let command = image.entrypoint_with(&string_list(&service["command"]));
        let server = replica.spawn(&command, &env);
        replicas.push((
            name,
            replica,
            server,
            string_list(&service["healthcheck"]["test"]),
        ));
    }
    for (name, replica, server, test) in &replicas {
        let output = wait_for_health(&replica.args(&test[1..])[1..], server);
        assert_eq!(
            stdout(&output),
            format!("127.0.0.1:{}: SERVING\n", replica.host_port),
            "{name}"
        );
    }

    let client = |replica: &Container| {
        let url = format!("http://127.0.0.1:{}", replica.host_port);
        async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            EventTypeServiceClient::new(channel)
        }
    };
    client(&replicas[0].1)
        .await
        .create_event_type(authed(
            &token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: "invoice.paid".to_owned(),
                    ..EventType::default()
                }),
            },
        ))
        .await
        .expect("create an event type on the first replica");
    let seen = client(&replicas[1].1)
        .await
        .get_event_type(authed(
            &token,
            GetEventTypeRequest {
                name: "invoice.paid".to_owned(),
            },
        ))
        .await
        .expect("the second replica reads the same database")
        .into_inner();
    assert_eq!(seen.event_type.unwrap().name, "invoice.paid");

    for (name, _, server, _) in replicas {
        let status = server.terminate();
        assert!(status.success(), "{name} exited with {status:?}");
    }
}

// ---------------------------------------------------------------------------
// Running the binary

fn run_bin(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("HOOKRELAY_TEST_DATABASE_URL")
        .output()
        .expect("run hookrelay")
}

fn health_check(args: &[&str]) -> Output {
    let mut all = vec!["health-check"];
    all.extend_from_slice(args);
    run_bin(&all)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit status 1, nothing on stdout, and one line on stderr containing `needle`.
#[track_caller]
fn assert_failed_with(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert_eq!(stdout(output), "");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.contains(needle), "{err:?} does not contain {needle:?}");
}

fn poll<T>(deadline: Duration, mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = attempt() {
            return Some(value);
        }
        if start.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a health-check command (binary arguments) until it exits 0.
fn wait_for_health<S: AsRef<str>>(args: &[S], server: &Running) -> Output {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let mut last = None;
    let passed = poll(Duration::from_secs(30), || {
        let output = run_bin(&args);
        if output.status.success() {
            return Some(output);
        }
        last = Some(stderr(&output));
        None
    });
    passed.unwrap_or_else(|| {
        panic!(
            "{args:?} never passed; last: {last:?}\nserver log:\n{}",
            server.log()
        )
    })
}

/// A spawned `hookrelay`, killed if the test ends without stopping it.
struct Running {
    child: Option<Child>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Running {
    /// Starts the binary with exactly `env` (as a container would) in `cwd`.
    fn spawn<S: AsRef<str>>(args: &[S], env: &[(String, String)], cwd: &Path) -> Self {
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("stderr.log");
        let child = Command::new(BIN)
            .args(args.iter().map(AsRef::as_ref))
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn hookrelay");
        Self {
            child: Some(child),
            log,
            _log_dir: log_dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as `docker stop` sends, then waits for the exit.
    fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = poll(Duration::from_secs(20), || child.try_wait().unwrap());
        status.unwrap_or_else(|| {
            child.kill().ok();
            panic!("no exit after SIGTERM; log:\n{}", self.log())
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Maps a container's view onto this machine: the image's binary is the one
/// cargo built, the volume is a temporary directory, and the container port
/// is a free local port (so tests may run in parallel).
struct Container {
    port: u16,
    host_port: u16,
    volume: String,
    data: PathBuf,
    binary: String,
}

impl Container {
    fn translate(&self, text: &str) -> String {
        let text = text.replace(&self.volume, &self.data.display().to_string());
        text.replace(&format!(":{}", self.port), &format!(":{}", self.host_port))
    }

    /// A command line from the files, as arguments for `BIN`.
    fn args(&self, command: &[String]) -> Vec<String> {
        assert_eq!(command[0], self.binary, "runs the image's binary");
        command.iter().map(|arg| self.translate(arg)).collect()
    }

    /// The image's ENV overlaid with a service's environment, as Docker does.
    fn env(
        &self,
        image: &BTreeMap<String, String>,
        service: &BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        let mut env = image.clone();
        env.extend(service.clone());
        env.iter()
            .map(|(k, v)| (k.clone(), self.translate(v)))
            .collect()
    }

    fn spawn(&self, command: &[String], env: &[(String, String)]) -> Running {
        Running::spawn(&self.args(command)[1..], env, &self.data)
    }

    fn run(&self, command: &[String], env: &[(String, String)]) -> Output {
        Command::new(BIN)
            .args(&self.args(command)[1..])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.data)
            .output()
            .expect("run hookrelay")
    }
}

fn example_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(hookrelay::domain::SecretCipher::generate_key())
}

fn database_name(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap();
    path.split('?').next().unwrap().to_owned()
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Reading the files

/// The runtime stage of the Dockerfile (after the last FROM), plus the
/// builder's COPY sources.
struct Dockerfile {
    /// (INSTRUCTION, arguments) of every stage, continuation lines joined.
    stages: Vec<Vec<(String, String)>>,
    env: BTreeMap<String, String>,
}

impl Dockerfile {
    fn read() -> Self {
        let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
        let mut stages: Vec<Vec<(String, String)>> = Vec::new();
        let mut logical = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            match trimmed.strip_suffix('\\') {
                Some(part) => {
                    logical.push_str(part);
                    logical.push(' ');
                }
                None => {
                    logical.push_str(trimmed);
                    let (instruction, rest) = logical.split_once(' ').unwrap();
                    let instruction = instruction.to_uppercase();
                    if instruction == "FROM" {
                        stages.push(Vec::new());
                    }
                    stages
                        .last_mut()
                        .expect("FROM comes first")
                        .push((instruction, rest.trim().to_owned()));
                    logical.clear();
                }
            }
        }
        let mut env = BTreeMap::new();
        for (_, rest) in stages.last().unwrap().iter().filter(|(i, _)| i == "ENV") {
            for pair in rest.split_whitespace() {
                let (key, value) = pair.split_once('=').expect("ENV KEY=value");
                assert!(!value.contains('"'), "keep ENV values unquoted: {pair}");
                env.insert(key.to_owned(), value.to_owned());
            }
        }
        Self { stages, env }
    }

    fn runtime(&self) -> &[(String, String)] {
        self.stages.last().unwrap()
    }

    fn instruction(&self, name: &str) -> &str {
        let mut found = self.runtime().iter().filter(|(i, _)| i == name);
        let (_, rest) = found
            .next()
            .unwrap_or_else(|| panic!("no {name} in the runtime stage"));
        assert!(found.next().is_none(), "one {name} only");
        rest
    }

    fn json(&self, name: &str) -> Vec<String> {
        serde_json::from_str(self.instruction(name))
            .unwrap_or_else(|err| panic!("{name} must be in exec (JSON) form: {err}"))
    }

    fn exposed_port(&self) -> u16 {
        self.instruction("EXPOSE").parse().expect("EXPOSE PORT")
    }

    fn volume(&self) -> String {
        let volumes = self.json("VOLUME");
        assert_eq!(volumes.len(), 1);
        volumes[0].clone()
    }

    /// Where the runtime stage puts the binary it copies from the builder.
    fn binary_path(&self) -> String {
        let copies: Vec<&str> = self
            .runtime()
            .iter()
            .filter(|(i, rest)| i == "COPY" && rest.contains("/hookrelay "))
            .map(|(_, rest)| rest.as_str())
            .collect();
        assert_eq!(copies.len(), 1, "one COPY of the binary: {copies:?}");
        copies[0].split_whitespace().last().unwrap().to_owned()
    }

    fn healthcheck(&self) -> Vec<String> {
        let rest = self.instruction("HEALTHCHECK");
        let (_, command) = rest.split_once("CMD ").expect("HEALTHCHECK ... CMD [...]");
        serde_json::from_str(command).expect("HEALTHCHECK CMD in exec (JSON) form")
    }

    /// ENTRYPOINT followed by `args`, as `docker run IMAGE args...` runs.
    fn entrypoint_with<S: AsRef<str>>(&self, args: &[S]) -> Vec<String> {
        let mut command = self.json("ENTRYPOINT");
        command.extend(args.iter().map(|a| a.as_ref().to_owned()));
        command
    }

    /// The paths the first stage copies from the build context.
    fn builder_copy_sources(&self) -> Vec<String> {
        let mut sources = Vec::new();
        for (_, rest) in self.stages[0].iter().filter(|(i, _)| i == "COPY") {
            let words: Vec<&str> = rest
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            sources.extend(words[..words.len() - 1].iter().map(|w| w.to_string()));
        }
        assert!(sources.iter().any(|s| s == "src"), "{sources:?}");
        sources
    }
}

/// What `cargo build` must find to read Cargo.toml at all: the build script,
/// workspace members, patched crates and every explicitly declared target (a declared bench
/// or example that is missing fails the build even of the binary alone).
fn files_the_manifest_needs() -> Vec<String> {
    use figment::providers::{Format, Toml};
    let manifest: Value = figment::Figment::from(Toml::file(Path::new(ROOT).join("Cargo.toml")))
        .extract()
        .expect("Cargo.toml parses");
    let mut needed = vec!["Cargo.lock".to_owned(), "build.rs".to_owned()];
    needed.extend(string_list(&manifest["workspace"]["members"]));
    for (kind, dir) in [
        ("bin", "src/bin"),
        ("bench", "benches"),
        ("example", "examples"),
        ("test", "tests"),
    ] {
        for target in manifest[kind].as_array().into_iter().flatten() {
            let path = match target["path"].as_str() {
                Some(path) => path.to_owned(),
                None => format!("{dir}/{}.rs", target["name"].as_str().unwrap()),
            };
            needed.push(path);
        }
    }
    // Patched crates are built from their paths.
    for (_, registry) in manifest["patch"].as_object().into_iter().flatten() {
        for (_, patch) in registry.as_object().into_iter().flatten() {
            if let Some(path) = patch["path"].as_str() {
                needed.push(path.to_owned());
            }
        }
    }
    needed.retain(|path| path != ".");
    needed
}

struct Compose {
    root: Value,
    text: String,
}

impl Compose {
    fn read() -> Self {
        let text = std::fs::read_to_string(Path::new(ROOT).join("docker-compose.yml")).unwrap();
        let root = yaml::parse(&text);
        yaml::agrees_with_pyyaml(&text, &root);
        Self { root, text }
    }

    fn service(&self, name: &str) -> &Value {
        let service = &self.root["services"][name];
        assert!(service.is_object(), "no service {name}");
        service
    }

    /// The services that run `serve`.
    fn replicas(&self) -> Vec<(String, &Value)> {
        self.root["services"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, service)| service["command"][0] == "serve")
            .map(|(name, service)| (name.clone(), service))
            .collect()
    }

    /// The `docker compose run --rm SERVICE args...` lines in the comments.
    fn documented_runs(&self, service: &str) -> Vec<Vec<String>> {
        let prefix = format!("docker compose run --rm {service} ");
        let runs: Vec<Vec<String>> = self
            .text
            .lines()
            .filter_map(|line| line.trim_start_matches(['#', ' ']).strip_prefix(&prefix))
            .map(|args| args.split_whitespace().map(str::to_owned).collect())
            .collect();
        assert!(!runs.is_empty(), "no documented `{prefix}` lines");
        runs
    }
}

/// Just enough YAML for docker-compose.yml, and no more: block mappings and
/// block sequences of scalars by indentation, `#` comments, plain and
/// double-quoted scalars, flow sequences written as JSON, and `&anchor` /
/// `*alias` for a whole mapping. Anything else is refused, so the file stays
/// within what this test reads correctly (and PyYAML, where present, agrees).
mod yaml {
    use serde_json::{Map, Value};
    use std::collections::HashMap;

    struct Line {
        indent: usize,
        text: String,
    }

    pub fn parse(text: &str) -> Value {
        let lines: Vec<Line> = text
            .lines()
            .filter_map(|raw| {
                let text = strip_comment(raw).trim_end().to_owned();
                let indent = text.len() - text.trim_start().len();
                assert!(!raw.contains('\t'), "tabs in YAML: {raw:?}");
                (!text.trim().is_empty()).then(|| Line {
                    indent,
                    text: text.trim_start().to_owned(),
                })
            })
            .collect();
        let mut parser = Parser {
            lines,
            at: 0,
            anchors: HashMap::new(),
        };
        let value = parser.block(0);
        assert!(
            parser.at == parser.lines.len(),
            "unparsed YAML from line {}",
            parser.at
        );
        value
    }

    fn strip_comment(line: &str) -> &str {
        let mut quoted = false;
        let mut previous = ' ';
        for (i, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '#' if !quoted && previous == ' ' => return &line[..i],
                _ => {}
            }
            previous = c;
        }
        line
    }

    struct Parser {
        lines: Vec<Line>,
        at: usize,
        anchors: HashMap<String, Value>,
    }

    impl Parser {
        fn block(&mut self, indent: usize) -> Value {
            if self.lines[self.at].text.starts_with("- ") {
                return self.sequence(indent);
            }
            let mut map = Map::new();
            while self.at < self.lines.len() && self.lines[self.at].indent == indent {
                let text = self.lines[self.at].text.clone();
                let (key, rest) = match text.split_once(": ") {
                    Some((key, rest)) => (key, rest.trim()),
                    None => (text.strip_suffix(':').expect("key: value"), ""),
                };
                self.at += 1;
                let value = if let Some(alias) = rest.strip_prefix('*') {
                    self.anchors[alias].clone()
                } else if rest.is_empty() || rest.starts_with('&') {
                    let nested = self
                        .lines
                        .get(self.at)
                        .is_some_and(|line| line.indent > indent);
                    let value = if nested {
                        let inner = self.lines[self.at].indent;
                        self.block(inner)
                    } else {
                        Value::Null
                    };
                    if let Some(anchor) = rest.strip_prefix('&') {
                        self.anchors.insert(anchor.to_owned(), value.clone());
                    }
                    value
                } else {
                    scalar(rest)
                };
                assert!(
                    map.insert(key.to_owned(), value).is_none(),
                    "duplicate key {key}"
                );
            }
            if let Some(line) = self.lines.get(self.at) {
                assert!(line.indent < indent, "bad indentation: {:?}", line.text);
            }
            Value::Object(map)
        }

        fn sequence(&mut self, indent: usize) -> Value {
            let mut items = Vec::new();
            while self.at < self.lines.len()
                && self.lines[self.at].indent == indent
                && self.lines[self.at].text.starts_with("- ")
            {
                let item = self.lines[self.at].text[2..].trim();
                assert!(!item.contains(": "), "mappings in sequences: {item}");
                items.push(scalar(item));
                self.at += 1;
            }
            Value::Array(items)
        }
    }

    fn scalar(text: &str) -> Value {
        if text.starts_with('"') || text.starts_with('[') || text.starts_with('{') {
            return serde_json::from_str(text)
                .unwrap_or_else(|err| panic!("not JSON-compatible YAML ({err}): {text}"));
        }
        assert!(
            !text.starts_with(['\'', '&', '*', '!', '|', '>', '%', '@', '`']),
            "unsupported YAML: {text}"
        );
        let lower = text.to_lowercase();
        assert!(
            !["yes", "no", "on", "off", "null", "~", "y", "n"].contains(&lower.as_str()),
            "quote {text}: YAML parsers disagree on it"
        );
        match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => match text.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::String(text.to_owned()),
            },
        }
    }

    /// A second opinion from a full YAML parser, PyYAML (which
    /// `scripts/test --setup` installs).
    pub fn agrees_with_pyyaml(text: &str, ours: &Value) {
        use std::io::Write;
        use std::process::Stdio;
        let script = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)";
        crate::common::tools::require_python_module("yaml", "PyYAML");
        let mut child = crate::common::tools::command("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "PyYAML could not read docker-compose.yml: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(&theirs, ours, "PyYAML reads docker-compose.yml differently");
    }
}

// ---------------------------------------------------------------------------
// The allocator options the server relaunches itself with

/// The serving process's environment, from /proc.
fn environment_of(pid: u32) -> BTreeMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read /proc/<pid>/environ");
    raw.split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (name, value) = entry.split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `hookrelay serve` relaunches itself once (same pid) with mimalloc set to
/// commit on demand and purge after 50 ms, the README's memory figures;
/// an option the operator set is kept as given.
#[test]
fn the_server_runs_with_lean_allocator_options() {
    use common::process::ServeProcess;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lean.db").display());
    let server = ServeProcess::start(&url, &[], &[]);
    // The pid that listens is the pid that was spawned: exec kept it.
    let env = environment_of(server.child.id());
    assert_eq!(
        env.get("MIMALLOC_ARENA_EAGER_COMMIT").map(String::as_str),
        Some("0")
    );
    assert_eq!(
        env.get("MIMALLOC_PURGE_DELAY").map(String::as_str),
        Some("50")
    );
    drop(server);

    let url = format!("sqlite://{}", dir.path().join("operator.db").display());
    let server = ServeProcess::start(&url, &[], &[("MIMALLOC_PURGE_DELAY", "200".to_owned())]);
    let env = environment_of(server.child.id());
    assert_eq!(
        env.get("MIMALLOC_PURGE_DELAY").map(String::as_str),
        Some("200")
    );
    assert_eq!(
        env.get("MIMALLOC_ARENA_EAGER_COMMIT").map(String::as_str),
        Some("0")
    );
}

/// Every request in flight holds a socket: `hookrelay serve` started with a
/// low soft limit on open files raises it to the hard limit.
#[test]
fn the_server_raises_its_open_files_limit() {
    use common::process::ServeProcess;
    use std::os::unix::process::CommandExt;
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
    assert!(
        hard > 256,
        "the hard limit ({hard}) leaves nothing to raise"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("files.db").display());
    let server = ServeProcess::start_with(&url, &[], &[], |command| {
        // SAFETY: setrlimit is a single system call, safe between fork and exec.
        unsafe {
            command.pre_exec(move || {
                rlimit::setrlimit(rlimit::Resource::NOFILE, 256, hard)?;
                Ok(())
            });
        }
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id()))
        .expect("the server's limits");
    let open_files = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a Max open files line");
    let soft: Vec<&str> = open_files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        soft,
        vec![hard.to_string(), hard.to_string()],
        "soft and hard limits: {open_files}"
    );
}
