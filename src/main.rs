//! The `hookrelay` command line: `serve`, `migrate`, `tenants`, `keys`,
//! `listen`, `health-check`.

use clap::{Args, Parser, Subcommand};
use hookrelay::config::{LogFormat, Overrides, Settings};
use hookrelay::domain::{Capabilities, ResourceName, Scope};
use hookrelay::service::tenants::{self, NewApiKey};
use hookrelay::startup::{Application, open_database};
use hookrelay::telemetry;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "hookrelay", version, about = "A gRPC-native webhook service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Run a local webhook receiver that prints and verifies what it gets.
    Listen(ListenArgs),
    /// Ask a running server's grpc.health.v1 Check: exit 0 when SERVING, 1
    /// otherwise (for container HEALTHCHECKs and exec probes).
    HealthCheck(hookrelay::health_check::HealthCheckArgs),
}

#[derive(Args)]
struct ListenArgs {
    /// Address to receive webhooks on. (No env twin: HOOKRELAY_LISTEN is the
    /// server's address, and a receiver must not pick it up.)
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// The subscription's secret, to verify signatures.
    #[arg(long, env = "HOOKRELAY_LISTEN_SECRET")]
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
    /// Address to serve gRPC on [default: 127.0.0.1:50051].
    #[arg(long, env = "HOOKRELAY_LISTEN")]
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
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Unique tenant name.
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; the token is printed alone on the last line.
    Create {
        /// Name of the tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// Comma-separated: manage, publish, read.
        #[arg(long)]
        capabilities: String,
        /// Restrict the key to one scope.
        #[arg(long)]
        scope: Option<String>,
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
    #[error("{0}")]
    Usage(String),
    #[error("cannot receive webhooks on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
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
        Command::Migrate(database) => {
            let settings = load(&database, Overrides::default())?;
            telemetry::init(settings.log_format, &settings.log_filter);
            open_database(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Tenants(TenantCommand::Create { name, database }) => {
            let settings = load(&database, Overrides::default())?;
            let name = ResourceName::parse(&name)
                .map_err(|e| CliError::Usage(format!("tenant name: {e}")))?;
            let db = open_database(&settings).await?;
            let tenant = tenants::create_tenant(&db, &name).await?;
            println!("created tenant {} ({})", tenant.name, tenant.id);
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
            let capabilities = Capabilities::parse_list(&capabilities)
                .map_err(|e| CliError::Usage(format!("--capabilities: {e}")))?;
            let scope = scope
                .map(|s| Scope::parse(&s))
                .transpose()
                .map_err(|e| CliError::Usage(format!("--scope: {e}")))?;
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

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let overrides = Overrides {
        listen: args.listen,
        dev: args.dev.then_some(true),
        log_format: args.log_format,
        ..Overrides::default()
    };
    let settings = load(&args.database, overrides)?;
    telemetry::init(settings.log_format, &settings.log_filter);
    if settings.dev {
        tracing::warn!("--dev: http:// and private/loopback endpoint URLs are allowed");
    }
    let app = Application::build(&settings).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await?;
    Ok(())
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
