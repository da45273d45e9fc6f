//! Logging and tracing: one `tracing` subscriber, human-readable or JSON,
//! optionally exporting spans (gRPC requests, delivery attempts) over OTLP.
//! Secrets and tokens never reach it: the types that hold them print as `***`.

use crate::config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot set up OpenTelemetry export to {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
}

/// Keeps span export running; `shutdown` flushes what is still buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered. Call before the process exits.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "flushing OpenTelemetry spans failed");
        }
    }
}

/// Installs the global subscriber. A second call (as in tests that start
/// several servers) keeps the first one rather than failing.
pub fn init(format: LogFormat, filter: &str) {
    let _ = install(format, filter, None);
}

/// Like [`init`], and also exports spans to the OTLP/gRPC collector at
/// `endpoint` (e.g. `http://127.0.0.1:4317`). Must run inside the Tokio
/// runtime: the exporter's channel lives on it.
pub fn init_with_otlp(
    format: LogFormat,
    filter: &str,
    endpoint: &str,
) -> Result<Telemetry, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|err| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            reason: err.to_string(),
        })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("hookrelay").build())
        .build();
    install(format, filter, Some(&provider));
    Ok(Telemetry {
        provider: Some(provider),
    })
}

fn install(format: LogFormat, filter: &str, provider: Option<&SdkTracerProvider>) -> bool {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let output = match format {
        // Colour only for a person at a terminal, never in a file or pipe.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let spans = provider
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("hookrelay")));
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .with(spans)
        .try_init()
        .is_ok()
}
