//! Use cases: validate what needs the database, run one transaction, return
//! domain values. Generic over sea-orm's `ConnectionTrait`, so the same code
//! runs on a pool, a transaction, SQLite or Postgres; it knows nothing of gRPC.

pub mod auto_disable;
mod caller;
pub mod caller_cache;
pub mod changes;
pub mod deliveries;
mod error;
pub mod event_types;
pub mod events;
pub mod handoff;
pub mod publisher;
pub mod subscriptions;
pub mod tenants;

/// The database handle use cases take; the gRPC layer holds one without
/// knowing what is behind it.
pub use crate::store::Db;
pub use caller::Caller;
pub use error::{FieldViolation, ServiceError, Violations};
