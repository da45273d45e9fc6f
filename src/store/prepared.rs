//! Statements whose text grows with their rows (a group's inserts, a batch
//! of results), kept prepared only while small. sqlx keeps every statement
//! prepared by default, keyed by its text, so each group size is a new
//! entry; a big one's prepared form (its text, a type per bound value) is
//! big and rarely used again. In a Postgres fan-out (external benchmark,
//! 64 clients, 10 subscriptions, 6,000 events) those entries were 15 of
//! the server's 16 MiB of prepared statements at its peak (heaptrack).
//! Kept prepared only while small, the server's peak RSS went from
//! 58.5-62.4 to 52.0-54.8 MiB with 2,000 events (9 runs each) and from
//! 71.4 to 55.7 MiB with 6,000, at a rate within the noise. The cost: a
//! big text that does come again (a saturated fan-out's groups are often
//! the same size) is parsed again, which may be why Postgres's CPU per
//! event read about 5% higher on average over those runs.

use sea_orm::sqlx::{self, PgPool, postgres::PgRow};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, Statement, Values};
use sea_query_sqlx::SqlxValues;
use std::sync::Arc;

/// Most values a statement may bind and still be kept prepared: small
/// groups' texts come back again and again. (512 measured the same with
/// one publisher on Postgres, whose result batches bind 250-350 values.)
const KEPT_PREPARED_VALUES: usize = 256;

/// `statement` as a sqlx query, kept prepared only if it is small.
pub(super) fn query<'q, DB>(statement: Statement) -> sqlx::query::Query<'q, DB, SqlxValues>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    SqlxValues: sqlx::IntoArguments<DB>,
{
    let values = statement.values.unwrap_or(Values(Vec::new()));
    let keep = values.0.len() <= KEPT_PREPARED_VALUES;
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), SqlxValues(values)).persistent(keep)
}

/// Runs `statement` on Postgres; returns the rows it changed.
pub(super) async fn pg_execute(pool: &PgPool, statement: Statement) -> Result<u64, DbErr> {
    let mut connection = pool.acquire().await.map_err(acquire_error)?;
    let done = query(statement)
        .execute(&mut *connection)
        .await
        .map_err(sqlx_error)?;
    Ok(done.rows_affected())
}

/// Runs `statement` on Postgres; returns its first row, if any.
pub(super) async fn pg_fetch_optional(
    pool: &PgPool,
    statement: Statement,
) -> Result<Option<PgRow>, DbErr> {
    let mut connection = pool.acquire().await.map_err(acquire_error)?;
    query(statement)
        .fetch_optional(&mut *connection)
        .await
        .map_err(sqlx_error)
}

/// A connection the pool could not give, as sea-orm reports it: the
/// database is away (a refused or failed connect included), which the
/// layers above answer with UNAVAILABLE.
pub(super) fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

/// A failed statement, as sea-orm reports it.
pub(super) fn sqlx_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}
