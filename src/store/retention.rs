//! Retention's statements: a tenant's finished deliveries and their
//! attempts, then its events, deleted a bounded batch per transaction, and
//! the age of what is kept. SQLite gets the freed pages back to the file
//! system with `incremental_vacuum` ([`reclaim_space`]).
//!
//! Every replica may run these at once. On Postgres each batch locks its
//! rows with `FOR UPDATE SKIP LOCKED`, so replicas take different rows and
//! never wait for each other; a delete by id is idempotent anyway, and the
//! counts are the rows each statement really deleted, so nothing is
//! counted twice. The status terms are literal (`status IN (3, 4, 5)`),
//! restating `idx_deliveries_finished`'s predicate, which SQLite needs word
//! for word to use the index.

use super::delivery::Status;
use super::tenant;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, Statement,
    TransactionSession, TransactionTrait, Value,
};

/// Rows one batch deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
}

impl std::ops::AddAssign for Deleted {
    fn add_assign(&mut self, other: Self) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
    }
}

/// `status IN (succeeded, failed, cancelled)`, as the partial index says it.
fn finished(alias: &str) -> String {
    format!(
        "{alias}status IN ({}, {}, {})",
        Status::Succeeded as i16,
        Status::Failed as i16,
        Status::Cancelled as i16
    )
}

fn skip_locked(backend: DatabaseBackend) -> &'static str {
    if backend == DatabaseBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    }
}

/// Every tenant with its own retention periods, if any.
pub async fn tenants<C: ConnectionTrait>(db: &C) -> Result<Vec<tenant::Model>, DbErr> {
    tenant::Entity::find().all(db).await
}

#[derive(FromQueryResult)]
struct Id {
    id: String,
}

/// Deletes up to `limit` of a tenant's deliveries that finished before
/// `cutoff` (µs), oldest first, with their attempts, in one transaction.
pub async fn delete_finished_deliveries<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant_id: &str,
    cutoff: i64,
    limit: u64,
) -> Result<Deleted, DbErr> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let sql = format!(
        "DELETE FROM deliveries WHERE id IN ( \
           SELECT d.id FROM deliveries d \
           WHERE d.tenant_id = $1 AND {finished} AND d.update_time < $2 \
           ORDER BY d.update_time \
           LIMIT $3 {lock}) \
         RETURNING id",
        finished = finished("d."),
        lock = skip_locked(backend),
    );
    let ids: Vec<String> = Id::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [
            Value::from(tenant_id),
            Value::from(cutoff),
            Value::from(limit as i64),
        ],
    ))
    .all(&txn)
    .await?
    .into_iter()
    .map(|row| row.id)
    .collect();
    if ids.is_empty() {
        txn.commit().await?;
        return Ok(Deleted::default());
    }
    // Through `idx_delivery_attempts_delivery`.
    let placeholders = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let attempts = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM delivery_attempts WHERE delivery_id IN ({placeholders})"),
            ids.iter().map(|id| Value::from(id.as_str())),
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(Deleted {
        events: 0,
        deliveries: ids.len() as u64,
        attempts,
    })
}

/// Where a walk through a tenant's old events has got to: the last
/// (publish time, id) looked at.
pub type EventCursor = (i64, String);

#[derive(FromQueryResult)]
struct EventCandidate {
    id: String,
    create_time: i64,
    /// 1 while a delivery of the event is left.
    kept: i32,
}

/// Looks at up to `limit` of a tenant's events published before `cutoff`
/// (µs), after `after`, oldest first, and deletes those no delivery refers
/// to any more, in one transaction. Returns what it deleted and where to
/// go on from, or `None` when no older event is left to look at. Events
/// kept by their deliveries are stepped over, not read again by the next
/// batch.
pub async fn delete_events<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant_id: &str,
    cutoff: i64,
    after: Option<&EventCursor>,
    limit: u64,
) -> Result<(Deleted, Option<EventCursor>), DbErr> {
    let backend = db.get_database_backend();
    let (after_time, after_id) = after.cloned().unwrap_or((i64::MIN, String::new()));
    let has_delivery = "EXISTS (SELECT 1 FROM deliveries d \
         WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id)";
    let txn = db.begin().await?;
    // Through `idx_events_tenant_time`, and `idx_deliveries_tenant_event`
    // for each candidate.
    let sql = format!(
        "SELECT e.id, e.create_time, CASE WHEN {has_delivery} THEN 1 ELSE 0 END AS kept \
         FROM events e \
         WHERE e.tenant_id = $1 AND e.create_time < $2 \
           AND (e.create_time > $3 OR (e.create_time = $3 AND e.id > $4)) \
         ORDER BY e.create_time, e.id \
         LIMIT $5 {lock}",
        lock = skip_locked(backend),
    );
    let candidates = EventCandidate::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [
            Value::from(tenant_id),
            Value::from(cutoff),
            Value::from(after_time),
            Value::from(after_id),
            Value::from(limit as i64),
        ],
    ))
    .all(&txn)
    .await?;
    let Some(last) = candidates.last() else {
        txn.commit().await?;
        return Ok((Deleted::default(), None));
    };
    let next = Some((last.create_time, last.id.clone()));
    let gone: Vec<&str> = candidates
        .iter()
        .filter(|c| c.kept == 0)
        .map(|c| c.id.as_str())
        .collect();
    let mut events = 0;
    if !gone.is_empty() {
        let placeholders = (2..gone.len() + 2)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        // The check again, in the statement that deletes: a delivery may
        // have been queued for the event since (a replay).
        let sql = format!(
            "DELETE FROM events WHERE tenant_id = $1 AND id IN ({placeholders}) \
             AND NOT {}",
            has_delivery.replace("e.", "events.")
        );
        let values = std::iter::once(Value::from(tenant_id))
            .chain(gone.iter().map(|id| Value::from(*id)))
            .collect::<Vec<_>>();
        events = txn
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
    }
    txn.commit().await?;
    Ok((
        Deleted {
            events,
            ..Deleted::default()
        },
        next,
    ))
}

#[derive(FromQueryResult)]
struct Oldest {
    time: Option<i64>,
}

/// When the tenant's oldest kept finished delivery finished, and when its
/// oldest kept event was published (µs), each read from the front of its
/// index.
pub async fn oldest_kept<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<(Option<i64>, Option<i64>), DbErr> {
    let backend = db.get_database_backend();
    let one = |sql: String| {
        Oldest::find_by_statement(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(tenant_id)],
        ))
        .one(db)
    };
    let delivery = one(format!(
        "SELECT MIN(update_time) AS time FROM deliveries WHERE tenant_id = $1 AND {}",
        finished("")
    ))
    .await?
    .and_then(|row| row.time);
    let event = one("SELECT MIN(create_time) AS time FROM events WHERE tenant_id = $1".to_owned())
        .await?
        .and_then(|row| row.time);
    Ok((delivery, event))
}

/// Pages freed per `incremental_vacuum` call: 4 MiB at SQLite's default
/// page size, a few milliseconds of the one connection.
const VACUUM_PAGES: u32 = 1_024;

/// Gives up to [`VACUUM_PAGES`] free pages back to the file system (SQLite
/// with `auto_vacuum = INCREMENTAL`; elsewhere nothing). Postgres needs no
/// call: autovacuum marks the deleted rows' space free for new rows, and
/// small batches keep it from falling behind.
pub async fn reclaim_space<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        db.execute_unprepared(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            .await?;
    }
    Ok(())
}

#[derive(FromQueryResult)]
struct Pragma {
    value: i64,
}

/// Whether SQLite can give space back (`auto_vacuum = INCREMENTAL`, 2); a
/// file created before hookrelay set it keeps 0 until a `VACUUM`. `None`
/// on Postgres.
pub async fn incremental_vacuum_on<C: ConnectionTrait>(db: &C) -> Result<Option<bool>, DbErr> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return Ok(None);
    }
    let row = Pragma::find_by_statement(Statement::from_string(
        DatabaseBackend::Sqlite,
        "SELECT auto_vacuum AS value FROM pragma_auto_vacuum()",
    ))
    .one(db)
    .await?;
    Ok(Some(row.is_some_and(|row| row.value == 2)))
}
