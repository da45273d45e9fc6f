//! Prometheus metrics: every metric's name in one place, the recorder (one
//! per process), the gRPC request layer, the queue-depth sampler and the
//! `/metrics` scrape endpoint.

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::store::{Db, gauges};

/// Events stored by PublishEvent and BatchPublishEvents (duplicates excluded).
pub const EVENTS_PUBLISHED: &str = "hookrelay_events_published_total";
/// Delivery attempts by what followed: `succeeded`, `retrying`, `failed`
/// (dead-lettered) or `disabled` (the subscription was disabled).
pub const DELIVERY_ATTEMPTS: &str = "hookrelay_delivery_attempts_total";
/// Seconds from sending a webhook to its answer (or error), by `result`:
/// `2xx`, `3xx`, `4xx`, `5xx` or `error` (timeout, connection refused, ...).
pub const ATTEMPT_DURATION: &str = "hookrelay_delivery_attempt_duration_seconds";
/// Webhook requests being sent by this process right now.
pub const IN_FLIGHT: &str = "hookrelay_deliveries_in_flight";
/// Deliveries in the queue, by `status`: `pending` (waiting or due) and
/// `in_flight` (leased by some replica). Sampled every few seconds.
pub const QUEUE_DEPTH: &str = "hookrelay_queue_depth";
/// gRPC requests by `service`, `method` and `code` (as the status leaves
/// the handler).
pub const GRPC_REQUESTS: &str = "hookrelay_grpc_requests_total";
/// gRPC handling time in seconds by `service` and `method`.
pub const GRPC_DURATION: &str = "hookrelay_grpc_request_duration_seconds";

/// Rows retention deleted, by `table`: `events`, `deliveries`,
/// `delivery_attempts` (each replica counts what it deleted itself).
pub const RETENTION_DELETED: &str = "hookrelay_retention_deleted_rows_total";
/// Age in seconds of the oldest row retention keeps, by `table`:
/// `deliveries` (since the oldest kept finished delivery finished) and
/// `events` (since the oldest kept event was published). Set after each
/// retention round; past the configured period it means rows are kept
/// longer than intended (a tenant's longer period, or a delivery that
/// holds its event).
pub const RETENTION_OLDEST: &str = "hookrelay_retention_oldest_kept_seconds";

/// Enabled subscriptions in a run of failed attempts (their endpoint has
/// not answered 2xx since the run began). Sampled with the queue depth.
pub const SUBSCRIPTIONS_FAILING: &str = "hookrelay_subscriptions_failing";
/// Operational events announced about endpoints' health, by `type`:
/// `failing`, `disabling`, `disabled`, `recovered` (each replica counts
/// what it announced).
pub const HEALTH_EVENTS: &str = "hookrelay_subscription_health_events_total";

/// How often the queue depth is sampled.
const QUEUE_SAMPLE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
}

/// The process's recorder, installed on first use. Metrics are process-wide,
/// so several servers in one process (tests) share them.
fn handle() -> Result<&'static PrometheusHandle, MetricsError> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0, 120.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &seconds)
                .map_err(|err| err.to_string())?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|err| err.to_string())?;
            describe();
            Ok(handle)
        })
        .as_ref()
        .map_err(|err| MetricsError::Recorder(err.clone()))
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        EVENTS_PUBLISHED,
        "Events stored by PublishEvent and BatchPublishEvents"
    );
    describe_counter!(DELIVERY_ATTEMPTS, "Delivery attempts by what followed them");
    describe_histogram!(ATTEMPT_DURATION, "Webhook request time in seconds");
    describe_gauge!(IN_FLIGHT, "Webhook requests this process is sending");
    describe_gauge!(QUEUE_DEPTH, "Deliveries queued, by status");
    describe_counter!(RETENTION_DELETED, "Rows deleted by retention, by table");
    describe_gauge!(
        RETENTION_OLDEST,
        "Age in seconds of the oldest row retention keeps, by table"
    );
    describe_gauge!(
        SUBSCRIPTIONS_FAILING,
        "Enabled subscriptions in a run of failed attempts"
    );
    describe_counter!(
        HEALTH_EVENTS,
        "Operational events announced about endpoints' health, by type"
    );
    describe_counter!(GRPC_REQUESTS, "gRPC requests by service, method and code");
    describe_histogram!(GRPC_DURATION, "gRPC handling time in seconds");
}

/// The bound scrape endpoint, ready to serve.
pub struct MetricsServer {
    listener: TcpListener,
    handle: &'static PrometheusHandle,
}

impl MetricsServer {
    pub async fn bind(addr: SocketAddr) -> Result<Self, MetricsError> {
        let handle = handle()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MetricsError::Bind { addr, source })?;
        Ok(Self { listener, handle })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves `GET /metrics` and samples the queue until `shutdown`.
    pub async fn run(self, db: Db, shutdown: CancellationToken) {
        let handle = self.handle;
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || async move {
                handle.run_upkeep();
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }),
        );
        let sampler = tokio::spawn(sample_queue(db, shutdown.clone()));
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(err) = served {
            tracing::warn!(error = %err, "the metrics endpoint stopped");
        }
        sampler.abort();
    }
}

/// Samples the queue's depth by status, for dashboards and alerts on a
/// growing backlog.
async fn sample_queue(db: Db, shutdown: CancellationToken) {
    loop {
        // Both are read before either is set, so that a scrape sees the
        // first sample of both or of neither, never one without the other.
        let depth = gauges::queue_depth(&db).await;
        let failing = gauges::failing_subscriptions(&db).await;
        match depth {
            Ok(Some(depth)) => {
                gauge!(QUEUE_DEPTH, "status" => "pending").set(depth.pending as f64);
                gauge!(QUEUE_DEPTH, "status" => "in_flight").set(depth.in_flight as f64);
            }
            Ok(None) => {}
            Err(err) => tracing::debug!(error = %err, "sampling the queue depth failed"),
        }
        match failing {
            Ok(count) => gauge!(SUBSCRIPTIONS_FAILING).set(count as f64),
            Err(err) => tracing::debug!(error = %err, "counting failing subscriptions failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(QUEUE_SAMPLE_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Records one stored event per call site's count.
pub fn events_published(count: usize) {
    if count > 0 {
        counter!(EVENTS_PUBLISHED).increment(count as u64);
    }
}

/// Records an attempt: what followed it and how long the request took.
pub fn attempt_finished(status: Option<u16>, duration: Duration, outcome: &'static str) {
    let result = match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(_) => "5xx",
        None => "error",
    };
    histogram!(ATTEMPT_DURATION, "result" => result).record(duration.as_secs_f64());
    counter!(DELIVERY_ATTEMPTS, "outcome" => outcome).increment(1);
}

/// Records an announcement about an endpoint's health: `failing`,
/// `disabling`, `disabled` or `recovered`.
pub fn health_event(kind: &'static str) {
    counter!(HEALTH_EVENTS, "type" => kind).increment(1);
}

/// Records rows retention deleted from `table`.
pub fn rows_deleted(table: &'static str, count: u64) {
    if count > 0 {
        counter!(RETENTION_DELETED, "table" => table).increment(count);
    }
}

/// Records the age of the oldest row kept in `table`.
pub fn oldest_kept(table: &'static str, age_secs: f64) {
    gauge!(RETENTION_OLDEST, "table" => table).set(age_secs);
}

/// Marks a webhook request started (`+1`) or finished (`-1`).
pub fn in_flight(delta: f64) {
    gauge!(IN_FLIGHT).increment(delta);
}

/// A tower layer counting gRPC requests by service, method and status code.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower_layer::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower_service::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (service, method) = route_labels(request.uri().path());
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            // An error leaves as a trailers-only response, its status in the
            // headers; a success (or a stream) carries it in the trailers.
            let code = match &response {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i32>().ok())
                    .map_or("OK", code_name),
                Err(_) => "UNAVAILABLE",
            };
            counter!(
                GRPC_REQUESTS,
                "service" => service.clone(),
                "method" => method.clone(),
                "code" => code
            )
            .increment(1);
            histogram!(GRPC_DURATION, "service" => service, "method" => method)
                .record(started.elapsed().as_secs_f64());
            response
        })
    }
}

/// `/hookrelay.v1.EventService/PublishEvent` → its service and method. Any
/// other path becomes `unknown`, so a scanner cannot grow the label set.
fn route_labels(path: &str) -> (String, String) {
    let known = path
        .strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .filter(|(service, method)| {
            (service.starts_with("hookrelay.v1.") || service.starts_with("grpc."))
                && !method.is_empty()
                && service.len() + method.len() <= 128
                && service
                    .chars()
                    .chain(method.chars())
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        });
    match known {
        Some((service, method)) => (service.to_owned(), method.to_owned()),
        None => ("unknown".to_owned(), "unknown".to_owned()),
    }
}

/// The canonical name of a gRPC status code, as grpc-go and others label it.
fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_become_bounded_labels() {
        assert_eq!(
            route_labels("/hookrelay.v1.EventService/PublishEvent"),
            (
                "hookrelay.v1.EventService".to_owned(),
                "PublishEvent".to_owned()
            )
        );
        assert_eq!(
            route_labels("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health".to_owned(), "Check".to_owned())
        );
        for odd in [
            "/",
            "/x/y",
            "/hookrelay.v1.EventService/",
            "/hookrelay.v1.A/b%20c",
            "",
        ] {
            assert_eq!(
                route_labels(odd),
                ("unknown".to_owned(), "unknown".to_owned())
            );
        }
    }

    #[test]
    fn status_codes_have_canonical_names() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(3), "INVALID_ARGUMENT");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(99), "UNKNOWN");
    }
}
