//! The delivery queue's hot statements, in SQL both engines run: claiming due
//! deliveries under a lease, and returning expired leases to the queue. The
//! claim reads the partial index of due, pending rows and nothing else, and
//! never holds a lock beyond its own statement.

use super::delivery::Status;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement, Value};

/// The Postgres channel on which committed deliveries wake dispatchers.
pub const WAKE_CHANNEL: &str = "hookrelay_deliveries";

/// Inside a transaction that queued deliveries: wake every replica's
/// dispatcher when it commits (Postgres delivers NOTIFY at commit, and not
/// at all on rollback). SQLite has one process, woken in memory.
pub async fn notify_dispatchers<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared(&format!("NOTIFY {WAKE_CHANNEL}"))
            .await?;
    }
    Ok(())
}

/// A delivery this process now holds until `lease_expire_time`.
#[derive(Clone, Debug, FromQueryResult)]
pub struct Claimed {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub attempts: i32,
    pub create_time: i64,
}

/// Claims up to `limit` due deliveries. On Postgres `FOR UPDATE SKIP LOCKED`
/// lets replicas claim side by side without waiting for or duplicating each
/// other. Ordered subscriptions only yield their oldest unfinished delivery.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    now: i64,
    lease_until: i64,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let selection = format!(
        "d.status = {pending} AND d.next_attempt_time <= $2 \
         AND (d.ordered = FALSE OR NOT EXISTS ( \
           SELECT 1 FROM deliveries p \
           WHERE p.subscription_id = d.subscription_id \
             AND p.status IN ({pending}, {in_flight}) AND p.id < d.id))",
        pending = Status::Pending as i16,
        in_flight = Status::InFlight as i16,
    );
    claim_where(
        db,
        &selection,
        "d.next_attempt_time",
        Vec::new(),
        now,
        lease_until,
        limit,
    )
    .await
}

/// Leases, in one statement, up to `limit` deliveries `d` that `selection`
/// picks, taken in `order`. In the selection `$1` is the lease's end, `$2`
/// now, and `$3`… are `values`.
async fn claim_where<C: ConnectionTrait>(
    db: &C,
    selection: &str,
    order: &str,
    values: Vec<Value>,
    now: i64,
    lease_until: i64,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let backend = db.get_database_backend();
    let lock = if backend == DatabaseBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let limit_parameter = values.len() + 3;
    let sql = format!(
        "UPDATE deliveries SET status = {in_flight}, lease_expire_time = $1, update_time = $2 \
         WHERE id IN ( \
           SELECT d.id FROM deliveries d WHERE {selection} \
           ORDER BY {order} \
           LIMIT ${limit_parameter} {lock}) \
         RETURNING id, tenant_id, event_id, subscription_id, attempts, create_time",
        in_flight = Status::InFlight as i16,
    );
    let mut parameters = vec![Value::from(lease_until), Value::from(now)];
    parameters.extend(values);
    parameters.push(Value::from(limit as i64));
    let statement = Statement::from_sql_and_values(backend, sql, parameters);
    Claimed::find_by_statement(statement).all(db).await
}

/// Returns deliveries whose lease expired (their process died mid-send) to
/// the queue, due now. At-least-once: the receiver may see them twice.
pub async fn release_expired_leases<C: ConnectionTrait>(db: &C, now: i64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "UPDATE deliveries SET status = {pending}, lease_expire_time = NULL, \
           next_attempt_time = $1, update_time = $1 \
         WHERE status = {in_flight} AND lease_expire_time < $1",
        pending = Status::Pending as i16,
        in_flight = Status::InFlight as i16,
    );
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(now)],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Extends the leases of deliveries this process is still sending. Rows
/// that finished meanwhile are left alone.
pub async fn renew<C: ConnectionTrait>(db: &C, ids: &[String], until: i64) -> Result<(), DbErr> {
    use super::delivery;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    for chunk in ids.chunks(500) {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::LeaseExpireTime, Expr::value(until))
            .filter(delivery::Column::Id.is_in(chunk.iter().cloned()))
            .filter(delivery::Column::Status.eq(Status::InFlight as i16))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Gives back deliveries this process claimed but will not send (shutdown,
/// or a subscription at its in-flight bound), due at `due`.
pub async fn release<C: ConnectionTrait>(db: &C, ids: &[String], due: i64) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    use super::delivery;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Pending as i16),
        )
        .col_expr(
            delivery::Column::LeaseExpireTime,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(delivery::Column::NextAttemptTime, Expr::value(due))
        .filter(delivery::Column::Id.is_in(ids.iter().cloned()))
        .filter(delivery::Column::Status.eq(Status::InFlight as i16))
        .exec(db)
        .await?;
    Ok(())
}

/// When the next pending delivery falls due, so an idle dispatcher can sleep
/// exactly until then.
pub async fn next_due_time<C: ConnectionTrait>(db: &C) -> Result<Option<i64>, DbErr> {
    #[derive(FromQueryResult)]
    struct Next {
        next: Option<i64>,
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT MIN(next_attempt_time) AS next FROM deliveries WHERE status = {}",
        Status::Pending as i16
    );
    let row = Next::find_by_statement(Statement::from_string(backend, sql))
        .one(db)
        .await?;
    Ok(row.and_then(|r| r.next))
}
