//! The `events` table: what was published, with the payload exactly as given.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `evt_` + ULID, or the publisher's own id (an idempotency key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_name = "type")]
    pub event_type: String,
    pub scope: Option<String>,
    /// The JSON object text, byte for byte as published.
    pub payload: String,
    /// JSON object of metadata (string values unless published as an object).
    pub metadata: String,
    /// JSON object of the publisher's top-level attributes, if any.
    pub attributes: Option<String>,
    pub create_time: i64,
    /// When ExpungeEvent removed the payload, attributes and metadata
    /// (then empty text, `None` and `{}`); the row stays for the history.
    pub expunge_time: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
