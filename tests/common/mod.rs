//! The test harness: `spawn_app(backend)` starts the real application
//! in-process on port 0 with its own fresh database (a temporary SQLite file,
//! or a new Postgres database when `HOOKRELAY_TEST_DATABASE_URL` is set) and
//! hands back generated clients plus a tenant with an all-powerful key.

// Each test binary uses a different subset of the harness.
#![allow(dead_code)]

pub mod builders;
pub mod delivering;
pub mod outage;
pub mod process;
pub mod publishing;
pub mod receiver;
pub mod retention;
pub mod script_receiver;
pub mod stats;
pub mod subscribing;
pub mod tools;

use base64::Engine;
use hookrelay::config::Settings;
use hookrelay::domain::{Capabilities, ResourceName, Scope, SecretCipher};
use hookrelay::proto::{
    api_key_service_client::ApiKeyServiceClient, event_type_service_client::EventTypeServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use hookrelay::service::tenants::{self, NewApiKey};
use hookrelay::startup::{Application, open_database};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub const TEST_DATABASE_ENV: &str = "HOOKRELAY_TEST_DATABASE_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend for each scenario `async fn name(Backend)`.
/// The Postgres variant runs when `HOOKRELAY_TEST_DATABASE_URL` was set when
/// the tests were built (`scripts/test` and `.ci/run` set it; build.rs turns
/// it into the `hookrelay_postgres_tests` cfg); otherwise it is `#[ignore]`d,
/// so `cargo test` counts it among the ignored tests. With the variable set,
/// a Postgres that does not answer fails the test.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use $crate::common::Backend;

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(Backend::Sqlite).await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(hookrelay_postgres_tests),
                ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run the Postgres variant"
            )]
            async fn postgres() {
                super::$scenario(Backend::Postgres).await;
            }
        }
    )*};
}

pub fn postgres_url() -> Option<String> {
    std::env::var(TEST_DATABASE_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    pub url: String,
    postgres_admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("hookrelay.db").display());
                Self {
                    url,
                    postgres_admin: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("Postgres tests need the env var");
                let name = format!(
                    "hookrelay_test_{}",
                    ulid::Ulid::new().to_string().to_lowercase()
                );
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to the Postgres admin database");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                Self {
                    url: replace_database(&admin_url, &name),
                    postgres_admin: Some((admin_url, name)),
                    _dir: None,
                }
            }
        }
    }
}

/// `postgres://u@h:5432/test?x` with the database name swapped.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres_admin.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// A tenant created for a test, with one key.
pub struct TestTenant {
    pub id: String,
    pub token: String,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    channel: Channel,
    /// A connection of the test's own, for seeding tenants and inspecting rows.
    pub db: DatabaseConnection,
    pub tenant: TestTenant,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    pub database: TestDatabase,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDatabase::create(backend).await;
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database.url.clone(),
        dev: true,
        secret_key: Some(
            base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key()),
        ),
        health_check_interval_ms: 200,
        ..Settings::default()
    };
    configure(&mut settings);
    // `TEST_LOG=1 cargo test ... -- --nocapture` shows the server's debug log.
    if std::env::var("TEST_LOG").is_ok() {
        hookrelay::telemetry::init(hookrelay::config::LogFormat::Pretty, "hookrelay=debug");
    }
    let app = Application::build(&settings)
        .await
        .expect("application builds");
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            app.run_until_stopped(shutdown).await.expect("server runs");
        }
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the test server");
    let db = open_database(&settings).await.expect("test connection");
    let mut app = TestApp {
        addr,
        backend,
        channel,
        db,
        tenant: TestTenant {
            id: String::new(),
            token: String::new(),
        },
        shutdown,
        server: Some(server),
        database,
    };
    app.tenant = app.new_tenant("acme").await;
    app
}

impl TestApp {
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn subscriptions(&self) -> SubscriptionServiceClient<Channel> {
        SubscriptionServiceClient::new(self.channel())
    }

    pub fn event_types(&self) -> EventTypeServiceClient<Channel> {
        EventTypeServiceClient::new(self.channel())
    }

    pub fn api_keys(&self) -> ApiKeyServiceClient<Channel> {
        ApiKeyServiceClient::new(self.channel())
    }

    /// A request carrying the default tenant's all-capabilities token.
    pub fn req<T>(&self, message: T) -> Request<T> {
        authed(&self.tenant.token, message)
    }

    /// Creates a tenant with a `manage,publish,read` key, as the CLI would.
    pub async fn new_tenant(&self, name: &str) -> TestTenant {
        let tenant = tenants::create_tenant(&self.db, &ResourceName::parse(name).unwrap())
            .await
            .expect("create tenant");
        let token = self.new_key(&tenant.id, "manage,publish,read", None).await;
        TestTenant {
            id: tenant.id,
            token,
        }
    }

    /// Creates a key for `tenant_id` with the given capabilities and scope.
    pub async fn new_key(
        &self,
        tenant_id: &str,
        capabilities: &str,
        scope: Option<&str>,
    ) -> String {
        let new = NewApiKey {
            name: "test".to_owned(),
            capabilities: Capabilities::parse_list(capabilities).unwrap(),
            scope: scope.map(|s| Scope::parse(s).unwrap()),
        };
        tenants::insert_api_key(&self.db, tenant_id, new)
            .await
            .expect("create key")
            .1
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A client channel to a server at `url` (`http://host:port`).
pub async fn connect(url: String) -> Channel {
    Channel::from_shared(url)
        .expect("a valid server URL")
        .connect()
        .await
        .expect("connect to the server")
}

/// Registers the event type `name` (no schema) with `token`'s tenant.
pub async fn register_event_type(channel: Channel, token: &str, name: &str) {
    EventTypeServiceClient::new(channel)
        .create_event_type(authed(
            token,
            hookrelay::proto::CreateEventTypeRequest {
                event_type: Some(hookrelay::proto::EventType {
                    name: name.to_owned(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_or_else(|status| panic!("registering {name} failed: {status:?}"));
}

pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// Asserts that `result` failed with `code` and a message containing `needle`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    needle: &str,
) -> Status {
    let status = result.expect_err("expected the call to fail");
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} does not mention {needle:?}",
        status.message()
    );
    status
}

/// The field paths of a status's BadRequest details.
pub fn violated_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The (field, description) pairs of a status's BadRequest details.
pub fn violations(status: &Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it returns true or `deadline` passes.
pub async fn wait_until<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A second server on an existing test database, as another replica would run.
pub struct Replica {
    pub addr: SocketAddr,
    channel: Channel,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Starts another `Application` on `app`'s database. Replicas must share the
/// secret key: `configure` sets it (the same one given to `spawn_app_with`)
/// and anything else the replica needs.
pub async fn spawn_replica(app: &TestApp, configure: impl FnOnce(&mut Settings)) -> Replica {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: app.database.url.clone(),
        dev: true,
        health_check_interval_ms: 200,
        ..Settings::default()
    };
    configure(&mut settings);
    assert!(
        settings.secret_key.is_some(),
        "a replica needs the first server's secret key"
    );
    let application = Application::build(&settings).await.expect("replica builds");
    let addr = application.local_addr();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            application
                .run_until_stopped(shutdown)
                .await
                .expect("replica runs");
        }
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the replica");
    Replica {
        addr,
        channel,
        shutdown,
        server: Some(server),
    }
}

impl Replica {
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
