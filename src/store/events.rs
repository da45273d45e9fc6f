//! Reads of stored events (one by id, and pages in publish order) and
//! expunging one's data.

use super::event;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

/// Which events a page holds.
#[derive(Clone, Debug, Default)]
pub struct EventQuery<'a> {
    pub tenant_id: &'a str,
    pub scope: Option<&'a str>,
    pub event_type: Option<&'a str>,
    /// From this publish time (µs), inclusive.
    pub start_time: Option<i64>,
    /// Until this publish time (µs), exclusive.
    pub end_time: Option<i64>,
    /// Newest first rather than oldest first.
    pub newest_first: bool,
    /// After this (publish time, id) in the page order: where the previous
    /// page ended.
    pub after: Option<(i64, &'a str)>,
    pub limit: u64,
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<Option<event::Model>, DbErr> {
    event::Entity::find_by_id((tenant_id.to_owned(), id.to_owned()))
        .one(db)
        .await
}

/// Events oldest (or newest) first, paged by (publish time, id):
/// caller-chosen ids need not sort by time, so the id alone cannot be the
/// key.
pub async fn list_page<C: ConnectionTrait>(
    db: &C,
    page: EventQuery<'_>,
) -> Result<Vec<event::Model>, DbErr> {
    let order = if page.newest_first {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut query = event::Entity::find()
        .filter(event::Column::TenantId.eq(page.tenant_id))
        .order_by(event::Column::CreateTime, order.clone())
        .order_by(event::Column::Id, order)
        .limit(page.limit);
    if let Some(scope) = page.scope {
        query = query.filter(event::Column::Scope.eq(scope));
    }
    if let Some(event_type) = page.event_type {
        query = query.filter(event::Column::EventType.eq(event_type));
    }
    if let Some(start) = page.start_time {
        query = query.filter(event::Column::CreateTime.gte(start));
    }
    if let Some(end) = page.end_time {
        query = query.filter(event::Column::CreateTime.lt(end));
    }
    if let Some((time, id)) = page.after {
        let (later_time, later_id) = if page.newest_first {
            (event::Column::CreateTime.lt(time), event::Column::Id.lt(id))
        } else {
            (event::Column::CreateTime.gt(time), event::Column::Id.gt(id))
        };
        query = query.filter(
            Condition::any().add(later_time).add(
                Condition::all()
                    .add(event::Column::CreateTime.eq(time))
                    .add(later_id),
            ),
        );
    }
    query.all(db).await
}

/// Removes an event's data (payload, metadata, attributes) and marks it
/// expunged at `now`, unless it already is. Its row stays, for the
/// delivery history that names it.
pub async fn expunge<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> Result<u64, DbErr> {
    let result = event::Entity::update_many()
        .col_expr(event::Column::Payload, Expr::value(""))
        .col_expr(event::Column::Metadata, Expr::value("{}"))
        .col_expr(
            event::Column::Attributes,
            Expr::value(Option::<String>::None),
        )
        .col_expr(event::Column::ExpungeTime, Expr::value(now))
        .filter(event::Column::TenantId.eq(tenant_id))
        .filter(event::Column::Id.eq(id))
        .filter(event::Column::ExpungeTime.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
