//! The publish path's queries: the reads a group of publishes needs (its
//! tenants' routing stamps and, when a stamp moved, their catalogs and
//! enabled subscriptions; events already stored under caller ids) and the
//! one write of its events and deliveries. Each read is one statement for
//! the whole group, however many requests.

use super::delivery::Status;
use super::prepared::{self, sqlx_error};
use super::{combine, delivery, event, event_type, queue, routing_stamp, subscription};
use sea_orm::sqlx::{self, SqlitePool};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Set, Statement, TransactionSession,
    TransactionTrait, Value,
};
use std::collections::HashSet;

/// Rows per INSERT: keeps each statement well under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// One delivery to write with its event.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub event_type: String,
    pub ordered: bool,
    /// Pending (for the queue) or in flight (leased to this process).
    pub status: Status,
    pub lease_expire_time: Option<i64>,
    /// Its creation time, also when it is first due.
    pub time: i64,
}

/// True when the database is one connection that every statement queues
/// for (SQLite): a group's reads and its write then share one transaction,
/// where separate reads would wait for the connection one by one.
pub fn single_connection<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == DatabaseBackend::Sqlite
}

/// The routing stamps of these tenants; a tenant without one has never had
/// a subscription or an event type.
pub async fn routing_stamps<C: ConnectionTrait>(
    db: &C,
    tenants: &HashSet<&str>,
) -> Result<Vec<(String, i64)>, DbErr> {
    routing_stamp::Entity::find()
        .select_only()
        .column(routing_stamp::Column::TenantId)
        .column(routing_stamp::Column::Stamp)
        .filter(routing_stamp::Column::TenantId.is_in(tenants.iter().copied()))
        .into_tuple()
        .all(db)
        .await
}

/// The whole catalogs of these tenants.
pub async fn event_types_of<C: ConnectionTrait>(
    db: &C,
    tenants: &HashSet<&str>,
) -> Result<Vec<event_type::Model>, DbErr> {
    event_type::Entity::find()
        .filter(event_type::Column::TenantId.is_in(tenants.iter().copied()))
        .all(db)
        .await
}

/// The enabled subscriptions of these tenants.
pub async fn enabled_subscriptions<C: ConnectionTrait>(
    db: &C,
    tenants: &HashSet<&str>,
) -> Result<Vec<subscription::Model>, DbErr> {
    subscription::Entity::find()
        .filter(subscription::Column::TenantId.is_in(tenants.iter().copied()))
        .filter(subscription::Column::Enabled.eq(true))
        .all(db)
        .await
}

/// Events stored under any of these (tenant, id) pairs, each with how many
/// deliveries it fanned out to.
pub async fn existing_events<C: ConnectionTrait>(
    db: &C,
    wanted: &HashSet<(&str, &str)>,
) -> Result<Vec<(event::Model, u32)>, DbErr> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let tenants: HashSet<&str> = wanted.iter().map(|(t, _)| *t).collect();
    let ids: HashSet<&str> = wanted.iter().map(|(_, id)| *id).collect();
    let rows = event::Entity::find()
        .filter(event::Column::TenantId.is_in(tenants))
        .filter(event::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let mut found = Vec::new();
    for row in rows {
        if !wanted.contains(&(row.tenant_id.as_str(), row.id.as_str())) {
            continue;
        }
        // Duplicates are rare; counting their deliveries one by one is fine.
        let count = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(&row.tenant_id))
            .filter(delivery::Column::EventId.eq(&row.id))
            .count(db)
            .await? as u32;
        found.push((row, count));
    }
    Ok(found)
}

/// Stores a group's events and deliveries atomically, waking other replicas
/// when `notify` (some deliveries are queued). `in_transaction`: `db` is a
/// transaction the caller commits. Otherwise, on Postgres a group that fits
/// one statement is written as one, the events inserted in a data-modifying
/// WITH: it commits on its own, saving the BEGIN and COMMIT round trips
/// and a second INSERT's. Larger groups use a transaction of their own.
pub async fn insert_group<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    events: &[&event::Model],
    deliveries: Vec<NewDelivery>,
    notify: bool,
    in_transaction: bool,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let events: Vec<event::ActiveModel> = events.iter().map(|e| event_row(e)).collect();
    let deliveries: Vec<delivery::ActiveModel> = deliveries.into_iter().map(delivery_row).collect();
    if in_transaction {
        return insert_rows(db, events, deliveries, notify).await;
    }
    let backend = db.get_database_backend();
    let one_statement = backend == DatabaseBackend::Postgres
        && events.len() <= INSERT_CHUNK
        && deliveries.len() <= INSERT_CHUNK;
    if one_statement {
        let stored_events = event::Entity::insert_many(events).build(backend);
        let statement = if deliveries.is_empty() {
            stored_events
        } else {
            combine::with_clauses(
                vec![("stored_events", stored_events)],
                delivery::Entity::insert_many(deliveries).build(backend),
            )
        };
        db.execute_raw(statement).await?;
        if notify {
            // After the commit, as NOTIFY inside a transaction would be.
            queue::notify_dispatchers(db).await?;
        }
        return Ok(());
    }
    let txn = db.begin().await?;
    insert_rows(&txn, events, deliveries, notify).await?;
    txn.commit().await
}

/// Whether a group this size can be written as one Postgres statement.
fn fits_one_statement(events: usize, deliveries: usize) -> bool {
    events <= INSERT_CHUNK && deliveries <= INSERT_CHUNK
}

/// Writes a group routed with kept routing only if every tenant's routing
/// stamp is still the one the routing was kept under (`stamps`: tenant and
/// stamp, 0 for a tenant with no stamp yet), with no round trip of its own
/// for the check. Returns false, having written nothing, when a stamp
/// moved. A group with nothing to write (every event refused or a repeat)
/// only checks the stamps: its refusals came from the kept catalog.
///
/// On Postgres a group that fits one statement is one statement; a bigger
/// one checks the stamps just before its transaction, as a group that
/// reads them first would. On SQLite the group is one turn of the
/// connection, whatever its size ([`insert_in_one_turn_if_current`]).
pub async fn insert_group_if_current(
    db: &DatabaseConnection,
    events: &[&event::Model],
    deliveries: Vec<NewDelivery>,
    notify: bool,
    stamps: &[(&str, i64)],
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    if events.is_empty() {
        return stamps_current(db, stamps).await;
    }
    if backend == DatabaseBackend::Sqlite {
        return insert_in_one_turn_if_current(
            db.get_sqlite_connection_pool(),
            events,
            deliveries,
            stamps,
        )
        .await;
    }
    if !fits_one_statement(events.len(), deliveries.len()) {
        if !stamps_current(db, stamps).await? {
            return Ok(false);
        }
        insert_group(db, events, deliveries, notify, false).await?;
        return Ok(true);
    }
    let events: Vec<event::ActiveModel> = events.iter().map(|e| event_row(e)).collect();
    let deliveries: Vec<delivery::ActiveModel> = deliveries.into_iter().map(delivery_row).collect();
    let mut clauses = vec![
        ("fresh", stamps_unchanged(backend, stamps)),
        (
            "stored_events",
            only_if_fresh(event::Entity::insert_many(events).build(backend)),
        ),
    ];
    if !deliveries.is_empty() {
        clauses.push((
            "stored_deliveries",
            only_if_fresh(delivery::Entity::insert_many(deliveries).build(backend)),
        ));
    }
    let statement = combine::with_clauses(
        clauses,
        Statement::from_string(backend, "SELECT ok FROM fresh"),
    );
    // Through sqlx, to keep only a small group's text prepared.
    let pool = db.get_postgres_connection_pool();
    let written = match prepared::pg_fetch_optional(pool, statement).await? {
        Some(row) => sqlx::Row::try_get::<bool, _>(&row, "ok").map_err(sqlx_error)?,
        None => false,
    };
    if written && notify {
        queue::notify_dispatchers(db).await?;
    }
    Ok(written)
}

/// The SQLite form of [`insert_group_if_current`]: `BEGIN IMMEDIATE`, each
/// insert only if the stamps are as given, and `COMMIT`, as one statement
/// text on a connection held for it. Separately, the BEGIN, a read of the
/// stamps, the inserts and the COMMIT each took a turn of the connection's
/// worker thread, and each turn costs two thread wake-ups, far more than
/// SQLite's own work for a small group.
///
/// The inserts are `INSERT OR ROLLBACK`, so a conflicting id ends the
/// transaction with the error. Any other error that stops the text part
/// way is followed by a ROLLBACK on the same connection before it goes
/// back to the pool: no other statement can run inside the unfinished
/// transaction and be rolled back with it.
async fn insert_in_one_turn_if_current(
    pool: &SqlitePool,
    events: &[&event::Model],
    deliveries: Vec<NewDelivery>,
    stamps: &[(&str, i64)],
) -> Result<bool, DbErr> {
    let backend = DatabaseBackend::Sqlite;
    let guard = stamps_unchanged(backend, stamps);
    let event_rows: Vec<event::ActiveModel> = events.iter().map(|e| event_row(e)).collect();
    let delivery_rows: Vec<delivery::ActiveModel> =
        deliveries.into_iter().map(delivery_row).collect();
    let mut parts = vec![Statement::from_string(backend, "BEGIN IMMEDIATE")];
    parts.extend(event_rows.chunks(INSERT_CHUNK).map(|chunk| {
        only_if_current(
            event::Entity::insert_many(chunk.to_vec()).build(backend),
            &guard,
        )
    }));
    let event_statements = parts.len() - 1;
    parts.extend(delivery_rows.chunks(INSERT_CHUNK).map(|chunk| {
        only_if_current(
            delivery::Entity::insert_many(chunk.to_vec()).build(backend),
            &guard,
        )
    }));
    parts.push(Statement::from_string(backend, "COMMIT"));
    let text = combine::in_sequence(parts);

    let mut connection = pool.acquire().await.map_err(prepared::acquire_error)?;
    match run_counting_changes(&mut connection, &text).await {
        Ok(changes) => {
            // Each statement's count, in order: BEGIN, the events' inserts,
            // the deliveries', COMMIT. BEGIN and COMMIT repeat the count of
            // whatever ran before them, so only the events' are read.
            let inserted: u64 = changes.iter().skip(1).take(event_statements).sum();
            Ok(inserted > 0)
        }
        Err(err) => {
            // Either the transaction already ended (OR ROLLBACK, or SQLite
            // rolled it back itself) and this fails harmlessly, or it ends it.
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
            Err(sqlx_error(err))
        }
    }
}

/// Runs a statement text and returns each statement's count of changes.
async fn run_counting_changes(
    connection: &mut sqlx::SqliteConnection,
    text: &Statement,
) -> Result<Vec<u64>, sqlx::Error> {
    use tokio_stream::StreamExt;
    let query = prepared::query(text.clone());
    #[allow(deprecated)] // several statements in one text: SQLite only, as here
    let mut results = query.fetch_many(&mut *connection);
    let mut changes = Vec::new();
    while let Some(step) = results.try_next().await? {
        if let Some(done) = step.left() {
            changes.push(done.rows_affected());
        }
    }
    Ok(changes)
}

/// Whether every tenant's routing stamp is still as given: for a group
/// with nothing to write, or too big to check them in its write.
pub async fn stamps_current<C: ConnectionTrait>(
    db: &C,
    stamps: &[(&str, i64)],
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    Ok(
        match db.query_one_raw(stamps_unchanged(backend, stamps)).await? {
            Some(row) => row.try_get::<bool>("", "ok")?,
            None => false,
        },
    )
}

/// `SELECT (every tenant's stamp is as given) AS ok`.
fn stamps_unchanged(backend: DatabaseBackend, stamps: &[(&str, i64)]) -> Statement {
    let mut conditions = Vec::with_capacity(stamps.len());
    let mut values: Vec<Value> = Vec::with_capacity(stamps.len() * 2);
    // Postgres numbers its placeholders; SQLite binds `?` in order.
    let placeholder = |position: usize| match backend {
        DatabaseBackend::Sqlite => "?".to_owned(),
        _ => format!("${position}"),
    };
    for (tenant, stamp) in stamps {
        values.push((*tenant).into());
        let tenant_at = placeholder(values.len());
        if *stamp == 0 {
            conditions.push(format!(
                "NOT EXISTS (SELECT 1 FROM routing_stamps WHERE tenant_id = {tenant_at})"
            ));
        } else {
            values.push((*stamp).into());
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM routing_stamps WHERE tenant_id = {tenant_at} AND stamp = {})",
                placeholder(values.len())
            ));
        }
    }
    let all = if conditions.is_empty() {
        "TRUE".to_owned()
    } else {
        conditions.join(" AND ")
    };
    Statement::from_sql_and_values(backend, format!("SELECT ({all}) AS ok"), values)
}

/// A SQLite insert as `INSERT OR ROLLBACK INTO t (cols) SELECT * FROM
/// (VALUES rows) WHERE (guard)`, the guard's values bound after the rows'.
fn only_if_current(insert: Statement, guard: &Statement) -> Statement {
    let sql = match insert.sql.split_once(" VALUES ") {
        Some((head, rows)) => {
            let table = head.strip_prefix("INSERT INTO ").unwrap_or(head);
            format!(
                "INSERT OR ROLLBACK INTO {table} SELECT * FROM (VALUES {rows}) WHERE ({})",
                guard.sql
            )
        }
        // sea-query always writes VALUES for insert_many; never reached.
        None => insert.sql,
    };
    let mut values = insert.values.map(|v| v.0).unwrap_or_default();
    values.extend(guard.values.iter().flat_map(|v| v.0.iter().cloned()));
    Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)
}

/// `INSERT INTO t (cols) VALUES rows` as `INSERT INTO t (cols) SELECT *
/// FROM (VALUES rows) AS v WHERE (SELECT ok FROM fresh)`. The values are
/// bound with their types, so the rows keep the columns' types.
fn only_if_fresh(insert: Statement) -> Statement {
    let sql = match insert.sql.split_once(" VALUES ") {
        Some((head, rows)) => {
            format!("{head} SELECT * FROM (VALUES {rows}) AS v WHERE (SELECT ok FROM fresh)")
        }
        // sea-query always writes VALUES for insert_many; never reached.
        None => insert.sql,
    };
    Statement {
        sql,
        values: insert.values,
        db_backend: insert.db_backend,
    }
}

/// The rows in bulk, in chunks that stay under the bound-parameter limits.
/// On SQLite (always inside the group's transaction) every chunk goes in
/// one trip to the connection.
async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    events: Vec<event::ActiveModel>,
    deliveries: Vec<delivery::ActiveModel>,
    notify: bool,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut statements: Vec<_> = events
        .chunks(INSERT_CHUNK)
        .map(|chunk| event::Entity::insert_many(chunk.to_vec()).build(backend))
        .collect();
    statements.extend(
        deliveries
            .chunks(INSERT_CHUNK)
            .map(|chunk| delivery::Entity::insert_many(chunk.to_vec()).build(backend)),
    );
    if backend == DatabaseBackend::Sqlite {
        db.execute_raw(combine::in_sequence(statements)).await?;
    } else {
        for statement in statements {
            db.execute_raw(statement).await?;
        }
    }
    if notify {
        queue::notify_dispatchers(db).await?;
    }
    Ok(())
}

fn event_row(event: &event::Model) -> event::ActiveModel {
    event::ActiveModel {
        tenant_id: Set(event.tenant_id.clone()),
        id: Set(event.id.clone()),
        event_type: Set(event.event_type.clone()),
        scope: Set(event.scope.clone()),
        payload: Set(event.payload.clone()),
        metadata: Set(event.metadata.clone()),
        attributes: Set(event.attributes.clone()),
        create_time: Set(event.create_time),
        expunge_time: Set(None),
    }
}

fn delivery_row(new: NewDelivery) -> delivery::ActiveModel {
    delivery::ActiveModel {
        id: Set(new.id),
        tenant_id: Set(new.tenant_id),
        event_id: Set(new.event_id),
        subscription_id: Set(new.subscription_id),
        event_type: Set(new.event_type),
        ordered: Set(new.ordered),
        status: Set(new.status as i16),
        attempts: Set(0),
        next_attempt_time: Set(new.time),
        lease_expire_time: Set(new.lease_expire_time),
        last_status_code: Set(None),
        last_error: Set(None),
        create_time: Set(new.time),
        update_time: Set(new.time),
    }
}

#[cfg(test)]
mod tests;
