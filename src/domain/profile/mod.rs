//! Delivery profiles: what a receiver sees (body, header names, signature
//! recipes), declared as data and validated once, so hookrelay can stand
//! behind a contract that receivers already implement. No user code runs.

mod body;
mod presets;
mod recipe;
mod saved;
mod spec;
mod template;

pub use body::{BodyField, BodyShape, FieldSource, OutgoingEvent, TimeFormat};
pub use presets::{PRESET_NAMES, STANDARD_WEBHOOKS, preset};
pub use recipe::{MacAlgorithm, SignatureEncoding, SignatureRecipe, SigningInput, SigningKey};
pub use saved::{MAX_SAVED_NAME_LEN, SavedNameError, check_saved_name};
pub use spec::{BodyFieldSpec, ProfileSpec, RecipeSpec};
pub use template::{Placeholder, Template, TemplateError};

use super::WebhookSecret;
use super::headers::{is_transport, preview};
use http::HeaderName;
use recipe::{EACH_PLACEHOLDERS, SIGNED_CONTENT_PLACEHOLDERS, VALUE_PLACEHOLDERS};
use std::sync::{Arc, LazyLock};

pub const MAX_SIGNATURES: usize = 4;
pub const MAX_BODY_FIELDS: usize = 32;
pub const MAX_HEADER_TEMPLATES: usize = 16;

/// Placeholders a header template may use.
const HEADER_PLACEHOLDERS: &[Placeholder] = &[
    Placeholder::Id,
    Placeholder::Type,
    Placeholder::Scope,
    Placeholder::Ts,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUnit {
    Seconds,
    Milliseconds,
}

/// One problem with a declared profile: `field` is relative to the profile
/// (`signatures[0].header`), `reason` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ProfileViolation {
    pub field: String,
    pub reason: String,
}

/// A validated, ready-to-render profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryProfile {
    pub body: BodyShape,
    pub timestamp_unit: TimestampUnit,
    /// Id, timestamp and templated headers, in that order.
    pub headers: Vec<(HeaderName, Template)>,
    pub signatures: Vec<SignatureRecipe>,
}

/// One header of a rendered request; `secret` values are redacted when recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedHeader {
    pub name: HeaderName,
    pub value: Vec<u8>,
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRequest {
    pub headers: Vec<RenderedHeader>,
    pub body: Vec<u8>,
}

static STANDARD: LazyLock<Arc<DeliveryProfile>> = LazyLock::new(|| {
    let spec = preset(STANDARD_WEBHOOKS).expect("the default preset is built in");
    Arc::new(DeliveryProfile::resolve(&spec, |_| None).expect("the default preset is valid"))
});

impl DeliveryProfile {
    /// The default: Standard Webhooks headers over hookrelay's envelope.
    pub fn standard() -> Arc<DeliveryProfile> {
        Arc::clone(&STANDARD)
    }

    /// Validates `spec` over its preset, reporting every problem at once.
    /// `saved` finds a tenant's own profile by name when no preset has it.
    pub fn resolve(
        spec: &ProfileSpec,
        saved: impl Fn(&str) -> Option<ProfileSpec>,
    ) -> Result<DeliveryProfile, Vec<ProfileViolation>> {
        let mut v = Vec::new();
        let base = match spec.preset.as_deref() {
            None | Some("") => preset(STANDARD_WEBHOOKS),
            // A saved profile is itself a spec over a built-in preset.
            Some(name) => preset(name).or_else(|| {
                let saved = saved(name)?;
                let saved_base = saved
                    .preset
                    .as_deref()
                    .and_then(preset)
                    .or_else(|| preset(STANDARD_WEBHOOKS))?;
                Some(saved.over(&saved_base))
            }),
        };
        let Some(base) = base else {
            v.push(violation(
                "preset",
                format!(
                    "unknown profile {:?}; built-in presets: {}, or a profile saved with DeliveryProfileService.CreateDeliveryProfile",
                    preview(spec.preset.as_deref().unwrap_or_default()),
                    PRESET_NAMES.join(", ")
                ),
            ));
            return Err(v);
        };
        let full = spec.over(&base);
        let body = parse_body(&full, &mut v);
        let timestamp_unit = match full.timestamp_unit.as_deref() {
            None | Some("") | Some("seconds") => Some(TimestampUnit::Seconds),
            Some("milliseconds") => Some(TimestampUnit::Milliseconds),
            Some(other) => {
                v.push(violation(
                    "timestamp_unit",
                    format!(
                        "unknown unit {:?}; use seconds or milliseconds",
                        preview(other)
                    ),
                ));
                None
            }
        };
        let mut headers = Vec::new();
        let mut named =
            |field: String, name: &str, template: &str, v: &mut Vec<ProfileViolation>| {
                let name = header_name(&field, name, v);
                let template = Template::parse(template, HEADER_PLACEHOLDERS)
                    .map_err(|e| v.push(violation(&field, format!("value {e}"))))
                    .ok();
                if let (Some(name), Some(template)) = (name, template) {
                    headers.push((name, template));
                }
            };
        if let Some(name) = full.id_header.as_deref().filter(|n| !n.is_empty()) {
            named("id_header".into(), name, "{id}", &mut v);
        }
        if let Some(name) = full.timestamp_header.as_deref().filter(|n| !n.is_empty()) {
            named("timestamp_header".into(), name, "{ts}", &mut v);
        }
        if full.header_templates.len() > MAX_HEADER_TEMPLATES {
            v.push(violation(
                "header_templates",
                format!(
                    "{} headers; at most {MAX_HEADER_TEMPLATES}",
                    full.header_templates.len()
                ),
            ));
        }
        for (name, template) in &full.header_templates {
            named(
                format!("header_templates[{:?}]", preview(name)),
                name,
                template,
                &mut v,
            );
        }
        let signatures = parse_signatures(full.signatures.as_deref().unwrap_or_default(), &mut v);
        check_header_clashes(&headers, &signatures, &mut v);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(DeliveryProfile {
            body: body.unwrap_or(BodyShape::Envelope),
            timestamp_unit: timestamp_unit.unwrap_or(TimestampUnit::Seconds),
            headers,
            signatures,
        })
    }

    /// True when some signature keys its HMAC Standard Webhooks style, so
    /// secrets must follow the `whsec_` rules.
    pub fn uses_standard_keys(&self) -> bool {
        self.signatures
            .iter()
            .any(|s| s.key == SigningKey::StandardWebhooks)
    }

    /// Every header a signature owns: custom headers may not set these.
    pub fn signature_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.signatures
            .iter()
            .flat_map(|s| std::iter::once(&s.header).chain(s.algorithm_header.as_ref()))
    }

    /// The request for `event` at `now`, signed with `secrets` (newest
    /// first; none means unsigned).
    pub fn render(
        &self,
        event: &OutgoingEvent<'_>,
        secrets: &[WebhookSecret],
        now: chrono::DateTime<chrono::Utc>,
    ) -> RenderedRequest {
        let body = self.body.render(event);
        let timestamp = match self.timestamp_unit {
            TimestampUnit::Seconds => now.timestamp(),
            TimestampUnit::Milliseconds => now.timestamp_millis(),
        }
        .to_string();
        let mut headers = Vec::with_capacity(self.headers.len() + self.signatures.len() + 1);
        for (name, template) in &self.headers {
            let value = template.render(|p, out| match p {
                Placeholder::Id => out.extend_from_slice(event.id.as_bytes()),
                Placeholder::Type => out.extend_from_slice(event.event_type.as_bytes()),
                Placeholder::Scope => out.extend_from_slice(event.scope.unwrap_or("").as_bytes()),
                Placeholder::Ts => out.extend_from_slice(timestamp.as_bytes()),
                _ => {}
            });
            headers.push(RenderedHeader {
                name: name.clone(),
                value,
                secret: false,
            });
        }
        if !secrets.is_empty() {
            let input = SigningInput {
                id: event.id,
                timestamp: &timestamp,
                body: &body,
            };
            for recipe in &self.signatures {
                headers.push(RenderedHeader {
                    name: recipe.header.clone(),
                    value: recipe.header_value(secrets, &input),
                    secret: true,
                });
                if let Some(name) = &recipe.algorithm_header {
                    headers.push(RenderedHeader {
                        name: name.clone(),
                        value: recipe.algorithm.name().as_bytes().to_vec(),
                        secret: false,
                    });
                }
            }
        }
        RenderedRequest { headers, body }
    }
}

fn violation(field: impl Into<String>, reason: impl Into<String>) -> ProfileViolation {
    ProfileViolation {
        field: field.into(),
        reason: reason.into(),
    }
}

fn header_name(field: &str, name: &str, v: &mut Vec<ProfileViolation>) -> Option<HeaderName> {
    if name.is_empty() {
        v.push(violation(field, "a header name is required"));
        return None;
    }
    let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
        v.push(violation(
            field,
            format!(
                "{:?} is not an HTTP header name (a token: letters, digits and '-', e.g. \"X-Webhook-Id\")",
                preview(name)
            ),
        ));
        return None;
    };
    if is_transport(parsed.as_str()) {
        v.push(violation(
            field,
            format!(
                "{:?} is set by the HTTP client and cannot be changed",
                preview(name)
            ),
        ));
        return None;
    }
    Some(parsed)
}

fn parse_body(spec: &ProfileSpec, v: &mut Vec<ProfileViolation>) -> Option<BodyShape> {
    let kind = spec.body.as_deref().unwrap_or("envelope");
    if kind != "fields" && !spec.body_fields.is_empty() {
        v.push(violation(
            "body_fields",
            format!("fields are declared but the body is {kind:?}; set the body to fields"),
        ));
        return None;
    }
    match kind {
        "envelope" => Some(BodyShape::Envelope),
        "data" => Some(BodyShape::Data),
        "fields" => parse_fields(&spec.body_fields, v).map(BodyShape::Fields),
        other => {
            v.push(violation(
                "body",
                format!(
                    "unknown body {:?}; use envelope, data or fields",
                    preview(other)
                ),
            ));
            None
        }
    }
}

fn parse_fields(specs: &[BodyFieldSpec], v: &mut Vec<ProfileViolation>) -> Option<Vec<BodyField>> {
    if specs.is_empty() {
        v.push(violation(
            "body_fields",
            "a fields body needs at least one field",
        ));
        return None;
    }
    if specs.len() > MAX_BODY_FIELDS {
        v.push(violation(
            "body_fields",
            format!("{} fields; at most {MAX_BODY_FIELDS}", specs.len()),
        ));
        return None;
    }
    let before = v.len();
    let mut fields: Vec<BodyField> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let Some(source) = FieldSource::parse(&spec.source) else {
            v.push(violation(
                format!("body_fields[{i}].source"),
                format!(
                    "unknown source {:?}; use {}",
                    preview(&spec.source),
                    FieldSource::NAMES
                ),
            ));
            continue;
        };
        let lifted = source == FieldSource::AllAttributes;
        if lifted && !spec.name.is_empty() {
            v.push(violation(
                format!("body_fields[{i}].name"),
                "must be empty: attributes are lifted to the top level under their own names",
            ));
        } else if !lifted && (spec.name.is_empty() || spec.name.chars().count() > 64) {
            v.push(violation(
                format!("body_fields[{i}].name"),
                "must be 1 to 64 characters",
            ));
        } else if !lifted && fields.iter().any(|f| f.name == spec.name) {
            v.push(violation(
                format!("body_fields[{i}].name"),
                format!("{:?} appears twice", preview(&spec.name)),
            ));
        }
        fields.push(BodyField {
            name: spec.name.clone(),
            source,
        });
    }
    (v.len() == before).then_some(fields)
}

fn parse_signatures(specs: &[RecipeSpec], v: &mut Vec<ProfileViolation>) -> Vec<SignatureRecipe> {
    if specs.len() > MAX_SIGNATURES {
        v.push(violation(
            "signatures",
            format!("{} signatures; at most {MAX_SIGNATURES}", specs.len()),
        ));
        return Vec::new();
    }
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| parse_recipe(&format!("signatures[{i}]"), spec, v))
        .collect()
}

fn parse_recipe(
    field: &str,
    spec: &RecipeSpec,
    v: &mut Vec<ProfileViolation>,
) -> Option<SignatureRecipe> {
    let before = v.len();
    let at = |name: &str| format!("{field}.{name}");
    let header = header_name(&at("header"), &spec.header, v);
    let algorithm = match spec.algorithm.as_str() {
        "" | "hmac-sha256" => Some(MacAlgorithm::HmacSha256),
        "hmac-sha512" => Some(MacAlgorithm::HmacSha512),
        other => {
            v.push(violation(
                at("algorithm"),
                format!(
                    "unknown algorithm {:?}; use hmac-sha256 or hmac-sha512",
                    preview(other)
                ),
            ));
            None
        }
    };
    let encoding = match spec.encoding.as_str() {
        "" | "hex" => Some(SignatureEncoding::Hex),
        "base64" => Some(SignatureEncoding::Base64),
        other => {
            v.push(violation(
                at("encoding"),
                format!("unknown encoding {:?}; use hex or base64", preview(other)),
            ));
            None
        }
    };
    let key = match spec.key.as_str() {
        "" | "raw" => Some(SigningKey::Raw),
        "standard-webhooks" => Some(SigningKey::StandardWebhooks),
        other => {
            v.push(violation(
                at("key"),
                format!(
                    "unknown key {:?}; use raw or standard-webhooks",
                    preview(other)
                ),
            ));
            None
        }
    };
    let mut template =
        |name: &str, text: &str, default: &str, allowed: &[Placeholder], required: Placeholder| {
            let text = if text.is_empty() { default } else { text };
            Template::parse_requiring(text, allowed, required)
                .map_err(|e| v.push(violation(at(name), e.to_string())))
                .ok()
        };
    let signed_content = template(
        "signed_content",
        &spec.signed_content,
        "{body}",
        SIGNED_CONTENT_PLACEHOLDERS,
        Placeholder::Body,
    );
    let each = template(
        "each",
        &spec.each,
        "{sig}",
        EACH_PLACEHOLDERS,
        Placeholder::Sig,
    );
    let value = template(
        "value",
        &spec.value,
        "{sigs}",
        VALUE_PLACEHOLDERS,
        Placeholder::Sigs,
    );
    let separator = (!spec.separator.is_empty()).then(|| spec.separator.clone());
    if let Some(sep) = &separator
        && (sep.len() > 4 || sep.bytes().any(|b| !(b' '..=b'~').contains(&b)))
    {
        v.push(violation(
            at("separator"),
            "must be 1 to 4 printable ASCII characters, e.g. \" \" or \",\"",
        ));
    }
    let algorithm_header = (!spec.algorithm_header.is_empty())
        .then(|| header_name(&at("algorithm_header"), &spec.algorithm_header, v))
        .flatten();
    if v.len() != before {
        return None;
    }
    Some(SignatureRecipe {
        header: header?,
        algorithm: algorithm?,
        encoding: encoding?,
        key: key?,
        signed_content: signed_content?,
        each: each?,
        separator,
        value: value?,
        algorithm_header,
    })
}

/// A header has one owner: two signatures on one header, or a signature
/// header that is also an id/timestamp/templated header, is ambiguous.
fn check_header_clashes(
    headers: &[(HeaderName, Template)],
    signatures: &[SignatureRecipe],
    v: &mut Vec<ProfileViolation>,
) {
    let mut seen: Vec<&HeaderName> = headers.iter().map(|(name, _)| name).collect();
    if let Some((i, (name, _))) = headers
        .iter()
        .enumerate()
        .find(|(i, (name, _))| seen[..*i].contains(&name))
    {
        v.push(violation(
            "header_templates",
            format!("header {name} is set twice (index {i}); give each header one source"),
        ));
    }
    for (i, recipe) in signatures.iter().enumerate() {
        for (field, name) in std::iter::once(("header", &recipe.header)).chain(
            recipe
                .algorithm_header
                .as_ref()
                .map(|h| ("algorithm_header", h)),
        ) {
            if seen.contains(&name) {
                v.push(violation(
                    format!("signatures[{i}].{field}"),
                    format!("header {name} already carries another value or signature; use one header per signature"),
                ));
            }
            seen.push(name);
        }
    }
}

#[cfg(test)]
mod tests;
