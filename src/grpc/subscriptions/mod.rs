//! SubscriptionService: endpoints, the events they want, and how to reach them.

mod message;

use super::AppState;
use super::convert::{self, Page, duration_from_pb, duration_to_pb, mask_paths, timestamp};
use crate::domain::{RotationOverlap, Scope, WebhookSecret};
use crate::proto::{self as pb, subscription_service_server::SubscriptionService};
use crate::service::subscriptions::{self, SubscriptionFilter};
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
        let secret = optional_secret("secret", &request.secret)?;
        let state = &self.state;
        let (created, secret) = subscriptions::create(
            &state.db,
            &state.cipher,
            state.quotas,
            &caller,
            spec,
            secret,
        )
        .await?;
        Ok(Response::new(pb::CreateSubscriptionResponse {
            subscription: Some(to_pb(created)),
            secret: secret.expose().to_owned(),
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
        let updated = subscriptions::update(&self.state.db, &caller, &input.id, patch).await?;
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
        let secret = optional_secret("secret", &request.secret)?;
        let overlap = match &request.overlap {
            None => self.state.rotation_overlap,
            Some(input) => overlap(input).map_err(|e| ServiceError::invalid("overlap", e))?,
        };
        let state = &self.state;
        let (secret, previous_expiry) = subscriptions::rotate_secret(
            &state.db,
            &state.cipher,
            &caller,
            &request.id,
            secret,
            overlap,
        )
        .await?;
        Ok(Response::new(pb::RotateSubscriptionSecretResponse {
            secret: secret.expose().to_owned(),
            previous_secret_expire_time: previous_expiry.map(timestamp),
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
        let state = &self.state;
        let attempt = test_event::send_test_event(
            &state.db,
            &state.cipher,
            state.test_sender.as_ref(),
            &caller,
            &request.id,
            data,
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

fn optional_secret(field: &str, text: &str) -> Result<Option<WebhookSecret>, ServiceError> {
    if text.is_empty() {
        return Ok(None);
    }
    WebhookSecret::parse(text)
        .map(Some)
        .map_err(|e| ServiceError::invalid(field, e))
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
