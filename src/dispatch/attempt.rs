//! One delivery attempt: the signed POST, and what its outcome means for
//! the delivery (decided by [`domain::decide`](crate::domain::decide)).

use super::recorder::Finished;
use super::{Dispatcher, Target, request};
use crate::domain::{Answer, OutgoingEvent, OutgoingRequest, decide};
use crate::service::deliveries::{AttemptRecord, NextStep};
use crate::store::delivery::{self, Status};
use crate::store::queue::Claimed;
use crate::store::{event, micros_to_time, now_micros};
use std::sync::Arc;

impl Dispatcher {
    /// Sends one delivery, signed with the subscription's current secrets,
    /// and decides what follows; the result goes to the recorder.
    #[tracing::instrument(skip_all, fields(delivery_id = %delivery.id, subscription_id = %delivery.subscription_id))]
    pub(super) async fn deliver(
        &self,
        delivery: &Claimed,
        target: &Arc<Target>,
        event: &event::Model,
    ) -> Finished {
        let attempt_number = delivery.attempts + 1;
        let outgoing = OutgoingEvent {
            id: &event.id,
            event_type: &event.event_type,
            create_time: micros_to_time(event.create_time),
            scope: event.scope.as_deref(),
            data: &event.payload,
            metadata: &event.metadata,
            attributes: event.attributes.as_deref(),
        };
        let request = OutgoingRequest::build(
            &target.spec,
            &target.profile,
            &target.secrets,
            &outgoing,
            chrono::Utc::now(),
        );
        let recorded_headers = request.recorded_headers();
        let outcome = self
            .client
            .post(
                &target.spec.url,
                request::header_map(&request),
                request.body,
                target.spec.timeout,
            )
            .await;
        let now = now_micros();
        let answer = Answer {
            status: outcome.status,
            retry_after: outcome.retry_after,
        };
        let next = decide(
            &target.spec.retry_policy,
            attempt_number as u32,
            answer,
            now,
            rand::random::<f64>(),
        );
        tracing::debug!(status = ?outcome.status, error = ?outcome.error, ?next, "attempt finished");
        crate::metrics::attempt_finished(
            outcome.status,
            outcome.duration,
            match next {
                NextStep::Succeeded => "succeeded",
                NextStep::RetryAt(_) => "retrying",
                NextStep::DeadLetter => "failed",
                NextStep::DisableSubscription(_) => "disabled",
            },
        );
        let record = AttemptRecord {
            delivery_id: delivery.id.clone(),
            tenant_id: delivery.tenant_id.clone(),
            subscription_id: delivery.subscription_id.clone(),
            attempt_number,
            request_headers: recorded_headers,
            status_code: outcome.status,
            response_body: outcome.body,
            error: outcome.error,
            duration: outcome.duration,
            time: now,
        };
        let change = delivery::Model {
            id: delivery.id.clone(),
            tenant_id: delivery.tenant_id.clone(),
            event_id: delivery.event_id.clone(),
            subscription_id: delivery.subscription_id.clone(),
            event_type: event.event_type.clone(),
            ordered: target.spec.ordered,
            status: Status::from(next.status()) as i16,
            attempts: attempt_number,
            next_attempt_time: match next {
                NextStep::RetryAt(at) => at,
                _ => now,
            },
            lease_expire_time: None,
            last_status_code: record.status_code.map(i32::from),
            last_error: record.last_error(),
            create_time: delivery.create_time,
            update_time: now,
        };
        Finished {
            record,
            next,
            change,
            target: Arc::clone(target),
        }
    }
}
