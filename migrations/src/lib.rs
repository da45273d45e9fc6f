//! hookrelay's database schema as sea-orm migrations. One schema serves
//! SQLite and PostgreSQL: ids are text (prefixed ULIDs), timestamps are
//! integer microseconds since the Unix epoch (UTC), and structured fields are
//! JSON text, so both engines store and compare them the same way.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_tenancy_and_catalog;
mod m20261127_000002_events_and_deliveries;
mod m20261127_000003_queue_vacuum;
mod m20261130_000004_delivery_profiles;
mod m20261130_000005_scopes;
mod m20261130_000006_routing_stamps;
mod m20261201_000007_delivery_health;
mod m20261201_000008_retention;
mod m20261201_000009_payload_filters;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_tenancy_and_catalog::Migration),
            Box::new(m20261127_000002_events_and_deliveries::Migration),
            Box::new(m20261127_000003_queue_vacuum::Migration),
            Box::new(m20261130_000004_delivery_profiles::Migration),
            Box::new(m20261130_000005_scopes::Migration),
            Box::new(m20261130_000006_routing_stamps::Migration),
            Box::new(m20261201_000007_delivery_health::Migration),
            Box::new(m20261201_000008_retention::Migration),
            Box::new(m20261201_000009_payload_filters::Migration),
        ]
    }
}
