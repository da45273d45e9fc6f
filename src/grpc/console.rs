//! The web console on the API's own port: the bundle in `console/dist`,
//! embedded at build time (build.rs), answered from memory at `/`.
//!
//! It sits in front of every other layer and decides on one header: a
//! request whose content type is `application/grpc*` (gRPC and gRPC-Web)
//! or a CORS preflight goes on to the API untouched; anything else is the
//! console's, which answers a bundle file or 404. So the gRPC path pays
//! one header comparison, and nothing but the bundle's files is served.
//!
//! The console talks to the API over gRPC-Web with the same API keys and
//! checks as any client: it has no capability of its own. Its pages are
//! locked down by headers on every answer: a Content-Security-Policy that
//! allows only this origin's scripts, styles and connections (no inline
//! code, no frames, Trusted Types required so that no string can become
//! markup), `nosniff`, and no referrer.

use bytes::Bytes;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;

/// One file of the bundle.
pub struct Asset {
    /// The URL path it answers, e.g. `/assets/index-1a2b3c.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

// `ASSETS`: the table build.rs writes from console/dist.
include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// Same origin only; no inline script or style; no plugins, frames or
/// base-URL tricks; and Trusted Types, so `innerHTML` and friends refuse
/// strings: data can only ever become text.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
    require-trusted-types-for 'script'; trusted-types 'none'";

/// Hashed file names change with their content: cache them for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page itself (and unhashed files) must be revalidated, so a new
/// release's page, naming new hashed files, is seen at once.
const REVALIDATE: &str = "no-cache";

/// Serves the console in front of the API (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsoleLayer;

impl<S> tower::Layer<S> for ConsoleLayer {
    type Service = Console<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Console { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Console<S> {
    inner: S,
}

impl<S, B> tower::Service<Request<B>> for Console<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ConsoleFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if is_api(&request) {
            ConsoleFuture::Api {
                future: self.inner.call(request),
            }
        } else {
            ConsoleFuture::Page {
                response: Some(page(request.method(), request.uri().path())),
            }
        }
    }
}

/// gRPC and gRPC-Web calls carry `application/grpc...`; a CORS preflight
/// (OPTIONS) is the CORS layer's to answer.
fn is_api<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
        || request.method() == Method::OPTIONS
}

/// The answer for a console request: a bundle file, 404 or 405.
fn page(method: &Method, path: &str) -> Response<Full<Bytes>> {
    let path = if path == "/" { "/index.html" } else { path };
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(asset.bytes)
    };
    let cache = if asset.path.starts_with("/assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    protect(headers);
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    protect(headers);
    response
}

/// The security headers every console answer carries.
fn protect(headers: &mut http::HeaderMap) {
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

pin_project! {
    /// The API's own future, or a console answer ready at once.
    #[project = ConsoleFutureProjection]
    pub enum ConsoleFuture<F> {
        Api { #[pin] future: F },
        Page { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F, E> Future for ConsoleFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            // The API's answer as it is: the gRPC path is not re-wrapped.
            ConsoleFutureProjection::Api { future } => future.poll(cx),
            ConsoleFutureProjection::Page { response } => Poll::Ready(Ok(response
                .take()
                .expect("a console answer is polled once")
                .map(Body::new))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_has_its_page_and_only_typed_files() {
        assert!(ASSETS.iter().any(|asset| asset.path == "/index.html"));
        assert!(
            ASSETS
                .iter()
                .any(|asset| asset.path.starts_with("/assets/") && asset.path.ends_with(".js"))
        );
    }

    #[test]
    fn the_page_is_revalidated_and_hashed_files_are_immutable() {
        let index = page(&Method::GET, "/");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()[CACHE_CONTROL], REVALIDATE);
        assert_eq!(index.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let script = ASSETS
            .iter()
            .find(|asset| asset.path.ends_with(".js"))
            .expect("a script");
        let answer = page(&Method::GET, script.path);
        assert_eq!(answer.headers()[CACHE_CONTROL], IMMUTABLE);
        assert_eq!(
            answer.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(answer.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn other_paths_are_not_found_and_other_methods_not_allowed() {
        for path in [
            "/index",
            "/assets/",
            "/../Cargo.toml",
            "/hookrelay.v1.EventService/PublishEvent",
        ] {
            let answer = page(&Method::GET, path);
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(answer.headers().contains_key(CONTENT_SECURITY_POLICY));
        }
        assert_eq!(
            page(&Method::POST, "/").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn grpc_and_preflights_go_to_the_api() {
        let grpc = |content_type: &str| {
            Request::post("/hookrelay.v1.EventService/PublishEvent")
                .header(CONTENT_TYPE, content_type)
                .body(())
                .unwrap()
        };
        assert!(is_api(&grpc("application/grpc")));
        assert!(is_api(&grpc("application/grpc-web+proto")));
        assert!(is_api(&grpc("application/grpc-web-text")));
        assert!(!is_api(&grpc("application/json")));
        assert!(!is_api(&Request::get("/").body(()).unwrap()));
        assert!(is_api(
            &Request::options("/hookrelay.v1.EventService/PublishEvent")
                .body(())
                .unwrap()
        ));
    }
}
