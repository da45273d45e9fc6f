//! Cross-replica wake-ups on Postgres: every transaction that queues
//! deliveries sends `NOTIFY` on `WAKE_CHANNEL` (delivered at commit), and
//! each replica LISTENs, so an event published through one replica is picked
//! up at once by whichever dispatcher is idle, not at the next poll.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store;

/// Listens until `shutdown`, reconnecting after errors; the poll covers any
/// notification lost while disconnected.
pub async fn listen_for_wake_ups(
    database_url: String,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        let listener = store::wake::listen(&database_url, || wake.notify_one());
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = listener => {
                let err = match result {
                    Err(err) => err,
                    Ok(never) => match never {},
                };
                tracing::warn!(error = %err, "LISTEN connection lost; reconnecting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
