//! Events, their deliveries (the transactional outbox the dispatcher drains)
//! and the record of every delivery attempt.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    FailingSince,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    TenantId,
    Id,
    Type,
    Scope,
    Payload,
    Metadata,
    CreateTime,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    TenantId,
    EventId,
    SubscriptionId,
    EventType,
    /// Copied from the subscription at fan-out, so the claim can keep an
    /// ordered subscription to one delivery in flight without a join.
    Ordered,
    Status,
    Attempts,
    NextAttemptTime,
    LeaseExpireTime,
    LastStatusCode,
    LastError,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    TenantId,
    AttemptNumber,
    RequestHeaders,
    ResponseStatusCode,
    ResponseBody,
    Error,
    DurationMicros,
    CreateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // When the subscription's current run of failures began; cleared by a
        // success. Drives auto-disabling of endpoints that stay broken.
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(big_integer_null(Subscriptions::FailingSince))
                    .to_owned(),
            )
            .await?;
        // Caller-chosen event ids are idempotency keys, unique per tenant.
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(string(Events::TenantId))
                    .col(string(Events::Id))
                    .col(string(Events::Type))
                    .col(string_null(Events::Scope))
                    .col(text(Events::Payload))
                    .col(text(Events::Metadata))
                    .col(big_integer(Events::CreateTime))
                    .primary_key(Index::create().col(Events::TenantId).col(Events::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_tenant_time")
                    .table(Events::Table)
                    .col(Events::TenantId)
                    .col(Events::CreateTime)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(string(Deliveries::Id).primary_key())
                    .col(string(Deliveries::TenantId))
                    .col(string(Deliveries::EventId))
                    .col(string(Deliveries::SubscriptionId))
                    .col(string(Deliveries::EventType))
                    .col(boolean(Deliveries::Ordered))
                    .col(small_integer(Deliveries::Status))
                    .col(integer(Deliveries::Attempts))
                    .col(big_integer(Deliveries::NextAttemptTime))
                    .col(big_integer_null(Deliveries::LeaseExpireTime))
                    .col(integer_null(Deliveries::LastStatusCode))
                    .col(text_null(Deliveries::LastError))
                    .col(big_integer(Deliveries::CreateTime))
                    .col(big_integer(Deliveries::UpdateTime))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_deliveries_tenant_subscription",
                vec![
                    Deliveries::TenantId,
                    Deliveries::SubscriptionId,
                    Deliveries::Id,
                ],
            ),
            (
                "idx_deliveries_tenant_event",
                vec![Deliveries::TenantId, Deliveries::EventId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Deliveries::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // Ordered subscriptions look for an earlier unfinished delivery.
        db_index_ordered(manager).await?;
        // The dispatcher's claim reads this partial index and nothing else:
        // only due, pending rows (status 1) are in it, however large the history.
        // In-flight rows (status 2) have their own, for reclaiming expired leases.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_due ON deliveries (next_attempt_time) WHERE status = 1",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_leased ON deliveries (lease_expire_time) WHERE status = 2",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .col(string(DeliveryAttempts::Id).primary_key())
                    .col(string(DeliveryAttempts::DeliveryId))
                    .col(string(DeliveryAttempts::TenantId))
                    .col(integer(DeliveryAttempts::AttemptNumber))
                    .col(text(DeliveryAttempts::RequestHeaders))
                    .col(integer_null(DeliveryAttempts::ResponseStatusCode))
                    .col(text(DeliveryAttempts::ResponseBody))
                    .col(text_null(DeliveryAttempts::Error))
                    .col(big_integer(DeliveryAttempts::DurationMicros))
                    .col(big_integer(DeliveryAttempts::CreateTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_delivery_attempts_delivery")
                    .table(DeliveryAttempts::Table)
                    .col(DeliveryAttempts::DeliveryId)
                    .col(DeliveryAttempts::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .drop_column(Subscriptions::FailingSince)
                    .to_owned(),
            )
            .await?;
        for table in [
            DeliveryAttempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn db_index_ordered(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(
            "CREATE INDEX idx_deliveries_unfinished ON deliveries (subscription_id, id) WHERE status IN (1, 2)",
        )
        .await
        .map(|_| ())
}
