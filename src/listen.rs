//! `hookrelay listen`: a local receiver for development that prints each
//! webhook (type, id, pretty JSON) and whether its signature verifies, in
//! the spirit of `stripe listen`.

use crate::webhook::{DEFAULT_TOLERANCE, verify};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Serves until `shutdown`. Answers 204, or 401 when a secret was given and
/// the signature does not verify (so the sender records the failure).
pub async fn run(
    listen: SocketAddr,
    secret: Option<String>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!(
        "listening for webhooks on http://{}/ ({})",
        listener.local_addr()?,
        if secret.is_some() {
            "verifying signatures"
        } else {
            "not verifying: pass --secret whsec_... to check signatures"
        }
    );
    let app = Router::new().fallback(receive).with_state(Arc::new(secret));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn receive(
    State(secret): State<Arc<Option<String>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verdict = secret.as_deref().map(|secret| {
        verify(
            secret,
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            &body,
            chrono::Utc::now().timestamp(),
            DEFAULT_TOLERANCE,
        )
    });
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let event_type = json
        .as_ref()
        .and_then(|j| j.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("?");
    let signature = match &verdict {
        None => "signature not checked".to_owned(),
        Some(Ok(())) => "signature verified".to_owned(),
        Some(Err(err)) => format!("signature INVALID: {err}"),
    };
    let pretty = json
        .as_ref()
        .and_then(|j| serde_json::to_string_pretty(j).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "--> {event_type} {} on {} ({signature})\n{pretty}",
        header("webhook-id").unwrap_or("(no webhook-id)"),
        uri.path(),
    );
    let _ = out.flush();
    match verdict {
        Some(Err(_)) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::NO_CONTENT,
    }
}
