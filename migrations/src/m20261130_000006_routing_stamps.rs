//! Routing stamps: one counter per tenant that the database itself moves on
//! every write to the tenant's subscriptions or event types, whatever code
//! path or replica makes it. Publishing keeps each tenant's routing (its
//! enabled subscriptions and its catalog) in memory and reads only the
//! stamps per group, reloading a tenant whose stamp moved.
//!
//! The triggers fire on inserts, deletes, and updates of the columns that
//! routing, sending or the catalog read: not on a subscription's health
//! (`failing_since`), which changes with delivery results. A migration that
//! adds a column publishing or sending reads must recreate the update
//! trigger with that column in its list.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RoutingStamps {
    Table,
    TenantId,
    Stamp,
}

/// The subscription columns whose change moves the stamp.
const SUBSCRIPTION_COLUMNS: &str = "id, tenant_id, name, description, url, event_types, scope, \
     enabled, disabled_reason, headers, retry_policy, signature, timeout_ms, rate_limit, \
     ordered, metadata, profile, secret_ciphertext, previous_secret_ciphertext, \
     previous_secret_expire_time";

/// The event type columns whose change moves the stamp (all but the times).
const EVENT_TYPE_COLUMNS: &str = "tenant_id, name, description, json_schema, archived";

/// (table, the columns an update must touch to move the stamp).
const WATCHED: [(&str, &str); 2] = [
    ("subscriptions", SUBSCRIPTION_COLUMNS),
    ("event_types", EVENT_TYPE_COLUMNS),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RoutingStamps::Table)
                    .col(
                        ColumnDef::new(RoutingStamps::TenantId)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RoutingStamps::Stamp)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION hookrelay_move_routing_stamp() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ \
                     DECLARE tenant text; \
                     BEGIN \
                       IF TG_OP = 'DELETE' THEN tenant := OLD.tenant_id; \
                       ELSE tenant := NEW.tenant_id; END IF; \
                       INSERT INTO routing_stamps (tenant_id, stamp) VALUES (tenant, 1) \
                       ON CONFLICT (tenant_id) \
                       DO UPDATE SET stamp = routing_stamps.stamp + 1; \
                       RETURN NULL; \
                     END $$",
                )
                .await?;
                for (table, columns) in WATCHED {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_move_routing_stamp \
                         AFTER INSERT OR DELETE OR UPDATE OF {columns} ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION hookrelay_move_routing_stamp()"
                    ))
                    .await?;
                }
            }
            _ => {
                let bump = |row: &str| {
                    format!(
                        "INSERT INTO routing_stamps (tenant_id, stamp) VALUES ({row}.tenant_id, 1) \
                         ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;"
                    )
                };
                for (table, columns) in WATCHED {
                    for (event, row) in [
                        ("INSERT", "NEW"),
                        ("DELETE", "OLD"),
                        (&format!("UPDATE OF {columns}") as &str, "NEW"),
                    ] {
                        let name = event.split_whitespace().next().unwrap_or(event);
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_{}_moves_routing_stamp AFTER {event} ON {table} \
                             BEGIN {} END",
                            name.to_lowercase(),
                            bump(row)
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                for (table, _) in WATCHED {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_move_routing_stamp ON {table}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS hookrelay_move_routing_stamp()")
                    .await?;
            }
            _ => {
                for (table, _) in WATCHED {
                    for name in ["insert", "delete", "update"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS {table}_{name}_moves_routing_stamp"
                        ))
                        .await?;
                    }
                }
            }
        }
        manager
            .drop_table(Table::drop().table(RoutingStamps::Table).to_owned())
            .await
    }
}
