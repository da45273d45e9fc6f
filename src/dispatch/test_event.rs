//! SendTestEvent's ping: one synchronous request, built by the service
//! through the subscription's profile, neither stored nor retried.
//! Implements the seam service owns ([`TestSender`]) with the shared
//! webhook client.

use super::{WebhookClient, request};
use crate::domain::{OutgoingRequest, SubscriptionSpec};
use crate::service::test_event::{TestOutcome, TestSender};
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

    async fn send_one(&self, spec: &SubscriptionSpec, request: OutgoingRequest) -> TestOutcome {
        let request_headers = request.recorded_headers();
        let outcome = self
            .client
            .post(
                &spec.url,
                request::header_map(&request),
                request.body,
                spec.timeout,
            )
            .await;
        TestOutcome {
            request_headers,
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
        request: OutgoingRequest,
    ) -> Pin<Box<dyn Future<Output = TestOutcome> + Send + 'a>> {
        Box::pin(self.send_one(spec, request))
    }
}
