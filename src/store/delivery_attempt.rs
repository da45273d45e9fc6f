//! The `delivery_attempts` table: what each HTTP attempt sent and got back.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub delivery_id: String,
    pub tenant_id: String,
    pub attempt_number: i32,
    /// JSON object of the request headers, signatures redacted.
    pub request_headers: String,
    pub response_status_code: Option<i32>,
    /// At most 4 KiB of the response body.
    pub response_body: String,
    pub error: Option<String>,
    pub duration_micros: i64,
    pub create_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
