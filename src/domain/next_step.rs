//! What follows a delivery attempt: success, a retry at some time, a dead
//! letter, or disabling the subscription. Pure: the dispatcher passes the
//! facts of the answer (and the jitter), this decides.

use super::{DeliveryStatus, RetryPolicy};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::time::Duration;

/// What the dispatcher decided after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    /// Try again at this time (µs since the epoch).
    RetryAt(i64),
    /// Retries exhausted: keep it as failed, retryable by hand.
    DeadLetter,
    /// The endpoint is gone (410) or was disabled: fail and disable the
    /// subscription with this reason.
    DisableSubscription(String),
}

impl NextStep {
    /// The delivery status this step leaves behind.
    pub fn status(&self) -> DeliveryStatus {
        match self {
            NextStep::Succeeded => DeliveryStatus::Succeeded,
            NextStep::RetryAt(_) => DeliveryStatus::Pending,
            NextStep::DeadLetter | NextStep::DisableSubscription(_) => DeliveryStatus::Failed,
        }
    }
}

/// What an attempt's answer says, as far as deciding is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status, or `None` when no response came (transport error).
    pub status: Option<u16>,
    /// From `Retry-After` on 429 and 503.
    pub retry_after: Option<Duration>,
}

/// What follows an attempt: 2xx succeeds; 410 Gone disables the
/// subscription; anything else retries on the policy (at least as late as
/// `Retry-After` asks, within the policy's cap) until it is exhausted.
/// `jitter` is a random number in [0, 1) (see [`RetryPolicy::delay_before_attempt`]).
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    answer: Answer,
    now: i64,
    jitter: f64,
) -> NextStep {
    match answer.status {
        Some(status) if (200..300).contains(&status) => NextStep::Succeeded,
        Some(410) => NextStep::DisableSubscription("the endpoint answered 410 Gone".to_owned()),
        _ if policy.is_exhausted(attempt) => NextStep::DeadLetter,
        _ => {
            let mut delay = policy.delay_before_attempt(attempt, jitter);
            if let Some(asked) = answer.retry_after {
                delay = delay.max(asked.min(policy.max_delay));
            }
            NextStep::RetryAt(now + delay.as_micros() as i64)
        }
    }
}

/// One finished HTTP attempt, ready to store.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub attempt_number: i32,
    pub request_headers: BTreeMap<String, String>,
    pub status_code: Option<u16>,
    pub response_body: String,
    pub error: Option<String>,
    pub duration: Duration,
    pub time: i64,
}

impl AttemptRecord {
    /// The delivery's `last_error`: the transport error, or the HTTP status
    /// when the endpoint answered with something other than 2xx.
    pub fn last_error(&self) -> Option<String> {
        self.error.clone().or_else(|| {
            self.status_code
                .filter(|code| !(200..300).contains(code))
                .map(|code| format!("HTTP {code}"))
        })
    }
}

/// The latest result per subscription in a group: it decides the
/// subscription's health (on equal times, the later in the group wins).
pub fn latest_by_subscription<'a>(
    results: impl IntoIterator<Item = (&'a AttemptRecord, &'a NextStep)>,
) -> HashMap<&'a str, (&'a AttemptRecord, &'a NextStep)> {
    let mut latest: HashMap<&str, (&AttemptRecord, &NextStep)> = HashMap::new();
    for (record, next) in results {
        let slot = latest
            .entry(record.subscription_id.as_str())
            .or_insert((record, next));
        if record.time >= slot.0.time {
            *slot = (record, next);
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Backoff;

    fn answer(status: Option<u16>, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn record(subscription_id: &str, time: i64, status_code: Option<u16>) -> AttemptRecord {
        AttemptRecord {
            delivery_id: format!("dlv_{time}"),
            tenant_id: "tenant".to_owned(),
            subscription_id: subscription_id.to_owned(),
            attempt_number: 1,
            request_headers: BTreeMap::new(),
            status_code,
            response_body: String::new(),
            error: None,
            duration: Duration::ZERO,
            time,
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
        let jitter = rand::random::<f64>();
        assert_eq!(
            decide(&policy, 1, answer(Some(204), None), 0, jitter),
            NextStep::Succeeded
        );
        assert!(matches!(
            decide(&policy, 1, answer(Some(410), None), 0, jitter),
            NextStep::DisableSubscription(_)
        ));
        let NextStep::RetryAt(at) = decide(&policy, 1, answer(Some(500), None), 0, jitter) else {
            panic!("500 should retry");
        };
        assert!((1_600_000..=2_400_000).contains(&at), "{at}");
        let NextStep::RetryAt(at) = decide(&policy, 1, answer(Some(429), Some(30)), 0, jitter)
        else {
            panic!("429 should retry");
        };
        assert_eq!(at, 30_000_000, "Retry-After wins over a shorter backoff");
        let NextStep::RetryAt(at) = decide(&policy, 1, answer(Some(503), Some(3600)), 0, jitter)
        else {
            panic!("503 should retry");
        };
        assert_eq!(at, 60_000_000, "Retry-After is capped by max_delay");
        assert_eq!(
            decide(&policy, 3, answer(None, None), 0, jitter),
            NextStep::DeadLetter
        );
    }

    #[test]
    fn steps_leave_their_status_behind() {
        assert_eq!(NextStep::Succeeded.status(), DeliveryStatus::Succeeded);
        assert_eq!(NextStep::RetryAt(1).status(), DeliveryStatus::Pending);
        assert_eq!(NextStep::DeadLetter.status(), DeliveryStatus::Failed);
        assert_eq!(
            NextStep::DisableSubscription("gone".to_owned()).status(),
            DeliveryStatus::Failed
        );
    }

    #[test]
    fn last_error_is_the_transport_error_or_a_non_2xx_status() {
        assert_eq!(record("s", 1, Some(200)).last_error(), None);
        assert_eq!(
            record("s", 1, Some(503)).last_error().as_deref(),
            Some("HTTP 503")
        );
        let mut failed = record("s", 1, None);
        failed.error = Some("timed out".to_owned());
        assert_eq!(failed.last_error().as_deref(), Some("timed out"));
    }

    #[test]
    fn the_latest_result_per_subscription_wins() {
        let results = [
            (record("a", 2, Some(500)), NextStep::RetryAt(9)),
            (record("a", 1, Some(200)), NextStep::Succeeded),
            (record("b", 1, Some(200)), NextStep::Succeeded),
            (record("b", 1, Some(410)), NextStep::DeadLetter),
        ];
        let latest = latest_by_subscription(results.iter().map(|(r, n)| (r, n)));
        assert_eq!(latest["a"].1, &NextStep::RetryAt(9));
        assert_eq!(latest["b"].1, &NextStep::DeadLetter, "ties go to the later");
    }
}
