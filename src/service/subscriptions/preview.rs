//! PreviewDelivery: the exact request a subscription would send for a
//! sample event, built by the same code as every delivery, sent nowhere.

use super::{SubscriptionSpec, find_visible, profile, signing_secrets, to_subscription};
use crate::domain::outgoing_request::REDACTED;
use crate::domain::{OutgoingEvent, OutgoingRequest, SecretCipher, WebhookSecret};
use crate::service::events::JsonObject;
use crate::service::{Caller, ServiceError};
use crate::store::{Connection, now_micros};

/// Which subscription to preview.
pub enum PreviewTarget {
    Saved { id: String },
    Unsaved(Box<SubscriptionSpec>),
}

/// The sample event, already validated.
pub struct SampleEvent {
    pub id: String,
    pub event_type: String,
    pub scope: Option<String>,
    pub data: String,
    pub metadata: JsonObject,
    pub attributes: Option<JsonObject>,
}

pub struct Preview {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the subscription's payload filter lets the event through
    /// (true without a filter).
    pub filter_matches: bool,
}

/// With `test_secret`, signatures are computed with it so a receiver's
/// check can be tried; without, they show `<redacted>`: a preview never
/// reveals a signature made with the subscription's real secret.
pub async fn preview<C: Connection>(
    db: &C,
    cipher: &SecretCipher,
    caller: &Caller,
    target: PreviewTarget,
    event: SampleEvent,
    test_secret: Option<&str>,
) -> Result<Preview, ServiceError> {
    caller.require_read()?;
    let (spec, signed) = match target {
        PreviewTarget::Saved { id } => {
            let model = find_visible(db, caller, &id).await?;
            let signed = !signing_secrets(cipher, &model, now_micros())?.is_empty();
            (to_subscription(model)?.spec, signed)
        }
        PreviewTarget::Unsaved(spec) => {
            let signed = !spec.unsigned;
            (*spec, signed)
        }
    };
    let delivery_profile = profile::resolve_for_request(&spec.profile)?;
    profile::check_headers(&spec, &delivery_profile)?;
    let secrets = match (signed, test_secret) {
        (false, _) => Vec::new(),
        (true, Some(text)) => vec![profile::parse_secret(
            "test_secret",
            &delivery_profile,
            text,
        )?],
        (true, None) => vec![WebhookSecret::generate()],
    };
    let filter_matches = spec.filter.as_ref().is_none_or(|filter| {
        // The data was checked to be a JSON object on the way in.
        serde_json::from_str(&event.data).is_ok_and(|data| filter.matches(&data))
    });
    let now = chrono::Utc::now();
    let metadata = serde_json::Value::Object(event.metadata).to_string();
    let attributes = event
        .attributes
        .map(|a| serde_json::Value::Object(a).to_string());
    let outgoing = OutgoingEvent {
        id: &event.id,
        event_type: &event.event_type,
        create_time: now,
        scope: event
            .scope
            .as_deref()
            .or(spec.scope.as_ref().map(|s| s.as_str())),
        data: &event.data,
        metadata: &metadata,
        attributes: attributes.as_deref(),
    };
    let request = OutgoingRequest::build(&spec, &delivery_profile, &secrets, &outgoing, now);
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| {
            let shown = if request.is_secret(name) && test_secret.is_none() {
                REDACTED.to_owned()
            } else {
                value.to_str().unwrap_or_default().to_owned()
            };
            (name.as_str().to_owned(), shown)
        })
        .collect();
    Ok(Preview {
        url: spec.url.as_str().to_owned(),
        headers,
        body: request.body,
        filter_matches,
    })
}
