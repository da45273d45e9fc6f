//! Builds the signed request for one attempt: the Standard Webhooks headers
//! (one `v1,` signature per valid secret during a rotation overlap), the
//! subscription's extra signature profile and its custom headers, plus the
//! redacted copy of the headers that is stored with the attempt.

use crate::domain::{SignatureProfile, WebhookSecret, standard_signature};
use crate::service::subscriptions::SubscriptionSpec;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;

const REDACTED: &str = "<redacted>";

pub struct SignedRequest {
    pub headers: HeaderMap,
    /// What is stored with the attempt: signatures replaced by a marker.
    pub recorded_headers: BTreeMap<String, String>,
}

pub fn build(
    spec: &SubscriptionSpec,
    secrets: &[WebhookSecret],
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> SignedRequest {
    let mut headers = HeaderMap::new();
    let mut recorded = BTreeMap::new();
    let mut put = |name: HeaderName, value: String, secret: bool| {
        // Ids and secrets are validated header-safe; a failure here would be a bug,
        // and dropping the header is safer than panicking in the dispatcher.
        if let Ok(header) = HeaderValue::from_str(&value) {
            recorded.insert(
                name.as_str().to_owned(),
                if secret { REDACTED.to_owned() } else { value },
            );
            headers.insert(name, header);
        }
    };
    // Custom headers first, so the defaults below always win.
    for (name, value) in spec.headers.iter() {
        put(
            name.clone(),
            value.to_str().unwrap_or_default().to_owned(),
            false,
        );
    }
    put(CONTENT_TYPE, "application/json".to_owned(), false);
    put(
        HeaderName::from_static("webhook-id"),
        message_id.to_owned(),
        false,
    );
    put(
        HeaderName::from_static("webhook-timestamp"),
        timestamp.to_string(),
        false,
    );
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| standard_signature(&secret.signing_key(), message_id, timestamp, body))
        .collect();
    put(
        HeaderName::from_static("webhook-signature"),
        signatures.join(" "),
        true,
    );
    if let (Some(profile), Some(current)) = (&spec.signature, secrets.first()) {
        put_profile(profile, current, body, &mut put);
    }
    SignedRequest {
        headers,
        recorded_headers: recorded,
    }
}

/// GitHub-style hex HMAC of the raw body, keyed with the secret string
/// exactly as the user holds it.
fn put_profile(
    profile: &SignatureProfile,
    secret: &WebhookSecret,
    body: &[u8],
    put: &mut impl FnMut(HeaderName, String, bool),
) {
    put(
        profile.header.clone(),
        profile.sign(secret.expose().as_bytes(), body),
        true,
    );
    if let Some(algorithm_header) = &profile.algorithm_header {
        put(
            algorithm_header.clone(),
            profile.algorithm.name().to_owned(),
            false,
        );
    }
}
