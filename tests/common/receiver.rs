//! A local webhook receiver for tests: records every request, answers with
//! scripted replies (status, headers, delay), and lets a test wait for N
//! requests with a deadline instead of sleeping.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the reply was ready (after the scripted delay), just before it is sent.
    pub at: Instant,
    /// When the request arrived, before the scripted delay.
    pub started: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    arrived: Notify,
    /// Requests that reached the handler, including those still waiting out
    /// a scripted delay (or cut off by a client that went away).
    arrivals: std::sync::atomic::AtomicUsize,
}

#[derive(Clone)]
pub struct TestReceiver {
    base: String,
    inner: Arc<Inner>,
}

impl TestReceiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { base, inner }
    }

    /// The URL of `path` on this receiver, e.g. `url("/hooks")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next requests get these replies, in order; then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().unwrap().extend(replies);
    }

    /// The reply once the script is used up (204 unless set).
    pub fn set_default(&self, reply: Reply) {
        *self.inner.default.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived, or panics at the deadline.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let notified = self.inner.arrived.notified();
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                panic!(
                    "expected {n} webhooks within {deadline:?}, got {}",
                    received.len()
                );
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// How many requests reached the receiver so far, finished or not.
    pub fn arrivals(&self) -> usize {
        self.inner
            .arrivals
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `n` requests reached the handler (a delayed reply
    /// may still be pending), or panics at the deadline.
    pub async fn wait_for_arrivals(&self, n: usize, deadline: Duration) {
        let start = Instant::now();
        loop {
            let notified = self.inner.arrived.notified();
            let arrivals = self.arrivals();
            if arrivals >= n {
                return;
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                panic!("expected {n} requests to arrive within {deadline:?}, got {arrivals}");
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Asserts that no more than `n` requests arrive within `window`.
    pub async fn assert_stays_at(&self, n: usize, window: Duration) {
        tokio::time::sleep(window).await;
        assert_eq!(self.received().len(), n, "unexpected extra webhooks");
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    inner
        .arrivals
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    inner.arrived.notify_waiters();
    let reply = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| inner.default.lock().unwrap().clone())
        .unwrap_or_else(|| Reply::status(204));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    inner.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
        at: Instant::now(),
        started,
    });
    inner.arrived.notify_waiters();
    let mut response = StatusCode::from_u16(reply.status)
        .unwrap_or(StatusCode::OK)
        .into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// Verifies a Standard Webhooks signature with hmac/sha2 directly, not with
/// hookrelay's own signing code: an independent check of what we send.
/// Returns how many of the `v1,` signatures `secret` validates.
pub fn verify_standard(secret: &str, received: &Received) -> usize {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    let key = match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD.decode(encoded).expect("whsec_ secrets are base64"),
        None => secret.as_bytes().to_vec(),
    };
    let id = received.header("webhook-id").expect("webhook-id");
    let timestamp = received
        .header("webhook-timestamp")
        .expect("webhook-timestamp");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    received
        .header("webhook-signature")
        .expect("webhook-signature")
        .split(' ')
        .filter(|signature| *signature == expected)
        .count()
}
