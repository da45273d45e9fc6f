//! The gRPC doorway: each RPC authenticates, converts the request to domain
//! values (collecting field violations), calls a use case and converts back.
//! No SQL and no business rules live here.

mod api_keys;
pub mod browser;
pub mod console;
pub mod convert;
mod deliveries;
mod delivery_profiles;
mod event_types;
mod events;
mod profile;
mod scopes;
mod status;
mod subscriptions;
mod watch;

pub use api_keys::ApiKeyApi;
pub use deliveries::DeliveryApi;
pub use delivery_profiles::DeliveryProfileApi;
pub use event_types::EventTypeApi;
pub use events::EventApi;
pub use scopes::ScopeApi;
pub use subscriptions::SubscriptionApi;

use crate::domain::{SecretCipher, TargetPolicy};
use crate::service::caller_cache::CallerCache;
use crate::service::changes::ChangeFeed;
use crate::service::publisher::Publisher;
use crate::service::scopes::{ScopeCache, require_usable};
use crate::service::test_event::TestSender;
use crate::service::{Caller, Db, ServiceError, subscriptions::Quotas, tenants};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::Request;

/// What every handler shares. Cheap to clone: the pool and cipher are shared.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub cipher: Arc<SecretCipher>,
    /// Which endpoint URLs subscriptions may use (`--dev`, allowed networks).
    pub targets: Arc<TargetPolicy>,
    pub quotas: Quotas,
    pub rotation_overlap: Duration,
    /// Largest accepted event payload, in bytes.
    pub max_payload_bytes: u64,
    /// Recently authenticated tokens (by hash).
    pub callers: Arc<CallerCache>,
    /// Recently looked-up registered scopes.
    pub scopes: Arc<ScopeCache>,
    /// Group-commits publishes.
    pub publisher: Publisher,
    /// Wakes the dispatcher as soon as a publish commits.
    pub dispatch_wake: Arc<Notify>,
    /// Sends SendTestEvent's synchronous attempt (the dispatcher's client).
    pub test_sender: Arc<dyn TestSender>,
    /// Live changes for the Watch* streams.
    pub changes: ChangeFeed,
    /// Cancelled when the server begins shutting down, ending every stream.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn wake_dispatcher(&self) {
        self.dispatch_wake.notify_one();
    }

    /// Resolves the request's bearer token to its caller.
    pub async fn authenticate<T>(&self, request: &Request<T>) -> Result<Caller, ServiceError> {
        let header =
            request
                .metadata()
                .get("authorization")
                .ok_or(ServiceError::Unauthenticated(
                    "missing `authorization` metadata: send `authorization: Bearer hr_...`",
                ))?;
        let token =
            header
                .to_str()
                .ok()
                .and_then(bearer_token)
                .ok_or(ServiceError::Unauthenticated(
                    "malformed `authorization` metadata: expected `Bearer hr_...`",
                ))?;
        let caller = tenants::authenticate_token(&self.db, &self.callers, token).await?;
        // A key restricted to a scope that ended stops working.
        if let Some(scope) = &caller.scope {
            require_usable(&self.db, &self.scopes, &caller.tenant_id, scope.as_str()).await?;
        }
        Ok(caller)
    }

    /// Checks the scope a request names (or the caller's own) and returns
    /// the quotas that apply in it: a registered scope may set its own.
    pub async fn quotas_in_scope(
        &self,
        caller: &Caller,
        named: Option<&crate::domain::Scope>,
    ) -> Result<Quotas, ServiceError> {
        let mut quotas = self.quotas;
        if let Some(scope) = named.or(caller.scope.as_ref()) {
            let registered =
                require_usable(&self.db, &self.scopes, &caller.tenant_id, scope.as_str()).await?;
            if let Some(max) = registered.and_then(|s| s.max_subscriptions) {
                quotas.per_scope = u64::from(max);
            }
        }
        Ok(quotas)
    }

    /// Refuses a request naming a scope that ended.
    pub async fn require_scope(
        &self,
        caller: &Caller,
        named: Option<&crate::domain::Scope>,
    ) -> Result<(), ServiceError> {
        self.quotas_in_scope(caller, named).await.map(drop)
    }
}

/// The token of an `authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 9110), the token is not.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer_token("Bearer hr_abc"), Some("hr_abc"));
        assert_eq!(bearer_token("bearer  hr_abc "), Some("hr_abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("hr_abc"), None);
    }
}
