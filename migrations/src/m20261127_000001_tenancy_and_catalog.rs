//! Tenants, their API keys, the event-type catalog and subscriptions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    CreateTime,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    TokenHash,
    Capabilities,
    Scope,
    CreateTime,
    RevokeTime,
}

#[derive(DeriveIden)]
enum EventTypes {
    Table,
    TenantId,
    Name,
    Description,
    JsonSchema,
    Archived,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    TenantId,
    Name,
    Description,
    Url,
    EventTypes,
    Scope,
    Enabled,
    DisabledReason,
    Headers,
    RetryPolicy,
    Signature,
    TimeoutMs,
    RateLimit,
    Ordered,
    Metadata,
    SecretCiphertext,
    PreviousSecretCiphertext,
    PreviousSecretExpireTime,
    CreateTime,
    UpdateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(string(Tenants::Id).primary_key())
                    .col(string_uniq(Tenants::Name))
                    .col(big_integer(Tenants::CreateTime))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::TenantId))
                    .col(string(ApiKeys::Name))
                    .col(string_uniq(ApiKeys::TokenHash))
                    .col(string(ApiKeys::Capabilities))
                    .col(string_null(ApiKeys::Scope))
                    .col(big_integer(ApiKeys::CreateTime))
                    .col(big_integer_null(ApiKeys::RevokeTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_tenant")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::TenantId)
                    .col(ApiKeys::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EventTypes::Table)
                    .col(string(EventTypes::TenantId))
                    .col(string(EventTypes::Name))
                    .col(string(EventTypes::Description))
                    .col(text_null(EventTypes::JsonSchema))
                    .col(boolean(EventTypes::Archived))
                    .col(big_integer(EventTypes::CreateTime))
                    .col(big_integer(EventTypes::UpdateTime))
                    .primary_key(
                        Index::create()
                            .col(EventTypes::TenantId)
                            .col(EventTypes::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventTypes::Table, EventTypes::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(string(Subscriptions::Id).primary_key())
                    .col(string(Subscriptions::TenantId))
                    .col(string(Subscriptions::Name))
                    .col(string(Subscriptions::Description))
                    .col(text(Subscriptions::Url))
                    .col(text(Subscriptions::EventTypes))
                    .col(string_null(Subscriptions::Scope))
                    .col(boolean(Subscriptions::Enabled))
                    .col(text_null(Subscriptions::DisabledReason))
                    .col(text(Subscriptions::Headers))
                    .col(text(Subscriptions::RetryPolicy))
                    .col(text_null(Subscriptions::Signature))
                    .col(big_integer(Subscriptions::TimeoutMs))
                    .col(integer(Subscriptions::RateLimit))
                    .col(boolean(Subscriptions::Ordered))
                    .col(text(Subscriptions::Metadata))
                    .col(text(Subscriptions::SecretCiphertext))
                    .col(text_null(Subscriptions::PreviousSecretCiphertext))
                    .col(big_integer_null(Subscriptions::PreviousSecretExpireTime))
                    .col(big_integer(Subscriptions::CreateTime))
                    .col(big_integer(Subscriptions::UpdateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Subscriptions::Table, Subscriptions::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Names are unique per tenant; the index also serves lookups by name.
        manager
            .create_index(
                Index::create()
                    .name("idx_subscriptions_tenant_name")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::TenantId)
                    .col(Subscriptions::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Keyset pagination and per-scope quota counts.
        manager
            .create_index(
                Index::create()
                    .name("idx_subscriptions_tenant_scope_id")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::TenantId)
                    .col(Subscriptions::Scope)
                    .col(Subscriptions::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Subscriptions::Table.into_iden(),
            EventTypes::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
