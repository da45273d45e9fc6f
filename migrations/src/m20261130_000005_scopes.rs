//! Registered scopes: a scope (e.g. a session) with an optional expiry and
//! its own subscription quota. An ended scope keeps its row (`end_time`,
//! `end_reason`), so calls naming it can say why it is gone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Scopes {
    Table,
    TenantId,
    Name,
    ExpireTime,
    MaxSubscriptions,
    EndTime,
    EndReason,
    CreateTime,
    UpdateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Scopes::Table)
                    .col(ColumnDef::new(Scopes::TenantId).text().not_null())
                    .col(ColumnDef::new(Scopes::Name).text().not_null())
                    .col(ColumnDef::new(Scopes::ExpireTime).big_integer().null())
                    .col(ColumnDef::new(Scopes::MaxSubscriptions).integer().null())
                    .col(ColumnDef::new(Scopes::EndTime).big_integer().null())
                    .col(ColumnDef::new(Scopes::EndReason).text().null())
                    .col(ColumnDef::new(Scopes::CreateTime).big_integer().not_null())
                    .col(ColumnDef::new(Scopes::UpdateTime).big_integer().not_null())
                    .primary_key(Index::create().col(Scopes::TenantId).col(Scopes::Name))
                    .to_owned(),
            )
            .await?;
        // The reaper's question: which live scopes have passed their expiry.
        manager
            .create_index(
                Index::create()
                    .name("scopes_live_expiry")
                    .table(Scopes::Table)
                    .col(Scopes::ExpireTime)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Scopes::Table).to_owned())
            .await
    }
}
