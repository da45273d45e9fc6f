//! DeliveryService: what was sent where, every attempt, and putting failed
//! work back in the queue.

use super::AppState;
use super::convert::{Page, duration_to_pb, micros_from_pb, timestamp};
use super::watch::{self, BoxStream};
use crate::proto::{self as pb, delivery_service_server::DeliveryService};
use crate::service::ServiceError;
use crate::service::changes::Change;
use crate::service::deliveries::{self, Attempt, Delivery, DeliveryFilter, DeliveryStatus};
use tonic::{Request, Response, Status as GrpcStatus};

pub struct DeliveryApi {
    state: AppState,
}

impl DeliveryApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl DeliveryService for DeliveryApi {
    async fn watch_deliveries(
        &self,
        request: Request<pb::WatchDeliveriesRequest>,
    ) -> Result<Response<BoxStream<pb::WatchDeliveriesResponse>>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        // A scoped key watches the subscriptions of its scope (as of now).
        let visible = deliveries::visible_subscription_ids(&self.state.db, &caller).await?;
        let subscription_id = non_empty(request.subscription_id);
        let event_id = non_empty(request.event_id);
        let stream = watch::stream(
            &self.state.changes,
            self.state.shutdown.clone(),
            move |change| {
                let Change::DeliveryUpdated { delivery } = change else {
                    return None;
                };
                let wanted = delivery.tenant_id == caller.tenant_id
                    && visible
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&delivery.subscription_id))
                    && subscription_id
                        .as_ref()
                        .is_none_or(|id| *id == delivery.subscription_id)
                    && event_id.as_ref().is_none_or(|id| *id == delivery.event_id);
                wanted.then(|| pb::WatchDeliveriesResponse {
                    delivery: Some(delivery_to_pb(delivery.clone())),
                })
            },
        );
        Ok(Response::new(stream))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let filter = DeliveryFilter {
            subscription_id: non_empty(request.subscription_id),
            event_id: non_empty(request.event_id),
            status: status_filter(request.status)?,
        };
        let mut found = deliveries::list(
            &self.state.db,
            &caller,
            filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut found, |d| d.id.as_str());
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: found.into_iter().map(delivery_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let found = deliveries::get(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetDeliveryResponse {
            delivery: Some(delivery_to_pb(found)),
        }))
    }

    async fn list_delivery_attempts(
        &self,
        request: Request<pb::ListDeliveryAttemptsRequest>,
    ) -> Result<Response<pb::ListDeliveryAttemptsResponse>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let mut found = deliveries::list_attempts(
            &self.state.db,
            &caller,
            &request.delivery_id,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut found, |a| a.id.as_str());
        Ok(Response::new(pb::ListDeliveryAttemptsResponse {
            attempts: found.into_iter().map(attempt_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn retry_delivery(
        &self,
        request: Request<pb::RetryDeliveryRequest>,
    ) -> Result<Response<pb::RetryDeliveryResponse>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let retried = deliveries::retry(&self.state.db, &caller, &request.get_ref().id).await?;
        self.state.wake_dispatcher();
        Ok(Response::new(pb::RetryDeliveryResponse {
            delivery: Some(delivery_to_pb(retried)),
        }))
    }

    async fn replay_events(
        &self,
        request: Request<pb::ReplayEventsRequest>,
    ) -> Result<Response<pb::ReplayEventsResponse>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let count = deliveries::replay(
            &self.state.db,
            &caller,
            &request.subscription_id,
            request.start_time.map(micros_from_pb),
            request.end_time.map(micros_from_pb),
            request.only_failed,
        )
        .await?;
        if count > 0 {
            self.state.wake_dispatcher();
        }
        Ok(Response::new(pb::ReplayEventsResponse {
            delivery_count: count,
        }))
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

fn status_filter(raw: i32) -> Result<Option<DeliveryStatus>, ServiceError> {
    Ok(match pb::DeliveryStatus::try_from(raw) {
        Ok(pb::DeliveryStatus::Unspecified) => None,
        Ok(pb::DeliveryStatus::Pending) => Some(DeliveryStatus::Pending),
        Ok(pb::DeliveryStatus::InFlight) => Some(DeliveryStatus::InFlight),
        Ok(pb::DeliveryStatus::Succeeded) => Some(DeliveryStatus::Succeeded),
        Ok(pb::DeliveryStatus::Failed) => Some(DeliveryStatus::Failed),
        Ok(pb::DeliveryStatus::Cancelled) => Some(DeliveryStatus::Cancelled),
        Err(_) => {
            return Err(ServiceError::invalid(
                "status",
                format!("unknown status {raw}"),
            ));
        }
    })
}

pub fn status_to_pb(status: Option<DeliveryStatus>) -> pb::DeliveryStatus {
    match status {
        Some(DeliveryStatus::Pending) => pb::DeliveryStatus::Pending,
        Some(DeliveryStatus::InFlight) => pb::DeliveryStatus::InFlight,
        Some(DeliveryStatus::Succeeded) => pb::DeliveryStatus::Succeeded,
        Some(DeliveryStatus::Failed) => pb::DeliveryStatus::Failed,
        Some(DeliveryStatus::Cancelled) => pb::DeliveryStatus::Cancelled,
        None => pb::DeliveryStatus::Unspecified,
    }
}

pub fn delivery_to_pb(delivery: Delivery) -> pb::Delivery {
    let pending = delivery.status == Some(DeliveryStatus::Pending);
    pb::Delivery {
        status: status_to_pb(delivery.status) as i32,
        id: delivery.id,
        event_id: delivery.event_id,
        subscription_id: delivery.subscription_id,
        event_type: delivery.event_type,
        attempts: delivery.attempts.max(0) as u32,
        next_attempt_time: pending.then(|| timestamp(delivery.next_attempt_time)),
        last_status_code: delivery.last_status_code.unwrap_or_default().max(0) as u32,
        last_error: delivery.last_error.unwrap_or_default(),
        create_time: Some(timestamp(delivery.create_time)),
        update_time: Some(timestamp(delivery.update_time)),
    }
}

pub fn attempt_to_pb(attempt: Attempt) -> pb::DeliveryAttempt {
    pb::DeliveryAttempt {
        id: attempt.id,
        delivery_id: attempt.delivery_id,
        attempt_number: attempt.attempt_number.max(0) as u32,
        request_headers: attempt.request_headers.into_iter().collect(),
        response_status_code: attempt.response_status_code.unwrap_or_default().max(0) as u32,
        response_body: attempt.response_body,
        error: attempt.error.unwrap_or_default(),
        duration: Some(duration_to_pb(attempt.duration)),
        create_time: Some(timestamp(attempt.create_time)),
    }
}
