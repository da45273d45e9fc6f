//! The one error type of the use cases. Each variant maps to exactly one gRPC
//! code in `grpc::status`; the messages are written for the caller to act on.

use crate::domain::{Capability, IdKind, is_valid_id};
use crate::store::{DbError, is_storage_full, is_unavailable, is_unique_violation};

/// One invalid field: its path in the request (`subscription.url`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("this API key lacks the `{0}` capability")]
    MissingCapability(Capability),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{kind} {id:?} not found")]
    NotFound { kind: &'static str, id: String },
    /// A registered scope that expired or was deleted: NOT_FOUND, with a
    /// reason that tells it apart from a resource that never existed.
    #[error("{}", describe_end(scope, end))]
    ScopeEnded {
        scope: String,
        end: super::scopes::ScopeEnd,
    },
    #[error("{kind} {id:?} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("the database is unavailable, retry shortly: {0}")]
    Unavailable(DbError),
    /// The database has no room for the write (a full disk, or SQLite at
    /// `sqlite_max_size_mib`): nothing was written.
    #[error("the database is full: {0}")]
    StorageFull(DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe_end(scope: &str, end: &super::scopes::ScopeEnd) -> String {
    let when = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    match end {
        super::scopes::ScopeEnd::Expired { at } => {
            format!(
                "scope {scope:?} expired at {}; it no longer accepts calls",
                when(*at)
            )
        }
        super::scopes::ScopeEnd::Deleted { at } => {
            format!(
                "scope {scope:?} was deleted at {}; it no longer accepts calls",
                when(*at)
            )
        }
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, description: impl ToString) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.to_string(),
        }])
    }

    /// What a failed insert means to the caller: `AlreadyExists` when it
    /// broke a unique key (`kind` named `id` is taken), else the database's error.
    pub fn from_insert(err: DbError, kind: &'static str, id: impl Into<String>) -> Self {
        if is_unique_violation(&err) {
            ServiceError::AlreadyExists {
                kind,
                id: id.into(),
            }
        } else {
            err.into()
        }
    }

    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }
}

/// Refuses, before any query, an id that no `kind` resource can have (not
/// `<prefix>_<ULID>` as hookrelay makes them): the caller hears NOT_FOUND,
/// exactly as for a well-formed id that does not exist.
pub fn require_id_shape(kind: IdKind, noun: &'static str, id: &str) -> Result<(), ServiceError> {
    if is_valid_id(kind, id) {
        Ok(())
    } else {
        Err(ServiceError::not_found(noun, id))
    }
}

impl From<DbError> for ServiceError {
    fn from(err: DbError) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else if is_storage_full(&err) {
            Self::StorageFull(err)
        } else {
            Self::Internal(err.to_string())
        }
    }
}

/// Collects field violations while converting a request, so the caller hears
/// about every bad field at once rather than one per round trip.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl ToString) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.to_string(),
        });
    }

    /// Records the error of `result` under `field` and returns its value.
    pub fn check<T, E: ToString>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.add(field, err);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }
}
