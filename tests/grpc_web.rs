//! Browsers on the API's port: gRPC-Web over HTTP/1.1 reaches the same
//! services with the same API keys and checks, and pages from another
//! origin are refused (no CORS grant) unless `cors_allowed_origins` lists
//! their origin.

mod common;

use common::{Backend, TestApp, register_event_type, spawn_app, spawn_app_with};
use hookrelay::proto::{
    CreateSubscriptionRequest, ListSubscriptionsRequest, ListSubscriptionsResponse, Subscription,
};
use prost::Message;

on_both_databases!(
    a_browser_lists_subscriptions_over_grpc_web,
    grpc_web_without_a_key_is_unauthenticated,
    grpc_web_can_be_turned_off,
    other_origins_are_refused_unless_configured
);

const LIST: &str = "/hookrelay.v1.SubscriptionService/ListSubscriptions";

/// An HTTP/1.1-only client, as a browser's fetch may be.
fn http1() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("an HTTP client")
}

/// A gRPC-Web body: one uncompressed message frame.
fn frame(message: &impl Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    body.extend_from_slice(&bytes);
    body
}

/// What came back: the message frames' bytes and the grpc-status, from the
/// trailer frame or (a trailers-only answer) the HTTP headers.
struct GrpcWebReply {
    messages: Vec<Vec<u8>>,
    status: Option<String>,
}

async fn call(app: &TestApp, path: &str, body: Vec<u8>, token: Option<&str>) -> GrpcWebReply {
    let mut request = http1()
        .post(format!("http://{}{path}", app.addr))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("the server answers");
    assert_eq!(
        response.status(),
        200,
        "gRPC-Web answers 200 and a grpc-status"
    );
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let mut status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().expect("ASCII status").to_owned());
    let bytes = response.bytes().await.expect("a body");
    let mut messages = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 5 {
        let flag = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let payload = &rest[5..5 + len];
        if flag & 0x80 != 0 {
            let trailers = String::from_utf8_lossy(payload);
            status = trailers
                .split("\r\n")
                .find_map(|line| line.strip_prefix("grpc-status:"))
                .map(|v| v.trim().to_owned());
        } else {
            messages.push(payload.to_vec());
        }
        rest = &rest[5 + len..];
    }
    GrpcWebReply { messages, status }
}

async fn a_browser_lists_subscriptions_over_grpc_web(backend: Backend) {
    let app = spawn_app(backend).await;
    register_event_type(app.channel(), &app.tenant.token, "order.created").await;
    app.subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest {
            subscription: Some(Subscription {
                name: "from-grpc <b>".to_owned(),
                url: "https://example.com/hooks".to_owned(),
                event_types: vec!["order.created".to_owned()],
                ..Default::default()
            }),
            secret: String::new(),
        }))
        .await
        .expect("create a subscription over gRPC");

    let reply = call(
        &app,
        LIST,
        frame(&ListSubscriptionsRequest::default()),
        Some(&app.tenant.token),
    )
    .await;
    assert_eq!(reply.status.as_deref(), Some("0"));
    assert_eq!(reply.messages.len(), 1);
    let listed = ListSubscriptionsResponse::decode(&reply.messages[0][..]).expect("a response");
    let names: Vec<&str> = listed
        .subscriptions
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["from-grpc <b>"]);
}

async fn grpc_web_without_a_key_is_unauthenticated(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = frame(&ListSubscriptionsRequest::default());
    let reply = call(&app, LIST, body.clone(), None).await;
    assert_eq!(reply.status.as_deref(), Some("16"), "UNAUTHENTICATED");
    assert!(reply.messages.is_empty());
    let reply = call(&app, LIST, body, Some("hr_not-a-real-key")).await;
    assert_eq!(reply.status.as_deref(), Some("16"), "UNAUTHENTICATED");
}

async fn grpc_web_can_be_turned_off(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.grpc_web = false).await;
    // HTTP/2 only, and no gRPC-Web translation: an HTTP/1.1 call fails
    // outright, and nothing answers it with a grpc-status of OK.
    let answered = http1()
        .post(format!("http://{}{LIST}", app.addr))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {}", app.tenant.token))
        .body(frame(&ListSubscriptionsRequest::default()))
        .send()
        .await;
    if let Ok(response) = answered {
        assert_ne!(
            response.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"0"[..]),
            "gRPC-Web answered with grpc_web = false"
        );
        assert_ne!(
            response.status(),
            200,
            "gRPC-Web answered with grpc_web = false"
        );
    }
    // gRPC itself still works.
    app.subscriptions()
        .list_subscriptions(app.req(ListSubscriptionsRequest::default()))
        .await
        .expect("gRPC still answers");
}

/// A browser's preflight for a gRPC-Web call from `origin`; returns the
/// `Access-Control-Allow-Origin` it was granted, if any.
async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let response = http1()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}{LIST}", app.addr),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .send()
        .await
        .expect("the server answers");
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("ASCII").to_owned())
}

async fn other_origins_are_refused_unless_configured(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(preflight(&app, "https://elsewhere.example").await, None);

    let console = "https://console.example.com";
    let app = spawn_app_with(backend, |s| {
        s.cors_allowed_origins = vec![console.to_owned()];
    })
    .await;
    assert_eq!(preflight(&app, console).await.as_deref(), Some(console));
    assert_eq!(preflight(&app, "https://elsewhere.example").await, None);
}
