//! `hookrelay-bench-receiver`: the receiver of the external benchmark, a
//! process of its own as a user's endpoint would be. It answers every POST
//! with 200 at once and remembers when each arrived (by `webhook-id` and
//! path); the load generator reads them back from `GET /arrivals`.
//!
//! Usage: hookrelay-bench-receiver [ADDR] (default 127.0.0.1:0). Prints
//! `LISTENING <addr>` once bound.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// (event id, path, unix microseconds) per request.
type Arrivals = Arc<Mutex<Vec<(String, String, i64)>>>;

async fn handle(
    State(arrivals): State<Arrivals>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> String {
    if method == Method::GET && uri.path() == "/arrivals" {
        // One line per request: "<id> <path> <micros>".
        let arrivals = arrivals.lock().expect("arrivals lock");
        let mut text = String::with_capacity(arrivals.len() * 48);
        for (id, path, at) in arrivals.iter() {
            text.push_str(&format!("{id} {path} {at}\n"));
        }
        return text;
    }
    if method == Method::GET && uri.path() == "/count" {
        return arrivals.lock().expect("arrivals lock").len().to_string();
    }
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    arrivals
        .lock()
        .expect("arrivals lock")
        .push((id, uri.path().to_owned(), at));
    String::new()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("LISTENING {}", listener.local_addr()?);
    let app = Router::new()
        .fallback(handle)
        .with_state(Arrivals::default());
    axum::serve(listener, app).await
}
