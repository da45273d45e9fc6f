//! Use cases: validate what needs the database, run one transaction, return
//! domain values. Generic over sea-orm's `ConnectionTrait`, so the same code
//! runs on a pool, a transaction, SQLite or Postgres; it knows nothing of gRPC.

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

pub use caller::Caller;
pub use error::{FieldViolation, ServiceError, Violations};
