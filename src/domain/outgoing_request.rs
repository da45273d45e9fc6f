//! The complete request for one attempt: the profile's body, headers and
//! signatures, the subscription's custom headers over them, the legacy
//! extra signature, and the redacted copy stored with the attempt. What is
//! previewed, tested, sent and recorded all comes from here.

use super::profile::{DeliveryProfile, OutgoingEvent};
use super::{SubscriptionSpec, WebhookSecret};
use http::{HeaderName, HeaderValue, header::CONTENT_TYPE};
use std::collections::BTreeMap;

/// What a recorded or previewed signature shows instead of its value.
pub const REDACTED: &str = "<redacted>";

#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// In the order they are sent; a later entry replaced any earlier one
    /// of the same name.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Names of the headers whose values are signatures.
    pub secret_headers: Vec<HeaderName>,
    pub body: Vec<u8>,
}

impl OutgoingRequest {
    pub fn build(
        spec: &SubscriptionSpec,
        profile: &DeliveryProfile,
        secrets: &[WebhookSecret],
        event: &OutgoingEvent<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let rendered = profile.render(event, secrets, now);
        let mut request = OutgoingRequest {
            headers: Vec::with_capacity(rendered.headers.len() + spec.headers.iter().count() + 2),
            secret_headers: Vec::new(),
            body: rendered.body,
        };
        request.put(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for header in rendered.headers {
            // Ids, types and scopes are validated header-safe; dropping a
            // header that is not is safer than failing the delivery.
            if let Ok(value) = HeaderValue::from_bytes(&header.value) {
                if header.secret {
                    request.secret_headers.push(header.name.clone());
                }
                request.put(header.name, value);
            }
        }
        // Custom headers come last so they override the profile's defaults;
        // they were checked never to name a signature header.
        for (name, value) in spec.headers.iter() {
            request.put(name.clone(), value.clone());
        }
        if let (Some(extra), Some(current)) = (&spec.signature, secrets.first()) {
            // The original extra signature: a hex HMAC of the body keyed with
            // the current secret's string, as GitHub does.
            if let Ok(value) =
                HeaderValue::from_str(&extra.sign(current.expose().as_bytes(), &request.body))
            {
                request.secret_headers.push(extra.header.clone());
                request.put(extra.header.clone(), value);
            }
            if let Some(name) = &extra.algorithm_header {
                request.put(
                    name.clone(),
                    HeaderValue::from_static(extra.algorithm.name()),
                );
            }
        }
        request
    }

    fn put(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.retain(|(existing, _)| *existing != name);
        self.headers.push((name, value));
    }

    pub fn is_secret(&self, name: &HeaderName) -> bool {
        self.secret_headers.contains(name)
    }

    /// The headers as stored with an attempt: signatures redacted.
    pub fn recorded_headers(&self) -> BTreeMap<String, String> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let shown = if self.is_secret(name) {
                    REDACTED.to_owned()
                } else {
                    value.to_str().unwrap_or_default().to_owned()
                };
                (name.as_str().to_owned(), shown)
            })
            .collect()
    }
}
