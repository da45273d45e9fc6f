//! The built-in presets, each the contract a well-known provider documents.
//! They are ordinary [`ProfileSpec`]s, so a preset can be shown, and
//! overridden field by field, like any saved profile.

use super::spec::{ProfileSpec, RecipeSpec};
use std::collections::BTreeMap;

pub const STANDARD_WEBHOOKS: &str = "standard-webhooks";
pub const PRESET_NAMES: &[&str] = &[STANDARD_WEBHOOKS, "github", "stripe", "shopify", "slack"];

/// The preset called `name`, if built in.
pub fn preset(name: &str) -> Option<ProfileSpec> {
    let headers = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let hex_over_body = |header: &str, each: &str| RecipeSpec {
        header: header.into(),
        algorithm: "hmac-sha256".into(),
        encoding: "hex".into(),
        key: "raw".into(),
        signed_content: "{body}".into(),
        each: each.into(),
        ..RecipeSpec::default()
    };
    let none = || Some(String::new());
    Some(match name {
        // https://www.standardwebhooks.com/: v1,base64(HMAC-SHA256("{id}.{ts}.{body}")).
        STANDARD_WEBHOOKS => ProfileSpec {
            body: Some("envelope".into()),
            id_header: Some("webhook-id".into()),
            timestamp_header: Some("webhook-timestamp".into()),
            timestamp_unit: Some("seconds".into()),
            signatures: Some(vec![RecipeSpec {
                header: "webhook-signature".into(),
                algorithm: "hmac-sha256".into(),
                encoding: "base64".into(),
                key: "standard-webhooks".into(),
                signed_content: "{id}.{ts}.{body}".into(),
                each: "v1,{sig}".into(),
                separator: " ".into(),
                value: "{sigs}".into(),
                algorithm_header: String::new(),
            }]),
            ..ProfileSpec::default()
        },
        // GitHub: X-Hub-Signature-256: sha256=<hex HMAC of the body>.
        "github" => ProfileSpec {
            body: Some("data".into()),
            id_header: Some("X-GitHub-Delivery".into()),
            timestamp_header: none(),
            header_templates: headers(&[("X-GitHub-Event", "{type}")]),
            signatures: Some(vec![hex_over_body("X-Hub-Signature-256", "sha256={sig}")]),
            ..ProfileSpec::default()
        },
        // Stripe: Stripe-Signature: t=<ts>,v1=<hex HMAC of "{ts}.{body}">[,v1=…].
        "stripe" => ProfileSpec {
            body: Some("fields".into()),
            body_fields: [
                ("id", "id"),
                ("type", "type"),
                ("created", "timestamp_unix"),
                ("data", "data"),
            ]
            .into_iter()
            .map(|(name, source)| super::spec::BodyFieldSpec {
                name: name.into(),
                source: source.into(),
            })
            .collect(),
            id_header: none(),
            timestamp_header: none(),
            timestamp_unit: Some("seconds".into()),
            signatures: Some(vec![RecipeSpec {
                signed_content: "{ts}.{body}".into(),
                separator: ",".into(),
                value: "t={ts},{sigs}".into(),
                ..hex_over_body("Stripe-Signature", "v1={sig}")
            }]),
            ..ProfileSpec::default()
        },
        // Shopify: X-Shopify-Hmac-Sha256: base64(HMAC-SHA256 of the body).
        "shopify" => ProfileSpec {
            body: Some("data".into()),
            id_header: Some("X-Shopify-Webhook-Id".into()),
            timestamp_header: none(),
            header_templates: headers(&[("X-Shopify-Topic", "{type}")]),
            signatures: Some(vec![RecipeSpec {
                encoding: "base64".into(),
                ..hex_over_body("X-Shopify-Hmac-Sha256", "{sig}")
            }]),
            ..ProfileSpec::default()
        },
        // Slack: X-Slack-Signature: v0=<hex HMAC of "v0:{ts}:{body}">.
        "slack" => ProfileSpec {
            body: Some("data".into()),
            id_header: none(),
            timestamp_header: Some("X-Slack-Request-Timestamp".into()),
            timestamp_unit: Some("seconds".into()),
            signatures: Some(vec![RecipeSpec {
                signed_content: "v0:{ts}:{body}".into(),
                ..hex_over_body("X-Slack-Signature", "v0={sig}")
            }]),
            ..ProfileSpec::default()
        },
        _ => return None,
    })
}
