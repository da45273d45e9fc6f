//! Retention and expunging (issue 12, "Running for months").
//!
//! - `tenants.delivery_retention_secs` and `event_retention_secs`: a
//!   tenant's own retention, overriding the server's `[retention]` setting
//!   when set (`hookrelay tenants set-retention`).
//! - `events.expunge_time`: when ExpungeEvent removed the event's data; the
//!   event's row and its delivery history stay.
//! - `idx_deliveries_finished`, a partial index on finished deliveries
//!   (succeeded 3, failed 4, cancelled 5) by tenant and finish time: the
//!   retention task reads a tenant's oldest finished deliveries from it, a
//!   batch at a time, instead of scanning the queue table. Publishing pays
//!   nothing for it (a new delivery is pending, outside the predicate); a
//!   delivery gets its entry when it finishes, in the recorder's batched
//!   write. No existing index would do: the others hold unfinished rows
//!   only or are keyed by subscription or event, and a delivery's id tells
//!   when it was created, not when it finished.
//!
//! Events need no new index: `idx_events_tenant_time` reads them oldest
//! first, and `idx_deliveries_tenant_event` answers "has it a delivery left".

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    DeliveryRetentionSecs,
    EventRetentionSecs,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    ExpungeTime,
}

const FINISHED_INDEX: &str = "idx_deliveries_finished";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [Tenants::DeliveryRetentionSecs, Tenants::EventRetentionSecs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(big_integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(big_integer_null(Events::ExpungeTime))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {FINISHED_INDEX} ON deliveries (tenant_id, update_time) \
                 WHERE status IN (3, 4, 5)"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {FINISHED_INDEX}"))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(Events::ExpungeTime)
                    .to_owned(),
            )
            .await?;
        for column in [Tenants::EventRetentionSecs, Tenants::DeliveryRetentionSecs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
