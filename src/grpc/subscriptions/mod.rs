//! SubscriptionService: endpoints, the events they want, and how to reach them.

mod message;

use super::AppState;
use super::convert::{self, Page, duration_from_pb, duration_to_pb, mask_paths, timestamp};
use super::events::new_event;
use crate::domain::{IdKind, RotationOverlap, Scope, new_id};
use crate::proto::{self as pb, subscription_service_server::SubscriptionService};
use crate::service::events::TEST_EVENT;
use crate::service::subscriptions::preview::{self, PreviewTarget, SampleEvent};
use crate::service::subscriptions::{self, SubscriptionFilter};
use crate::service::test_event::DEFAULT_TEST_DATA;
use crate::service::{ServiceError, test_event};
use message::{patch_from_pb, spec_from_pb, to_pb};
use std::time::Duration;
use tonic::{Request, Response, Status};

pub struct SubscriptionApi {
    state: AppState,
}

impl SubscriptionApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl SubscriptionService for SubscriptionApi {
    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::CreateSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let input = request
            .subscription
            .ok_or_else(|| ServiceError::invalid("subscription", "is required"))?;
        let spec = spec_from_pb(input, &self.state.targets)?;
        let state = &self.state;
        let quotas = state.quotas_in_scope(&caller, spec.scope.as_ref()).await?;
        let (created, generated) = subscriptions::create(
            &state.db,
            &state.cipher,
            quotas,
            &caller,
            spec,
            non_empty(&request.secret),
        )
        .await?;
        Ok(Response::new(pb::CreateSubscriptionResponse {
            subscription: Some(to_pb(created)),
            secret: generated.map(|s| s.expose().to_owned()).unwrap_or_default(),
        }))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::GetSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let found = subscriptions::get(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetSubscriptionResponse {
            subscription: Some(to_pb(found)),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let filter = SubscriptionFilter {
            scope: optional_scope("scope", &request.scope)?,
            enabled: request.enabled,
        };
        self.state
            .require_scope(&caller, filter.scope.as_ref())
            .await?;
        let mut found = subscriptions::list(
            &self.state.db,
            &caller,
            filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut found, |s| s.id.as_str());
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions: found.into_iter().map(to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::UpdateSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let paths = mask_paths(request.update_mask)?;
        let input = request
            .subscription
            .ok_or_else(|| ServiceError::invalid("subscription", "is required"))?;
        let patch = patch_from_pb(&paths, &input, &self.state.targets)?;
        let state = &self.state;
        let updated =
            subscriptions::update(&state.db, &state.cipher, &caller, &input.id, patch).await?;
        Ok(Response::new(pb::UpdateSubscriptionResponse {
            subscription: Some(to_pb(updated)),
        }))
    }

    async fn delete_subscription(
        &self,
        request: Request<pb::DeleteSubscriptionRequest>,
    ) -> Result<Response<pb::DeleteSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        subscriptions::delete(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::DeleteSubscriptionResponse {}))
    }

    async fn rotate_subscription_secret(
        &self,
        request: Request<pb::RotateSubscriptionSecretRequest>,
    ) -> Result<Response<pb::RotateSubscriptionSecretResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let overlap = match &request.overlap {
            None => self.state.rotation_overlap,
            Some(input) => overlap(input).map_err(|e| ServiceError::invalid("overlap", e))?,
        };
        let state = &self.state;
        let (generated, previous_expiry) = subscriptions::rotate_secret(
            &state.db,
            &state.cipher,
            &caller,
            &request.id,
            non_empty(&request.secret),
            overlap,
        )
        .await?;
        Ok(Response::new(pb::RotateSubscriptionSecretResponse {
            secret: generated.map(|s| s.expose().to_owned()).unwrap_or_default(),
            previous_secret_expire_time: previous_expiry.map(timestamp),
        }))
    }

    async fn preview_delivery(
        &self,
        request: Request<pb::PreviewDeliveryRequest>,
    ) -> Result<Response<pb::PreviewDeliveryResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let target = match (request.id.is_empty(), request.subscription) {
            (false, None) => PreviewTarget::Saved { id: request.id },
            (true, Some(input)) => {
                PreviewTarget::Unsaved(Box::new(spec_from_pb(input, &self.state.targets)?))
            }
            _ => {
                return Err(ServiceError::invalid(
                    "id",
                    "give either `id` (a saved subscription) or `subscription` (an unsaved one)",
                )
                .into());
            }
        };
        let event = sample_event(request.event, self.state.max_payload_bytes)?;
        let state = &self.state;
        let preview = preview::preview(
            &state.db,
            &state.cipher,
            &caller,
            target,
            event,
            non_empty(&request.test_secret),
        )
        .await?;
        Ok(Response::new(pb::PreviewDeliveryResponse {
            method: "POST".to_owned(),
            url: preview.url,
            headers: preview
                .headers
                .into_iter()
                .map(|(name, value)| pb::HttpHeader { name, value })
                .collect(),
            body: preview.body,
            filter_matches: preview.filter_matches,
        }))
    }

    async fn send_test_event(
        &self,
        request: Request<pb::SendTestEventRequest>,
    ) -> Result<Response<pb::SendTestEventResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let data = request
            .data
            .map(|data| convert::struct_to_json(data).to_string());
        let attributes = request
            .attributes
            .map(|attributes| convert::struct_to_json(attributes).to_string());
        let state = &self.state;
        let attempt = test_event::send_test_event(
            &state.db,
            &state.cipher,
            state.test_sender.as_ref(),
            &caller,
            &request.id,
            data,
            attributes,
        )
        .await?;
        let outcome = attempt.outcome;
        Ok(Response::new(pb::SendTestEventResponse {
            attempt: Some(pb::DeliveryAttempt {
                id: attempt.id,
                delivery_id: String::new(),
                attempt_number: 1,
                request_headers: outcome.request_headers,
                response_status_code: outcome.status.map(u32::from).unwrap_or_default(),
                response_body: outcome.body,
                error: outcome.error.unwrap_or_default(),
                duration: Some(duration_to_pb(outcome.duration)),
                create_time: Some(timestamp(attempt.create_time)),
            }),
        }))
    }
}

/// The sample event of a preview: a publish's event, with the test
/// event's type and data when left out.
fn sample_event(input: Option<pb::Event>, max_payload: u64) -> Result<SampleEvent, ServiceError> {
    let mut input = input.unwrap_or_default();
    if input.r#type.is_empty() {
        input.r#type = TEST_EVENT.to_owned();
    }
    if input.payload.is_none() {
        input.payload = Some(pb::event::Payload::DataJson(DEFAULT_TEST_DATA.to_owned()));
    }
    let event = new_event("event", input, max_payload)?;
    Ok(SampleEvent {
        id: event
            .id
            .map_or_else(|| new_id(IdKind::Event), |id| id.as_str().to_owned()),
        event_type: event.event_type.as_str().to_owned(),
        scope: event.scope.map(|s| s.as_str().to_owned()),
        data: event.payload,
        metadata: event.metadata,
        attributes: event.attributes,
    })
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn optional_scope(field: &str, text: &str) -> Result<Option<Scope>, ServiceError> {
    if text.is_empty() {
        return Ok(None);
    }
    Scope::parse(text)
        .map(Some)
        .map_err(|e| ServiceError::invalid(field, e))
}

fn overlap(input: &prost_types::Duration) -> Result<Duration, String> {
    let overlap = RotationOverlap::parse(duration_from_pb(input)?).map_err(|e| e.to_string())?;
    Ok(overlap.get())
}
