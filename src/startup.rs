//! Builds the application from settings (database, migrations, secret key,
//! listener) and runs the gRPC server with health and reflection until one
//! `CancellationToken` says stop.

use crate::config::{Settings, SqliteSynchronous};
use crate::dispatch::{
    DispatchSettings, Dispatcher, WebhookClient, WebhookTestSender, listen_for_wake_ups,
};
use crate::domain::{RetentionPeriod, RetentionPolicy, TargetPolicy};
use crate::grpc::browser;
use crate::grpc::console::ConsoleLayer;
use crate::grpc::{
    ApiKeyApi, AppState, DeliveryApi, DeliveryProfileApi, EventApi, EventTypeApi, ScopeApi,
    SubscriptionApi,
};
use crate::metrics::{GrpcMetricsLayer, MetricsError, MetricsServer};
use crate::proto::{
    api_key_service_server::ApiKeyServiceServer,
    delivery_profile_service_server::DeliveryProfileServiceServer,
    delivery_service_server::DeliveryServiceServer, event_service_server::EventServiceServer,
    event_type_service_server::EventTypeServiceServer, scope_service_server::ScopeServiceServer,
    subscription_service_server::SubscriptionServiceServer,
};
use crate::secret_key::{SecretKeyError, load_cipher};
use crate::service::changes::ChangeFeed;
use crate::service::handoff::Handoff;
use crate::service::publisher::Publisher;
use crate::service::retention::{self, RetentionSettings};
use crate::service::subscriptions::Quotas;
use crate::store;
use sea_orm::{DatabaseConnection, DbErr};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tonic_web::GrpcWebLayer;
use tower::util::option_layer;

/// The fully-qualified names the health service reports on, besides "".
const SERVICE_NAMES: &[&str] = &[
    "hookrelay.v1.SubscriptionService",
    "hookrelay.v1.EventTypeService",
    "hookrelay.v1.ApiKeyService",
    "hookrelay.v1.EventService",
    "hookrelay.v1.DeliveryService",
    "hookrelay.v1.DeliveryProfileService",
    "hookrelay.v1.ScopeService",
];

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(DbErr),
    #[error("cannot apply migrations: {0}")]
    Migration(DbErr),
    #[error(transparent)]
    SecretKey(#[from] SecretKeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    health_interval: Duration,
    shutdown_grace: Duration,
    dispatcher: Arc<Dispatcher>,
    /// Set on Postgres: replicas wake each other with LISTEN/NOTIFY.
    postgres_url: Option<String>,
    /// The Prometheus endpoint, when `metrics_listen` is set.
    metrics: Option<MetricsServer>,
    /// gRPC-Web beside gRPC (`grpc_web`).
    grpc_web: bool,
    /// Origins other than the server's own that browsers may call from.
    cors_allowed_origins: Vec<String>,
    /// The web console at `/` (`console`; only with gRPC-Web, which it uses).
    console: bool,
    /// The retention task's settings; `None` when `retention.enabled` is off.
    retention: Option<RetentionSettings>,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let db = open_database(settings).await?;
        let cipher = load_cipher(settings.key_source())?;
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let metrics = match settings.metrics_listen {
            Some(addr) => Some(MetricsServer::bind(addr).await?),
            None => None,
        };
        let cipher = Arc::new(cipher);
        let dispatch_wake = Arc::new(tokio::sync::Notify::new());
        let changes = ChangeFeed::default();
        let targets = Arc::new(TargetPolicy {
            dev: settings.dev,
            allowed_networks: settings.allowed_networks.clone(),
        });
        let webhook_client = WebhookClient::new(
            TargetPolicy::clone(&targets),
            settings.dispatch.max_in_flight,
        )?;
        let dispatcher = Dispatcher::new(
            db.clone(),
            Arc::clone(&cipher),
            webhook_client.clone(),
            Arc::clone(&dispatch_wake),
            changes.clone(),
            dispatch_settings(settings),
        );
        let publishing_db = store::connect_publishing(&db, &settings.database_url)
            .await
            .map_err(StartupError::Database)?;
        let state = AppState {
            publisher: Publisher::start(
                publishing_db,
                db.clone(),
                settings
                    .dispatch
                    .hand_off
                    .then(|| Arc::new(dispatcher.handoff()) as Arc<dyn Handoff>),
                Arc::clone(&dispatch_wake),
            ),
            callers: Arc::default(),
            scopes: Arc::default(),
            db,
            cipher,
            targets,
            quotas: Quotas {
                per_scope: settings.quotas.subscriptions_per_scope,
                per_tenant: settings.quotas.subscriptions_per_tenant,
            },
            rotation_overlap: settings.rotation_overlap(),
            max_payload_bytes: settings.quotas.max_payload_bytes,
            dispatch_wake,
            test_sender: Arc::new(WebhookTestSender::new(webhook_client)),
            changes,
            shutdown: CancellationToken::new(),
        };
        Ok(Self {
            listener,
            state,
            health_interval: settings.health_check_interval(),
            shutdown_grace: settings.shutdown_grace(),
            dispatcher,
            postgres_url: (!settings.is_sqlite()).then(|| settings.database_url.clone()),
            metrics,
            grpc_web: settings.grpc_web,
            cors_allowed_origins: settings.cors_allowed_origins.clone(),
            console: console_enabled(settings),
            retention: retention_settings(settings),
        })
    }

    /// The bound address: with port 0 in the settings, the port the OS chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartupError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health_task = tokio::spawn(watch_database(
            self.state.db.clone(),
            reporter,
            self.health_interval,
            shutdown.clone(),
        ));
        let dispatcher = tokio::spawn(Arc::clone(&self.dispatcher).run(shutdown.clone()));
        tokio::spawn(end_expired_scopes(self.state.db.clone(), shutdown.clone()));
        if let Some(settings) = self.retention {
            tokio::spawn(retention::run(
                self.state.db.clone(),
                settings,
                shutdown.clone(),
            ));
        }
        if let Some(url) = self.postgres_url.clone() {
            tokio::spawn(listen_for_wake_ups(
                url,
                Arc::clone(&self.state.dispatch_wake),
                shutdown.clone(),
            ));
        }
        // Streams must end first, or graceful shutdown would wait on them.
        tokio::spawn({
            let (shutdown, streams) = (shutdown.clone(), self.state.shutdown.clone());
            async move {
                shutdown.cancelled().await;
                streams.cancel();
            }
        });
        let reflection_v1 = reflection()
            .build_v1()
            .expect("the embedded descriptor sets are valid");
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .expect("the embedded descriptor sets are valid");

        tracing::info!(addr = %self.local_addr(), "hookrelay is serving gRPC");
        if self.console {
            tracing::info!(url = %format!("http://{}/", self.local_addr()), "serving the web console");
        }
        if let Some(metrics) = self.metrics {
            tracing::info!(addr = %metrics.local_addr(), "serving Prometheus metrics at /metrics");
            tokio::spawn(metrics.run(self.state.db.clone(), shutdown.clone()));
        }
        let server = tonic::transport::Server::builder()
            // gRPC-Web comes over HTTP/1.1 as well as HTTP/2.
            .accept_http1(self.grpc_web)
            // First, so that only gRPC and gRPC-Web calls go further.
            .layer(option_layer(self.console.then_some(ConsoleLayer)))
            .layer(option_layer(browser::cors(&self.cors_allowed_origins)))
            .layer(option_layer(self.grpc_web.then(GrpcWebLayer::new)))
            .layer(GrpcMetricsLayer)
            // One span per request, named after its method, for the logs and
            // (with otlp_endpoint) the exported traces.
            .trace_fn(|request| {
                tracing::info_span!(
                    "grpc",
                    otel.name = request.uri().path(),
                    rpc.system = "grpc",
                )
            })
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(SubscriptionServiceServer::new(SubscriptionApi::new(
                self.state.clone(),
            )))
            .add_service(EventTypeServiceServer::new(EventTypeApi::new(
                self.state.clone(),
            )))
            .add_service(ApiKeyServiceServer::new(ApiKeyApi::new(self.state.clone())))
            .add_service(EventServiceServer::new(EventApi::new(self.state.clone())))
            .add_service(DeliveryServiceServer::new(DeliveryApi::new(
                self.state.clone(),
            )))
            .add_service(DeliveryProfileServiceServer::new(DeliveryProfileApi::new(
                self.state.clone(),
            )))
            .add_service(ScopeServiceServer::new(ScopeApi::new(self.state.clone())))
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY a response's frames written after the
                // first can wait for the client's (delayed) ACK.
                TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                shutdown.clone().cancelled_owned(),
            );
        // Graceful shutdown waits for open connections, and clients may hold
        // idle ones forever: after the grace period, stop waiting.
        let grace = self.shutdown_grace;
        let result = tokio::select! {
            result = server => result,
            () = async {
                shutdown.cancelled().await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "connections still open after the grace period; closing them");
                Ok(())
            }
        };
        shutdown.cancel();
        // The dispatcher finishes or releases what it holds before the pool closes.
        let _ = dispatcher.await;
        let _ = health_task.await;
        self.state.db.close().await.ok();
        tracing::info!("hookrelay stopped");
        Ok(result?)
    }
}

/// The console calls the API over gRPC-Web: without it, it stays off.
fn console_enabled(settings: &Settings) -> bool {
    if settings.console && !settings.grpc_web {
        tracing::warn!("the web console needs grpc_web = true; not serving it");
    }
    settings.console && settings.grpc_web
}

fn retention_settings(settings: &Settings) -> Option<RetentionSettings> {
    let retention = &settings.retention;
    if !retention.enabled {
        return None;
    }
    // Validated at load; a period out of range cannot get here.
    let period = |secs| RetentionPeriod::from_secs(secs).ok();
    Some(RetentionSettings {
        policy: RetentionPolicy {
            deliveries: period(retention.deliveries_secs)?,
            events: period(retention.events_secs)?,
        },
        batch_size: retention.batch_size,
        batch_pause: retention.batch_pause(),
        interval: retention.interval(),
    })
}

fn dispatch_settings(settings: &Settings) -> DispatchSettings {
    let dispatch = &settings.dispatch;
    DispatchSettings {
        batch_size: dispatch.batch_size,
        max_in_flight: dispatch.max_in_flight,
        max_in_flight_per_subscription: dispatch.max_in_flight_per_subscription,
        lease: dispatch.lease(),
        poll_interval: dispatch.poll_interval(),
        publish_wait: dispatch.publish_wait(),
        disable_after: dispatch.disable_after(),
        failing_after: dispatch.failing_after_attempts,
        disable_warning: dispatch.disable_warning(),
        shutdown_grace: settings.shutdown_grace(),
    }
}

/// Ends registered scopes as their expiry passes: their subscriptions stop
/// and their pending deliveries are cancelled. Calls naming an expired
/// scope are refused from its expiry on; this catches up the stored state.
async fn end_expired_scopes(db: crate::store::Db, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match crate::service::scopes::end_expired(&db, crate::store::now_micros()).await {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "expired scopes ended"),
            Err(err) => tracing::warn!(error = %err, "ending expired scopes failed; retrying"),
        }
    }
}

/// Reflection knows our API, health, and reflection itself, so `grpcurl
/// list` shows every service the server answers.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // google.rpc.BadRequest and ErrorInfo, so that grpcurl and other
        // reflection clients can decode the details of an error.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

/// Connects and migrates; shared by `serve` and the bootstrap commands.
pub async fn open_database(settings: &Settings) -> Result<DatabaseConnection, StartupError> {
    let db = store::connect_capped(
        &settings.database_url,
        settings.max_db_connections,
        settings.sqlite_synchronous == SqliteSynchronous::Full,
        settings.sqlite_max_size_mib,
    )
    .await
    .map_err(StartupError::Database)?;
    store::migrate(&db).await.map_err(StartupError::Migration)?;
    Ok(db)
}

/// Probes the database and reports NOT_SERVING while it is unreachable, so
/// load balancers and orchestrators stop routing to a replica that cannot work.
async fn watch_database(
    db: DatabaseConnection,
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut last = None;
    loop {
        let status =
            match tokio::time::timeout(interval.max(Duration::from_secs(1)), db.ping()).await {
                Ok(Ok(())) => ServingStatus::Serving,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "database health probe failed");
                    ServingStatus::NotServing
                }
                Err(_) => {
                    tracing::warn!("database health probe timed out");
                    ServingStatus::NotServing
                }
            };
        if last != Some(status) {
            for name in std::iter::once(&"").chain(SERVICE_NAMES) {
                reporter.set_service_status(*name, status).await;
            }
            last = Some(status);
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    for name in std::iter::once(&"").chain(SERVICE_NAMES) {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
}
