//! The receiving end of cross-replica wake-ups on Postgres: a connection
//! that LISTENs on [`WAKE_CHANNEL`], where every transaction that queues
//! deliveries sends `NOTIFY` (see [`super::queue::notify_dispatchers`]).

use super::queue::WAKE_CHANNEL;
use sea_orm::sqlx::postgres::PgListener;
use std::convert::Infallible;

/// Why listening stopped: the connection could not be made or was lost.
#[derive(Debug, thiserror::Error)]
pub enum WakeError {
    #[error(transparent)]
    Connection(#[from] sea_orm::sqlx::Error),
}

/// Connects to `database_url`, LISTENs, and calls `on_wake` for every
/// notification, until the connection fails; it never returns otherwise.
pub async fn listen(
    database_url: &str,
    mut on_wake: impl FnMut(),
) -> Result<Infallible, WakeError> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(WAKE_CHANNEL).await?;
    loop {
        listener.recv().await?;
        on_wake();
    }
}
