//! The only place a `tonic::Status` is made from a failure: one exhaustive
//! match from [`ServiceError`], with `ErrorInfo` and `BadRequest` details
//! (google.rpc) so clients in any language can act on them programmatically.

use crate::service::ServiceError;
use crate::service::scopes::ScopeEnd;
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

const DOMAIN: &str = "hookrelay.dev";

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let message = err.to_string();
        let info = |reason: &str| ErrorDetails::with_error_info(reason, DOMAIN, HashMap::new());
        match err {
            ServiceError::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for violation in violations {
                    details.add_bad_request_violation(violation.field, violation.description);
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::Unauthenticated(_) => {
                Status::with_error_details(Code::Unauthenticated, message, info("UNAUTHENTICATED"))
            }
            ServiceError::MissingCapability(capability) => Status::with_error_details(
                Code::PermissionDenied,
                message,
                ErrorDetails::with_error_info(
                    "MISSING_CAPABILITY",
                    DOMAIN,
                    HashMap::from([("capability".to_owned(), capability.name().to_owned())]),
                ),
            ),
            ServiceError::PermissionDenied(_) => Status::with_error_details(
                Code::PermissionDenied,
                message,
                info("SCOPE_RESTRICTED"),
            ),
            ServiceError::NotFound { .. } => {
                Status::with_error_details(Code::NotFound, message, info("NOT_FOUND"))
            }
            ServiceError::ScopeEnded { ref scope, end } => Status::with_error_details(
                Code::NotFound,
                message,
                ErrorDetails::with_error_info(
                    match end {
                        ScopeEnd::Expired { .. } => "SCOPE_EXPIRED",
                        ScopeEnd::Deleted { .. } => "SCOPE_DELETED",
                    },
                    DOMAIN,
                    HashMap::from([("scope".to_owned(), scope.clone())]),
                ),
            ),
            ServiceError::AlreadyExists { .. } => {
                Status::with_error_details(Code::AlreadyExists, message, info("ALREADY_EXISTS"))
            }
            ServiceError::FailedPrecondition(_) => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                info("FAILED_PRECONDITION"),
            ),
            ServiceError::QuotaExceeded(_) => {
                Status::with_error_details(Code::ResourceExhausted, message, info("QUOTA_EXCEEDED"))
            }
            ServiceError::Unavailable(ref db_err) => {
                tracing::warn!(error = %db_err, "database unavailable");
                Status::with_error_details(
                    Code::Unavailable,
                    "the database is unavailable; retry shortly",
                    info("DATABASE_UNAVAILABLE"),
                )
            }
            ServiceError::StorageFull(ref db_err) => {
                tracing::error!(error = %db_err, "the database is full: writes are refused until space is freed (retention, a larger sqlite_max_size_mib, or disk space)");
                Status::with_error_details(
                    Code::ResourceExhausted,
                    "the database is full; nothing was written. Retry once the operator has freed space",
                    info("DATABASE_FULL"),
                )
            }
            ServiceError::Internal(ref detail) => {
                // The detail may name tables or rows: log it, don't return it.
                tracing::error!(error = %detail, "internal error");
                Status::internal("internal error; the server log has the details")
            }
        }
    }
}
