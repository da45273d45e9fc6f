//! The `deliveries` table: one event owed to one subscription. It is the
//! transactional outbox: rows are written with the event and drained by the
//! dispatcher.

use sea_orm::entity::prelude::*;

/// Stored as a small integer; the partial indexes name 1 (pending) and 2
/// (in flight) literally, so these values are part of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i16)]
pub enum Status {
    Pending = 1,
    InFlight = 2,
    Succeeded = 3,
    Failed = 4,
    Cancelled = 5,
}

impl Status {
    pub fn from_i16(value: i16) -> Option<Self> {
        Some(match value {
            1 => Self::Pending,
            2 => Self::InFlight,
            3 => Self::Succeeded,
            4 => Self::Failed,
            5 => Self::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub event_type: String,
    pub ordered: bool,
    pub status: i16,
    pub attempts: i32,
    pub next_attempt_time: i64,
    pub lease_expire_time: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
