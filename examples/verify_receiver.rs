//! A minimal webhook receiver that verifies hookrelay deliveries with
//! `hookrelay::webhook::verify`, on axum.
//!
//! ```sh
//! WEBHOOK_SECRET=whsec_... cargo run --example verify_receiver -- [--listen 127.0.0.1:9000]
//! ```
//!
//! The address comes from `--listen`, else `LISTEN_ADDR`, else
//! 127.0.0.1:9000. Answers 204 to a request whose signature verifies and 401
//! otherwise, and prints one line per request:
//!
//! ```text
//! verified <webhook-id> <type>
//! rejected <webhook-id>: <reason>
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hookrelay::webhook::{DEFAULT_TOLERANCE, verify};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

#[tokio::main]
async fn main() -> ExitCode {
    let (listen, secret) = match settings() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {listen}: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("listening for webhooks on http://{listen}/");
    let app = Router::new().fallback(receive).with_state(Arc::new(secret));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The listen address (`--listen ADDR`, `LISTEN_ADDR`, or the default) and
/// the secret (`WEBHOOK_SECRET`).
fn settings() -> Result<(SocketAddr, String), String> {
    let mut listen = std::env::var("LISTEN_ADDR")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            listen = args.next().ok_or("--listen needs an address")?;
        } else if let Some(value) = arg.strip_prefix("--listen=") {
            listen = value.to_owned();
        } else {
            return Err(format!(
                "unknown argument {arg}; usage: verify_receiver [--listen HOST:PORT]"
            ));
        }
    }
    let listen = listen
        .parse()
        .map_err(|err| format!("not a HOST:PORT address {listen:?}: {err}"))?;
    let secret = std::env::var("WEBHOOK_SECRET")
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or("set WEBHOOK_SECRET to the subscription's secret (whsec_...)")?;
    Ok((listen, secret))
}

/// Every path, every method: verify, answer, print one line.
///
/// `body: Bytes` is the raw body, exactly as sent. The signature covers
/// these bytes, so verify them before any JSON parsing: a value parsed and
/// serialized again may differ (key order, spacing, number formats).
async fn receive(State(secret): State<Arc<String>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let id = header("webhook-id").unwrap_or("-");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let verdict = verify(
        &secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        now,
        DEFAULT_TOLERANCE,
    );
    let (line, status) = match verdict {
        Ok(()) => {
            // Only now is the payload trusted enough to parse.
            let event_type = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| json.get("type")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "?".to_owned());
            (
                format!("verified {id} {event_type}"),
                StatusCode::NO_CONTENT,
            )
        }
        Err(err) => (format!("rejected {id}: {err}"), StatusCode::UNAUTHORIZED),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    status
}
