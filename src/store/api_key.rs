//! The `api_keys` table: a tenant's bearer tokens, stored only as SHA-256.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Lowercase hex SHA-256 of the token; the token itself is never stored.
    pub token_hash: String,
    /// Canonical comma list, e.g. `manage,publish,read`.
    pub capabilities: String,
    pub scope: Option<String>,
    pub create_time: i64,
    pub revoke_time: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
