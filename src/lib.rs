//! hookrelay: a gRPC-native webhook service.
//!
//! # Layout
//!
//! The layers depend downwards only, and `scripts/check-layers` (run by CI)
//! keeps them so, with no import circles:
//!
//! ```text
//!   main, startup          wiring: builds every layer and connects them
//!   grpc       dispatch    the doorway (tonic) and the delivery engine
//!      \       /
//!       service            use cases; owns the publish -> dispatcher seam
//!       /     \
//!   store     domain       every query (sea-orm) | pure rules
//! ```
//!
//! - [`domain`] — pure rules and value types: ids, names, URL policy,
//!   event-type patterns, payload filters, routing, retry schedule and next
//!   steps, secrets, signing. No I/O, no tonic, no sea-orm.
//! - [`store`] — sea-orm entities (one file per table) and every query, as
//!   named functions per table or use case; it re-exports the connection and
//!   transaction types the other layers hold (`Db`, `Tx`) and classifies
//!   database errors. No other layer names sea-orm or sqlx.
//! - [`service`] — use cases: check, run one transaction through `store`,
//!   return domain values. Knows nothing of gRPC or of the dispatcher: it
//!   owns the seams ([`service::handoff`], the test send) that `dispatch`
//!   implements and `startup` wires.
//! - [`dispatch`] — the delivery engine: takes handed-over deliveries and
//!   claims due ones under a lease, signs and sends them, records attempts,
//!   schedules retries. Depends on service, store and domain; never on grpc.
//! - [`grpc`] — tonic handlers: authenticate, convert, call a use case,
//!   convert back. The only place errors become `tonic::Status`; reaches
//!   neither store nor dispatch. Browsers come in here too: gRPC-Web and
//!   CORS ([`grpc::browser`]) and the web console's embedded pages
//!   ([`grpc::console`], in front of everything else on the port).
//! - [`startup`] — [`startup::Application`]: database, migrations, gRPC
//!   server, health and reflection, dispatcher, one shutdown token.
//! - [`config`] — settings, layered defaults → file → `HOOKRELAY_*` env → flags.
//! - [`secret_key`] — the key that encrypts subscription secrets at rest.
//! - [`telemetry`] — the tracing subscriber (pretty or JSON), OTLP export.
//! - [`metrics`] — Prometheus metrics: names, gRPC layer, `/metrics`.
//! - [`listen`] — `hookrelay listen`, the local development receiver.
//! - [`health_check`] — `hookrelay health-check`, the probe containers run.
//! - [`proto`] — the generated `hookrelay.v1` API, clients included.
//! - [`webhook`] — receiver-side signature verification (also used by
//!   `hookrelay listen`).

pub mod config;
pub mod dispatch;
pub mod domain;
pub mod grpc;
pub mod health_check;
pub mod listen;
pub mod metrics;
pub mod proto;
pub mod secret_key;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhook;
