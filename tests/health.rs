//! Health and reflection: what orchestrators and grpcurl rely on, with no token.

mod common;

use common::{Backend, spawn_app, wait_until};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

async fn health_status(app: &common::TestApp, service: &str) -> Option<ServingStatus> {
    let mut client = HealthClient::new(app.channel());
    let response = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

async fn health_reports_serving_overall_and_per_service(backend: Backend) {
    let app = spawn_app(backend).await;
    for service in [
        "",
        "hookrelay.v1.SubscriptionService",
        "hookrelay.v1.EventTypeService",
        "hookrelay.v1.ApiKeyService",
        "hookrelay.v1.EventService",
        "hookrelay.v1.DeliveryService",
        "hookrelay.v1.DeliveryProfileService",
        "hookrelay.v1.ScopeService",
    ] {
        let serving = wait_until(Duration::from_secs(5), || async {
            health_status(&app, service).await == Some(ServingStatus::Serving)
        })
        .await;
        assert!(serving, "{service:?} never reported SERVING");
    }
    let mut client = HealthClient::new(app.channel());
    let unknown = client
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
}

async fn reflection_lists_every_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut client = ServerReflectionClient::new(app.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses.next().await.expect("one response").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "hookrelay.v1.SubscriptionService",
        "hookrelay.v1.EventTypeService",
        "hookrelay.v1.EventService",
        "hookrelay.v1.DeliveryService",
        "hookrelay.v1.DeliveryProfileService",
        "hookrelay.v1.ScopeService",
        "hookrelay.v1.ApiKeyService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    // Error details are google.rpc messages: reflection serves their
    // definitions so that grpcurl can print a BadRequest's violations.
    for symbol in ["google.rpc.BadRequest", "google.rpc.ErrorInfo"] {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.to_owned())),
        };
        let mut responses = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection answers")
            .into_inner();
        let response = responses.next().await.expect("one response").expect("ok");
        assert!(
            matches!(
                response.message_response,
                Some(MessageResponse::FileDescriptorResponse(ref files))
                    if !files.file_descriptor_proto.is_empty()
            ),
            "{symbol}: {response:?}"
        );
    }
}

on_both_databases!(
    health_reports_serving_overall_and_per_service,
    reflection_lists_every_service,
);

/// The database going away turns health NOT_SERVING and RPCs UNAVAILABLE;
/// its return turns health SERVING again. Postgres only: an embedded SQLite
/// file cannot become unreachable while its process holds it open.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run this Postgres-only test"
)]
async fn health_follows_the_database_on_postgres() {
    use hookrelay::proto::ListSubscriptionsRequest;

    let app = spawn_app(Backend::Postgres).await;
    let outage = common::outage::Outage::of(&app.database.url).await;
    let serving = wait_until(Duration::from_secs(5), || async {
        health_status(&app, "").await == Some(ServingStatus::Serving)
    })
    .await;
    assert!(serving);

    outage.begin().await;
    let down = wait_until(Duration::from_secs(15), || async {
        health_status(&app, "hookrelay.v1.SubscriptionService").await
            == Some(ServingStatus::NotServing)
    })
    .await;
    assert!(down, "health never reported NOT_SERVING");
    let result = app
        .subscriptions()
        .list_subscriptions(app.req(ListSubscriptionsRequest::default()))
        .await;
    assert_eq!(result.unwrap_err().code(), tonic::Code::Unavailable);

    outage.end().await;
    let up = wait_until(Duration::from_secs(15), || async {
        health_status(&app, "").await == Some(ServingStatus::Serving)
    })
    .await;
    assert!(up, "health never returned to SERVING");
}
