//! One delivery attempt: the signed POST, and what its outcome means for
//! the delivery (success, a retry at some time, dead-letter, or disabling
//! the subscription).

use super::recorder::Finished;
use super::{Dispatcher, HttpOutcome, Target, request};
use crate::domain::{Envelope, RetryPolicy};
use crate::service::deliveries::{AttemptRecord, NextStep};
use crate::store::queue::Claimed;
use crate::store::{delivery, event, micros_to_time, now_micros};
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
        let metadata = serde_json::from_str(&event.metadata).unwrap_or_default();
        let body = Envelope {
            id: &event.id,
            event_type: &event.event_type,
            timestamp: micros_to_time(event.create_time),
            scope: event.scope.as_deref(),
            data: &event.payload,
            metadata: &metadata,
        }
        .to_bytes();
        let timestamp = chrono::Utc::now().timestamp();
        let signed = request::build(&target.spec, &target.secrets, &event.id, timestamp, &body);
        let outcome = self
            .client
            .post(&target.spec.url, signed.headers, body, target.spec.timeout)
            .await;
        let now = now_micros();
        let next = decide(
            &target.spec.retry_policy,
            attempt_number as u32,
            &outcome,
            now,
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
            request_headers: signed.recorded_headers,
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
            status: next.status() as i16,
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

/// What follows an attempt: 2xx succeeds; 410 Gone disables the
/// subscription; anything else retries on the policy (at least as late as
/// `Retry-After` asks, within the policy's cap) until it is exhausted.
pub fn decide(policy: &RetryPolicy, attempt: u32, outcome: &HttpOutcome, now: i64) -> NextStep {
    match outcome.status {
        Some(status) if (200..300).contains(&status) => NextStep::Succeeded,
        Some(410) => NextStep::DisableSubscription("the endpoint answered 410 Gone".to_owned()),
        _ if policy.is_exhausted(attempt) => NextStep::DeadLetter,
        _ => {
            let mut delay = policy.delay_before_attempt(attempt, rand::random::<f64>());
            if let Some(asked) = outcome.retry_after {
                delay = delay.max(asked.min(policy.max_delay));
            }
            NextStep::RetryAt(now + delay.as_micros() as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Backoff;
    use std::time::Duration;

    fn outcome(status: Option<u16>, retry_after: Option<u64>) -> HttpOutcome {
        HttpOutcome {
            status,
            body: String::new(),
            error: None,
            retry_after: retry_after.map(Duration::from_secs),
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn outcomes_map_to_next_steps() {
        let policy = RetryPolicy::new(
            3,
            Duration::from_secs(2),
            Duration::from_secs(60),
            Backoff::Fixed,
        )
        .unwrap();
        assert_eq!(
            decide(&policy, 1, &outcome(Some(204), None), 0),
            NextStep::Succeeded
        );
        assert!(matches!(
            decide(&policy, 1, &outcome(Some(410), None), 0),
            NextStep::DisableSubscription(_)
        ));
        let NextStep::RetryAt(at) = decide(&policy, 1, &outcome(Some(500), None), 0) else {
            panic!("500 should retry");
        };
        assert!((1_600_000..=2_400_000).contains(&at), "{at}");
        let NextStep::RetryAt(at) = decide(&policy, 1, &outcome(Some(429), Some(30)), 0) else {
            panic!("429 should retry");
        };
        assert_eq!(at, 30_000_000, "Retry-After wins over a shorter backoff");
        let NextStep::RetryAt(at) = decide(&policy, 1, &outcome(Some(503), Some(3600)), 0) else {
            panic!("503 should retry");
        };
        assert_eq!(at, 60_000_000, "Retry-After is capped by max_delay");
        assert_eq!(
            decide(&policy, 3, &outcome(None, None), 0),
            NextStep::DeadLetter
        );
    }
}
