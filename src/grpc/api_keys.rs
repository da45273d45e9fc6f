//! ApiKeyService: a tenant's bearer tokens. Tokens are shown once at creation.

use super::AppState;
use super::convert::{Page, timestamp};
use crate::domain::{Capabilities, Capability, ResourceName, Scope};
use crate::proto::{self as pb, api_key_service_server::ApiKeyService};
use crate::service::tenants::{self, ApiKey, NewApiKey};
use crate::service::{ServiceError, Violations};
use tonic::{Request, Response, Status};

pub struct ApiKeyApi {
    state: AppState,
}

impl ApiKeyApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl ApiKeyService for ApiKeyApi {
    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let new = new_api_key(request.into_inner().api_key)?;
        let (api_key, token) = tenants::create_api_key(&self.state.db, &caller, new).await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(to_pb(api_key)),
            token,
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let mut keys = tenants::list_api_keys(
            &self.state.db,
            &caller,
            page.after.as_deref(),
            page.fetch_limit(),
            request.show_revoked,
        )
        .await?;
        let next_page_token = page.finish(&mut keys, |k| k.id.as_str());
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: keys.into_iter().map(to_pb).collect(),
            next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let revoked =
            tenants::revoke_api_key(&self.state.db, &caller, &request.get_ref().id).await?;
        self.state.callers.forget_key(&revoked.id);
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(to_pb(revoked)),
        }))
    }

    async fn get_current_api_key(
        &self,
        request: Request<pb::GetCurrentApiKeyRequest>,
    ) -> Result<Response<pb::GetCurrentApiKeyResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let key = tenants::current_api_key(&self.state.db, &caller).await?;
        Ok(Response::new(pb::GetCurrentApiKeyResponse {
            api_key: Some(to_pb(key)),
        }))
    }
}

fn new_api_key(input: Option<pb::ApiKey>) -> Result<NewApiKey, ServiceError> {
    let input = input.ok_or_else(|| ServiceError::invalid("api_key", "is required"))?;
    let mut violations = Violations::new();
    let name = if input.name.is_empty() {
        Some(String::new())
    } else {
        violations
            .check("api_key.name", ResourceName::parse(&input.name))
            .map(|n| n.as_str().to_owned())
    };
    let mut capabilities = Capabilities::empty();
    for (index, raw) in input.capabilities.iter().enumerate() {
        match pb::Capability::try_from(*raw) {
            Ok(pb::Capability::Manage) => capabilities.insert(Capability::Manage),
            Ok(pb::Capability::Publish) => capabilities.insert(Capability::Publish),
            Ok(pb::Capability::Read) => capabilities.insert(Capability::Read),
            _ => violations.add(
                format!("api_key.capabilities[{index}]"),
                "must be CAPABILITY_MANAGE, CAPABILITY_PUBLISH or CAPABILITY_READ",
            ),
        }
    }
    if input.capabilities.is_empty() {
        violations.add("api_key.capabilities", "must name at least one capability");
    }
    let scope = if input.scope.is_empty() {
        Some(None)
    } else {
        violations
            .check("api_key.scope", Scope::parse(&input.scope))
            .map(Some)
    };
    violations.into_result()?;
    Ok(NewApiKey {
        name: name.unwrap_or_default(),
        capabilities,
        scope: scope.flatten(),
    })
}

fn to_pb(key: ApiKey) -> pb::ApiKey {
    let capabilities = key
        .capabilities
        .iter()
        .map(|c| match c {
            Capability::Manage => pb::Capability::Manage,
            Capability::Publish => pb::Capability::Publish,
            Capability::Read => pb::Capability::Read,
        } as i32)
        .collect();
    pb::ApiKey {
        id: key.id,
        name: key.name,
        capabilities,
        scope: key.scope.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        revoked: key.revoke_time.is_some(),
        create_time: Some(timestamp(key.create_time)),
        revoke_time: key.revoke_time.map(timestamp),
    }
}
