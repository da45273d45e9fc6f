//! SendTestEvent as a use case: one signed `hookrelay.test` request to a
//! subscription, answered synchronously, neither stored nor retried. The
//! sending is the dispatcher's craft; this module owns the seam it
//! implements ([`TestSender`]), so that service never names dispatch and the
//! gRPC layer reaches the sender only through here.

use super::events::TEST_EVENT;
use super::subscriptions::{find_visible, profile, signing_secrets, to_subscription};
use super::{Caller, ServiceError};
use crate::domain::{
    Capability, IdKind, OutgoingEvent, OutgoingRequest, SecretCipher, SubscriptionSpec, new_id,
};
use crate::store::{Connection, now_micros};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The payload when the caller sends none.
pub const DEFAULT_TEST_DATA: &str = r#"{"message":"hookrelay test event"}"#;

/// Sends one built request to `spec`'s endpoint and reports what came
/// back. A boxed future keeps the trait object-safe without an extra
/// dependency.
pub trait TestSender: Send + Sync {
    fn send<'a>(
        &'a self,
        spec: &'a SubscriptionSpec,
        request: OutgoingRequest,
    ) -> Pin<Box<dyn Future<Output = TestOutcome> + Send + 'a>>;
}

/// What one test request produced. A failing endpoint is an outcome, not
/// an error: the caller asked to see what happens.
#[derive(Debug)]
pub struct TestOutcome {
    /// As sent, with the signatures redacted.
    pub request_headers: BTreeMap<String, String>,
    pub status: Option<u16>,
    pub body: String,
    pub error: Option<String>,
    pub duration: Duration,
}

/// The attempt SendTestEvent answers with.
#[derive(Debug)]
pub struct TestAttempt {
    pub id: String,
    /// When the request started, in microseconds.
    pub create_time: i64,
    pub outcome: TestOutcome,
}

/// Sends a test event to the caller's subscription `id`, signed with the
/// secrets that sign now; `data` (JSON object text) defaults to a greeting,
/// `attributes` (JSON object text) to none.
pub async fn send_test_event<C: Connection>(
    db: &C,
    cipher: &SecretCipher,
    sender: &dyn TestSender,
    caller: &Caller,
    id: &str,
    data: Option<String>,
    attributes: Option<String>,
) -> Result<TestAttempt, ServiceError> {
    let data = data.unwrap_or_else(|| DEFAULT_TEST_DATA.to_owned());
    caller.require(Capability::Manage)?;
    let model = find_visible(db, caller, id).await?;
    let secrets = signing_secrets(cipher, &model, now_micros())?;
    let spec = to_subscription(model)?.spec;
    let profile = profile::resolve_for_request(&spec.profile)?;
    let now = chrono::Utc::now();
    let event_id = new_id(IdKind::Event);
    // Through the subscription's profile, like every delivery: what is
    // tested is what receivers get.
    let event = OutgoingEvent {
        id: &event_id,
        event_type: TEST_EVENT,
        create_time: now,
        scope: spec.scope.as_ref().map(|s| s.as_str()),
        data: &data,
        metadata: "{}",
        attributes: attributes.as_deref(),
    };
    let request = OutgoingRequest::build(&spec, &profile, &secrets, &event, now);
    let create_time = now_micros();
    let outcome = sender.send(&spec, request).await;
    Ok(TestAttempt {
        id: new_id(IdKind::Attempt),
        create_time,
        outcome,
    })
}
