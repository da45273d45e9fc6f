//! Persistence: sea-orm entities (one file per table), the queries as named
//! functions, the connection set-up for SQLite and Postgres, and the time
//! representation both share. No other module names sea-orm or sqlx: they
//! hold the types re-exported here.

pub mod api_key;
pub mod api_keys;
pub mod attempts;
pub mod codec;
pub mod combine;
pub mod deliveries;
pub mod delivery;
pub mod delivery_attempt;
pub mod delivery_profile;
pub mod delivery_profiles;
mod error;
pub mod event;
pub mod event_type;
pub mod event_types;
pub mod events;
pub mod gauges;
mod prepared;
pub mod publish;
pub mod queue;
pub mod retention;
pub mod routing_stamp;
pub mod scope;
pub mod scopes;
pub mod stats;
pub mod subscription;
pub mod subscriptions;
pub mod targets;
pub mod tenant;
pub mod tenants;
pub mod wake;

pub use error::{DbError, is_storage_full, is_unavailable, is_unique_violation, unavailable};
pub use sea_orm::{
    ConnectionTrait as Connection, TransactionSession, TransactionTrait as Transactional,
};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// The connection pool the application holds.
pub type Db = DatabaseConnection;
/// An open transaction; dropped without `commit`, it rolls back.
pub type Tx = sea_orm::DatabaseTransaction;

/// Opens a read-only transaction whose statements all see one snapshot,
/// for an answer put together from several reads (a subscription's row
/// and its attempts' counts) that must agree with each other. Postgres
/// needs REPEATABLE READ for that (READ COMMITTED takes a snapshot per
/// statement); a SQLite transaction is one snapshot already, and its
/// single connection stays with the transaction, so no write lands
/// between the reads.
pub async fn begin_snapshot<C: Connection + Transactional>(
    db: &C,
) -> Result<C::Transaction, DbErr> {
    use sea_orm::{AccessMode, DatabaseBackend, IsolationLevel};
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
        }
        _ => db.begin().await,
    }
}

/// Timestamps are stored as integer microseconds since the Unix epoch (UTC):
/// identical on both engines, cheap to index and compare.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub fn micros_to_time(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Opens the pool. SQLite gets one connection: one process owns the file and
/// funnelling every write through a single connection is what keeps
/// SQLITE_BUSY away; WAL plus `synchronous=FULL` makes a commit durable
/// (`durable_commits = false` chooses NORMAL: faster, but the last commits
/// may be lost on power failure, though never corrupted).
pub async fn connect(
    url: &str,
    max_connections: u32,
    durable_commits: bool,
) -> Result<DatabaseConnection, DbErr> {
    connect_capped(url, max_connections, durable_commits, 0).await
}

/// [`connect`], and on SQLite with a cap on the database's size.
/// `sqlite_max_size_mib` (SQLite only, 0: none) caps the database file:
/// past it every write fails as on a full disk (SQLITE_FULL), which
/// publishers hear as RESOURCE_EXHAUSTED, while reads and deletes (so
/// retention) go on working.
pub async fn connect_capped(
    url: &str,
    max_connections: u32,
    durable_commits: bool,
    sqlite_max_size_mib: u64,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = pool_options(&normalise_sqlite_url(url));
    if url.starts_with("sqlite:") {
        options
            .max_connections(1)
            .min_connections(1)
            // An in-memory database disappears with its last connection.
            .idle_timeout(None)
            .max_lifetime(None)
            // The connection is in this process: there is no server to lose
            // it, and a ping on every checkout was a turn of its worker
            // thread (two thread wake-ups) per statement.
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(move |opts| {
                use sea_orm::sqlx::sqlite::{
                    SqliteAutoVacuum, SqliteJournalMode, SqliteSynchronous,
                };
                // Retention's deletions give space back to the file system
                // (`store::retention::reclaim_space`). This takes effect on a
                // new file only; an older one keeps auto_vacuum = NONE
                // (freed pages are reused, the file never shrinks) until a
                // VACUUM, which retention's start-up warning spells out.
                let opts = opts
                    .auto_vacuum(SqliteAutoVacuum::Incremental)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(if durable_commits {
                        SqliteSynchronous::Full
                    } else {
                        SqliteSynchronous::Normal
                    })
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .statement_cache_capacity(STATEMENT_CACHE);
                if sqlite_max_size_mib == 0 {
                    opts
                } else {
                    // SQLite's default page is 4 KiB: 256 pages a MiB.
                    opts.pragma("max_page_count", (sqlite_max_size_mib * 256).to_string())
                }
            });
    } else {
        options
            .max_connections(max_connections)
            .min_connections(1)
            // The hot statements filter with IN lists whose length varies, and
            // a prepared statement's generic plan is made once, often while
            // the queue is still small: it then seq-scans the queue as it
            // grows. Custom plans cost a little planning per execution and
            // keep to the indexes (measured in the delivery bench: +15-20%).
            .map_sqlx_postgres_opts(|opts| {
                opts.options([("plan_cache_mode", "force_custom_plan")])
                    .statement_cache_capacity(STATEMENT_CACHE)
            });
    }
    Database::connect(options).await
}

/// What every pool shares: no statement logging, and a database that does
/// not answer within 5 s is an error rather than a hang.
fn pool_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    options
}

/// Prepared statements each connection keeps. Every statement text is kept
/// prepared by default, up to 100 per connection, and the texts of group
/// writes, claims and result batches vary with their row counts: in a
/// fan-out the kept statements held 17 MiB on SQLite, a third of the
/// server's heap at its peak, and 10 MiB on Postgres (heaptrack, external
/// benchmark). The few statements a steady load repeats fit in this many.
const STATEMENT_CACHE: usize = 24;

/// Connections of the publisher's own Postgres pool: one writer task uses
/// them, for a group's reads side by side and then its write.
const PUBLISHING_CONNECTIONS: u32 = 4;

/// The pool the publisher writes through. On SQLite, `db` itself (one
/// connection owns the file). On Postgres, a small pool of its own that
/// keeps Postgres's default plan caching: the publish statements are the
/// same few texts over and over, with nothing whose best plan depends on
/// its values, and replanning them at every execution (as `connect`'s
/// pool does for the queue's statements) was a third of Postgres's CPU
/// per event for one publisher.
pub async fn connect_publishing(
    db: &DatabaseConnection,
    url: &str,
) -> Result<DatabaseConnection, DbErr> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(db.clone());
    }
    let mut options = pool_options(url);
    options
        .max_connections(PUBLISHING_CONNECTIONS)
        .min_connections(1)
        .map_sqlx_postgres_opts(|opts| {
            opts.options([("plan_cache_mode", "auto")])
                .statement_cache_capacity(STATEMENT_CACHE)
        });
    Database::connect(options).await
}

/// Lets `sqlite://hookrelay.db` create the file on first start, as a newcomer
/// expects, unless the URL already chose a mode.
fn normalise_sqlite_url(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_owned()
    }
}

/// Applies all pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    migration::Migrator::up(db, None).await
}
