//! Payload filters (issue 12): `subscriptions.payload_filter`, the
//! subscription's filter on event data as compact JSON text, `NULL` for
//! none. Publishing evaluates it when routing, so a change to it must move
//! the tenant's routing stamp: the update trigger of migration 6 is
//! recreated with the new column in its list, on both engines.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    PayloadFilter,
}

/// Migration 6's list of watched subscription columns, as it was written.
const COLUMNS_BEFORE: &str = "id, tenant_id, name, description, url, event_types, scope, \
     enabled, disabled_reason, headers, retry_policy, signature, timeout_ms, rate_limit, \
     ordered, metadata, profile, secret_ciphertext, previous_secret_ciphertext, \
     previous_secret_expire_time";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(text_null(Subscriptions::PayloadFilter))
                    .to_owned(),
            )
            .await?;
        watch(manager, &format!("{COLUMNS_BEFORE}, payload_filter")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        watch(manager, COLUMNS_BEFORE).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .drop_column(Subscriptions::PayloadFilter)
                    .to_owned(),
            )
            .await
    }
}

/// Recreates the subscriptions' update trigger watching `columns`.
async fn watch(manager: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS subscriptions_move_routing_stamp ON subscriptions",
            )
            .await?;
            db.execute_unprepared(&format!(
                "CREATE TRIGGER subscriptions_move_routing_stamp \
                 AFTER INSERT OR DELETE OR UPDATE OF {columns} ON subscriptions \
                 FOR EACH ROW EXECUTE FUNCTION hookrelay_move_routing_stamp()"
            ))
            .await?;
        }
        _ => {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS subscriptions_update_moves_routing_stamp",
            )
            .await?;
            db.execute_unprepared(&format!(
                "CREATE TRIGGER subscriptions_update_moves_routing_stamp \
                 AFTER UPDATE OF {columns} ON subscriptions BEGIN \
                 INSERT INTO routing_stamps (tenant_id, stamp) VALUES (NEW.tenant_id, 1) \
                 ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1; END"
            ))
            .await?;
        }
    }
    Ok(())
}
