//! SendTestEvent's ping: one synchronous `hookrelay.test` attempt, signed
//! like any delivery but neither stored nor retried. Implements the seam
//! service owns ([`TestSender`]) with the shared webhook client.

use super::{WebhookClient, request};
use crate::domain::{Envelope, IdKind, SubscriptionSpec, WebhookSecret, new_id};
use crate::service::events::TEST_EVENT;
use crate::service::test_event::{TestOutcome, TestSender};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// Sends test events through the client deliveries use, so a test sees the
/// same SSRF policy, timeouts and connection reuse as a real delivery.
pub struct WebhookTestSender {
    client: WebhookClient,
}

impl WebhookTestSender {
    pub fn new(client: WebhookClient) -> Self {
        Self { client }
    }

    async fn send_one(
        &self,
        spec: &SubscriptionSpec,
        secrets: &[WebhookSecret],
        data: &str,
    ) -> TestOutcome {
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
        let outcome = self
            .client
            .post(&spec.url, signed.headers, body, spec.timeout)
            .await;
        TestOutcome {
            request_headers: signed.recorded_headers,
            status: outcome.status,
            body: outcome.body,
            error: outcome.error,
            duration: outcome.duration,
        }
    }
}

impl TestSender for WebhookTestSender {
    fn send<'a>(
        &'a self,
        spec: &'a SubscriptionSpec,
        secrets: &'a [WebhookSecret],
        data: &'a str,
    ) -> Pin<Box<dyn Future<Output = TestOutcome> + Send + 'a>> {
        Box::pin(self.send_one(spec, secrets, data))
    }
}
