//! Browsers on the API's own port: gRPC-Web beside gRPC (the same services,
//! keys and checks; `tonic-web` translates), and the CORS policy for pages
//! served from other origins. A page hookrelay serves itself is same-origin
//! and needs no CORS; any other origin gets no `Access-Control-Allow-Origin`
//! unless `cors_allowed_origins` lists it, so the browser refuses it.

use http::{HeaderName, HeaderValue, Method};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a gRPC-Web client sends beside the standard ones.
const REQUEST_HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
];

/// Response headers a gRPC-Web client must be able to read.
const RESPONSE_HEADERS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// The CORS layer for the configured origins, or `None` when there are
/// none (every other origin is refused). Origins are checked by
/// `Settings::validate`; one that still fails to parse is left out.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers(REQUEST_HEADERS.map(HeaderName::from_static))
            .expose_headers(RESPONSE_HEADERS.map(HeaderName::from_static))
            .max_age(Duration::from_secs(600)),
    )
}
