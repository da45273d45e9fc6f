//! On Postgres the deliveries table is a queue: every claim and result
//! updates rows, leaving dead versions that the claim's index scan must
//! step over until vacuum removes them. Vacuum it much more eagerly than
//! the defaults (which wait for 20% of the table to be dead). SQLite has no
//! such thing; there this migration does nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.0, \
                     autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0, \
                     autovacuum_analyze_scale_factor = 0.05, fillfactor = 80)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE deliveries RESET (autovacuum_vacuum_scale_factor, \
                     autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay, \
                     autovacuum_analyze_scale_factor, fillfactor)",
                )
                .await?;
        }
        Ok(())
    }
}
