//! The `scopes` table: scopes a tenant registered, live or ended.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scopes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Microseconds; `None` never expires.
    pub expire_time: Option<i64>,
    /// Overrides the per-scope subscription quota.
    pub max_subscriptions: Option<i32>,
    /// When the scope ended (expired and reaped, or deleted).
    pub end_time: Option<i64>,
    /// `expired` or `deleted`.
    pub end_reason: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
