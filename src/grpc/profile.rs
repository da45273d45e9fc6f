//! The DeliveryProfile message and the domain's declared profile
//! ([`ProfileSpec`]): enum numbers become words the domain validates.

use crate::domain::ProfileSpec;
use crate::domain::profile::{BodyFieldSpec, RecipeSpec};
use crate::proto as pb;

/// The declared profile as plain data; the service validates it (a saved
/// profile's name can only be checked there).
pub(super) fn profile_from_pb(input: Option<pb::DeliveryProfile>) -> ProfileSpec {
    let Some(input) = input else {
        return ProfileSpec::default();
    };
    // An unknown enum number passes through as its digits, so the domain
    // reports it with every other problem of the profile at once.
    let word = |known: Option<&'static str>, number: i32| -> Option<String> {
        match known {
            Some("") => None,
            Some(word) => Some(word.to_owned()),
            None => Some(number.to_string()),
        }
    };
    let body = word(
        pb::BodyFormat::try_from(input.body).ok().map(|b| match b {
            pb::BodyFormat::Unspecified => "",
            pb::BodyFormat::Envelope => "envelope",
            pb::BodyFormat::Data => "data",
            pb::BodyFormat::Fields => "fields",
        }),
        input.body,
    );
    let timestamp_unit = word(
        pb::TimestampUnit::try_from(input.timestamp_unit)
            .ok()
            .map(|u| match u {
                pb::TimestampUnit::Unspecified => "",
                pb::TimestampUnit::Seconds => "seconds",
                pb::TimestampUnit::Milliseconds => "milliseconds",
            }),
        input.timestamp_unit,
    );
    let signatures: Vec<RecipeSpec> = input
        .signatures
        .into_iter()
        .map(|s| RecipeSpec {
            algorithm: word(
                pb::MacAlgorithm::try_from(s.algorithm)
                    .ok()
                    .map(|a| match a {
                        pb::MacAlgorithm::Unspecified => "",
                        pb::MacAlgorithm::HmacSha256 => "hmac-sha256",
                        pb::MacAlgorithm::HmacSha512 => "hmac-sha512",
                    }),
                s.algorithm,
            )
            .unwrap_or_default(),
            encoding: word(
                pb::SignatureEncoding::try_from(s.encoding)
                    .ok()
                    .map(|e| match e {
                        pb::SignatureEncoding::Unspecified => "",
                        pb::SignatureEncoding::Hex => "hex",
                        pb::SignatureEncoding::Base64 => "base64",
                    }),
                s.encoding,
            )
            .unwrap_or_default(),
            key: word(
                pb::SigningKey::try_from(s.key).ok().map(|k| match k {
                    pb::SigningKey::Unspecified => "",
                    pb::SigningKey::Raw => "raw",
                    pb::SigningKey::StandardWebhooks => "standard-webhooks",
                }),
                s.key,
            )
            .unwrap_or_default(),
            header: s.header,
            signed_content: s.signed_content,
            each: s.each,
            separator: s.separator,
            value: s.value,
            algorithm_header: s.algorithm_header,
        })
        .collect();
    ProfileSpec {
        preset: (!input.preset.is_empty()).then_some(input.preset),
        body,
        body_fields: input
            .body_fields
            .into_iter()
            .map(|f| BodyFieldSpec {
                name: f.name,
                source: f.source,
            })
            .collect(),
        id_header: input.id_header,
        timestamp_header: input.timestamp_header,
        timestamp_unit,
        header_templates: input.header_templates.into_iter().collect(),
        signatures: (!signatures.is_empty()).then_some(signatures),
        saved_base: None,
    }
}

pub(super) fn profile_to_pb(spec: ProfileSpec) -> pb::DeliveryProfile {
    let number = |word: &str, pairs: &[(&str, i32)]| {
        pairs
            .iter()
            .find(|(w, _)| *w == word)
            .map_or(0, |(_, n)| *n)
    };
    pb::DeliveryProfile {
        preset: spec.preset.unwrap_or_default(),
        body: number(
            spec.body.as_deref().unwrap_or(""),
            &[
                ("envelope", pb::BodyFormat::Envelope as i32),
                ("data", pb::BodyFormat::Data as i32),
                ("fields", pb::BodyFormat::Fields as i32),
            ],
        ),
        body_fields: spec
            .body_fields
            .into_iter()
            .map(|f| pb::BodyField {
                name: f.name,
                source: f.source,
            })
            .collect(),
        id_header: spec.id_header,
        timestamp_header: spec.timestamp_header,
        timestamp_unit: number(
            spec.timestamp_unit.as_deref().unwrap_or(""),
            &[
                ("seconds", pb::TimestampUnit::Seconds as i32),
                ("milliseconds", pb::TimestampUnit::Milliseconds as i32),
            ],
        ),
        header_templates: spec.header_templates.into_iter().collect(),
        signatures: spec
            .signatures
            .unwrap_or_default()
            .into_iter()
            .map(|s| pb::SignatureRecipe {
                algorithm: number(
                    &s.algorithm,
                    &[
                        ("hmac-sha256", pb::MacAlgorithm::HmacSha256 as i32),
                        ("hmac-sha512", pb::MacAlgorithm::HmacSha512 as i32),
                    ],
                ),
                encoding: number(
                    &s.encoding,
                    &[
                        ("hex", pb::SignatureEncoding::Hex as i32),
                        ("base64", pb::SignatureEncoding::Base64 as i32),
                    ],
                ),
                key: number(
                    &s.key,
                    &[
                        ("raw", pb::SigningKey::Raw as i32),
                        ("standard-webhooks", pb::SigningKey::StandardWebhooks as i32),
                    ],
                ),
                header: s.header,
                signed_content: s.signed_content,
                each: s.each,
                separator: s.separator,
                value: s.value,
                algorithm_header: s.algorithm_header,
            })
            .collect(),
    }
}
