//! Delivery profiles: a subscription's declared profile (JSON, NULL for the
//! default), the publisher's event attributes (JSON, NULL for none), and
//! the profiles a tenant saves by name for many subscriptions to share.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Profile,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Attributes,
}

#[derive(DeriveIden)]
enum DeliveryProfiles {
    Table,
    TenantId,
    Name,
    Spec,
    CreateTime,
    UpdateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(ColumnDef::new(Subscriptions::Profile).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(ColumnDef::new(Events::Attributes).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeliveryProfiles::Table)
                    .col(ColumnDef::new(DeliveryProfiles::TenantId).text().not_null())
                    .col(ColumnDef::new(DeliveryProfiles::Name).text().not_null())
                    .col(ColumnDef::new(DeliveryProfiles::Spec).text().not_null())
                    .col(
                        ColumnDef::new(DeliveryProfiles::CreateTime)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryProfiles::UpdateTime)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(DeliveryProfiles::TenantId)
                            .col(DeliveryProfiles::Name),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeliveryProfiles::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(Events::Attributes)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .drop_column(Subscriptions::Profile)
                    .to_owned(),
            )
            .await
    }
}
