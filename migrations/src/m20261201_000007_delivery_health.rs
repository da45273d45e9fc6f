//! Endpoint health and delivery statistics (issue 11, the console).
//!
//! - `subscriptions.last_success_time` and `consecutive_failures`, kept by
//!   the transaction that records attempt results (beside `failing_since`),
//!   so a subscription's health is read from its own row instead of from
//!   its whole attempt history. Existing rows are filled in from that
//!   history once, here.
//! - An index on `delivery_attempts (tenant_id, create_time)`: the
//!   statistics (GetDeliveryStats, a subscription's last 24 hours) read a
//!   tenant's attempts in a time range, and without it every such read
//!   scans the attempts of all tenants for all time. Retention, which deletes
//!   attempts by age, will read it too. It costs one more index entry per
//!   recorded attempt.
//!
//! Neither column is in the routing stamps' trigger lists (migration 6):
//! health changes with every result and must not make publishers reload.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    LastSuccessTime,
    ConsecutiveFailures,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    TenantId,
    CreateTime,
}

const ATTEMPTS_INDEX: &str = "idx_delivery_attempts_tenant_time";

/// A subscription's attempts, for the correlated subqueries of the backfill
/// (through `idx_deliveries_tenant_subscription`, then the attempts' own
/// `delivery_id` index).
const ATTEMPTS_OF_SUBSCRIPTION: &str = "FROM deliveries d \
     JOIN delivery_attempts a ON a.delivery_id = d.id \
     WHERE d.tenant_id = subscriptions.tenant_id AND d.subscription_id = subscriptions.id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(big_integer_null(Subscriptions::LastSuccessTime))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(integer(Subscriptions::ConsecutiveFailures).default(0))
                    .to_owned(),
            )
            .await?;
        // What the recorder would have written had it kept these all along:
        // the latest 2xx answer (its start plus its duration), and the
        // failures started after the latest success's start.
        let success = "a.response_status_code BETWEEN 200 AND 299";
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE subscriptions SET \
                   last_success_time = (SELECT MAX(a.create_time + a.duration_micros) \
                     {ATTEMPTS_OF_SUBSCRIPTION} AND {success}), \
                   consecutive_failures = (SELECT COUNT(*) {ATTEMPTS_OF_SUBSCRIPTION} \
                     AND COALESCE(a.response_status_code, 0) NOT BETWEEN 200 AND 299 \
                     AND a.create_time > COALESCE((SELECT MAX(a.create_time) \
                       {ATTEMPTS_OF_SUBSCRIPTION} AND {success}), -1))"
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ATTEMPTS_INDEX)
                    .table(DeliveryAttempts::Table)
                    .col(DeliveryAttempts::TenantId)
                    .col(DeliveryAttempts::CreateTime)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(ATTEMPTS_INDEX)
                    .table(DeliveryAttempts::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Subscriptions::ConsecutiveFailures,
            Subscriptions::LastSuccessTime,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Subscriptions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
