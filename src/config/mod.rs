//! Settings: defaults -> optional TOML file -> `HOOKRELAY_*` environment ->
//! command-line flags, validated once at start so a bad value fails loudly
//! before anything listens.

mod print;
#[cfg(test)]
mod tests;

pub use print::{REDACTED, redact_database_url};

use crate::domain::{MAX_RETENTION, RotationOverlap};
use crate::secret_key::{KeySource, decode_key};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default embedded database: a file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hookrelay.db";

/// Keys that command-line flags own. Their `HOOKRELAY_*` twins are read by
/// clap (so `--help` shows them), so the environment layer here skips them to
/// avoid reading one variable twice with two different parsers.
const FLAG_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "dev",
    "config",
    "log_format",
    "metrics_listen",
    "console",
    "test_database_url",
    // `hookrelay listen --secret`'s twin: not a server setting.
    "listen_secret",
];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// `sqlite://path` (created if missing) or `postgres://...`.
    pub database_url: String,
    /// Allow `http` and loopback/private targets: local development and tests only.
    pub dev: bool,
    /// Private or reserved networks (CIDR, e.g. `10.20.0.0/16`) that
    /// endpoints may target without `--dev`; https is still required.
    pub allowed_networks: Vec<ipnet::IpNet>,
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info` or `hookrelay=debug,info`.
    pub log_filter: String,
    /// Base64 of the 32-byte key that encrypts subscription secrets at rest.
    /// Replicas sharing a Postgres database must share it.
    pub secret_key: Option<String>,
    /// File holding that key. On SQLite it defaults to `<database>.key`,
    /// created with mode 0600 on first start.
    pub secret_key_file: Option<PathBuf>,
    pub quotas: Quotas,
    pub dispatch: Dispatch,
    pub retention: Retention,
    /// How long a rotated-out secret keeps signing, unless the request says.
    pub secret_rotation_overlap_secs: u64,
    /// How often the health service probes the database.
    pub health_check_interval_ms: u64,
    /// How long shutdown waits for open connections before closing them.
    pub shutdown_grace_ms: u64,
    /// SQLite durability: `full` (default) survives power loss; `normal` is
    /// faster and may lose the last commits on power loss (never on a crash).
    pub sqlite_synchronous: SqliteSynchronous,
    /// Caps the SQLite database at this many MiB (0: no cap). Past it,
    /// publishes fail with RESOURCE_EXHAUSTED, as on a full disk, until
    /// retention (or an operator) frees space; reads go on working.
    pub sqlite_max_size_mib: u64,
    /// Maximum connections in the Postgres pool (SQLite always uses one writer).
    pub max_db_connections: u32,
    /// Where Prometheus scrapes `/metrics` (plain HTTP); off when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// OTLP/gRPC collector that receives spans, e.g. `http://127.0.0.1:4317`;
    /// off when unset.
    pub otlp_endpoint: Option<String>,
    /// Also serve gRPC-Web (over HTTP/1.1 or HTTP/2) on `listen`, for
    /// browsers: the same services, keys and checks as gRPC.
    pub grpc_web: bool,
    /// Origins (`https://host[:port]`) whose pages may call the API from a
    /// browser. A page served by hookrelay itself needs none; every other
    /// origin is refused unless listed here.
    pub cors_allowed_origins: Vec<String>,
    /// Serve the web console at `/` on `listen` (it calls the API over
    /// gRPC-Web, so it needs `grpc_web` too).
    pub console: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    pub subscriptions_per_scope: u64,
    pub subscriptions_per_tenant: u64,
    pub max_payload_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

/// The delivery engine's bounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    /// Most deliveries claimed per statement.
    pub batch_size: u64,
    /// Requests in flight, all subscriptions together. Each costs about
    /// 30 KiB while its connection is open (hyper's buffers and channel);
    /// publishing waits for room (see `publish_wait_ms`), so more room
    /// only helps endpoints that answer slowly: a fan-out of 64 publishers
    /// to 10 fast endpoints delivered as fast with 512 as with 1,024 and
    /// peaked at 54-59 MiB instead of 61-67 (external benchmark). At 200 ms
    /// an answer, 512 carry about 2,500 deliveries/s per replica. Each
    /// request holds a socket: `serve` raises the open-files limit to the
    /// hard limit.
    pub max_in_flight: usize,
    /// Requests in flight to one subscription.
    pub max_in_flight_per_subscription: usize,
    /// How long a delivery stays claimed without renewal. The holder renews
    /// it every third of this while the request runs, so this bounds how
    /// long a crashed replica's work waits, not how long a request may take.
    pub lease_ms: u64,
    /// Fallback poll for work this process was not woken for.
    pub poll_interval_ms: u64,
    /// Disable a subscription whose deliveries fail this long without a success.
    pub disable_after_secs: u64,
    /// Publish `hookrelay.subscription.failing` to the tenant when this
    /// many attempts in a row have failed (and `.recovered` when a success
    /// ends such a run).
    pub failing_after_attempts: u32,
    /// Publish `hookrelay.subscription.disabling`, a warning, this long
    /// before a failing subscription would be disabled; 0: no warning.
    pub disable_warning_secs: u64,
    /// Publishes hand deliveries straight to this replica's dispatcher
    /// (written leased to it) while it has room; off, every delivery goes
    /// through the shared queue.
    pub hand_off: bool,
    /// How long a publish waits, at most, for this replica's dispatcher to
    /// have room (a backlog in the queue, or under a batch's room left)
    /// before it is written anyway, its deliveries then going through the
    /// queue. Publishing so keeps pace with delivery: with 0, a fan-out of
    /// 64 publishers to 10 endpoints outran the requests in flight, and
    /// the backlog it left gave one run in two or three a p99 near 1 s
    /// (0.1-0.2 s with the wait; external benchmark). After one wait in
    /// vain (slow endpoints hold the room) publishes stop waiting until
    /// there is room again.
    pub publish_wait_ms: u64,
}

impl Default for Dispatch {
    fn default() -> Self {
        Self {
            batch_size: 100,
            max_in_flight: 512,
            max_in_flight_per_subscription: 128,
            lease_ms: 150_000,
            poll_interval_ms: 1_000,
            disable_after_secs: 5 * 24 * 3600,
            failing_after_attempts: 5,
            disable_warning_secs: 24 * 3600,
            hand_off: true,
            publish_wait_ms: 100,
        }
    }
}

/// How long finished work is kept, and how the background task that
/// deletes the rest paces itself. Tenants may override the two periods
/// (`hookrelay tenants set-retention`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Delete anything at all; off, every row is kept forever.
    pub enabled: bool,
    /// Finished deliveries (succeeded, failed, cancelled) and their
    /// attempts are deleted this long after they finished.
    pub deliveries_secs: u64,
    /// Events are deleted this long after they were published, once no
    /// delivery of theirs is left (an unfinished delivery keeps its event,
    /// and so does a finished one still kept).
    pub events_secs: u64,
    /// Rows deleted per transaction: each batch is short, so publishing
    /// (on SQLite, through the same connection) waits for one batch at most.
    pub batch_size: u64,
    /// Pause between batches, leaving the database to the hot paths.
    pub batch_pause_ms: u64,
    /// Pause between rounds; a round deletes everything due, batch by batch.
    pub interval_ms: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            enabled: true,
            deliveries_secs: 30 * 24 * 3600,
            events_secs: 30 * 24 * 3600,
            batch_size: 500,
            batch_pause_ms: 20,
            interval_ms: 60_000,
        }
    }
}

impl Retention {
    pub fn deliveries(&self) -> Duration {
        Duration::from_secs(self.deliveries_secs)
    }

    pub fn events(&self) -> Duration {
        Duration::from_secs(self.events_secs)
    }

    pub fn batch_pause(&self) -> Duration {
        Duration::from_millis(self.batch_pause_ms)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            dev: false,
            allowed_networks: Vec::new(),
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
            secret_key: None,
            secret_key_file: None,
            quotas: Quotas::default(),
            dispatch: Dispatch::default(),
            retention: Retention::default(),
            secret_rotation_overlap_secs: 24 * 3600,
            health_check_interval_ms: 5_000,
            shutdown_grace_ms: 10_000,
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_max_size_mib: 0,
            max_db_connections: 10,
            metrics_listen: None,
            otlp_endpoint: None,
            grpc_web: true,
            cors_allowed_origins: Vec::new(),
            console: true,
        }
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            subscriptions_per_scope: 5,
            subscriptions_per_tenant: 1_000,
            max_payload_bytes: 256 * 1024,
        }
    }
}

/// Values given on the command line (or through their env twins via clap).
/// `None` means "not given": the lower layers decide.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Load(Box<figment::Error>),
    #[error("invalid configuration: {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("cannot print the configuration as TOML: {0}")]
    Print(String),
}

impl Settings {
    /// Layers defaults, the optional file, the environment and the flags.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile {
                    path: path.to_owned(),
                });
            }
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("HOOKRELAY_").split("__").ignore(FLAG_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| ConfigError::Load(Box::new(err)))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.to_owned(),
        };
        if let Some(endpoint) = &self.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(invalid(
                "otlp_endpoint",
                "must be an http:// or https:// URL of an OTLP/gRPC collector, e.g. http://127.0.0.1:4317",
            ));
        }
        let url = self.database_url.as_str();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log_filter) {
            return Err(ConfigError::Invalid {
                field: "log_filter",
                reason: err.to_string(),
            });
        }
        if let Some(key) = &self.secret_key {
            decode_key(key).map_err(|reason| ConfigError::Invalid {
                field: "secret_key",
                reason,
            })?;
        }
        let quotas = &self.quotas;
        if quotas.subscriptions_per_scope == 0 || quotas.subscriptions_per_tenant == 0 {
            return Err(invalid("quotas", "subscription quotas must be at least 1"));
        }
        if !(1024..=16 * 1024 * 1024).contains(&quotas.max_payload_bytes) {
            return Err(invalid(
                "quotas.max_payload_bytes",
                "must be between 1024 and 16777216 (16 MiB)",
            ));
        }
        if Duration::from_secs(self.secret_rotation_overlap_secs) > RotationOverlap::MAX {
            return Err(invalid(
                "secret_rotation_overlap_secs",
                "must be at most 604800 (7 days)",
            ));
        }
        if !(100..=60_000).contains(&self.health_check_interval_ms) {
            return Err(invalid(
                "health_check_interval_ms",
                "must be between 100 and 60000",
            ));
        }
        let dispatch = &self.dispatch;
        if !(1..=10_000).contains(&dispatch.batch_size) {
            return Err(invalid(
                "dispatch.batch_size",
                "must be between 1 and 10000",
            ));
        }
        if dispatch.max_in_flight == 0 || dispatch.max_in_flight_per_subscription == 0 {
            return Err(invalid("dispatch", "in-flight bounds must be at least 1"));
        }
        if dispatch.lease_ms < 1_000 {
            return Err(invalid("dispatch.lease_ms", "must be at least 1000"));
        }
        if !(10..=60_000).contains(&dispatch.poll_interval_ms) {
            return Err(invalid(
                "dispatch.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        if dispatch.publish_wait_ms > 10_000 {
            return Err(invalid(
                "dispatch.publish_wait_ms",
                "must be at most 10000 (0 turns the wait off)",
            ));
        }
        if dispatch.disable_after_secs == 0 {
            return Err(invalid("dispatch.disable_after_secs", "must be at least 1"));
        }
        if dispatch.failing_after_attempts == 0 {
            return Err(invalid(
                "dispatch.failing_after_attempts",
                "must be at least 1",
            ));
        }
        if dispatch.disable_warning_secs >= dispatch.disable_after_secs {
            return Err(invalid(
                "dispatch.disable_warning_secs",
                "must be less than dispatch.disable_after_secs (0 turns the warning off)",
            ));
        }
        self.retention.validate()?;
        if self.shutdown_grace_ms > 300_000 {
            return Err(invalid(
                "shutdown_grace_ms",
                "must be at most 300000 (5 minutes)",
            ));
        }
        if self.max_db_connections == 0 {
            return Err(invalid("max_db_connections", "must be at least 1"));
        }
        for origin in &self.cors_allowed_origins {
            if !is_origin(origin) {
                return Err(ConfigError::Invalid {
                    field: "cors_allowed_origins",
                    reason: format!(
                        "{origin:?} is not an origin: give scheme, host and port only, e.g. https://console.example.com"
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Where the secret-encryption key comes from.
    pub fn key_source(&self) -> KeySource<'_> {
        KeySource {
            key: self.secret_key.as_deref(),
            key_file: self.secret_key_file.as_deref(),
            database_url: &self.database_url,
        }
    }

    /// How long a rotated-out secret keeps signing.
    pub fn rotation_overlap(&self) -> Duration {
        Duration::from_secs(self.secret_rotation_overlap_secs)
    }

    /// How often health re-checks the database.
    pub fn health_check_interval(&self) -> Duration {
        Duration::from_millis(self.health_check_interval_ms)
    }

    /// How long shutdown waits for requests in flight.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

impl Dispatch {
    /// How long a claim is held before another replica may take it.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// The fallback poll when no wake-up arrives.
    pub fn publish_wait(&self) -> Duration {
        Duration::from_millis(self.publish_wait_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// A subscription failing without a success this long is disabled.
    pub fn disable_warning(&self) -> Duration {
        Duration::from_secs(self.disable_warning_secs)
    }

    pub fn disable_after(&self) -> Duration {
        Duration::from_secs(self.disable_after_secs)
    }
}

impl Retention {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.to_owned(),
        };
        for (field, secs) in [
            ("retention.deliveries_secs", self.deliveries_secs),
            ("retention.events_secs", self.events_secs),
        ] {
            if !(1..=MAX_RETENTION.as_secs()).contains(&secs) {
                return Err(invalid(
                    field,
                    "must be between 1 and 3153600000 (100 years); to keep everything, set retention.enabled = false",
                ));
            }
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return Err(invalid(
                "retention.batch_size",
                "must be between 1 and 10000",
            ));
        }
        if self.batch_pause_ms > 10_000 {
            return Err(invalid("retention.batch_pause_ms", "must be at most 10000"));
        }
        if !(100..=86_400_000).contains(&self.interval_ms) {
            return Err(invalid(
                "retention.interval_ms",
                "must be between 100 and 86400000 (a day)",
            ));
        }
        Ok(())
    }
}

/// Whether `text` is exactly a web origin as browsers send it: http or
/// https, a host, an optional port, and nothing after.
fn is_origin(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == text
    })
}
