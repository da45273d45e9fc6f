//! Server streams for WatchEvents and WatchDeliveries: each watcher gets a
//! forwarding task that filters the change feed for its caller and ends when
//! the client goes away or the server shuts down.

use crate::service::changes::{Change, ChangeFeed};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

pub type BoxStream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

/// Streams every change `select` maps to a message, until the client hangs
/// up or `shutdown` fires.
pub fn stream<T, F>(feed: &ChangeFeed, shutdown: CancellationToken, select: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: Fn(&Change) -> Option<T> + Send + 'static,
{
    let mut changes = feed.subscribe();
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let change: Arc<Change> = tokio::select! {
                () = shutdown.cancelled() => break,
                () = sender.closed() => break,
                received = changes.recv() => match received {
                    Ok(change) => change,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a watcher fell behind and skipped changes");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            };
            if let Some(message) = select(&change)
                && sender.send(Ok(message)).await.is_err()
            {
                break;
            }
        }
    });
    Box::pin(ReceiverStream::new(receiver))
}
