//! DeliveryService: what was sent where, every attempt, and putting failed
//! work back in the queue.

use super::AppState;
use super::convert::{
    Page, duration_from_pb, duration_to_pb, micros_from_pb, newest_first, timestamp,
};
use super::watch::{self, BoxStream};
use crate::domain::StatsWindow;
use crate::domain::delivery_stats::BucketSummary;
use crate::proto::{self as pb, delivery_service_server::DeliveryService};
use crate::service::changes::Change;
use crate::service::deliveries::{self, Attempt, Delivery, DeliveryFilter, DeliveryStatus};
use crate::service::{ServiceError, Violations, delivery_stats};
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
            start_time: request.start_time.map(micros_from_pb),
            end_time: request.end_time.map(micros_from_pb),
            newest_first: newest_first(&request.order_by)?,
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

    async fn get_delivery_stats(
        &self,
        request: Request<pb::GetDeliveryStatsRequest>,
    ) -> Result<Response<pb::GetDeliveryStatsResponse>, GrpcStatus> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let window = stats_window(&request)?;
        let subscription_id = non_empty(request.subscription_id);
        let stats = delivery_stats::delivery_stats(
            &self.state.db,
            &caller,
            subscription_id.as_deref(),
            window,
        )
        .await?;
        Ok(Response::new(pb::GetDeliveryStatsResponse {
            buckets: stats.buckets.into_iter().map(stats_bucket_to_pb).collect(),
            total: Some(stats_bucket_to_pb(stats.total)),
        }))
    }
}

/// The request's window and bucket width; unset ones take the defaults.
fn stats_window(request: &pb::GetDeliveryStatsRequest) -> Result<StatsWindow, ServiceError> {
    let mut violations = Violations::new();
    let window = request
        .window
        .as_ref()
        .map(|d| violations.check("window", duration_from_pb(d)));
    let bucket = request
        .bucket
        .as_ref()
        .map(|d| violations.check("bucket", duration_from_pb(d)));
    violations.into_result()?;
    StatsWindow::parse(window.flatten(), bucket.flatten())
        .map_err(|err| ServiceError::invalid(err.field, err.reason))
}

fn stats_bucket_to_pb(bucket: BucketSummary) -> pb::DeliveryStatsBucket {
    pb::DeliveryStatsBucket {
        start_time: Some(timestamp(bucket.start)),
        attempts: bucket.attempts,
        succeeded: bucket.succeeded,
        failed: bucket.failed,
        latency_p50: bucket.latency_p50.map(duration_to_pb),
        latency_p90: bucket.latency_p90.map(duration_to_pb),
        latency_p99: bucket.latency_p99.map(duration_to_pb),
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
