//! Who is calling: the tenant, capabilities and optional scope of the API key
//! that authenticated the request. Every use case takes one.

use super::ServiceError;
use crate::domain::{Capabilities, Capability, Scope};

#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant_id: String,
    pub key_id: String,
    pub capabilities: Capabilities,
    /// A scope-restricted key (a widget's "session token") sees and creates
    /// only this scope's subscriptions and events.
    pub scope: Option<Scope>,
}

impl Caller {
    pub fn require(&self, capability: Capability) -> Result<(), ServiceError> {
        if self.capabilities.contains(capability) {
            Ok(())
        } else {
            Err(ServiceError::MissingCapability(capability))
        }
    }

    /// Reading the catalog or subscriptions is allowed to `read` and to `manage`.
    pub fn require_read(&self) -> Result<(), ServiceError> {
        if self.capabilities.contains(Capability::Read)
            || self.capabilities.contains(Capability::Manage)
        {
            Ok(())
        } else {
            Err(ServiceError::MissingCapability(Capability::Read))
        }
    }

    /// Tenant-wide resources (event types) are off limits to scoped keys.
    pub fn require_unscoped(&self, what: &str) -> Result<(), ServiceError> {
        match &self.scope {
            None => Ok(()),
            Some(scope) => Err(ServiceError::PermissionDenied(format!(
                "{what} is tenant-wide; this key is restricted to scope {:?}, use a key without a scope",
                scope.as_str()
            ))),
        }
    }

    /// Resolves the scope a request names against the key's restriction: a
    /// scoped key may omit it (its own is used) or repeat it, nothing else.
    pub fn effective_scope(&self, requested: Option<Scope>) -> Result<Option<Scope>, ServiceError> {
        match (&self.scope, requested) {
            (None, requested) => Ok(requested),
            (Some(own), None) => Ok(Some(own.clone())),
            (Some(own), Some(requested)) if requested == *own => Ok(Some(requested)),
            (Some(own), Some(requested)) => Err(ServiceError::PermissionDenied(format!(
                "this key is restricted to scope {:?} and cannot use scope {:?}",
                own.as_str(),
                requested.as_str()
            ))),
        }
    }

    /// Whether a row with `scope` is visible to this caller. Rows outside the
    /// caller's scope are reported as not found, never as forbidden.
    pub fn can_see(&self, scope: Option<&str>) -> bool {
        match &self.scope {
            None => true,
            Some(own) => scope == Some(own.as_str()),
        }
    }
}
