//! ScopeService: scopes with a lifecycle (an expiry, a quota).

use super::AppState;
use super::convert::{mask_paths, micros_from_pb, timestamp};
use crate::domain::Scope;
use crate::proto::{self as pb, scope_service_server::ScopeService};
use crate::service::scopes::{self, NewScope, RegisteredScope, ScopeEnd, ScopePatch};
use crate::service::{ServiceError, Violations};
use tonic::{Request, Response, Status};

pub struct ScopeApi {
    state: AppState,
}

impl ScopeApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl ScopeService for ScopeApi {
    async fn create_scope(
        &self,
        request: Request<pb::CreateScopeRequest>,
    ) -> Result<Response<pb::CreateScopeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let input = request
            .into_inner()
            .scope
            .ok_or_else(|| ServiceError::invalid("scope", "is required"))?;
        let mut v = Violations::new();
        let name = v.check("scope.name", Scope::parse(&input.name));
        v.into_result()?;
        let new = NewScope {
            name,
            expire_time: input.expire_time.map(micros_from_pb),
            max_subscriptions: (input.max_subscriptions > 0).then_some(input.max_subscriptions),
        };
        let created = scopes::create(&self.state.db, &caller, new).await?;
        Ok(Response::new(pb::CreateScopeResponse {
            scope: Some(to_pb(created)),
        }))
    }

    async fn get_scope(
        &self,
        request: Request<pb::GetScopeRequest>,
    ) -> Result<Response<pb::GetScopeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let found = scopes::get(&self.state.db, &caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::GetScopeResponse {
            scope: Some(to_pb(found)),
        }))
    }

    async fn update_scope(
        &self,
        request: Request<pb::UpdateScopeRequest>,
    ) -> Result<Response<pb::UpdateScopeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let paths = mask_paths(request.update_mask)?;
        let input = request
            .scope
            .ok_or_else(|| ServiceError::invalid("scope", "is required"))?;
        let mut patch = ScopePatch::default();
        for path in &paths {
            match path.as_str() {
                "expire_time" => patch.expire_time = Some(input.expire_time.map(micros_from_pb)),
                "max_subscriptions" => {
                    patch.max_subscriptions =
                        Some((input.max_subscriptions > 0).then_some(input.max_subscriptions))
                }
                other => {
                    return Err(ServiceError::invalid(
                        "update_mask",
                        format!("{other:?} cannot be changed; mutable fields: expire_time, max_subscriptions"),
                    )
                    .into());
                }
            }
        }
        let state = &self.state;
        let updated = scopes::update(&state.db, &state.scopes, &caller, &input.name, patch).await?;
        Ok(Response::new(pb::UpdateScopeResponse {
            scope: Some(to_pb(updated)),
        }))
    }

    async fn delete_scope(
        &self,
        request: Request<pb::DeleteScopeRequest>,
    ) -> Result<Response<pb::DeleteScopeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let state = &self.state;
        scopes::delete(&state.db, &state.scopes, &caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::DeleteScopeResponse {}))
    }
}

fn to_pb(scope: RegisteredScope) -> pb::Scope {
    let (state, end_time) = match scope.ended_now() {
        None => (pb::ScopeState::Active, None),
        Some(ScopeEnd::Expired { at }) => (pb::ScopeState::Expired, Some(at)),
        Some(ScopeEnd::Deleted { at }) => (pb::ScopeState::Deleted, Some(at)),
    };
    pb::Scope {
        name: scope.name,
        expire_time: scope.expire_time.map(timestamp),
        max_subscriptions: scope.max_subscriptions.unwrap_or_default(),
        state: state as i32,
        end_time: end_time.map(timestamp),
        create_time: Some(timestamp(scope.create_time)),
        update_time: Some(timestamp(scope.update_time)),
    }
}
