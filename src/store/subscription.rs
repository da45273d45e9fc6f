//! The `subscriptions` table. Structured settings are JSON text so one schema
//! serves SQLite and Postgres; secrets are AEAD ciphertext, never plain.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: String,
    pub url: String,
    /// JSON array of event-type patterns.
    pub event_types: String,
    pub scope: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// JSON object of custom headers.
    pub headers: String,
    /// JSON of [`crate::store::codec::StoredRetryPolicy`].
    pub retry_policy: String,
    /// JSON of [`crate::store::codec::StoredSignature`], if any.
    pub signature: Option<String>,
    pub timeout_ms: i64,
    pub rate_limit: i32,
    pub ordered: bool,
    /// JSON object of caller metadata.
    pub metadata: String,
    /// JSON of [`crate::domain::ProfileSpec`]; `None` is the default profile.
    pub profile: Option<String>,
    /// Empty for an unsigned subscription (no secret, no signature).
    pub secret_ciphertext: String,
    pub previous_secret_ciphertext: Option<String>,
    pub previous_secret_expire_time: Option<i64>,
    /// Start of the current run of failed attempts; `None` while healthy.
    pub failing_since: Option<i64>,
    /// When an attempt last succeeded, to within a second; `None`: never.
    pub last_success_time: Option<i64>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i32,
    pub create_time: i64,
    pub update_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
