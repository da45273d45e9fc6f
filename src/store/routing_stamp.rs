//! The `routing_stamps` table: one counter per tenant, moved by database
//! triggers on every write to the tenant's subscriptions or event types
//! (migration `m20261130_000006_routing_stamps`). Nothing in hookrelay
//! writes it; publishing reads it to know when its cached routing is stale.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "routing_stamps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub stamp: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
