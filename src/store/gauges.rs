//! The figures the metrics sampler reads from the database: how many
//! deliveries wait in the queue and how many are leased, for dashboards and
//! alerts on a growing backlog, and how many endpoints are failing.

use super::delivery::Status;
use super::subscription;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    Statement,
};

/// Deliveries in the queue by status.
#[derive(Clone, Copy, Debug, FromQueryResult)]
pub struct QueueDepth {
    pub pending: i64,
    pub in_flight: i64,
}

/// Counts pending and in-flight deliveries. Both counts read the partial
/// indexes of their status.
pub async fn queue_depth<C: ConnectionTrait>(db: &C) -> Result<Option<QueueDepth>, DbErr> {
    let sql = format!(
        "SELECT \
        (SELECT COUNT(*) FROM deliveries WHERE status = {pending}) AS pending, \
        (SELECT COUNT(*) FROM deliveries WHERE status = {in_flight}) AS in_flight",
        pending = Status::Pending as i16,
        in_flight = Status::InFlight as i16,
    );
    let statement = Statement::from_string(db.get_database_backend(), sql);
    QueueDepth::find_by_statement(statement).one(db).await
}

/// Enabled subscriptions in a run of failures (`failing_since` set).
pub async fn failing_subscriptions<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    subscription::Entity::find()
        .filter(subscription::Column::Enabled.eq(true))
        .filter(subscription::Column::FailingSince.is_not_null())
        .count(db)
        .await
}
