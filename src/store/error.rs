//! What a failed query means to the layers above: the database is away
//! (retry later), a unique key was taken (a duplicate), or something else.
//! Only this module looks inside sea-orm's and sqlx's errors.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// A failed query or connection, as sea-orm reports it.
pub type DbError = DbErr;

/// Connection-level failures mean "try again later", not "your request is bad".
pub fn is_unavailable(err: &DbError) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                e.as_ref(),
                Sqlx::Io(_)
                    | Sqlx::Tls(_)
                    | Sqlx::Protocol(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::WorkerCrashed
            ) || is_postgres_admin_shutdown(e)
        }
        _ => false,
    }
}

/// Postgres reports a terminated backend or a database refusing connections
/// with SQLSTATE classes 57 (operator intervention) and 08 (connection).
fn is_postgres_admin_shutdown(err: &sea_orm::sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code.starts_with("57") || code.starts_with("08"))
}

/// The database has no room for the write: SQLite's SQLITE_FULL (a full
/// disk, or the file at its `max_page_count`), Postgres's class 53
/// 53100 (disk full).
pub fn is_storage_full(err: &DbError) -> bool {
    let sqlx_error = match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    sqlx_error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "13" || code == "53100")
}

/// True when the error is a unique-constraint violation: a duplicate key.
pub fn is_unique_violation(err: &DbError) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// An error that says the database is unavailable, with `message`, for
/// passing one failure on to several waiters.
pub fn unavailable(message: String) -> DbError {
    DbErr::Custom(message)
}
