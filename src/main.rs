//! The `hookrelay` command line: `serve`, `migrate`, `tenants`, `keys`,
//! `listen`, `health-check`, `config print`.

use clap::{Args, Parser, Subcommand};
use hookrelay::config::{LogFormat, Overrides, Settings};
use hookrelay::domain::{Capabilities, ResourceName, RetentionPeriod, Scope};
use hookrelay::service::retention::{self, PeriodChange};
use hookrelay::service::tenants::{self, NewApiKey};
use hookrelay::startup::{Application, open_database};
use hookrelay::telemetry;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc malloc: under load a tenth of the process's
/// CPU went to malloc and free (perf, delivery bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  hookrelay tenants create acme
  hookrelay tenants set-retention acme --deliveries 7d --events 90d
  hookrelay keys create --tenant acme --capabilities manage,publish,read
  hookrelay serve --listen 0.0.0.0:50051 --database-url postgres://hookrelay@db/hookrelay
  hookrelay config print --config hookrelay.toml";

/// A gRPC-native webhook service.
///
/// Services register subscriptions and publish events over gRPC; hookrelay
/// stores them in SQLite (the default, ./hookrelay.db) or PostgreSQL and
/// delivers each event as a signed HTTP POST (Standard Webhooks headers),
/// with retries, dead-lettering and replay.
///
/// Settings come from defaults, then a TOML file (--config), then HOOKRELAY_*
/// environment variables, then flags; `hookrelay config print` shows the
/// result.
#[derive(Parser)]
#[command(name = "hookrelay", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server.
    ///
    /// Applies pending migrations, serves the API on --listen and delivers
    /// webhooks until SIGINT or SIGTERM, then shuts down gracefully.
    /// `hookrelay config print` with the same flags and environment shows the
    /// settings it runs with.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    ///
    /// Creates the database if it is a missing SQLite file. `serve` migrates
    /// at start too; this command does it ahead of a rollout.
    Migrate(DatabaseArgs),
    /// Manage tenants (offline: straight in the database, no server needed).
    #[command(subcommand)]
    Tenants(TenantCommand),
    /// Manage API keys (offline: straight in the database, no server needed).
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Run a local webhook receiver that prints and verifies what it gets.
    ///
    /// For development: point a subscription at http://ADDR/any/path (`serve
    /// --dev` allows http:// and loopback URLs). Each webhook is printed with
    /// its type, id and JSON body; with --secret its signature is checked and
    /// a bad one is answered 401, so the sender records a failure.
    Listen(ListenArgs),
    /// Check a running server's health (grpc.health.v1).
    ///
    /// Prints the status and exits 0 when SERVING, 1 otherwise: for container
    /// HEALTHCHECKs and exec probes.
    HealthCheck(hookrelay::health_check::HealthCheckArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets redacted.
    ///
    /// Takes the same flags and HOOKRELAY_* variables as `serve` and prints the
    /// settings it would run with, without opening the database. The output is
    /// a file --config accepts, except that secret_key and a database password
    /// are shown as <redacted>. A bad configuration fails as `serve` would.
    Print(ServeArgs),
}

#[derive(Args)]
struct ListenArgs {
    /// Address to receive webhooks on, IP:PORT. (No env twin: HOOKRELAY_LISTEN
    /// is the server's address, and a receiver must not pick it up.)
    #[arg(long, default_value = "127.0.0.1:9000", value_parser = socket_addr)]
    listen: SocketAddr,
    /// The subscription's secret (whsec_...), to verify signatures.
    #[arg(long, env = "HOOKRELAY_LISTEN_SECRET", value_parser = webhook_secret)]
    secret: Option<String>,
}

#[derive(Args)]
struct DatabaseArgs {
    /// `sqlite://FILE` (the default is sqlite://hookrelay.db) or `postgres://...`.
    #[arg(long, env = "HOOKRELAY_DATABASE_URL")]
    database_url: Option<String>,
    /// A TOML settings file.
    #[arg(long, env = "HOOKRELAY_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to serve gRPC on, IP:PORT [default: 127.0.0.1:50051].
    #[arg(long, env = "HOOKRELAY_LISTEN", value_parser = socket_addr)]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Development mode: allow http:// and loopback/private endpoint URLs.
    #[arg(
        long,
        env = "HOOKRELAY_DEV",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    dev: bool,
    /// Log format [default: pretty].
    #[arg(long, env = "HOOKRELAY_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Serve Prometheus metrics at http://ADDR/metrics [default: off].
    #[arg(long, env = "HOOKRELAY_METRICS_LISTEN", value_parser = socket_addr)]
    metrics_listen: Option<SocketAddr>,
    /// Serve the web console at http://LISTEN/ [default: true];
    /// --console=false turns it off.
    #[arg(
        long,
        env = "HOOKRELAY_CONSOLE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    console: Option<bool>,
}

impl ServeArgs {
    /// The settings `serve` runs with, and `config print` prints.
    fn settings(&self) -> Result<Settings, CliError> {
        let overrides = Overrides {
            listen: self.listen,
            dev: self.dev.then_some(true),
            log_format: self.log_format,
            metrics_listen: self.metrics_listen,
            console: self.console,
            ..Overrides::default()
        };
        load(&self.database, overrides)
    }
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    ///
    /// Every resource belongs to a tenant. Give it a first API key with
    /// `hookrelay keys create --tenant NAME`; further keys can come from
    /// ApiKeyService.
    Create {
        /// Unique tenant name.
        #[arg(value_parser = tenant_name)]
        name: ResourceName,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set how long a tenant's finished deliveries and events are kept.
    ///
    /// Overrides the server's [retention] setting for this tenant; a flag
    /// left out keeps its current value, and `default` goes back to the
    /// server's setting. Periods are a number and a unit: 45s, 90m, 12h,
    /// 30d. Replicas pick the change up at their next retention round.
    SetRetention {
        /// Name of the tenant.
        name: String,
        /// Keep finished deliveries and their attempts this long after they
        /// finished, e.g. 7d, or `default`.
        #[arg(long, value_parser = period_change)]
        deliveries: Option<PeriodChange>,
        /// Keep events this long after they were published (and while a
        /// delivery of theirs is kept), e.g. 90d, or `default`.
        #[arg(long, value_parser = period_change)]
        events: Option<PeriodChange>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; the token is printed alone on the last line.
    ///
    /// The token is shown only this once (only its hash is stored). Clients
    /// send it as `authorization: Bearer TOKEN`.
    Create {
        /// Name of the tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// Comma-separated: manage, publish, read.
        #[arg(long, value_parser = capabilities)]
        capabilities: Capabilities,
        /// Restrict the key to one scope.
        #[arg(long, value_parser = scope)]
        scope: Option<Scope>,
        /// A label for the key.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] hookrelay::config::ConfigError),
    #[error(transparent)]
    Startup(#[from] hookrelay::startup::StartupError),
    #[error(transparent)]
    Service(#[from] hookrelay::service::ServiceError),
    #[error(transparent)]
    HealthCheck(#[from] hookrelay::health_check::HealthCheckError),
    #[error(transparent)]
    Telemetry(#[from] hookrelay::telemetry::TelemetryError),
    #[error("cannot receive webhooks on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

fn main() -> ExitCode {
    keep_memory_lean();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(main_async())
}

/// mimalloc's defaults keep memory the server no longer uses: on Linux it
/// commits the arena it reserves at start eagerly, and it returns freed
/// pages only after a second. The server idled at 39 MiB and peaked at
/// 110-128 MiB in the fan-out benchmark; committing on demand and purging
/// after 50 ms bring those to 22 and 59-61 MiB at the same throughput
/// (external benchmark, SQLite, 64 clients, 10 subscriptions). mimalloc
/// reads its options once, before `main`, so the process starts itself
/// again with them set (the same pid, arguments and environment). Options
/// an operator set are left as they are.
fn keep_memory_lean() {
    const LEAN: [(&str, &str); 2] = [
        ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
        ("MIMALLOC_PURGE_DELAY", "50"),
    ];
    let missing: Vec<(&str, &str)> = LEAN
        .into_iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    // Once restarted both are set, so this runs at most once.
    if missing.is_empty() {
        return;
    }
    #[cfg(unix)]
    if let Ok(exe) = std::env::current_exe() {
        use std::os::unix::process::CommandExt as _;
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .envs(missing)
            .exec();
        // Only reached if exec failed: run as we are, with more memory.
        eprintln!("note: could not restart with lean mimalloc options ({err}); continuing");
    }
}

async fn main_async() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Listen(args) => {
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            hookrelay::listen::run(args.listen, args.secret, shutdown)
                .await
                .map_err(|source| CliError::Listen {
                    addr: args.listen,
                    source,
                })
        }
        Command::HealthCheck(args) => {
            println!("{}", hookrelay::health_check::check(&args).await?);
            Ok(())
        }
        Command::Config(ConfigCommand::Print(args)) => {
            print!("{}", args.settings()?.to_redacted_toml()?);
            Ok(())
        }
        Command::Migrate(database) => {
            let settings = load(&database, Overrides::default())?;
            telemetry::init(settings.log_format, &settings.log_filter);
            open_database(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Tenants(TenantCommand::Create { name, database }) => {
            let settings = load(&database, Overrides::default())?;
            let db = open_database(&settings).await?;
            let tenant = tenants::create_tenant(&db, &name).await?;
            println!("created tenant {} ({})", tenant.name, tenant.id);
            Ok(())
        }
        Command::Tenants(TenantCommand::SetRetention {
            name,
            deliveries,
            events,
            database,
        }) => {
            let settings = load(&database, Overrides::default())?;
            let db = open_database(&settings).await?;
            let set = retention::set_tenant_retention(
                &db,
                &name,
                deliveries.unwrap_or(PeriodChange::Keep),
                events.unwrap_or(PeriodChange::Keep),
            )
            .await?;
            let shown = |own: Option<RetentionPeriod>, server_secs: u64| match own {
                Some(period) => period.to_string(),
                None => match RetentionPeriod::from_secs(server_secs) {
                    Ok(period) => format!("{period} (the server's setting)"),
                    Err(_) => "the server's setting".to_owned(),
                },
            };
            println!(
                "tenant {name} keeps finished deliveries for {} and events for {}",
                shown(set.deliveries, settings.retention.deliveries_secs),
                shown(set.events, settings.retention.events_secs),
            );
            Ok(())
        }
        Command::Keys(KeyCommand::Create {
            tenant,
            capabilities,
            scope,
            name,
            database,
        }) => {
            let settings = load(&database, Overrides::default())?;
            let db = open_database(&settings).await?;
            let tenant = tenants::find_tenant_by_name(&db, &tenant).await?;
            let new = NewApiKey {
                name,
                capabilities,
                scope,
            };
            let (key, token) = tenants::insert_api_key(&db, &tenant.id, new).await?;
            eprintln!(
                "created API key {} for tenant {} with capabilities {}; the token is shown only now:",
                key.id,
                tenant.name,
                key.capabilities.to_list_string()
            );
            println!("{token}");
            Ok(())
        }
    }
}

fn load(database: &DatabaseArgs, mut overrides: Overrides) -> Result<Settings, CliError> {
    overrides.database_url = database.database_url.clone();
    Ok(Settings::load(database.config.as_deref(), overrides)?)
}

// Flag parsers: a bad value is a usage error (exit 2, one line naming the
// flag), found before anything is opened.

fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        "expected IP:PORT, e.g. 127.0.0.1:50051, 0.0.0.0:50051 or [::1]:50051 (not a host name)"
            .to_owned()
    })
}

fn capabilities(s: &str) -> Result<Capabilities, String> {
    Capabilities::parse_list(s).map_err(|e| e.to_string())
}

fn scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).map_err(|e| e.to_string())
}

fn tenant_name(s: &str) -> Result<ResourceName, String> {
    ResourceName::parse(s).map_err(|e| e.to_string())
}

fn period_change(s: &str) -> Result<PeriodChange, String> {
    if s == "default" {
        return Ok(PeriodChange::Default);
    }
    RetentionPeriod::parse(s)
        .map(PeriodChange::Set)
        .map_err(|e| format!("{e}, or `default`"))
}

fn webhook_secret(s: &str) -> Result<String, String> {
    hookrelay::webhook::signing_key(s)
        .map(|_| s.to_owned())
        .map_err(|_| "expected whsec_ and base64, as CreateSubscription returned it".to_owned())
}

/// Sockets the server needs beside its requests in flight: API clients,
/// database connections, listeners, files.
const OTHER_OPEN_FILES: u64 = 256;

/// Every request in flight holds a socket, and a login shell's soft limit
/// (often 1,024 open files) is below what `dispatch.max_in_flight` plus the
/// API's and the database's connections need. Raises the soft limit to the
/// hard one, and says so when even that is short.
fn raise_open_files_limit(settings: &Settings) {
    let wanted = settings.dispatch.max_in_flight as u64 + OTHER_OPEN_FILES;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            wanted,
            "the open-files limit is below what dispatch.max_in_flight needs; \
             raise it (ulimit -n, LimitNOFILE=) or lower dispatch.max_in_flight"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not raise the open-files limit"),
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let settings = args.settings()?;
    let telemetry = match &settings.otlp_endpoint {
        Some(endpoint) => Some(telemetry::init_with_otlp(
            settings.log_format,
            &settings.log_filter,
            endpoint,
        )?),
        None => {
            telemetry::init(settings.log_format, &settings.log_filter);
            None
        }
    };
    raise_open_files_limit(&settings);
    if settings.dev {
        tracing::warn!("--dev: http:// and private/loopback endpoint URLs are allowed");
    } else if !settings.allowed_networks.is_empty() {
        let networks: Vec<String> = settings
            .allowed_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        tracing::info!(
            networks = networks.join(", "),
            "endpoints in these private networks are allowed"
        );
    }
    let app = Application::build(&settings).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let result = app.run_until_stopped(shutdown).await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    Ok(result?)
}

/// SIGINT (Ctrl-C) or SIGTERM (container stop) begins a graceful shutdown.
async fn stop_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("can install a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutdown signal received; stopping");
    shutdown.cancel();
}
