//! hookrelay: a gRPC-native webhook service.
//!
//! # Layout
//!
//! - [`config`] — settings, layered defaults → file → `HOOKRELAY_*` env → flags.
//! - [`telemetry`] — the tracing subscriber (pretty or JSON).
//! - [`startup`] — [`startup::Application`]: database, migrations, gRPC
//!   server, health and reflection, one shutdown token.
//! - [`domain`] — pure rules: ids, names, URL policy, patterns, retry
//!   schedule, secrets, signing. No I/O.
//! - [`store`] — sea-orm entities and connection set-up for SQLite and Postgres.
//! - [`service`] — use cases over any sea-orm connection; knows nothing of gRPC.
//! - [`dispatch`] — the delivery engine: claims due deliveries under a
//!   lease, signs and sends them, records attempts, schedules retries.
//! - [`grpc`] — tonic handlers: authenticate, convert, call a use case,
//!   convert back. The only place errors become `tonic::Status`.
//! - [`listen`] — `hookrelay listen`, the local development receiver.
//! - [`metrics`] — Prometheus metrics: names, gRPC layer, `/metrics`.
//! - [`health_check`] — `hookrelay health-check`, the probe containers run.
//! - [`proto`] — the generated `hookrelay.v1` API, clients included.
//! - [`webhook`] — receiver-side signature verification (also used by
//!   `hookrelay listen`).
//! - [`secret_key`] — the key that encrypts subscription secrets at rest.

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
