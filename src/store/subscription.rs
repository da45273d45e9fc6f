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
    /// The payload filter as compact JSON ([`crate::domain::PayloadFilter`]);
    /// `None`: every event of its types.
    pub payload_filter: Option<String>,
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

impl Model {
    /// Whether `other` has the same settings and secrets, whatever the
    /// health columns say: the recorder rewrites those (a healthy
    /// subscription's `last_success_time` once a second) without the
    /// sending side caring, so a prepared target compares with this.
    pub fn same_settings(&self, other: &Model) -> bool {
        // Spelled out field by field, so a new column must be placed on
        // one side or the other here.
        let Model {
            id,
            tenant_id,
            name,
            description,
            url,
            event_types,
            scope,
            enabled,
            disabled_reason,
            headers,
            retry_policy,
            signature,
            timeout_ms,
            rate_limit,
            ordered,
            metadata,
            profile,
            payload_filter,
            secret_ciphertext,
            previous_secret_ciphertext,
            previous_secret_expire_time,
            create_time,
            update_time,
            failing_since: _,
            last_success_time: _,
            consecutive_failures: _,
        } = self;
        *id == other.id
            && *tenant_id == other.tenant_id
            && *name == other.name
            && *description == other.description
            && *url == other.url
            && *event_types == other.event_types
            && *scope == other.scope
            && *enabled == other.enabled
            && *disabled_reason == other.disabled_reason
            && *headers == other.headers
            && *retry_policy == other.retry_policy
            && *signature == other.signature
            && *timeout_ms == other.timeout_ms
            && *rate_limit == other.rate_limit
            && *ordered == other.ordered
            && *metadata == other.metadata
            && *profile == other.profile
            && *payload_filter == other.payload_filter
            && *secret_ciphertext == other.secret_ciphertext
            && *previous_secret_ciphertext == other.previous_secret_ciphertext
            && *previous_secret_expire_time == other.previous_secret_expire_time
            && *create_time == other.create_time
            && *update_time == other.update_time
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::Model;

    fn row() -> Model {
        Model {
            id: "sub_1".into(),
            tenant_id: "ten_1".into(),
            name: "billing".into(),
            description: String::new(),
            url: "https://example.com/hooks".into(),
            event_types: "[\"invoice.*\"]".into(),
            scope: None,
            enabled: true,
            disabled_reason: None,
            headers: "{}".into(),
            retry_policy: "{}".into(),
            signature: None,
            timeout_ms: 10_000,
            rate_limit: 0,
            ordered: false,
            metadata: "{}".into(),
            profile: None,
            payload_filter: None,
            secret_ciphertext: "ciphertext".into(),
            previous_secret_ciphertext: None,
            previous_secret_expire_time: None,
            failing_since: None,
            last_success_time: None,
            consecutive_failures: 0,
            create_time: 1,
            update_time: 1,
        }
    }

    #[test]
    fn health_columns_are_not_settings() {
        let mut healthier = row();
        healthier.last_success_time = Some(5);
        healthier.failing_since = Some(3);
        healthier.consecutive_failures = 2;
        assert!(row().same_settings(&healthier));
        let mut moved = row();
        moved.url = "https://example.com/other".into();
        assert!(!row().same_settings(&moved));
        let mut rotated = row();
        rotated.secret_ciphertext = "another".into();
        assert!(!row().same_settings(&rotated));
    }
}
