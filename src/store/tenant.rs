//! The `tenants` table: the isolation boundary every other row belongs to.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub create_time: i64,
    /// How long this tenant's finished deliveries are kept, in seconds;
    /// `None` follows the server's `retention.deliveries_secs`.
    pub delivery_retention_secs: Option<i64>,
    /// How long this tenant's events are kept, in seconds; `None` follows
    /// the server's `retention.events_secs`.
    pub event_retention_secs: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
