//! OpenTelemetry export: a real `hookrelay serve` with `otlp_endpoint` set
//! sends its spans (one per gRPC request, one per delivery attempt) to an
//! OTLP/gRPC collector, here a fake one that keeps what it receives.

mod common;

use common::process::{BIN, ServeProcess, bootstrap_tenant};
use common::receiver::TestReceiver;
use common::{authed, connect, register_event_type};
use hookrelay::proto::event::Payload;
use hookrelay::proto::{
    CreateSubscriptionRequest, Event, PublishEventRequest, Subscription,
    event_service_client::EventServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keeps (service.name, span name) of every span exported to it.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, String)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

// Two workers: the fake collector keeps answering while the test thread
// blocks waiting for the server to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_collector() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/hookrelay.db", dir.path().display());
    let token = bootstrap_tenant(&database_url);
    let mut server = ServeProcess::start(
        &database_url,
        &[],
        &[
            (
                "HOOKRELAY_OTLP_ENDPOINT",
                format!("http://{collector_addr}"),
            ),
            ("HOOKRELAY_SHUTDOWN_GRACE_MS", "500".to_owned()),
        ],
    );

    let channel = connect(server.url()).await;
    register_event_type(channel.clone(), &token, "invoice.paid").await;
    let receiver = TestReceiver::start().await;
    SubscriptionServiceClient::new(channel.clone())
        .create_subscription(authed(
            &token,
            CreateSubscriptionRequest {
                subscription: Some(Subscription {
                    name: "billing".to_owned(),
                    url: receiver.url("/hooks"),
                    event_types: vec!["invoice.paid".to_owned()],
                    ..Subscription::default()
                }),
                secret: String::new(),
            },
        ))
        .await
        .unwrap();
    EventServiceClient::new(channel)
        .publish_event(authed(
            &token,
            PublishEventRequest {
                event: Some(Event {
                    r#type: "invoice.paid".to_owned(),
                    payload: Some(Payload::DataJson("{}".to_owned())),
                    ..Event::default()
                }),
            },
        ))
        .await
        .unwrap();
    receiver.wait_for(1, Duration::from_secs(20)).await;

    // SIGTERM: the server flushes its buffered spans as it stops.
    server.terminate();

    let spans = collector.spans.lock().unwrap().clone();
    for wanted in [
        "/hookrelay.v1.EventTypeService/CreateEventType",
        "/hookrelay.v1.EventService/PublishEvent",
        "deliver",
    ] {
        assert!(
            spans
                .iter()
                .any(|(service, name)| service == "hookrelay" && name == wanted),
            "no {wanted} span from service hookrelay in {spans:?}"
        );
    }
}

#[test]
fn an_otlp_endpoint_must_be_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .env(
            "HOOKRELAY_DATABASE_URL",
            format!("sqlite://{}/hr.db", dir.path().display()),
        )
        .env("HOOKRELAY_OTLP_ENDPOINT", "collector:4317")
        .env_remove("HOOKRELAY_TEST_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("otlp_endpoint: must be an http:// or https:// URL"),
        "{stderr}"
    );
}
