//! DeliveryProfileService: profiles a tenant saves by name, and the
//! built-in presets beside them.

use super::AppState;
use super::convert::{Page, mask_paths, timestamp};
use super::profile::{profile_from_pb, profile_to_pb};
use crate::proto::{self as pb, delivery_profile_service_server::DeliveryProfileService};
use crate::service::ServiceError;
use crate::service::delivery_profiles::{self, SavedProfile};
use tonic::{Request, Response, Status};

pub struct DeliveryProfileApi {
    state: AppState,
}

impl DeliveryProfileApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl DeliveryProfileService for DeliveryProfileApi {
    async fn create_delivery_profile(
        &self,
        request: Request<pb::CreateDeliveryProfileRequest>,
    ) -> Result<Response<pb::CreateDeliveryProfileResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let (name, spec) = named_profile(request.into_inner().delivery_profile)?;
        let saved = delivery_profiles::create(&self.state.db, &caller, &name, spec).await?;
        Ok(Response::new(pb::CreateDeliveryProfileResponse {
            delivery_profile: Some(to_pb(saved)),
        }))
    }

    async fn get_delivery_profile(
        &self,
        request: Request<pb::GetDeliveryProfileRequest>,
    ) -> Result<Response<pb::GetDeliveryProfileResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let found =
            delivery_profiles::get(&self.state.db, &caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::GetDeliveryProfileResponse {
            delivery_profile: Some(to_pb(found)),
        }))
    }

    async fn list_delivery_profiles(
        &self,
        request: Request<pb::ListDeliveryProfilesRequest>,
    ) -> Result<Response<pb::ListDeliveryProfilesResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let found = delivery_profiles::list(
            &self.state.db,
            &caller,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        // Only the tenant's own profiles page; the presets come first, once.
        let (built_in, mut own): (Vec<_>, Vec<_>) = found.into_iter().partition(|p| p.built_in);
        let next_page_token = page.finish(&mut own, |p| p.name.as_str());
        Ok(Response::new(pb::ListDeliveryProfilesResponse {
            delivery_profiles: built_in.into_iter().chain(own).map(to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_delivery_profile(
        &self,
        request: Request<pb::UpdateDeliveryProfileRequest>,
    ) -> Result<Response<pb::UpdateDeliveryProfileResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let paths = mask_paths(request.update_mask)?;
        if paths != ["profile"] {
            return Err(ServiceError::invalid(
                "update_mask",
                "only \"profile\" can be updated (a profile's name is fixed)",
            )
            .into());
        }
        let (name, spec) = named_profile(request.delivery_profile)?;
        let updated = delivery_profiles::update(&self.state.db, &caller, &name, spec).await?;
        Ok(Response::new(pb::UpdateDeliveryProfileResponse {
            delivery_profile: Some(to_pb(updated)),
        }))
    }

    async fn delete_delivery_profile(
        &self,
        request: Request<pb::DeleteDeliveryProfileRequest>,
    ) -> Result<Response<pb::DeleteDeliveryProfileResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        delivery_profiles::delete(&self.state.db, &caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::DeleteDeliveryProfileResponse {}))
    }
}

fn named_profile(
    input: Option<pb::SavedDeliveryProfile>,
) -> Result<(String, crate::domain::ProfileSpec), ServiceError> {
    let input = input.ok_or_else(|| ServiceError::invalid("delivery_profile", "is required"))?;
    if input.profile.is_none() {
        return Err(ServiceError::invalid(
            "delivery_profile.profile",
            "is required",
        ));
    }
    Ok((input.name, profile_from_pb(input.profile)))
}

fn to_pb(saved: SavedProfile) -> pb::SavedDeliveryProfile {
    let time = |micros: i64| (micros != 0).then(|| timestamp(micros));
    pb::SavedDeliveryProfile {
        name: saved.name,
        profile: Some(profile_to_pb(saved.spec)),
        built_in: saved.built_in,
        create_time: time(saved.create_time),
        update_time: time(saved.update_time),
    }
}
