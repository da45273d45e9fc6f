//! Use cases: validate what needs the database, run one transaction through
//! `store`'s named queries, return domain values. Generic over
//! `store::Connection`, so the same code runs on a pool, a transaction,
//! SQLite or Postgres. It knows nothing of gRPC or of the dispatcher: the
//! seams it needs from a dispatcher ([`handoff`]) are its own.

pub mod auto_disable;
mod caller;
pub mod caller_cache;
pub mod changes;
pub mod deliveries;
pub mod delivery_profiles;
pub mod delivery_stats;
mod error;
pub mod event_types;
pub mod events;
pub mod handoff;
pub mod health_events;
pub mod publisher;
pub mod retention;
pub mod scopes;
pub mod subscriptions;
pub mod tenants;
pub mod test_event;

/// The database handle use cases take; the gRPC layer holds one without
/// knowing what is behind it.
pub use crate::store::Db;
pub use caller::Caller;
pub use error::{FieldViolation, ServiceError, Violations, require_id_shape};
