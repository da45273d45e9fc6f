//! SendTestEvent's ping: one synchronous `hookrelay.test` attempt, signed
//! like any delivery but neither stored nor retried.

use super::{HttpOutcome, WebhookClient, request};
use crate::domain::{Envelope, IdKind, WebhookSecret, new_id};
use crate::service::events::TEST_EVENT;
use crate::service::subscriptions::SubscriptionSpec;
use std::collections::BTreeMap;

/// What SendTestEvent answers with.
pub struct TestAttempt {
    pub request_headers: BTreeMap<String, String>,
    pub outcome: HttpOutcome,
}

pub async fn send_test_event(
    client: &WebhookClient,
    spec: &SubscriptionSpec,
    secrets: &[WebhookSecret],
    data: &str,
) -> TestAttempt {
    let event_id = new_id(IdKind::Event);
    let now = chrono::Utc::now();
    let metadata = BTreeMap::new();
    let body = Envelope {
        id: &event_id,
        event_type: TEST_EVENT,
        timestamp: now,
        scope: spec.scope.as_ref().map(|s| s.as_str()),
        data,
        metadata: &metadata,
    }
    .to_bytes();
    let signed = request::build(spec, secrets, &event_id, now.timestamp(), &body);
    let outcome = client
        .post(&spec.url, signed.headers, body, spec.timeout)
        .await;
    TestAttempt {
        request_headers: signed.recorded_headers,
        outcome,
    }
}
